"""Retrieval benchmark: hit rate of dense, BM25 and hybrid search on a labelled query set.

A query hits at k when one of its expected credential/pathway ids is among the entities of the
first k chunks. Run with ``stackwise eval retrieval``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from knowledge.index import CatalogueIndex, unique_entities
from knowledge.search import Mode, search

DEFAULT_QUERIES = Path(__file__).resolve().parent / "retrieval_queries.yaml"
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")


class LabelledQuery(BaseModel):
    query: str
    expected: list[str] = Field(default_factory=list)


class QuerySet(BaseModel):
    queries: list[LabelledQuery]
    unanswerable: list[LabelledQuery] = Field(default_factory=list)


class ModeResult(BaseModel):
    mode: str
    queries: int
    hit_at_1: float
    hit_at_3: float
    hit_at_5: float
    mrr: float
    p50_ms: float
    p95_ms: float
    misses: list[str]


def load_queries(path: Path = DEFAULT_QUERIES) -> QuerySet:
    return QuerySet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def evaluate_mode(index: CatalogueIndex, queries: list[LabelledQuery], mode: Mode, k: int = 5) -> ModeResult:
    hits = {1: 0, 3: 0, 5: 0}
    reciprocal, timings, misses = [], [], []
    for item in queries:
        started = time.perf_counter()
        results = search(index, item.query, k=max(k, 10) * 2, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
        entities = unique_entities(h.entity_id for h in results)
        rank = next((i for i, e in enumerate(entities, 1) if e in item.expected), None)
        for cutoff in hits:
            hits[cutoff] += int(rank is not None and rank <= cutoff)
        reciprocal.append(1.0 / rank if rank else 0.0)
        if rank is None or rank > 3:
            misses.append(item.query)
    n = len(queries)
    return ModeResult(
        mode=mode, queries=n, hit_at_1=hits[1] / n, hit_at_3=hits[3] / n, hit_at_5=hits[5] / n,
        mrr=statistics.fmean(reciprocal), p50_ms=_percentile(timings, 0.5), p95_ms=_percentile(timings, 0.95),
        misses=misses,
    )


def run(index: CatalogueIndex, path: Path = DEFAULT_QUERIES) -> list[ModeResult]:
    queries = load_queries(path).queries
    search(index, "warm up", k=1)  # load the embedding model before timing
    return [evaluate_mode(index, queries, mode) for mode in MODES]


def render(results: list[ModeResult]) -> str:
    lines = [f"{'mode':<8} {'n':>3} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7}"]
    for r in results:
        lines.append(f"{r.mode:<8} {r.queries:>3} {r.hit_at_1:>6.3f} {r.hit_at_3:>6.3f} {r.hit_at_5:>6.3f} "
                     f"{r.mrr:>6.3f} {r.p50_ms:>7.1f} {r.p95_ms:>7.1f}")
    base = {r.mode: r for r in results}
    if "dense" in base and "hybrid" in base and base["dense"].hit_at_3:
        lines.append(f"hybrid/dense hit@3 ratio: {base['hybrid'].hit_at_3 / base['dense'].hit_at_3:.3f}")
    return "\n".join(lines)
