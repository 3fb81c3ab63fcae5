"""Agreement, calibration and routing metrics for graded labels (pure functions).

Agreement (accuracy, F1, Cohen's kappa, AUROC, the confusion matrix) comes from :mod:`sklearn.metrics`; the
wrappers here only fix the label order and keep the edge cases the reports rely on (NaN where a figure is
undefined, an empty matrix for no items). Calibration (reliability bins, ECE) and risk–coverage are written
here: scikit-learn has no ECE, no reliability table over the top-label confidence and no risk–coverage curve or
AURC. Brier and log loss over label dictionaries stay here too: scikit-learn's clip at machine epsilon rather
than 1e-12 and warn when a row does not sum to one, so a zero probability would change the reported log loss.

Every function takes gold and predicted labels as sequences of strings plus the ordered label list,
so a confusion matrix's rows and columns and the weights of quadratic kappa follow the scale's order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning


def _check(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> None:
    """The labels must all be on the scale (sklearn would silently drop the others)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    unknown = (set(gold) | set(pred)) - set(labels)
    if unknown:
        raise ValueError(f"labels not on the scale {list(labels)}: {sorted(unknown)}")


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """``m[i][j]``: items whose gold label is ``labels[i]`` and predicted label ``labels[j]``."""
    _check(gold, pred, labels)
    if not gold:
        return [[0] * len(labels) for _ in labels]
    return skm.confusion_matrix(list(gold), list(pred), labels=list(labels)).tolist()


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Share of items whose predicted label is the gold one; NaN without items."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    if not gold:
        return math.nan
    return float(skm.accuracy_score(list(gold), list(pred)))


def per_label_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (0 when the label is neither in gold nor predicted: sklearn's ``zero_division=0``)."""
    _check(gold, pred, labels)
    if not gold:
        return {label: 0.0 for label in labels}
    scores = skm.f1_score(list(gold), list(pred), labels=list(labels), average=None, zero_division=0)
    return {label: float(v) for label, v in zip(labels, scores, strict=True)}


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels present in gold or predictions (sklearn's ``average='macro'`` without
    ``labels``); NaN without items."""
    _check(gold, pred, labels)
    present = [label for label in labels if label in set(gold) | set(pred)]
    if not present:
        return math.nan
    return float(skm.f1_score(list(gold), list(pred), labels=present, average="macro", zero_division=0))


def cohen_kappa(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], weights: str | None = None) -> float:
    """Cohen's kappa; ``weights='quadratic'`` (or ``'linear'``) weighs disagreements by the labels' order.

    NaN when it is undefined (no items, or both raters use one and the same label throughout).
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"unknown weights {weights!r}")
    _check(gold, pred, labels)
    if not gold:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # undefined -> NaN, as documented above
        value = skm.cohen_kappa_score(list(gold), list(pred), labels=list(labels), weights=weights,
                                      replace_undefined_by=math.nan)
    return float(value)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (ties count one half); NaN without both classes."""
    if len(scores) != len(positive):
        raise ValueError(f"{len(scores)} scores but {len(positive)} labels")
    if len(set(map(bool, positive))) < 2:
        return math.nan
    return float(skm.roc_auc_score([bool(y) for y in positive], list(scores)))


# ------------------------------------------------------------------ calibration


class ReliabilityBin(BaseModel):
    lower: float
    upper: float
    count: int
    confidence: float | None  # mean confidence of the bin's items
    accuracy: float | None


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width confidence bins over [0, 1] (the last bin includes 1.0)."""
    out = []
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        n = int(mask.sum())
        out.append(ReliabilityBin(lower=lo, upper=hi, count=n,
                                  confidence=float(conf[mask].mean()) if n else None,
                                  accuracy=float(hit[mask].mean()) if n else None))
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins of the top-label confidence.

    Hand-written on purpose: scikit-learn has no ECE (``calibration_curve`` gives bins without counts and drops
    the empty ones)."""
    total = len(confidence)
    if not total:
        return math.nan
    return float(sum(b.count / total * abs(b.accuracy - b.confidence)
                     for b in reliability(confidence, correct, bins) if b.count))


def brier(probabilities: Sequence[dict[str, float]], gold: Sequence[str], labels: Sequence[str]) -> float:
    """Multi-class Brier score: mean squared distance of the probability vector from the one-hot gold."""
    if not gold:
        return math.nan
    total = 0.0
    for dist, g in zip(probabilities, gold, strict=True):
        total += sum((dist.get(label, 0.0) - (label == g)) ** 2 for label in labels)
    return total / len(gold)


def log_loss(probabilities: Sequence[dict[str, float]], gold: Sequence[str]) -> float:
    if not gold:
        return math.nan
    return float(-np.mean([math.log(max(d.get(g, 0.0), 1e-12)) for d, g in zip(probabilities, gold, strict=True)]))


# ------------------------------------------------------------------ risk–coverage


class CoveragePoint(BaseModel):
    threshold: float  # items with confidence >= threshold are decided automatically
    coverage: float  # share decided automatically
    accuracy: float | None  # accuracy of the automatic decisions (None when none)
    auto: int


def risk_coverage(confidence: Sequence[float], correct: Sequence[bool]) -> list[CoveragePoint]:
    """One point per distinct confidence value, from the highest threshold (least coverage) down.

    Hand-written on purpose, with the helpers below: scikit-learn has no risk–coverage curve or AURC."""
    n = len(confidence)
    if not n:
        return []
    pairs = sorted(zip(confidence, correct, strict=True), key=lambda t: -t[0])
    points = []
    hits = 0
    for i, (conf, ok) in enumerate(pairs):
        hits += bool(ok)
        if i + 1 < n and pairs[i + 1][0] == conf:
            continue  # a threshold takes every item at its value
        points.append(CoveragePoint(threshold=float(conf), coverage=(i + 1) / n, accuracy=hits / (i + 1), auto=i + 1))
    return points


def at_threshold(confidence: Sequence[float], correct: Sequence[bool], threshold: float) -> CoveragePoint:
    """Coverage and accuracy when items with confidence >= ``threshold`` are decided automatically."""
    auto = [ok for conf, ok in zip(confidence, correct, strict=True) if conf >= threshold]
    n = len(confidence)
    return CoveragePoint(threshold=threshold, coverage=len(auto) / n if n else 0.0,
                         accuracy=sum(auto) / len(auto) if auto else None, auto=len(auto))


def choose_threshold(confidence: Sequence[float], correct: Sequence[bool], target_accuracy: float,
                     min_auto: int = 1) -> float:
    """The lowest threshold whose automatic decisions reach ``target_accuracy`` (the most coverage that does),
    with at least ``min_auto`` items decided; ``inf`` (route everything) when no threshold does."""
    best = math.inf
    for point in risk_coverage(confidence, correct):
        if point.auto >= min_auto and point.accuracy is not None and point.accuracy >= target_accuracy:
            best = point.threshold
    return best


def accuracy_at_coverage(confidence: Sequence[float], correct: Sequence[bool], coverage: float) -> float | None:
    """Accuracy of the ``coverage`` share of items with the highest confidence (ties broken by order)."""
    n = len(confidence)
    k = math.ceil(coverage * n)
    if not n or k == 0:
        return None
    order = sorted(range(n), key=lambda i: -confidence[i])[:k]
    return sum(bool(correct[i]) for i in order) / k


def aurc(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """Area under the risk–coverage curve (mean selective risk over all coverages); lower is better."""
    n = len(confidence)
    if not n:
        return math.nan
    order = sorted(range(n), key=lambda i: -confidence[i])
    errors = 0
    total = 0.0
    for k, i in enumerate(order, start=1):
        errors += not correct[i]
        total += errors / k
    return total / n
