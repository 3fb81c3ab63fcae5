"""The rubric-engine evaluation: read every item once (cached), then fit and compare combiners on the same items.

Steps of :func:`run`:

1. Read each item with :class:`grader.engine.EvidenceReader` (the model's checks when a reader is given,
   embeddings and text measurements always); readings are cached per item, so a stopped run resumes.
   Portfolio evidence is read as the product reads it: instructions aimed at the grader are cut first and
   the submission is flagged (flagged submissions always go to an assessor).
2. For every variant (feature groups), fit the combiner on the ``train`` split and predict the ``test``
   split; the test split is never used to fit or to choose anything.
3. Routing: out-of-fold predictions on the train split (5 folds; grouped by writing prompt for essays) give
   the calibration decisions on which :func:`grader.routing.choose_threshold` picks the thresholds; the
   test split then shows what they do.
4. A learning curve: the primary variant fitted on growing subsets of the train split.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.grading_eval.cache import ResultCache
from evals.rubric_eval.datasets import RubricDataset, RubricItem
from grader.engine import EvidenceReader, GradedExample, Reading, complete, median_level
from grader.fitting import (
    FOLDS,
    GradedSubmission,
    RoutingFit,
    choose_routing,
    decision,
    fit_combiner,
    out_of_fold,
    predict,
)
from grader.injection import scan_injection
from grader.text_features import text_stats
from grader.training import pool_examples

READING_VERSION = 1
VARIANTS: dict[str, tuple[str, ...]] = {
    "overlap": ("overlap",),
    "text": ("text",),
    "text+semantic": ("text", "semantic"),
    "text+semantic+overlap+knn": ("text", "semantic", "overlap", "knn"),
    "model letters": ("letters",),
    "model checks": ("checks",),
    "overlap+knn": ("overlap", "knn"),
    "overlap+knn+checks": ("overlap", "knn", "checks"),
    "text+semantic+overlap+knn+letters": ("text", "semantic", "overlap", "knn", "letters"),
    "text+semantic+overlap+knn+checks": ("text", "semantic", "overlap", "knn", "checks"),
    "all": ("text", "semantic", "overlap", "knn", "checks", "letters"),
}


def _needs(groups: Sequence[str], questions: str) -> bool:
    """Whether a reader that asked ``questions`` measured everything ``groups`` read."""
    have = {"none": set(), "checks": {"checks"}, "letters": {"letters"}, "both": {"checks", "letters"}}[questions]
    return {"checks", "letters"} & set(groups) <= have


class RoutingResult(BaseModel):
    limit: float
    threshold: float | None
    describe: str
    calibration_n: int
    calibration_auto: int
    test_n: int
    test_auto: int
    test_auto_share: float
    test_false_passes: int
    test_wrong_decisions: int
    test_flagged: int


class VariantResult(BaseModel):
    name: str
    groups: list[str]
    n_criteria_scored: int
    qwk_pooled: float | None
    qwk_mean_per_group: float | None  # per criterion (essays) or per credential (portfolio rubrics)
    qwk_per_group: dict[str, float | None]
    exact: float
    adjacent: float
    macro_f1: float | None = None  # over the levels, pooled (for short-answer labels: the usual figure)
    decision_accuracy: float | None = None
    routing: RoutingResult | None = None
    routing_by_limit: dict[str, RoutingResult] = Field(default_factory=dict)
    level_routing: dict[str, Any] | None = None


class CurvePoint(BaseModel):
    n_train_items: int
    qwk_pooled: float | None
    qwk_mean_per_group: float | None
    auto_share: float | None
    false_passes: int | None


class RubricEvalResult(BaseModel):
    dataset: str
    source: str
    reader: dict[str, Any]
    n_train: int
    n_test: int
    seconds_per_item: float | None
    variants: list[VariantResult]
    primary: str
    curve: list[CurvePoint]
    baselines: dict[str, float | None]
    notes: list[str]


def _qwk(gold: Sequence[int], pred: Sequence[int]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(gold) < 2 or (len(set(gold)) < 2 and len(set(pred)) < 2):
        return None
    value = cohen_kappa_score(gold, pred, weights="quadratic")
    return None if value != value else float(value)  # NaN -> None


def read_items(dataset: RubricDataset, items: Sequence[RubricItem], reader: EvidenceReader, reader_config: dict,
               cache_root: Path, progress: Callable[[int, int], None] | None = None,
               sanitise: bool = True) -> tuple[list[GradedSubmission], float | None]:
    """Each item read once (cached) and turned into a :class:`~grader.fitting.GradedSubmission`."""
    cache = ResultCache(cache_root, model=reader_config.get("model", "none"),
                        prompt_id=reader_config.get("prompt", "-"), dataset=dataset.name,
                        config={**reader_config, "v": READING_VERSION, "sanitise": sanitise})
    out, seconds = [], []
    for n, item in enumerate(items, start=1):
        key = f"{item.id}:{hashlib.sha256(item.evidence.encode()).hexdigest()[:12]}"
        stored = cache.get(key)
        if stored is None:
            text, flagged = item.evidence, False
            if sanitise:
                scan = scan_injection(item.evidence)
                text, flagged = scan.sanitised, scan.flagged
            started = time.perf_counter()
            readings = reader.read(item.id, item.title, item.specs, text)
            spent = time.perf_counter() - started
            stored = {"flagged": flagged, "seconds": spent, "readings": [r.to_dict() for r in readings]}
            cache.put(key, stored)
        seconds.append(float(stored.get("seconds", 0.0)))
        specs = {spec.key: spec for spec in item.specs}
        stats = text_stats(item.evidence)  # once per item, not once per criterion
        readings = {r["criterion_key"]: complete(Reading.from_dict(r), item.evidence, specs[r["criterion_key"]], stats)
                    for r in stored["readings"]}
        out.append(GradedSubmission(item.id, item.group, readings, dict(item.levels), item.pass_rule,
                                    bool(stored["flagged"]), meta={"tags": list(item.tags)}))
        if progress:
            progress(n, len(items))
    return out, (statistics.mean(seconds) if seconds else None)


def _spread(combiner, train: Sequence[GradedSubmission]) -> dict[str, tuple[float, float, float]]:
    """Per criterion, from the train split only: the mean expected level, the mean assessors' level and the ratio
    of their spreads. An ordinal model's expected level regresses to the mean; rescaling it to the spread of
    the training scores is the usual point estimate for agreement on a fine (half-level) scale."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    for sub, d in zip(train, predict(combiner, train), strict=True):
        for key, levels in sub.levels.items():
            pairs.setdefault(key, []).append((sum(i * p for i, p in enumerate(d[key])), sum(levels) / len(levels)))
    out = {}
    for key, rows in pairs.items():
        preds, golds = [p for p, _ in rows], [g for _, g in rows]
        sp, sg = statistics.pstdev(preds), statistics.pstdev(golds)
        out[key] = (statistics.fmean(preds), statistics.fmean(golds), sg / sp if sp > 1e-9 else 1.0)
    return out


REPORTED_LIMITS = (0.02, 0.05, 0.10)  # false-pass limits reported beside the configured one


def _route(decided: Sequence[tuple[bool, float, bool, bool]], fit: RoutingFit, limit: float) -> RoutingResult:
    """What the thresholds of ``fit`` decide on the test split, given per test submission (passes, confidence,
    gold pass, flagged): automatic share, false passes, wrong decisions."""
    threshold = fit.decision_threshold
    auto = false_passes = wrong = flagged = 0
    for passed, c, gold, is_flagged in decided:
        if is_flagged:
            flagged += 1
            continue
        if threshold is not None and c >= threshold:
            auto += 1
            false_passes += passed and not gold
            wrong += passed != gold
    binding = fit.binding
    return RoutingResult(
        limit=limit, threshold=threshold, describe=binding.describe(), calibration_n=binding.n_calibration,
        calibration_auto=binding.automatic, test_n=len(decided), test_auto=auto,
        test_auto_share=auto / len(decided), test_false_passes=false_passes, test_wrong_decisions=wrong,
        test_flagged=flagged)


def score_variant(name: str, groups: Sequence[str], train: Sequence[GradedSubmission],
                  test: Sequence[GradedSubmission], pool_extra: Sequence[GradedExample], dataset: RubricDataset,
                  C: float, limit: float, wrong_limit: float, level_limit: float, by_group: bool) -> VariantResult:
    from sklearn.metrics import f1_score

    comb = fit_combiner(train, groups, C, pool_extra)
    dists = predict(comb, test)
    half = any(len(lv) > 1 for r in test for lv in r.levels.values())
    spread = _spread(comb, train) if half else {}
    gold_all, pred_all, exact, adjacent = [], [], [], []
    per_group: dict[str, tuple[list[int], list[int]]] = {}
    for sub, d in zip(test, dists, strict=True):
        for key, levels in sub.levels.items():
            dist = d[key]
            chosen = median_level(dist)
            if half:  # two raters: compare on the half-level scale, the expected level rescaled (see _spread)
                gold = round(sum(levels) * 2 / len(levels))
                mean_pred, mean_gold, k = spread[key]
                expected = mean_gold + (sum(i * p for i, p in enumerate(dist)) - mean_pred) * k
                pred = min(max(round(2 * expected), 0), 2 * (len(dist) - 1))
            else:
                gold, pred = levels[0], chosen
            group = key if not dataset.decisions else sub.group
            per_group.setdefault(group, ([], []))
            per_group[group][0].append(gold)
            per_group[group][1].append(pred)
            gold_all.append(gold)
            pred_all.append(pred)
            exact.append(chosen in levels)
            adjacent.append(any(abs(chosen - lv) <= 1 for lv in levels))
    qwks = {g: _qwk(a, b) for g, (a, b) in sorted(per_group.items())}
    defined = [v for v in qwks.values() if v is not None]
    result = VariantResult(
        name=name, groups=list(groups), n_criteria_scored=len(gold_all), qwk_pooled=_qwk(gold_all, pred_all),
        qwk_mean_per_group=statistics.mean(defined) if defined else None, qwk_per_group=qwks,
        exact=sum(exact) / len(exact), adjacent=sum(adjacent) / len(adjacent),
        macro_f1=None if half else float(f1_score(gold_all, pred_all, average="macro")),
    )
    if not dataset.decisions:
        return result
    oof = out_of_fold(train, groups, C, pool_extra, by_group)
    decided = [(*decision(sub.rule, d)[:2], sub.gold_pass(), sub.flagged) for sub, d in zip(test, dists, strict=True)]
    result.decision_accuracy = sum(passed == gold for passed, _, gold, _ in decided) / len(decided)
    for lim in sorted({limit, *REPORTED_LIMITS}):
        fit = choose_routing(oof, false_pass_limit=lim, wrong_limit=wrong_limit, level_limit=level_limit)
        routed = _route(decided, fit, lim)
        result.routing_by_limit[f"{lim:g}"] = routed
        if lim == limit:
            result.routing = routed
            result.level_routing = {"limit": level_limit, "threshold": fit.level_threshold,
                                    "describe": fit.by_level.describe()}
    return result


def run(dataset: RubricDataset, reader: EvidenceReader, reader_config: dict, cache_root: Path, *,
        variants: Sequence[str] | None = None, limit: float = 0.05, wrong_limit: float = 0.10,
        level_limit: float = 0.10, C: float = 0.5, train_limit: int | None = None, test_limit: int | None = None,
        progress: Callable[[int, int], None] | None = None, curve: bool = True, seed: int = 0,
        primary: str | None = None) -> RubricEvalResult:
    train_items, test_items = dataset.split("train"), dataset.split("test")
    rng = random.Random(seed)
    if train_limit and len(train_items) > train_limit:
        train_items = rng.sample(train_items, train_limit)
    if test_limit and len(test_items) > test_limit:
        test_items = rng.sample(test_items, test_limit)
    if not train_items or not test_items:
        raise ValueError(f"{dataset.name}: needs items in both the train and the test split")
    reads, seconds = read_items(dataset, [*train_items, *test_items], reader, reader_config, cache_root, progress,
                                sanitise=dataset.decisions)
    train, test = reads[: len(train_items)], reads[len(train_items):]
    asked = reader_config.get("questions", "none")
    names = [v for v in (variants or VARIANTS) if _needs(VARIANTS[v], asked)]
    pool_extra = pool_examples(dataset.exemplar_pool, reader.embedder)
    by_group = not dataset.decisions
    results = [score_variant(n, VARIANTS[n], train, test, pool_extra, dataset, C, limit, wrong_limit, level_limit,
                             by_group) for n in names]
    primary = primary if primary in names else ("all" if "all" in names else names[-1])
    points: list[CurvePoint] = []
    if curve:
        sizes = [n for n in (5, 10, 20, 40, 80, 160, 320, 640) if n < len(train)] + [len(train)]
        for n in sizes:
            subset = rng.sample(list(train), n) if n < len(train) else list(train)
            levels = Counter(lv for r in subset for v in r.levels.values() for lv in v)
            if len(levels) < 2:
                continue
            v = score_variant(primary, VARIANTS[primary], subset, test, pool_extra, dataset, C, limit, wrong_limit,
                              level_limit, by_group)
            loose = v.routing_by_limit.get(f"{max(REPORTED_LIMITS):g}")
            points.append(CurvePoint(n_train_items=n, qwk_pooled=v.qwk_pooled, qwk_mean_per_group=v.qwk_mean_per_group,
                                     auto_share=loose.test_auto_share if loose else None,
                                     false_passes=loose.test_false_passes if loose else None))
    # majority level per criterion (from the train split) as the floor
    majority_hits = []
    for r in test:
        for key, levels in r.levels.items():
            counts = Counter(lv for t in train for lv in t.levels.get(key, ()))
            guess = counts.most_common(1)[0][0] if counts else 0
            majority_hits.append(guess in levels)
    notes = [f"train {len(train)} items, test {len(test)} items; the test split is never used for fitting or "
             "choosing thresholds", f"routing thresholds chosen on {FOLDS}-fold out-of-fold predictions on the train "
             "split" + (" (folds grouped by writing prompt or question)" if by_group else "")]
    return RubricEvalResult(dataset=dataset.name, source=dataset.source, reader=reader_config, n_train=len(train),
                            n_test=len(test), seconds_per_item=seconds, variants=results, primary=primary, curve=points,
                            baselines={"majority_exact": sum(majority_hits) / len(majority_hits)}, notes=notes)


def render_text(result: RubricEvalResult) -> str:
    lines = [f"Rubric engine on {result.dataset}: train {result.n_train}, test {result.n_test} (test never tuned on)",
             f"reader: {result.reader}; mean seconds per item read: {result.seconds_per_item or 0:.2f}", "",
             f"{'variant':28} {'QWK pooled':>10} {'QWK mean':>9} {'exact':>6} {'adj':>5} {'mF1':>5} {'dec.acc':>7} "
             f"{'auto':>6} {'false pass':>10}"]
    for v in result.variants:
        r = v.routing
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        lines.append(f"{v.name:28} {fmt(v.qwk_pooled):>10} {fmt(v.qwk_mean_per_group):>9} {v.exact:6.3f} "
                     f"{v.adjacent:5.2f} {fmt(v.macro_f1):>5} {fmt(v.decision_accuracy):>7} "
                     f"{(f'{r.test_auto}/{r.test_n}' if r else '-'):>6} {(r.test_false_passes if r else '-')!s:>10}")
    lines.append(f"majority level exact: {result.baselines['majority_exact']:.3f}")
    primary = next(v for v in result.variants if v.name == result.primary)
    if primary.routing:
        lines.append(f"routing ({primary.name}): {primary.routing.describe}")
        lines.append(f"  on test: {primary.routing.test_auto}/{primary.routing.test_n} decided automatically "
                     f"({primary.routing.test_auto_share:.0%}), {primary.routing.test_false_passes} false passes, "
                     f"{primary.routing.test_wrong_decisions} wrong, {primary.routing.test_flagged} flagged to review")
    for key, r in primary.routing_by_limit.items():
        lines.append(f"  false-pass limit {float(key):.0%}: threshold "
                     f"{'none' if r.threshold is None else f'{r.threshold:.3f}'}; on test {r.test_auto}/{r.test_n} "
                     f"automatic, {r.test_false_passes} false passes, {r.test_wrong_decisions} wrong")
    if primary.level_routing:
        lines.append(f"criterion levels: {primary.level_routing['describe']}")
    if result.curve:
        lines.append(f"learning curve ({result.primary}): n_train -> QWK pooled / mean, automatic share and false "
                     f"passes at the {max(REPORTED_LIMITS):.0%} false-pass limit")
        for p in result.curve:
            pooled = "-" if p.qwk_pooled is None else f"{p.qwk_pooled:.3f}"
            mean = "-" if p.qwk_mean_per_group is None else f"{p.qwk_mean_per_group:.3f}"
            share = "-" if p.auto_share is None else f"{p.auto_share:.0%}"
            lines.append(f"  {p.n_train_items:5d} -> {pooled} / {mean}, {share}, {p.false_passes}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
