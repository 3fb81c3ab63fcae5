"""Grading check on the demo catalogue's labelled exemplars: each rubric level's exemplar is evidence
whose true level is known. Scores each exemplar for its criterion (its own exemplar is withheld from
the few-shot examples) and reports exact and adjacent agreement, quadratic weighted kappa and
confidence. A quick sanity benchmark; the full grading evals use human-scored datasets.
"""

from __future__ import annotations

import random
import statistics
import time

from pydantic import BaseModel

from grader.scoring import RubricScorer
from knowledge.schema import Catalogue, RubricCriterion


class ExemplarItem(BaseModel):
    credential_id: str
    criterion_id: str
    true_index: int
    predicted_index: int
    confidence: float
    seconds: float


class ExemplarResult(BaseModel):
    strategy: str
    items: int
    accuracy: float
    adjacent_accuracy: float
    qwk: float
    mean_confidence: float
    seconds_per_item: float


def exemplar_items(catalogue: Catalogue) -> list[tuple[str, RubricCriterion, int]]:
    return [
        (cred.id, criterion, index)
        for cred in sorted(catalogue.credentials.values(), key=lambda c: c.id)
        for criterion in cred.rubric.criteria
        for index, level in enumerate(criterion.levels) if level.exemplar
    ]


def _without_exemplar(criterion: RubricCriterion, index: int) -> RubricCriterion:
    levels = [lv.model_copy(update={"exemplar": None}) if i == index else lv for i, lv in enumerate(criterion.levels)]
    return criterion.model_copy(update={"levels": levels})


def run(catalogue: Catalogue, scorer: RubricScorer, limit: int | None = None, seed: int = 0) -> ExemplarResult:
    from sklearn.metrics import cohen_kappa_score

    items = exemplar_items(catalogue)
    if limit:
        items = random.Random(seed).sample(items, min(limit, len(items)))
    results = []
    for cred_id, criterion, index in items:
        evidence = criterion.levels[index].exemplar or ""
        started = time.perf_counter()
        score = scorer.score_criterion(evidence, _without_exemplar(criterion, index), catalogue.credentials[cred_id])
        predicted = [lv.id for lv in criterion.levels].index(score.level_id)
        results.append(ExemplarItem(credential_id=cred_id, criterion_id=criterion.id, true_index=index,
                                    predicted_index=predicted, confidence=score.confidence,
                                    seconds=time.perf_counter() - started))
    truth = [r.true_index for r in results]
    predicted = [r.predicted_index for r in results]
    return ExemplarResult(
        strategy=scorer.strategy, items=len(results),
        accuracy=statistics.fmean(t == p for t, p in zip(truth, predicted, strict=True)),
        adjacent_accuracy=statistics.fmean(abs(t - p) <= 1 for t, p in zip(truth, predicted, strict=True)),
        qwk=float(cohen_kappa_score(truth, predicted, weights="quadratic")) if len(set(truth)) > 1 else 0.0,
        mean_confidence=statistics.fmean(r.confidence for r in results),
        seconds_per_item=statistics.fmean(r.seconds for r in results),
    )
