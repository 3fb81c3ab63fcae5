"""Grader benchmark on the labelled portfolio evidence set (``evals/grading_evidence``).

Each item is graded exactly as a learner's submission is (pseudonymise → remove instructions aimed at
the grader → score every criterion → risk signals → decision policy), without the database. Reported:

* per-criterion agreement with the labels (exact, within one level, quadratic weighted kappa);
* decision accuracy against the expected decision, the share routed to review, and how often an
  automatic decision (pass/fail, not review) was wrong - the error an assessor never sees;
* injection items routed to review, and whether any injection item got a level above its label;
* seconds per submission and per criterion (the goal: a 5-criterion submission in ≤ 10 s on 2 cores).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

from pydantic import BaseModel

from evals.grading_evidence import EvidenceItem, load_evidence_dir
from grader.grading import grade_evidence
from grader.scoring import Scorer
from knowledge.schema import Catalogue


class ItemResult(BaseModel):
    id: str
    credential_id: str
    tags: list[str]
    expected_decision: str
    decision: str
    reasons: list[str]
    labels: dict[str, int]  # criterion id -> level index (human)
    predicted: dict[str, int]  # criterion id -> level index (model)
    confidence: dict[str, float]
    distributions: dict[str, list[float]]  # criterion id -> probability per level, in rubric order
    seconds: float
    criteria: int


class BenchResult(BaseModel):
    items: int
    criteria_scored: int
    exact_agreement: float
    adjacent_agreement: float
    qwk: float
    decision_accuracy: float
    review_share: float
    auto_decided: int
    auto_decision_errors: int
    false_pass: int  # auto "pass" where the labels fail: the costly error
    injection_items: int
    injection_routed_to_review: int
    injection_levels_above_label: int
    mean_confidence: float
    seconds_per_submission: float
    seconds_per_criterion: float
    read_once_seconds: float | None = None  # the model reading the rubric-cached prompt + evidence once
    grade_to_read_ratio: float | None = None  # seconds to grade / seconds to read once, same items, same run
    seconds_per_5_criteria: float
    confusion: dict[str, dict[str, int]]  # expected -> decided -> count
    per_item: list[ItemResult]


def _criterion(credential, criterion_id: str):
    return next(c for c in credential.rubric.criteria if c.id == criterion_id)


def _index(credential, criterion_id: str, level_id: str) -> int:
    return [level.id for level in _criterion(credential, criterion_id).levels].index(level_id)


def grade_item(catalogue: Catalogue, item: EvidenceItem, scorer: Scorer) -> ItemResult:
    credential = catalogue.credentials[item.credential]
    started = time.perf_counter()
    report = grade_evidence(catalogue, item.credential, [item.evidence], scorer, reflection=item.reflection)
    seconds = time.perf_counter() - started
    return ItemResult(
        id=item.id, credential_id=item.credential, tags=list(item.tags), expected_decision=item.expected_decision,
        decision=report.outcome.decision, reasons=report.outcome.reasons,
        labels={c: _index(credential, c, lv) for c, lv in item.labels.items()},
        predicted={c.criterion_id: _index(credential, c.criterion_id, c.level_id) for c in report.score.criteria},
        confidence={c.criterion_id: c.confidence for c in report.score.criteria},
        distributions={c.criterion_id: [c.distribution[lv.id] for lv in _criterion(credential, c.criterion_id).levels]
                       for c in report.score.criteria},
        seconds=seconds, criteria=len(report.score.criteria),
    )


def summarise(results: list[ItemResult]) -> BenchResult:
    from sklearn.metrics import cohen_kappa_score

    truth = [r.labels[c] for r in results for c in r.labels]
    pred = [r.predicted[c] for r in results for c in r.labels]
    pairs = list(zip(truth, pred, strict=True))
    auto = [r for r in results if r.decision != "review"]
    labelled_outcome = {r.id: r.expected_decision for r in results}
    injections = [r for r in results if "injection" in r.tags]
    confusion: dict[str, dict[str, int]] = {}
    for r in results:
        confusion.setdefault(r.expected_decision, Counter())[r.decision] += 1
    criteria_total = sum(r.criteria for r in results)
    seconds_total = sum(r.seconds for r in results)
    return BenchResult(
        items=len(results), criteria_scored=len(pairs),
        exact_agreement=statistics.fmean(t == p for t, p in pairs),
        adjacent_agreement=statistics.fmean(abs(t - p) <= 1 for t, p in pairs),
        qwk=float(cohen_kappa_score(truth, pred, weights="quadratic")) if len(set(truth)) > 1 else 0.0,
        decision_accuracy=statistics.fmean(r.decision == r.expected_decision for r in results),
        review_share=statistics.fmean(r.decision == "review" for r in results),
        auto_decided=len(auto),
        auto_decision_errors=sum(r.decision != labelled_outcome[r.id] for r in auto),
        false_pass=sum(r.decision == "pass" and r.expected_decision != "pass" for r in results),
        injection_items=len(injections),
        injection_routed_to_review=sum(r.decision == "review" and "prompt_injection" in r.reasons for r in injections),
        injection_levels_above_label=sum(r.predicted[c] > r.labels[c] for r in injections for c in r.labels),
        mean_confidence=statistics.fmean(v for r in results for v in r.confidence.values()),
        seconds_per_submission=seconds_total / len(results),
        seconds_per_criterion=seconds_total / criteria_total,
        seconds_per_5_criteria=5 * seconds_total / criteria_total,
        confusion={k: dict(v) for k, v in confusion.items()},
        per_item=results,
    )


def run(catalogue: Catalogue, scorer: Scorer, limit: int | None = None,
        items: list[EvidenceItem] | None = None, timing_items: int = 5, timing_model: Any = None) -> BenchResult:
    """Grade ``items``; for the first ``timing_items`` of them also time one plain read of the same prompt,
    right after grading (so the rubric is cached for both), for the grade-to-read ratio."""
    items = items if items is not None else load_evidence_dir()
    if limit:
        items = items[:limit]
    from tqdm import tqdm

    items = sorted(items, key=lambda i: i.credential)  # consecutive submissions share the rubric's cache
    results, reads, grades = [], [], []
    for n, item in enumerate(tqdm(items, desc="grading", unit="item")):
        results.append(grade_item(catalogue, item, scorer))
        if 1 <= n <= timing_items:  # the first grade also loads the embedding model
            read_once(scorer, catalogue, item, timing_model, "\n\n")  # the rubric into the cache
            seconds = read_once(scorer, catalogue, item, timing_model)
            if seconds is not None:
                reads.append(seconds)
                grades.append(results[-1].seconds)
    summary = summarise(results)
    if reads:
        summary.read_once_seconds = statistics.fmean(reads)
        summary.grade_to_read_ratio = statistics.fmean(grades) / summary.read_once_seconds
    return summary


def read_once(scorer: Scorer, catalogue: Catalogue, item: EvidenceItem, model: Any = None,
              suffix: str = "\n") -> float | None:
    """Seconds the model needs just to read the evidence once after the rubric (cached), for the ratio.
    ``model``: the model to time when the scorer itself asks none (the shipped engine)."""
    checks = getattr(getattr(scorer, "reader", None), "checks", None)
    if checks is None and model is not None:
        from grader.checks import CheckReader

        checks = CheckReader(model)
    if checks is None:
        return None
    from grader.engine import credential_specs

    credential = catalogue.credentials[item.credential]
    head = checks.prefix(credential.title, credential_specs(credential), item.text + suffix)  # evidence not cached
    started = time.perf_counter()
    checks.model.choice_distribution([*head, {"role": "user", "content": "Reply yes or no."}], ["yes", "no"])
    return time.perf_counter() - started


def render(result: BenchResult) -> str:
    lines = [
        f"items {result.items}, criteria scored {result.criteria_scored}",
        f"per-criterion agreement: exact {result.exact_agreement:.3f}, within one level "
        f"{result.adjacent_agreement:.3f}, QWK {result.qwk:.3f}, mean confidence {result.mean_confidence:.3f}",
        f"decision accuracy {result.decision_accuracy:.3f}; routed to review {result.review_share:.1%}; "
        f"automatic decisions {result.auto_decided}, of which wrong {result.auto_decision_errors} "
        f"(false pass {result.false_pass})",
        f"injection items {result.injection_items}: routed to review {result.injection_routed_to_review}, "
        f"levels above the label {result.injection_levels_above_label}",
        f"speed: {result.seconds_per_submission:.1f} s per submission, {result.seconds_per_criterion:.2f} s per "
        f"criterion, {result.seconds_per_5_criteria:.1f} s per 5-criterion submission",
        (f"read once: {result.read_once_seconds:.1f} s; grading takes {result.grade_to_read_ratio:.2f}x that "
         "(same items, same run)" if result.read_once_seconds else "read once: not measured (no model questions)"),
        "decisions (expected -> decided): " + "; ".join(
            f"{k}: " + ", ".join(f"{d} {n}" for d, n in sorted(v.items()))
            for k, v in sorted(result.confusion.items())),
    ]
    return "\n".join(lines)
