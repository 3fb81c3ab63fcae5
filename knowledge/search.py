"""Ranked search over the catalogue index: dense (embeddings), lexical (BM25) or both fused (RRF).

Reciprocal rank fusion (Cormack et al., 2009) combines the two rankings without having to put
cosine similarities and BM25 scores on one scale: score = Σ 1 / (RRF_K + rank).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel
from rank_bm25 import BM25Okapi

from knowledge.documents import CatalogueDocument
from knowledge.errors import KnowledgeError
from knowledge.index import CatalogueIndex, entity_id

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60
CANDIDATES = 30
MAX_QUERY_CHARS = 2000

_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it me my of on or our that the this "  # noqa: SIM905
    "to was what when where which who why will with you your about into than then there these those".split()
)
_WORD = re.compile(r"[a-z0-9]+")


class SearchError(KnowledgeError, ValueError):
    """The query cannot be searched (e.g. it is empty)."""


class Hit(BaseModel):
    id: str
    entity_id: str
    kind: str
    section: str
    title: str
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    text: str


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, with a light plural/suffix folding."""
    tokens = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        for suffix in ("ies", "es", "s"):
            if len(word) > 4 and word.endswith(suffix) and not word.endswith("ss"):
                word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
                break
        tokens.append(word)
    return tokens


@dataclass
class LexicalIndex:
    documents: list[CatalogueDocument]
    bm25: BM25Okapi

    @classmethod
    def build(cls, documents: Sequence[CatalogueDocument]) -> LexicalIndex:
        docs = list(documents)
        return cls(docs, BM25Okapi([tokenize(d.text) for d in docs]))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        tokens = tokenize(query)
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], self.documents[i].id))
        return [(self.documents[i].id, float(scores[i])) for i in ranked[:k] if scores[i] > 0]


_lexical_cache: dict[tuple[int, int], LexicalIndex] = {}


def lexical_index(index: CatalogueIndex) -> LexicalIndex:
    """BM25 over exactly the documents stored in the index (rebuilt when the count changes)."""
    key = (id(index), index.count())
    if key not in _lexical_cache:
        _lexical_cache.clear()
        _lexical_cache[key] = LexicalIndex.build(index.documents())
    return _lexical_cache[key]


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank-fusion score per id over several rankings (best first)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, 1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def clean_query(query: str) -> str:
    text = " ".join(query.split())
    if not text:
        raise SearchError("the query is empty")
    return text[:MAX_QUERY_CHARS]


def search(index: CatalogueIndex, query: str, *, k: int = 5, mode: Mode = "hybrid") -> list[Hit]:
    """The ``k`` best catalogue chunks for ``query``."""
    text = clean_query(query)
    index.require_built()
    lexical = lexical_index(index)
    by_id = {d.id: d for d in lexical.documents}
    depth = max(k, CANDIDATES)
    dense = index.dense(text, depth) if mode in ("hybrid", "dense") else []
    sparse = lexical.search(text, depth) if mode in ("hybrid", "bm25") else []
    dense_scores, sparse_scores = dict(dense), dict(sparse)
    if mode == "dense":
        scored = dense_scores
    elif mode == "bm25":
        scored = sparse_scores
    else:
        scored = rrf([[i for i, _ in dense], [i for i, _ in sparse]])
    ranked = sorted(scored, key=lambda i: (-scored[i], i))[:k]
    hits = []
    for doc_id in ranked:
        doc = by_id.get(doc_id)
        if doc is None:
            continue
        meta = doc.metadata
        hits.append(Hit(
            id=doc_id, entity_id=entity_id(meta), kind=str(meta.get("kind", "")), section=str(meta.get("section", "")),
            title=str(meta.get("title", "")), score=round(scored[doc_id], 6),
            dense_score=round(dense_scores[doc_id], 6) if doc_id in dense_scores else None,
            bm25_score=round(sparse_scores[doc_id], 6) if doc_id in sparse_scores else None,
            text=doc.text,
        ))
    return hits
