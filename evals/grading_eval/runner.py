"""The grading evaluation: score a dataset's split, calibrate on a calibration split, measure, report.

Steps of :func:`run`:

1. Pick the evaluated items (``split``, ``limit`` drawn at random with a fixed seed) and a calibration
   set: the dataset's ``calibration`` split (or ``calibration_split``) if there is one; otherwise items
   held out of the training pool in the same regime as the evaluated items (unseen answers: answers
   held out at random, the rest stays the example pool; unseen questions: whole questions held out
   and graded without examples); otherwise (no pool, e.g. the demo evidence) 5-fold cross-fitting
   on the evaluated items themselves, which the report flags.
2. Score every item with the model (resumable: :class:`~evals.grading_eval.cache.ResultCache`).
3. Fit the calibrators and baselines on the calibration set; predict the evaluated items.
4. Metrics per system, the routing threshold chosen on the calibration set for ``target_accuracy``
   and reported on the evaluated items, per-question breakdown, reliability.

The result models are in :mod:`evals.grading_eval.results`, the item scorers in :mod:`evals.grading_eval.scorers`.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from evals.grading_eval import metrics as M
from evals.grading_eval.cache import ResultCache
from evals.grading_eval.datasets import GradingDataset, GradingItem, sample
from evals.grading_eval.results import (
    EvalOptions,
    GradingEvalResult,
    ItemRecord,
    QuestionRow,
    Routing,
    SystemMetrics,
)
from evals.grading_eval.scorers import ItemScorer
from grader.answer_matcher import AnswerMatcher, cross_fitted
from grader.short_answer import (
    Calibrator,
    ExamplePool,
    RawScore,
    fit_temperature,
    knn_features,
)

PRIMARY = "ensemble"
CROSS_FOLDS = 5


# ------------------------------------------------------------------ systems


@dataclass
class System:
    name: str
    kind: Literal["model", "baseline"]
    description: str
    make: Callable[[list[RawScore], list[str]], Callable[[RawScore], dict[str, float]]]


def _normalise(dist: dict[str, float], labels: Sequence[str]) -> dict[str, float]:
    total = sum(max(dist.get(label, 0.0), 0.0) for label in labels)
    if total <= 0:
        return {label: 1.0 / len(labels) for label in labels}
    return {label: max(dist.get(label, 0.0), 0.0) / total for label in labels}


def _systems(labels: list[str], *, knn: bool, embedding: bool, rubric: bool, matcher: bool = False) -> list[System]:
    def raw_model(_raws, _gold):
        return lambda r: _normalise(r.model, labels)

    def calibrated(features: tuple[str, ...]):
        def make(raws, gold):
            cal = Calibrator(labels, features).fit(raws, gold)
            return cal.predict
        return make

    def majority(_raws, gold):
        counts = Counter(gold)
        dist = {label: counts.get(label, 0) / len(gold) for label in labels}
        return lambda _r: dict(dist)

    # with the matcher (fitted on the whole pool, kNN vote included) the ensemble stacks it with the model: two
    # feature groups for the small calibration set; without it, the model beside the raw signals
    ensemble = (("model", "matcher") if matcher else
                ("model", "lexical") + (("embedding",) if embedding else ()) + (("knn",) if knn else ()))
    systems = [
        System("model", "model", "the model's label probabilities as they come (argmax)", raw_model),
        System("calibrated", "model", "the model's log-probabilities, temperature and per-label bias fitted on "
               "the calibration items", calibrated(("model",))),
    ]
    if not rubric:
        parts = (["the answer matcher (word overlap" + (", embedding similarity" if embedding else "")
                  + (" and the nearest graded answers' vote" if knn else "") + ", trained on the whole graded pool)"]
                 if matcher else ["word overlap with the reference"] + (["embedding similarity"] if embedding else [])
                 + (["nearest graded answers' vote"] if knn else []))
        systems.append(System(PRIMARY, "model", "the model plus " + ", ".join(parts)
                              + " (logistic regression fitted on the calibration items)", calibrated(ensemble)))
    systems.append(System("majority", "baseline", "always the most frequent label of the calibration items", majority))
    if not rubric:
        systems.append(System("lexical overlap", "baseline", "word overlap of the answer with the reference "
                              "answer(s) and the question, and its length (logistic regression fitted on the "
                              "calibration items)", calibrated(("lexical",))))
    if matcher:
        systems.append(System("answer matcher", "baseline", "no language model: logistic regression over word "
                              "overlap (and, if chosen, sentence-embedding similarity) with the reference and, for "
                              "seen questions, the nearest graded answers' vote, trained on every graded answer of "
                              "the pool (grader.answer_matcher), recalibrated on the calibration items",
                              calibrated(("matcher",))))
    if knn:
        systems.append(System("nearest graded answers", "baseline", "vote of the 5 most similar graded answers "
                              "to the same question from the training pool", calibrated(("knn",))))
    return systems


def _metrics(system: System, gold: list[str], probs: list[dict[str, float]], labels: list[str],
             ordinal: bool) -> SystemMetrics:
    pred = [max(labels, key=lambda label, d=d: (d[label], -labels.index(label))) for d in probs]
    conf = [d[p] for d, p in zip(probs, pred, strict=True)]
    correct = [g == p for g, p in zip(gold, pred, strict=True)]
    kappa = M.cohen_kappa(gold, pred, labels)
    qwk = M.cohen_kappa(gold, pred, labels, weights="quadratic") if ordinal else None
    auc = None
    if len(labels) == 2:
        auc = M.auroc([d[labels[1]] for d in probs], [g == labels[1] for g in gold])
    counts = Counter(pred)
    return SystemMetrics(
        name=system.name, kind=system.kind, description=system.description, n=len(gold),
        accuracy=M.accuracy(gold, pred), macro_f1=M.macro_f1(gold, pred, labels),
        kappa=None if math.isnan(kappa) else kappa, qwk=None if qwk is None or math.isnan(qwk) else qwk,
        auroc=None if auc is None or math.isnan(auc) else auc,
        ece=M.expected_calibration_error(conf, correct), brier=M.brier(probs, gold, labels),
        log_loss=M.log_loss(probs, gold), per_label_f1=M.per_label_f1(gold, pred, labels),
        confusion=M.confusion(gold, pred, labels),
        predicted_share={label: counts.get(label, 0) / len(pred) for label in labels},
    )


def _predict(system: System, cal_raws: list[RawScore], cal_gold: list[str], test_raws: list[RawScore],
             folds: list[int] | None) -> tuple[list[dict[str, float]], list[dict[str, float]], Calibrator | None]:
    """(calibration-set predictions, test predictions, the fitted calibrator if the system has one). With
    ``folds`` (cross-fitting) the calibration set is the test set and both are out-of-fold predictions."""
    if folds is None:
        predict = system.make(cal_raws, cal_gold)
        fitted = getattr(predict, "__self__", None)
        return ([predict(r) for r in cal_raws], [predict(r) for r in test_raws],
                fitted if isinstance(fitted, Calibrator) else None)
    out: list[dict[str, float]] = [{} for _ in test_raws]
    for fold in sorted(set(folds)):
        train = [i for i, f in enumerate(folds) if f != fold]
        predict = system.make([test_raws[i] for i in train], [cal_gold[i] for i in train])
        for i, f in enumerate(folds):
            if f == fold:
                out[i] = predict(test_raws[i])
    return out, out, None


# ------------------------------------------------------------------ calibration set


@dataclass
class Plan:
    test: list[GradingItem]
    calibration: list[GradingItem]
    pool: list[GradingItem]
    mode: str  # split / held-out answers / held-out questions / cross-fitted
    regime: str  # seen questions / unseen questions / no graded examples
    use_pool: dict[str, bool]


def plan(dataset: GradingDataset, options: EvalOptions) -> Plan:
    split = dataset.resolve_split(options.split)
    test = sample(dataset.split_items(split), options.limit, options.seed)
    if not test:
        raise ValueError(f"{dataset.name}: split {split!r} has no items")
    test_ids = {i.id for i in test}
    pool_all = [i for i in dataset.pool() if i.id not in test_ids and split != dataset.pool_split]
    pool_questions = {i.question_id for i in pool_all}
    seen = sum(i.question_id in pool_questions for i in test) >= len(test) / 2
    regime = "seen questions" if seen else ("unseen questions" if pool_all else "no graded examples")
    cal_split = options.calibration_split or ("calibration" if "calibration" in dataset.splits() else None)
    if cal_split is not None:
        cal_split = dataset.resolve_split(cal_split)
        if cal_split == split:
            raise ValueError("the calibration split must differ from the evaluated split")
        calibration = sample([i for i in dataset.split_items(cal_split) if i.id not in test_ids],
                             options.calibration_limit, options.seed + 1)
        cal_ids = {i.id for i in calibration}
        pool = [i for i in pool_all if i.id not in cal_ids]
        use_pool = {i.id: seen for i in [*test, *calibration]}
        return Plan(test, calibration, pool, f"split {cal_split}", regime, use_pool)
    if not pool_all:
        return Plan(test, [], [], "cross-fitted", regime, {i.id: False for i in test})
    rng = random.Random(options.seed + 1)
    if seen:
        calibration = sample(pool_all, options.calibration_limit, options.seed + 1)
        cal_ids = {i.id for i in calibration}
        pool = [i for i in pool_all if i.id not in cal_ids]
        mode = f"{len(calibration)} answers held out of the {dataset.pool_split} split (the rest is the example pool)"
    else:
        # new questions: calibration answers spread over as many training questions as possible (one per
        # question in turn), graded without examples like the evaluated ones
        by_q: dict[str, list[GradingItem]] = {}
        for item in sorted(pool_all, key=lambda i: i.id):
            by_q.setdefault(item.question_id, []).append(item)
        questions = sorted(by_q)
        rng.shuffle(questions)
        for q in questions:
            rng.shuffle(by_q[q])
        chosen: list[GradingItem] = []
        depth = 0
        while len(chosen) < options.calibration_limit and depth < max(len(v) for v in by_q.values()):
            chosen.extend(by_q[q][depth] for q in questions if depth < len(by_q[q]))
            depth += 1
        calibration = sorted(chosen[: options.calibration_limit], key=lambda i: (i.question_id, i.id))
        pool = pool_all
        n_questions = len({i.question_id for i in calibration})
        mode = (f"{len(calibration)} answers to {n_questions} questions of the {dataset.pool_split} split, graded "
                "without examples like the unseen questions")
    use_pool = {i.id: seen for i in [*test, *calibration]}
    return Plan(test, calibration, pool, mode, regime, use_pool)


# ------------------------------------------------------------------ the run


def _confidence(dist: dict[str, float], labels: list[str]) -> tuple[str, float]:
    label = max(labels, key=lambda lb: (dist[lb], -labels.index(lb)))
    return label, dist[label]


def _per_question(items: list[GradingItem], probs: list[dict[str, float]], labels: list[str],
                  threshold: float | None) -> list[QuestionRow]:
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.question_id, []).append(i)
    rows = []
    for qid, idx in groups.items():
        gold = [items[i].label for i in idx]
        pairs = [_confidence(probs[i], labels) for i in idx]
        pred = [p for p, _ in pairs]
        conf = [c for _, c in pairs]
        auto = [j for j, c in enumerate(conf) if threshold is not None and c >= threshold]
        rows.append(QuestionRow(
            question_id=qid, question=" ".join(items[idx[0]].question.split())[:160], n=len(idx),
            gold=dict(Counter(gold)), accuracy=M.accuracy(gold, pred), macro_f1=M.macro_f1(gold, pred, labels),
            mean_confidence=statistics.fmean(conf), auto_share=len(auto) / len(idx),
            auto_accuracy=statistics.fmean(gold[j] == pred[j] for j in auto) if auto else None,
        ))
    return sorted(rows, key=lambda r: (r.accuracy, r.question_id))


def _knn_features(pool: ExamplePool, item: GradingItem, labels: list[str]) -> list[float]:
    """The nearest graded answers' vote for ``item`` (never counting the item itself) and whether there was one."""
    ranked = pool.ranked(item.question_id, item.response, {item.id})
    return knn_features(ExamplePool.knn_vote(ranked, labels) if ranked else None, labels)


def matcher_predictions(p: Plan, make_matcher: Callable[[], AnswerMatcher], labels: list[str]
                        ) -> dict[str, dict[str, float]]:
    """The answer matcher's label probabilities for the plan's evaluated and calibration items.

    Items outside the pool are scored by a matcher fitted on the whole pool; calibration items inside it
    (unseen-questions regime) get out-of-fold predictions, folds grouped by question, so none is scored by a
    matcher that saw its question. For seen questions the matcher also reads the nearest graded answers' vote
    (leave-one-out for the pool's own answers)."""
    if not p.pool:
        return {}
    pool_ids = {i.id for i in p.pool}
    outside = [i for i in [*p.test, *p.calibration] if i.id not in pool_ids]
    inside = {i.id for i in p.calibration if i.id in pool_ids}
    votes = ExamplePool([i.graded() for i in p.pool]) if p.regime == "seen questions" else None

    def extra(items: list[GradingItem]) -> list[list[float]] | None:
        return [_knn_features(votes, i, labels) for i in items] if votes is not None else None

    tasks, gold, pool_extra = [i.task() for i in p.pool], [i.label for i in p.pool], extra(p.pool)
    out: dict[str, dict[str, float]] = {}
    if outside:
        full = make_matcher().fit(tasks, gold, pool_extra)
        out.update(zip((i.id for i in outside), full.predict([i.task() for i in outside], extra(outside)),
                       strict=True))
    if inside:
        groups = [i.question_id if p.regime == "unseen questions" else i.id for i in p.pool]
        out.update(cross_fitted(make_matcher, tasks, gold, groups, inside, extra=pool_extra))
    return out


def run(dataset: GradingDataset, make_scorer: Callable[[Plan], ItemScorer], options: EvalOptions, *,
        cache_dir: Path, progress: bool = True, description: str = "",
        make_matcher: Callable[[], AnswerMatcher] | None = None) -> GradingEvalResult:
    """Score, calibrate and measure; see the module docstring. ``make_scorer`` builds the scorer for the
    plan (its example pool is ``plan.pool``); ``make_matcher`` the answer matcher (None: none)."""
    from tqdm import tqdm

    labels = list(dataset.scale.labels)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    p = plan(dataset, options)
    scorer = make_scorer(p)
    cache = ResultCache(cache_dir, model=scorer.model_name, prompt_id=scorer.prompt_id, dataset=dataset.slug,
                        config=scorer.config(), enabled=options.use_cache)
    todo = sorted([*p.calibration, *p.test], key=lambda i: (i.question_id, i.id))
    already = scorer.cached(todo, p.use_pool, cache)
    scored = 0
    with tqdm(total=len(todo), initial=already, desc=f"grading {dataset.name}", unit="item", disable=not progress,
              dynamic_ncols=True) as bar:
        def advance(n: int) -> None:
            nonlocal scored
            scored += n
            if n:
                bar.update(n)

        raws = scorer.score_items(todo, p.use_pool, cache, advance)
    rubric = dataset.kind == "rubric"
    matched = matcher_predictions(p, make_matcher, labels) if make_matcher is not None and not rubric else {}
    for item_id, dist in matched.items():
        raws[item_id].matcher = dist
    test_raws = [raws[i.id] for i in p.test]
    test_gold = [i.label for i in p.test]
    cross = not p.calibration
    if cross:
        cal_raws, cal_gold = test_raws, test_gold
        folds = [hash_fold(i.question_id if len({x.question_id for x in p.test}) >= CROSS_FOLDS else i.id)
                 for i in p.test]
    else:
        cal_raws, cal_gold = [raws[i.id] for i in p.calibration], [i.label for i in p.calibration]
        folds = None

    knn = p.regime == "seen questions" and any(r.knn for r in test_raws)
    embedding = any(r.embedding is not None for r in test_raws)
    systems = _systems(labels, knn=knn, embedding=embedding, rubric=rubric,
                       matcher=all(r.matcher for r in [*test_raws, *cal_raws]) and not cross)
    primary = "model" if rubric else PRIMARY
    metrics, cal_probs, test_probs, fitted = [], {}, {}, {}
    for system in systems:
        cal_probs[system.name], test_probs[system.name], fitted[system.name] = _predict(
            system, cal_raws, cal_gold, test_raws, folds)
        metrics.append(_metrics(system, test_gold, test_probs[system.name], labels, dataset.scale.ordinal))

    def conf_correct(probs, gold):
        pairs = [_confidence(d, labels) for d in probs]
        return [c for _, c in pairs], [g == p for (p, _), g in zip(pairs, gold, strict=True)]

    cal_conf, cal_ok = conf_correct(cal_probs[primary], cal_gold)
    test_conf, test_ok = conf_correct(test_probs[primary], test_gold)
    threshold = M.choose_threshold(cal_conf, cal_ok, options.target_accuracy, min_auto=min(10, len(cal_conf)))
    finite = None if math.isinf(threshold) else threshold
    oracle = M.choose_threshold(test_conf, test_ok, options.target_accuracy, min_auto=1)
    routing = Routing(
        system=primary, target_accuracy=options.target_accuracy, threshold=finite,
        chosen_on=("out-of-fold predictions on the evaluated items themselves (no calibration split; optimistic)"
                   if cross else "the calibration items"),
        calibration=M.at_threshold(cal_conf, cal_ok, threshold), test=M.at_threshold(test_conf, test_ok, threshold),
        accuracy_at_60_coverage=M.accuracy_at_coverage(test_conf, test_ok, 0.6),
        coverage_at_target_oracle=M.at_threshold(test_conf, test_ok, oracle).coverage,
        aurc=M.aurc(test_conf, test_ok),
        curve_test=M.risk_coverage(test_conf, test_ok), curve_calibration=M.risk_coverage(cal_conf, cal_ok),
    )
    raw_conf, raw_ok = conf_correct(test_probs["model"], test_gold)
    temperature = None
    if not cross and len(set(cal_gold)) > 1:
        temperature = fit_temperature(cal_raws, cal_gold, labels)
    records = []
    for item, raw, dist, conf in zip(p.test, test_raws, test_probs[primary], test_conf, strict=True):
        pred, _ = _confidence(dist, labels)
        records.append(ItemRecord(
            id=item.id, question_id=item.question_id, gold=item.label, predicted=pred, confidence=conf,
            auto=finite is not None and conf >= finite, probabilities=dist, model=raw.model,
            response=item.response, seconds=raw.seconds))
    new_seconds = [raws[i.id].seconds for i in todo] if scored else []
    caveats = _caveats(dataset, p, cross, len(p.test))
    return GradingEvalResult(
        dataset=dataset.name, description=description, source=dataset.source,
        split=dataset.resolve_split(options.split),
        items=len(p.test), labels=labels, ordinal=dataset.scale.ordinal, gold_distribution=dict(Counter(test_gold)),
        model=scorer.model_name, prompt_id=scorer.prompt_id, scorer_config=scorer.config(), options=options,
        calibration_mode=p.mode, regime=p.regime, calibration_items=len(p.calibration), pool_items=len(p.pool),
        fitted_temperature=temperature, primary=primary, systems=metrics, routing=routing,
        reliability=M.reliability(test_conf, test_ok), reliability_raw=M.reliability(raw_conf, raw_ok),
        per_question=_per_question(p.test, test_probs[primary], labels, finite),
        scored=scored, from_cache=len(todo) - scored, seconds=round(time.perf_counter() - started, 2),
        seconds_per_item=statistics.fmean(new_seconds) if new_seconds else None,
        cache_file=str(cache.path) if options.use_cache else None, started=started_at, caveats=caveats,
        licence_note=dataset.licence_note, records=records,
        calibrator=fitted[primary].to_dict() if fitted.get(primary) else None,
    )


def hash_fold(key: str) -> int:
    import hashlib

    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % CROSS_FOLDS


def _caveats(dataset: GradingDataset, p: Plan, cross: bool, n: int) -> list[str]:
    out = []
    if n < 100:
        out.append(f"Only {n} items were evaluated: every figure has a wide margin of error (a 95 % interval on an "
                   f"accuracy near 0.8 is about ±{1.96 * math.sqrt(0.16 / n):.2f}).")
    if cross:
        out.append("There is no calibration split: calibrators were fitted by 5-fold cross-fitting on the evaluated "
                   "items, and the routing threshold was chosen on those same out-of-fold predictions, so the routing "
                   "figures are optimistic.")
    elif len(p.calibration) < 100:
        out.append(f"The calibration set has only {len(p.calibration)} items; calibrators and the routing threshold "
                   "fitted on it are unstable.")
    if dataset.kind == "rubric":
        out.append("Demo evidence labels are one author's judgement, not a moderated consensus; one-level "
                   "disagreements on borderline pieces are plausible.")
    if p.regime == "unseen questions":
        out.append("The evaluated questions have no graded answers in the training pool: the model grades them "
                   "without examples and the nearest-answer vote is unavailable.")
    return out
