"""Fitting the engine from graded submissions: the combiner, then the routing thresholds that bound its errors.

Pure apart from scikit-learn. The same functions serve ``stackwise grader fit`` (the demo evidence's train
split, the catalogue's exemplars and every assessor decision) and the evaluation (``evals.rubric_eval``).

Thresholds come from out-of-fold predictions: each graded submission is predicted by a combiner fitted
without it (5 folds), so the calibration decisions are honest; :func:`grader.routing.choose_threshold`
then picks the loosest threshold whose 95 % upper bounds stay within the limits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.engine import Combiner, GradedExample, Reading, pass_probability
from grader.routing import Choice, choose_threshold
from knowledge.schema import Credential, meets_pass_rule

FOLDS = 5


@dataclass(frozen=True)
class PassRule:
    points: tuple[tuple[float, ...], ...]  # per criterion (in ``keys`` order), the points of each level
    keys: tuple[str, ...]
    threshold: float
    min_each: float

    @classmethod
    def of(cls, credential: Credential) -> PassRule:
        rubric = credential.rubric
        return cls(tuple(tuple(float(lv.points) for lv in c.levels) for c in rubric.criteria),
                   tuple(f"{credential.id}/{c.id}" for c in rubric.criteria),
                   float(rubric.pass_threshold), float(rubric.min_points_each))

    def passes(self, chosen: dict[str, int]) -> bool:
        return meets_pass_rule((self.points[i][chosen[k]] for i, k in enumerate(self.keys)), self.threshold,
                               self.min_each)

    def probability(self, dists: dict[str, Sequence[float]]) -> float:
        return pass_probability(self.points, [dists[k] for k in self.keys], self.threshold, self.min_each)


@dataclass
class GradedSubmission:
    """A whole submission's readings and the assessors' levels (criterion key -> level index per assessor)."""

    id: str
    group: str  # the credential, or a writing prompt
    readings: dict[str, Reading]
    levels: dict[str, tuple[int, ...]]
    rule: PassRule | None = None
    flagged: bool = False  # instructions aimed at the grader: always reviewed, never a calibration decision
    source: str = "evidence"
    meta: dict[str, Any] = field(default_factory=dict)

    def gold_level(self, key: str) -> int:
        """The assessors' level as one index: the mean rounded down (disagreeing assessors: the lower)."""
        values = self.levels[key]
        return int(sum(values) // len(values))

    def gold_pass(self) -> bool:
        if self.rule is None:
            raise ValueError(f"{self.id}: no pass rule")
        return self.rule.passes({k: self.gold_level(k) for k in self.rule.keys})


def examples(subs: Sequence[GradedSubmission]) -> list[GradedExample]:
    return [GradedExample(s.readings[k], lv, s.source) for s in subs for k, lv in s.levels.items() if k in s.readings]


def predict(combiner: Combiner, subs: Sequence[GradedSubmission]) -> list[dict[str, list[float]]]:
    return [{k: combiner.level_distribution(r) for k, r in s.readings.items()} for s in subs]


def fold_of(sub: GradedSubmission, by_group: bool) -> int:
    return int(hashlib.sha1((sub.group if by_group else sub.id).encode()).hexdigest(), 16) % FOLDS


def fit_combiner(subs: Sequence[GradedSubmission], groups: Sequence[str], C: float,
                 extra_pool: Sequence[GradedExample] = ()) -> Combiner:
    ex = examples(subs)
    return Combiner(groups, C).fit(ex, pool=[*ex, *extra_pool])


def out_of_fold(subs: Sequence[GradedSubmission], groups: Sequence[str], C: float,
                extra_pool: Sequence[GradedExample] = (), by_group: bool = False
                ) -> list[tuple[GradedSubmission, dict[str, list[float]]]]:
    """(submission, predicted level distributions) for every submission, each predicted without its fold."""
    out = []
    for f in range(FOLDS):
        fit_on = [s for s in subs if fold_of(s, by_group) != f]
        held = [s for s in subs if fold_of(s, by_group) == f]
        if not held or not fit_on:
            continue
        try:
            comb = fit_combiner(fit_on, groups, C, extra_pool)
        except ValueError:
            continue  # a fold with one level only: its submissions give no calibration decision
        out.extend(zip(held, predict(comb, held), strict=True))
    return out


def decision(rule: PassRule, dists: dict[str, Sequence[float]]) -> tuple[bool, float, float]:
    """(passes, confidence, P(pass)) from the level distributions."""
    p = rule.probability(dists)
    return p >= 0.5, max(p, 1 - p), p


@dataclass(frozen=True)
class RoutingFit:
    decision_threshold: float | None
    level_threshold: float | None
    by_false_pass: Choice
    by_wrong: Choice
    by_level: Choice

    @property
    def binding(self) -> Choice:
        """The choice that sets the decision threshold: the one that found none, else the stricter of the two."""
        if self.by_false_pass.threshold is None or self.by_wrong.threshold is None:
            return self.by_false_pass if self.by_false_pass.threshold is None else self.by_wrong
        return self.by_false_pass if self.by_false_pass.threshold >= self.by_wrong.threshold else self.by_wrong

    def to_dict(self) -> dict[str, Any]:
        return {"decision_threshold": self.decision_threshold, "level_threshold": self.level_threshold,
                "false_pass": self.by_false_pass.describe(), "wrong_decision": self.by_wrong.describe(),
                "wrong_level": self.by_level.describe(), "calibration_decisions": self.by_false_pass.n_calibration,
                "limits": {"false_pass": self.by_false_pass.limit, "wrong_decision": self.by_wrong.limit,
                           "wrong_level": self.by_level.limit}}


def choose_routing(oof: Sequence[tuple[GradedSubmission, dict[str, list[float]]]], *, false_pass_limit: float,
                   wrong_limit: float, level_limit: float) -> RoutingFit:
    """Thresholds on the out-of-fold predictions: the decision threshold keeps both the false-pass and the
    wrong-decision bounds within their limits; the level threshold bounds wrong levels on auto-decided criteria."""
    conf, false_pass, wrong = [], [], []
    lconf, lwrong = [], []
    for sub, dists in oof:
        for k, d in dists.items():
            if k in sub.levels:
                lconf.append(max(d))
                lwrong.append(max(range(len(d)), key=d.__getitem__) != sub.gold_level(k))
        if sub.flagged or sub.rule is None:
            continue
        passed, c, _ = decision(sub.rule, dists)
        gold = sub.gold_pass()
        conf.append(c)
        false_pass.append(passed and not gold)
        wrong.append(passed != gold)
    fp = choose_threshold(conf, false_pass, false_pass_limit)
    wr = choose_threshold(conf, wrong, wrong_limit)
    lv = choose_threshold(lconf, lwrong, level_limit)
    threshold = None if fp.threshold is None or wr.threshold is None else max(fp.threshold, wr.threshold)
    return RoutingFit(threshold, lv.threshold, fp, wr, lv)


def fit_engine(subs: Sequence[GradedSubmission], groups: Sequence[str], *, C: float = 0.5,
               extra_pool: Sequence[GradedExample] = (), false_pass_limit: float = 0.02, wrong_limit: float = 0.10,
               level_limit: float = 0.10, by_group: bool = False) -> Combiner:
    """The combiner fitted on every submission, carrying the routing chosen on out-of-fold predictions."""
    combiner = fit_combiner(subs, groups, C, extra_pool)
    oof = out_of_fold(subs, groups, C, extra_pool, by_group)
    combiner.routing = choose_routing(oof, false_pass_limit=false_pass_limit, wrong_limit=wrong_limit,
                                      level_limit=level_limit).to_dict()
    return combiner
