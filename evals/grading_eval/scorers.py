"""Item scorers for the grading evaluation: the model's raw scores for items, through the result cache
(the short-answer scorer, and the production rubric scorer on the demo evidence)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from evals.grading_eval.cache import ResultCache
from evals.grading_eval.datasets import GradingItem, level_label
from grader.short_answer import ExamplePool, RawScore, ShortAnswerScorer

Progress = Callable[[int], None]


class ItemScorer:
    """What the runner needs of a scorer: a name, a prompt id, a cache config, and raw scores for items."""

    model_name: str
    prompt_id: str

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def score_items(self, items: list[GradingItem], use_pool: dict[str, bool], cache: ResultCache,
                    advance: Progress) -> dict[str, RawScore]:
        raise NotImplementedError

    def cached(self, items: list[GradingItem], use_pool: dict[str, bool], cache: ResultCache) -> int:
        """How many of ``items`` the cache already holds."""
        return sum(i.id in cache for i in items)


class ShortAnswerItemScorer(ItemScorer):
    """The short-answer scorer with the cache. Cached results do not depend on the example pool unless
    examples are shown to the model; the nearest graded answers' vote is recomputed from the current pool, so
    the same cached item serves runs whose calibration split (and so pool) differs."""

    def __init__(self, scorer: ShortAnswerScorer):
        self.scorer = scorer
        self.model_name = scorer.model.name
        self.prompt_id = scorer.prompt_id

    def config(self) -> dict[str, Any]:
        pool = self.scorer.pool
        shown = self.scorer.shots_per_label > 0 and pool is not None
        return {**self.scorer.config(), "pool": pool.fingerprint() if shown else None}

    def key(self, item: GradingItem, use_pool: bool) -> str:
        return item.id if use_pool or not self.scorer.shots_per_label else f"{item.id}#no-examples"

    def score_items(self, items, use_pool, cache, advance):
        out = {}
        pool = self.scorer.pool
        for item in items:
            with_pool = use_pool.get(item.id, True)
            key = self.key(item, with_pool)
            cached = cache.get(key)
            if cached is None:
                raw = self.scorer.score(item.task(), use_pool=with_pool)
                cache.put(key, raw.to_dict())
            else:
                raw = RawScore.from_dict(cached)
                ranked = pool.ranked(item.question_id, item.response, {item.id}) if pool and with_pool else []
                raw.knn = ExamplePool.knn_vote(ranked, self.scorer.options) if ranked else None
            out[item.id] = raw
            advance(1 if cached is None else 0)
        return out

    def cached(self, items: list[GradingItem], use_pool: dict[str, bool], cache: ResultCache) -> int:
        return sum(self.key(i, use_pool.get(i.id, True)) in cache for i in items)


class RubricItemScorer(ItemScorer):
    """The production rubric scorer (:class:`grader.scoring.RubricScorer`) on the demo evidence, run through
    the same pipeline as a submission (:func:`grader.grading.grade_evidence`), one evidence piece at a time."""

    def __init__(self, scorer: Any, catalogue: Any):
        self.scorer = scorer
        self.catalogue = catalogue
        self.model_name = scorer.model.name
        self.prompt_id = scorer.prompt.id

    def config(self) -> dict[str, Any]:
        return {"strategy": self.scorer.strategy, "temperature": self.scorer.temperature, "model": self.model_name,
                "prompt": self.prompt_id}

    def score_items(self, items, use_pool, cache, advance):
        from evals.grading_evidence import load_evidence_dir
        from grader.grading import grade_evidence
        from grader.short_answer import lexical_features

        evidence = {e.id: e for e in load_evidence_dir()}
        out: dict[str, RawScore] = {}
        fresh: set[str] = set()  # scored in this run (one evidence piece scores all its criteria at once)
        for item in items:
            cached = cache.get(item.id)
            if cached is None:
                ev = evidence[item.meta["evidence_id"]]
                started = time.perf_counter()
                report = grade_evidence(self.catalogue, ev.credential, [ev.evidence], self.scorer,
                                        reflection=ev.reflection)
                seconds = (time.perf_counter() - started) / max(len(report.score.criteria), 1)
                rubric = self.catalogue.credentials[ev.credential].rubric
                for crit_score in report.score.criteria:
                    crit = next(c for c in rubric.criteria if c.id == crit_score.criterion_id)
                    dist = {level_label(i): float(crit_score.distribution[lv.id]) for i, lv in enumerate(crit.levels)}
                    raw = RawScore(model=dist, lexical=lexical_features(ev.text, [], ""), seconds=round(seconds, 4))
                    cache.put(f"{ev.id}/{crit.id}", raw.to_dict())
                    fresh.add(f"{ev.id}/{crit.id}")
                cached = cache.get(item.id)
            advance(1 if item.id in fresh else 0)
            out[item.id] = RawScore.from_dict(cached)
        return out
