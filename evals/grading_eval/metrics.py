"""Agreement, calibration and routing metrics for graded labels (pure functions, numpy only).

Every function takes gold and predicted labels as sequences of strings plus the ordered label list,
so a confusion matrix's rows and columns and the weights of quadratic kappa follow the scale's order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """``m[i][j]``: items whose gold label is ``labels[i]`` and predicted label ``labels[j]``."""
    index = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        m[index[g], index[p]] += 1
    return m.tolist()


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    if not gold:
        return math.nan
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def per_label_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (0 when the label is neither in gold nor predicted, as sklearn's zero_division=0)."""
    m = np.asarray(confusion(gold, pred, labels))
    out = {}
    for i, label in enumerate(labels):
        tp = m[i, i]
        denom = m[i, :].sum() + m[:, i].sum()
        out[label] = float(2 * tp / denom) if denom else 0.0
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels present in gold or predictions (sklearn's ``average='macro'``)."""
    present = [label for label in labels if label in set(gold) | set(pred)]
    if not present:
        return math.nan
    f1 = per_label_f1(gold, pred, labels)
    return float(np.mean([f1[label] for label in present]))


def cohen_kappa(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], weights: str | None = None) -> float:
    """Cohen's kappa; ``weights='quadratic'`` gives quadratic weighted kappa over the labels' order.

    NaN when it is undefined (no items, or both raters use one and the same label throughout).
    """
    if not gold:
        return math.nan
    m = np.asarray(confusion(gold, pred, labels), dtype=float)
    k = len(labels)
    n = m.sum()
    expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / n
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "quadratic":
        idx = np.arange(k)
        w = (idx[:, None] - idx[None, :]) ** 2 / max((k - 1) ** 2, 1)
    elif weights == "linear":
        idx = np.arange(k)
        w = np.abs(idx[:, None] - idx[None, :]) / max(k - 1, 1)
    else:
        raise ValueError(f"unknown weights {weights!r}")
    denom = (w * expected).sum()
    if denom == 0:
        return math.nan
    return float(1.0 - (w * m).sum() / denom)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (ties count one half); NaN without both classes."""
    pos = [s for s, y in zip(scores, positive, strict=True) if y]
    neg = [s for s, y in zip(scores, positive, strict=True) if not y]
    if not pos or not neg:
        return math.nan
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    values = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    rank_of = np.empty(len(values))
    rank_of[order] = ranks
    rank_sum = rank_of[: len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


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
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins of the top-label confidence."""
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
    """One point per distinct confidence value, from the highest threshold (least coverage) down."""
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
