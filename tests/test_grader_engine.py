"""The rubric engine without the language model: routing bounds, the pass probability, the combiner, fitting.

The threshold selection is property-tested (never a threshold whose bound exceeds the limit; too few
examples: nothing automatic). Fitting runs on the shipped base examples and on real assessor decisions
stored in a real SQLite review queue.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import (
    DEFAULT_GROUPS,
    STATIC_NAMES,
    Combiner,
    EngineError,
    GradedExample,
    Reading,
    cumulative_to_levels,
    pass_probability,
    questions_for,
)
from grader.fitting import GradedSubmission, PassRule, choose_routing, out_of_fold
from grader.routing import choose_threshold, examples_needed, upper_bound
from grader.training import load_examples
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE

CATALOGUE = load_catalogue(BUNDLED_CATALOGUE)


# ------------------------------------------------------------------ routing


def test_clopper_pearson_matches_the_closed_form_for_zero_errors():
    for n in (1, 10, 59, 149, 500):
        assert upper_bound(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)
    assert examples_needed(0.05) == 59 and examples_needed(0.02) == 149
    with pytest.raises(ValueError):
        upper_bound(3, 2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 1.0), st.booleans()), max_size=300), st.sampled_from([0.02, 0.05, 0.1]))
def test_a_chosen_threshold_never_has_a_bound_above_the_limit(cases, limit):
    conf = [c for c, _ in cases]
    wrong = [w for _, w in cases]
    choice = choose_threshold(conf, wrong, limit)
    if choice.threshold is None:
        assert choice.automatic == 0 and choice.bound == 1.0
        return
    auto = [w for c, w in cases if c >= choice.threshold]
    assert len(auto) == choice.automatic >= examples_needed(limit)
    assert sum(auto) == choice.errors
    assert upper_bound(sum(auto), len(auto)) <= limit + 1e-12


@given(st.integers(0, 58))
def test_too_few_examples_decide_nothing(n):
    choice = choose_threshold([0.99] * n, [False] * n, 0.05)
    assert choice.threshold is None and "at least 59" in choice.describe()


def test_enough_error_free_examples_open_automatic_decisions():
    choice = choose_threshold([0.99] * 60 + [0.6] * 40, [False] * 60 + [True] * 40, 0.05)
    assert choice.threshold == 0.99 and choice.automatic == 60 and choice.errors == 0


# ------------------------------------------------------------------ probabilities


@given(st.lists(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=4), min_size=1, max_size=4),
       st.integers(0, 8), st.integers(0, 2))
def test_pass_probability_equals_enumeration(raw, threshold, min_each):
    dists = [[p / sum(row) for p in row] for row in raw]
    points = [list(range(len(row))) for row in raw]
    brute = 0.0
    for combo in itertools.product(*[range(len(row)) for row in raw]):
        if sum(combo) >= threshold and all(c >= min_each for c in combo):
            brute += math.prod(dists[i][j] for i, j in enumerate(combo))
    assert pass_probability(points, dists, threshold, min_each) == pytest.approx(brute, abs=1e-9)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_level_distribution_from_cumulative_is_a_distribution(cum):
    dist = cumulative_to_levels(cum)
    assert len(dist) == len(cum) + 1
    assert sum(dist) == pytest.approx(1.0) and all(p > 0 for p in dist)


def test_questions_follow_the_combiner_groups():
    assert questions_for(DEFAULT_GROUPS) == "both"
    assert questions_for(("text", "letters")) == "letters"
    assert questions_for(("text", "semantic", "knn")) == "none"


# ------------------------------------------------------------------ the combiner learns from graded examples


def _synthetic(n: int, seed: int = 0) -> list[GradedExample]:
    """Readings whose 'log_words' column drives the level (3 levels), as a stand-in for any signal."""
    rng = random.Random(seed)
    col = STATIC_NAMES.index("log_words")
    out = []
    for i in range(n):
        quality = rng.random()
        level = 0 if quality < 0.33 else (1 if quality < 0.66 else 2)
        rows = []
        for k in (1, 2):
            row = [0.0] * len(STATIC_NAMES)
            row[0] = k / 2
            row[col] = quality * 5 + rng.gauss(0, 0.2)
            rows.append(row)
        vec = [1.0, 0.0] if level else [0.0, 1.0]
        out.append(GradedExample(Reading(f"item-{i}", "cred/crit", rows, vec), (level,)))
    return out


def test_combiner_learns_an_ordinal_signal_and_round_trips():
    train, test = _synthetic(200), _synthetic(60, seed=1)
    comb = Combiner(("text",)).fit(train)
    hits = sum(max(range(3), key=comb.level_distribution(ex.reading).__getitem__) == ex.levels[0] for ex in test)
    assert hits / len(test) > 0.8
    again = Combiner.from_dict(comb.to_dict())
    assert again.version == comb.version
    assert again.level_distribution(test[0].reading) == pytest.approx(comb.level_distribution(test[0].reading))


def test_combiner_refuses_what_it_cannot_learn():
    with pytest.raises(EngineError):
        Combiner(("nonsense",))
    with pytest.raises(EngineError):
        Combiner(("text",)).fit([])
    all_top = [GradedExample(ex.reading, (2,)) for ex in _synthetic(10)]
    with pytest.raises(EngineError, match="one level"):
        Combiner(("text",)).fit(all_top)


# ------------------------------------------------------------------ the shipped base and routing on it


@pytest.fixture(scope="module")
def base() -> list[GradedSubmission]:
    subs = load_examples(catalogue=CATALOGUE)
    assert len(subs) >= 100, "grader/fitted/examples.json should hold the demo evidence's train split"
    return subs


def test_shipped_base_is_the_train_split_only(base):
    from evals.grading_evidence import load_evidence_dir

    test_ids = {i.id for i in load_evidence_dir() if i.split == "test"}
    assert test_ids and not test_ids & {s.id for s in base}


def test_routing_on_out_of_fold_predictions_respects_its_limits(base):
    oof = out_of_fold(base, ("text", "semantic", "knn"), 0.5)
    fit = choose_routing(oof, false_pass_limit=0.05, wrong_limit=0.10, level_limit=0.10)
    for choice in (fit.by_false_pass, fit.by_wrong, fit.by_level):
        if choice.threshold is not None:
            assert choice.bound <= choice.limit
    if fit.decision_threshold is not None:
        decided = [(s, d) for s, d in oof if not s.flagged and max(p := s.rule.probability(d), 1 - p)
                   >= fit.decision_threshold]
        false_passes = sum(s.rule.probability(d) >= 0.5 and not s.gold_pass() for s, d in decided)
        assert upper_bound(false_passes, len(decided)) <= 0.05


def test_pass_rule_matches_the_rubric():
    cred = CATALOGUE.credentials["prompt-engineering"]
    rule = PassRule.of(cred)
    top = {k: len(p) - 1 for k, p in zip(rule.keys, rule.points, strict=True)}
    assert rule.passes(top) and not rule.passes({k: 0 for k in rule.keys})
