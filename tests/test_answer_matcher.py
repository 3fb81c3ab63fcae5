"""The answer matcher (grader/answer_matcher.py): learns from graded answers of other questions what a matching
answer looks like; out-of-fold predictions never come from a matcher that saw the target's group."""

from __future__ import annotations

import random

import pytest

from grader.answer_matcher import AnswerMatcher, cross_fitted, matcher_features
from grader.short_answer import ShortAnswerTask

LABELS = ["incorrect", "correct"]
TOPICS = [
    ("Why does the bulb light?", "the bulb is in a closed circuit with the battery", "the bulb is not connected"),
    ("Why does the nail float?", "the nail is less dense than the liquid around it", "because it is heavy"),
    ("What does a switch do?", "a switch opens or closes the circuit", "it makes the battery bigger"),
    ("Why is the sky blue?", "air scatters blue light more than red light", "the sea reflects into it"),
    ("How do plants get energy?", "plants capture energy from sunlight by photosynthesis", "they eat soil"),
]


def _tasks(n_per_topic: int = 8, seed: int = 0) -> tuple[list[ShortAnswerTask], list[str]]:
    rng = random.Random(seed)
    tasks, gold = [], []
    for q, (question, reference, wrong) in enumerate(TOPICS):
        for k in range(n_per_topic):
            good = k % 2 == 0
            words = (reference if good else wrong).split()
            rng.shuffle(words)  # same words, another order: overlap is what is learnt
            tasks.append(ShortAnswerTask(f"q{q}-{k}", f"q{q}", question, (reference,), " ".join(words)))
            gold.append("correct" if good else "incorrect")
    return tasks, gold


def test_learns_overlap_across_questions():
    tasks, gold = _tasks()
    held_out = [t for t in tasks if t.question_id == "q4"]
    train = [(t, g) for t, g in zip(tasks, gold, strict=True) if t.question_id != "q4"]
    matcher = AnswerMatcher(LABELS).fit([t for t, _ in train], [g for _, g in train])
    probs = matcher.predict(held_out)  # a question the matcher never saw
    for task, dist in zip(held_out, probs, strict=True):
        assert sum(dist.values()) == pytest.approx(1)
        expected = "correct" if task.response.split()[0] in TOPICS[4][1].split() and "soil" not in task.response \
            else "incorrect"
        assert max(dist, key=dist.get) == expected, (task.response, dist)
    assert matcher.kind == "lexical"


def test_embedding_features_and_kind():
    def embed(texts):
        return [[float(len(t) % 5) + 1.0, float(t.count("circuit")), 1.0] for t in texts]

    task = ShortAnswerTask("a", "q", "What does a switch do?", ("it closes the circuit",), "closes the circuit")
    vectors = {t: v for t, v in zip(["closes the circuit", "What does a switch do?", "it closes the circuit"],
                                    [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], strict=True)}
    import numpy as np

    feats = matcher_features(task, {k: np.asarray(v) for k, v in vectors.items()})
    assert len(feats) == 5 + 2 + 2 + 2  # lexical, two cosines, product and difference of 2-d vectors
    assert feats[5] == pytest.approx(0.6) and feats[6] == pytest.approx(0.0)
    tasks, gold = _tasks()
    matcher = AnswerMatcher(LABELS, embedder=embed).fit(tasks, gold)
    assert matcher.kind == "embedding" and len(matcher.predict(tasks[:3])) == 3


def test_bad_fits_are_refused_and_one_label_is_degenerate():
    tasks, gold = _tasks()
    with pytest.raises(ValueError, match="as many gold labels"):
        AnswerMatcher(LABELS).fit(tasks, gold[:-1])
    with pytest.raises(ValueError, match="not on the scale"):
        AnswerMatcher(LABELS).fit(tasks, ["partial"] * len(tasks))
    with pytest.raises(RuntimeError, match="not fitted"):
        AnswerMatcher(LABELS).predict(tasks)
    only = AnswerMatcher(LABELS).fit(tasks[:2], ["correct", "correct"])
    assert only.predict(tasks[:1]) == [{"incorrect": 0.0, "correct": 1.0}]


def test_cross_fitting_keeps_each_target_group_out_of_its_matcher():
    tasks, gold = _tasks()
    seen: list[set[str]] = []
    predicted: list[tuple[set[str], set[str]]] = []  # (questions fitted on, questions predicted)

    class Recording(AnswerMatcher):
        def fit(self, fit_tasks, fit_gold, extra=None):
            self.fitted_on = {t.question_id for t in fit_tasks}
            seen.append(self.fitted_on)
            return super().fit(fit_tasks, fit_gold, extra)

        def predict(self, pred_tasks, extra=None):
            predicted.append((self.fitted_on, {t.question_id for t in pred_tasks}))
            return super().predict(pred_tasks, extra)

    targets = {t.id for t in tasks if t.id.endswith(("-0", "-1"))}
    out = cross_fitted(lambda: Recording(LABELS), tasks, gold, [t.question_id for t in tasks], targets, folds=3)
    assert set(out) == targets and 1 <= len(seen) <= 3
    # every target was predicted by a matcher fitted without its question
    assert predicted and all(not (fitted & targeted) for fitted, targeted in predicted)
    assert set().union(*(q for _, q in predicted)) == {t.question_id for t in tasks if t.id in targets}


def test_extra_features_are_used_and_checked():
    # identical answers whose labels only an extra feature (say, the nearest graded answers' vote) tells apart
    tasks = [ShortAnswerTask(f"t{k}", "q", "Why?", ("because of the circuit",), "the circuit") for k in range(20)]
    gold = ["correct" if k % 2 else "incorrect" for k in range(20)]
    extra = [[1.0 if g == "correct" else 0.0] for g in gold]
    matcher = AnswerMatcher(LABELS).fit(tasks, gold, extra)
    blank = tasks[:2]
    hi, lo = matcher.predict(blank, [[1.0], [0.0]])
    assert hi["correct"] > 0.5 > lo["correct"]
    with pytest.raises(ValueError, match="every task"):
        matcher.predict(blank, [[1.0]])
