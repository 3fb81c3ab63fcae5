"""The decision policy: pass, fail or review, from criterion levels, confidences and risk signals.

Pure functions. Two promises the tests check for every input: nothing below the rubric's pass rule
is ever a ``pass``, and any sign of instructions aimed at the grader forces ``review``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from knowledge.schema import RoutingPolicy, Rubric

Decision = Literal["pass", "fail", "review"]


@dataclass(frozen=True)
class Signals:
    """Risk signals found beside the scores."""

    injection: bool = False
    machine_generated: bool = False
    near_duplicate_of: str | None = None
    missing_quotes: list[str] = field(default_factory=list)  # criterion ids whose quotes were not found
    suspect_shift: list[str] = field(default_factory=list)  # criteria whose level moves without suspect passages


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    total_points: int
    max_points: int
    meets_pass_rule: bool
    reasons: list[str]


def decide(rubric: Rubric, levels: dict[str, str], confidences: dict[str, float], policy: RoutingPolicy,
           signals: Signals = Signals(), *, p_pass: float | None = None,
           decision_threshold: float | None = None, engine: bool = False) -> Outcome:
    """Decide from the chosen level id per criterion and each level's confidence.

    With ``engine`` (the default scorer, :mod:`grader.engine`), ``p_pass`` is the probability that the
    submission meets the pass rule and ``decision_threshold`` the confidence above which the grader may decide
    alone, chosen on held-out graded evidence by :mod:`grader.routing` (None: not enough graded evidence, so
    everything is reviewed). The decision is automatic only when the chosen levels and ``p_pass`` agree and the
    confidence of that decision reaches both the threshold and ``policy.min_confidence``. Without ``engine``
    (the legacy scorers), low criterion confidences and totals near the pass mark send it to review.
    """
    points = {}
    for criterion in rubric.criteria:
        by_id = {level.id: level.points for level in criterion.levels}
        if levels.get(criterion.id) not in by_id:
            raise ValueError(f"criterion {criterion.id!r} has no level {levels.get(criterion.id)!r}")
        points[criterion.id] = by_id[levels[criterion.id]]
    total = sum(points.values())
    passes = rubric.passes(points)
    reasons: list[str] = []
    if signals.injection:
        reasons.append("prompt_injection")
    if signals.suspect_shift:  # a passage that looks aimed at the grader moves a level: a person decides
        reasons.append("suspect_passage_moves_level:" + ",".join(sorted(signals.suspect_shift)))
    if engine:
        if decision_threshold is None:
            reasons.append("not_calibrated")
        else:
            p = 0.0 if p_pass is None else p_pass
            confidence = p if passes else 1 - p
            if confidence < max(decision_threshold, policy.min_confidence):
                reasons.append("uncertain")
    else:
        low = sorted(c for c, p in confidences.items() if p < policy.min_confidence)
        if low:
            reasons.append("low_confidence:" + ",".join(low))
        if abs(total - rubric.pass_threshold) <= policy.threshold_margin and total != rubric.max_points:
            reasons.append("near_threshold")
    if signals.machine_generated and policy.review_on_machine_generated:
        reasons.append("machine_generated")
    if signals.near_duplicate_of and policy.review_on_near_duplicate:
        reasons.append(f"near_duplicate:{signals.near_duplicate_of}")
    if signals.missing_quotes and policy.review_on_missing_quote:
        reasons.append("quote_not_found:" + ",".join(sorted(signals.missing_quotes)))
    decision: Decision = "review" if reasons else ("pass" if passes else "fail")
    return Outcome(decision, total, rubric.max_points, passes, reasons)
