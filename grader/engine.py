"""The grading engine: one way to turn evidence and a criterion's ordered levels into a level distribution.

A *criterion* is a list of ordered levels with descriptors, optional exemplars per level, and graded
examples (assessor decisions). A portfolio rubric is 3–6 such criteria; a short-answer question is one
criterion with two or three levels whose top exemplar is the reference answer; an essay rubric is six
criteria with five levels. All of them run through this module.

How a grade is made:

1. :class:`EvidenceReader` measures each criterion of a piece of evidence once (a :class:`Reading`): for
   every level above the lowest (a *threshold*), numbers that do not depend on the criterion's wording —
   the model's P(yes) that the evidence reaches that level (``grader.checks``), how much closer the
   evidence's passages are to that level's descriptor and exemplars than to the level below, how
   relevant the passages are to the criterion, and how the text is written (``grader.text_features``).
2. :class:`Combiner` — a cumulative-link (ordinal) logistic regression pooled over every threshold of every
   criterion of every credential — reads those numbers plus the similarity-weighted vote of the nearest
   graded examples of the same criterion, and gives P(level >= k) for each threshold; the level
   distribution follows. Because the features mean the same for every criterion, what one credential's
   graded evidence teaches carries over to a new credential, and its own examples then add a vote.
3. :func:`pass_probability` turns the level distributions into P(pass) under the rubric's pass rule;
   ``grader.routing`` decides how sure is sure enough, from held-out graded examples.

The reading of a graded submission is stored with its grade, so refitting the combiner on new assessor
decisions needs no model call (``stackwise grader fit``).

Why one module (~480 lines): the evidence reader, the combiner and the pass probability form one fitted model whose
saved form must stay readable together; text features, checks and routing are already separate.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.errors import EngineError
from grader.text_features import STAT_NAMES, passages, text_stats
from knowledge.schema import Credential, RubricCriterion

Embedder = Callable[[list[str]], list[list[float]]]

SEMANTIC_NAMES = ("desc_sim", "desc_gain", "exemplar_gap", "has_exemplar", "relevance")
MODEL_NAMES = ("check_logit", "letters_logit", "has_model")
OVERLAP_NAMES = ("overlap_top", "overlap_below")
STATIC_NAMES = ("position", *MODEL_NAMES, *SEMANTIC_NAMES, *STAT_NAMES, *OVERLAP_NAMES)
POOL_NAMES = ("knn_share", "knn_similarity", "has_knn")
GROUPS: dict[str, tuple[str, ...]] = {
    "text": STAT_NAMES,
    "semantic": SEMANTIC_NAMES,
    "checks": ("check_logit", "has_model"),
    "letters": ("letters_logit", "has_model"),
    "knn": POOL_NAMES,
    "overlap": OVERLAP_NAMES,
}
DEFAULT_GROUPS = ("text", "semantic", "overlap", "knn", "checks", "letters")


def questions_for(groups: Sequence[str]) -> str:
    """What the model must be asked for a combiner reading ``groups``: checks, letters, both or none."""
    wanted = {"checks", "letters"} & set(groups)
    return "both" if len(wanted) == 2 else (wanted.pop() if wanted else "none")
KNN_K = 5


# ------------------------------------------------------------------ criteria


@dataclass(frozen=True)
class LevelSpec:
    id: str
    label: str
    descriptor: str
    points: float
    exemplars: tuple[str, ...] = ()


@dataclass(frozen=True)
class CriterionSpec:
    """What the engine needs of a criterion. ``key`` is unique across a catalogue (``credential/criterion``)."""

    key: str
    title: str
    description: str
    levels: tuple[LevelSpec, ...]

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @classmethod
    def from_rubric(cls, credential_id: str, criterion: RubricCriterion) -> CriterionSpec:
        return cls(
            key=f"{credential_id}/{criterion.id}",
            title=criterion.title,
            description=" ".join(criterion.description.split()),
            levels=tuple(LevelSpec(lv.id, lv.label, " ".join(lv.descriptor.split()), lv.points,
                                   (lv.exemplar,) if lv.exemplar else ()) for lv in criterion.levels),
        )


def credential_specs(credential: Credential) -> list[CriterionSpec]:
    return [CriterionSpec.from_rubric(credential.id, c) for c in credential.rubric.criteria]


# ------------------------------------------------------------------ readings


@dataclass
class Reading:
    """What was measured for one criterion of one piece of evidence (JSON-ready; stored with the grade)."""

    item_id: str
    criterion_key: str
    static: list[list[float]]  # one row per threshold k = 1 .. levels-1, columns STATIC_NAMES
    vector: list[float]  # the evidence's unit embedding, for the nearest-examples vote
    model: dict[str, Any] = field(default_factory=dict)  # the raw model answers (letters, checks), for display

    @property
    def n_levels(self) -> int:
        return len(self.static) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "criterion_key": self.criterion_key,
                "static": [[round(v, 5) for v in row] for row in self.static],
                "vector": [round(v, 5) for v in self.vector], "model": self.model}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reading:
        return cls(data["item_id"], data["criterion_key"], [list(map(float, r)) for r in data["static"]],
                   list(map(float, data["vector"])), dict(data.get("model") or {}))


class ModelChecks:
    """The model's side of a reading (see ``grader.checks.CheckReader``): per criterion key, P(yes) for each
    threshold and the letter distribution over the levels (either may be None when not asked)."""

    def read(self, title: str, specs: Sequence[CriterionSpec], evidence: str
             ) -> dict[str, tuple[list[float] | None, list[float] | None]]: ...


def overlap_columns(evidence: str, spec: CriterionSpec) -> list[list[float]]:
    """Per threshold k: the best word overlap (content-word F1) of the evidence with an exemplar at level k or
    above, and with one below k (0 where there is none): the classic word-overlap signal, wording-free."""
    from grader.short_answer import overlap_f1

    scores = [(i, overlap_f1(evidence, text)) for i, lv in enumerate(spec.levels) for text in lv.exemplars]
    rows = []
    for k in range(1, spec.n_levels):
        rows.append([max((s for i, s in scores if i >= k), default=0.0),
                     max((s for i, s in scores if i < k), default=0.0)])
    return rows


EXEMPLAR_COLUMNS = tuple(STATIC_NAMES.index(n) for n in ("exemplar_gap", "has_exemplar", *OVERLAP_NAMES))


def unexampled(reading: Reading) -> Reading:
    """The reading as it would be for a criterion without exemplars (the exemplar-derived columns at 0)."""
    rows = [[0.0 if i in EXEMPLAR_COLUMNS else v for i, v in enumerate(row)] for row in reading.static]
    return Reading(reading.item_id, reading.criterion_key, rows, reading.vector, reading.model)


N_READ_COLUMNS = 1 + len(MODEL_NAMES) + len(SEMANTIC_NAMES)  # what only a reading can give (model, embeddings)


def complete(reading: Reading, evidence: str, spec: CriterionSpec, stats: list[float] | None = None) -> Reading:
    """``reading`` with its text-only columns (measurements, word overlap) recomputed from the evidence, so a
    reading stored by an earlier version has the columns of this one. ``stats``: ``text_stats(evidence)``
    when the caller completes several criteria of the same evidence."""
    stats = text_stats(evidence) if stats is None else stats
    reading.static = [row[:N_READ_COLUMNS] + stats + extra
                      for row, extra in zip(reading.static, overlap_columns(evidence, spec), strict=True)]
    return reading


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def unit(v: Sequence[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else list(v)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class EvidenceReader:
    """Measures evidence against criteria. ``checks``: the model's checks (None: model-free reading)."""

    def __init__(self, embedder: Embedder, checks: ModelChecks | None = None):
        self.embedder = embedder
        self.checks = checks
        self._spec_vectors: dict[str, dict[str, Any]] = {}

    def vectors(self, texts: list[str]) -> list[list[float]]:
        return [unit(v) for v in self.embedder(texts)]

    def _spec(self, spec: CriterionSpec) -> dict[str, Any]:
        if spec.key not in self._spec_vectors:
            descriptors = self.vectors([f"{spec.title}: {lv.label}. {lv.descriptor}" for lv in spec.levels])
            topic = self.vectors([f"{spec.title}. {spec.description}"])[0]
            exemplars = [(i, v) for i, lv in enumerate(spec.levels) for v in
                         (self.vectors(list(lv.exemplars)) if lv.exemplars else [])]
            self._spec_vectors[spec.key] = {"descriptors": descriptors, "topic": topic, "exemplars": exemplars}
        return self._spec_vectors[spec.key]

    def read(self, item_id: str, title: str, specs: Sequence[CriterionSpec], evidence: str) -> list[Reading]:
        """One :class:`Reading` per criterion of ``specs`` (all of one rubric, read together)."""
        if not evidence.strip():
            raise EngineError("the evidence is empty")
        chunks = passages(evidence)
        chunk_vectors = self.vectors(chunks)
        whole = unit([sum(col) / len(chunk_vectors) for col in zip(*chunk_vectors, strict=True)])
        stats = text_stats(evidence)
        answers = self.checks.read(title, specs, evidence) if self.checks is not None else {}
        readings = []
        for spec in specs:
            vec = self._spec(spec)
            sims = [[_dot(c, d) for c in chunk_vectors] for d in vec["descriptors"]]
            best = [max(row) for row in sims]
            relevance = max(_dot(c, vec["topic"]) for c in chunk_vectors)
            ex_sims = [(i, _dot(whole, v)) for i, v in vec["exemplars"]]
            checks, letters = answers.get(spec.key, (None, None))
            rows = []
            overlap = overlap_columns(evidence, spec)
            for k in range(1, spec.n_levels):
                above = [s for i, s in ex_sims if i >= k]
                below = [s for i, s in ex_sims if i < k]
                has_ex = bool(above and below)
                gap = (max(above) - max(below)) if has_ex else 0.0
                cum = sum(letters[k:]) if letters else None
                rows.append([
                    k / (spec.n_levels - 1),
                    _logit(checks[k - 1]) if checks else 0.0,
                    _logit(cum) if cum is not None else 0.0,
                    1.0 if (checks or letters) else 0.0,
                    best[k], best[k] - best[k - 1], gap, float(has_ex), relevance,
                    *stats, *overlap[k - 1],
                ])
            model = {}
            if checks:
                model["checks"] = [round(p, 4) for p in checks]
            if letters:
                model["letters"] = [round(p, 4) for p in letters]
            readings.append(Reading(item_id, spec.key, rows, whole, model))
        return readings


# ------------------------------------------------------------------ graded examples and the combiner


@dataclass
class GradedExample:
    """A reading with the level index (or indices, one per assessor) that a person gave it."""

    reading: Reading
    levels: tuple[int, ...]
    source: str = "evidence"  # evidence (a labelled set), assessor (a review decision), exemplar

    def to_dict(self) -> dict[str, Any]:
        return {"reading": self.reading.to_dict(), "levels": list(self.levels), "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradedExample:
        return cls(Reading.from_dict(data["reading"]), tuple(int(v) for v in data["levels"]), data.get("source",
                                                                                                         "evidence"))


def _columns(groups: Sequence[str]) -> list[int]:
    wanted = {"position"} | {name for g in groups for name in GROUPS[g] if name not in POOL_NAMES}
    return [i for i, name in enumerate(STATIC_NAMES) if name in wanted]


def cumulative_to_levels(cumulative: Sequence[float]) -> list[float]:
    """Level probabilities from P(level >= k) for k = 1..K-1 (made non-increasing first)."""
    reach = [1.0]
    for p in cumulative:
        reach.append(min(reach[-1], max(0.0, min(1.0, p))))
    reach.append(0.0)
    dist = [max(reach[i] - reach[i + 1], 1e-6) for i in range(len(reach) - 1)]
    total = sum(dist)
    return [d / total for d in dist]


def median_level(dist: Sequence[float]) -> int:
    """The level at which the cumulative probability first reaches one half (the ordinal model's choice)."""
    total = 0.0
    for i, p in enumerate(dist):
        total += p
        if total >= 0.5:
            return i
    return len(dist) - 1


class Combiner:
    """Pooled ordinal logistic regression over readings and the nearest graded examples' vote.

    ``groups``: which feature groups it reads (any of ``text``, ``semantic``, ``model``, ``knn``).
    ``C``: inverse L2 strength. ``pool``: graded examples searched for the vote (by criterion key).
    """

    def __init__(self, groups: Sequence[str] = DEFAULT_GROUPS, C: float = 0.5):
        unknown = [g for g in groups if g not in GROUPS]
        if unknown or not groups:
            raise EngineError(f"feature groups must be a non-empty subset of {list(GROUPS)}, got {list(groups)}")
        self.groups = tuple(groups)
        self.C = C
        self.coef: list[float] = []
        self.intercept = 0.0
        self.mean: list[float] = []
        self.scale: list[float] = []
        self.pool: dict[str, list[tuple[str, list[float], tuple[int, ...]]]] = defaultdict(list)
        self.n_examples = 0
        self.n_decisions = 0  # assessor decisions in the queue when it was fitted (for the automatic refit)
        self._matrices: dict[str, Any] = {}  # criterion key -> the pool's vectors as a matrix (built on use)
        self.routing: dict[str, Any] = {}

    # -- the vote of the nearest graded examples
    def set_pool(self, examples: Iterable[GradedExample]) -> None:
        self.pool = defaultdict(list)
        for ex in examples:
            self.pool[ex.reading.criterion_key].append((ex.reading.item_id, ex.reading.vector, ex.levels))
        self._matrices = {}

    def _matrix(self, key: str) -> Any:
        """The pool's vectors for one criterion as a matrix (built on first use)."""
        import numpy as np

        if key not in self._matrices:
            rows = self.pool.get(key, [])
            self._matrices[key] = np.asarray([vec for _, vec, _ in rows], dtype=float) if rows else None
        return self._matrices[key]

    def _knn(self, reading: Reading, exclude: set[str]) -> list[list[float]]:
        """Per threshold: similarity-weighted share of the nearest examples at or above it, their mean
        similarity, and whether there were any (the item itself and ``exclude`` left out)."""
        import numpy as np

        rows_in_pool = self.pool.get(reading.criterion_key, [])
        matrix = self._matrix(reading.criterion_key)
        top: list[tuple[float, tuple[int, ...]]] = []
        if matrix is not None:
            sims = matrix @ np.asarray(reading.vector, dtype=float)
            for i in np.argsort(-sims, kind="stable"):
                item, _, levels = rows_in_pool[int(i)]
                if item == reading.item_id or item in exclude:
                    continue
                top.append((float(sims[int(i)]), levels))
                if len(top) == KNN_K:
                    break
        rows = []
        for k in range(1, reading.n_levels):
            if not top:
                rows.append([0.5, 0.0, 0.0])
                continue
            weight = reached = 0.0
            for sim, levels in top:
                w = max(sim, 0.0) + 1e-3
                weight += w
                reached += w * sum(lv >= k for lv in levels) / len(levels)
            rows.append([reached / weight, sum(s for s, _ in top) / len(top), 1.0])
        return rows

    def _rows(self, reading: Reading, exclude: set[str] = frozenset(), vote: bool = True) -> list[list[float]]:
        if any(len(row) != len(STATIC_NAMES) for row in reading.static):
            raise EngineError(f"reading of {reading.item_id!r} has {len(reading.static[0])} columns, this version "
                              f"reads {len(STATIC_NAMES)}: complete it (grader.engine.complete) or read it again")
        cols = _columns(self.groups)
        if "knn" not in self.groups:
            knn = [[] for _ in reading.static]
        else:
            knn = self._knn(reading, exclude) if vote else [[0.5, 0.0, 0.0] for _ in reading.static]
        return [[row[i] for i in cols] + extra for row, extra in zip(reading.static, knn, strict=True)]

    # -- fitting
    def fit(self, examples: Sequence[GradedExample], pool: Iterable[GradedExample] | None = None) -> Combiner:
        """Fit on ``examples`` (their vote is leave-one-item-out over ``pool``, by default the examples)."""
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        if not examples:
            raise EngineError("no graded examples to fit on")
        self.set_pool(examples if pool is None else pool)
        x, y, w = [], [], []
        for ex in examples:
            # each example twice: as read, and as if its criterion had no graded examples and no exemplars,
            # so the combiner also grades a new criterion (or an unseen question) from what transfers
            for rows in (self._rows(ex.reading), self._rows(unexampled(ex.reading), frozenset(), vote=False)):
                for k, row in enumerate(rows, start=1):
                    share = sum(lv >= k for lv in ex.levels) / len(ex.levels)
                    for label, weight in ((1, share), (0, 1 - share)):
                        if weight > 0:
                            x.append(row)
                            y.append(label)
                            w.append(weight)
        if len(set(y)) < 2:
            raise EngineError("the graded examples are all at one level: nothing to learn a boundary from")
        xa = np.asarray(x, dtype=float)
        mean, std = xa.mean(axis=0), xa.std(axis=0)
        std = np.where(std > 1e-9, std, 1.0)
        clf = LogisticRegression(C=self.C, max_iter=5000).fit((xa - mean) / std, y, sample_weight=w)
        self.coef, self.intercept = clf.coef_[0].tolist(), float(clf.intercept_[0])
        self.mean, self.scale = mean.tolist(), std.tolist()
        self.n_examples = len(examples)
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.coef)

    def cumulative(self, reading: Reading, exclude: set[str] = frozenset()) -> list[float]:
        if not self.fitted:
            raise EngineError("the combiner is not fitted")
        out = []
        for row in self._rows(reading, exclude):
            z = self.intercept + sum(c * (v - m) / s for c, v, m, s in zip(self.coef, row, self.mean, self.scale,
                                                                           strict=True))
            out.append(1 / (1 + math.exp(-max(min(z, 40), -40))))
        return out

    def level_distribution(self, reading: Reading, exclude: set[str] = frozenset()) -> list[float]:
        return cumulative_to_levels(self.cumulative(reading, exclude))

    # -- persistence
    @property
    def version(self) -> str:
        digest = hashlib.sha256(json.dumps(
            [self.groups, self.C, [round(c, 6) for c in self.coef], round(self.intercept, 6),
             sorted((k, item, lv) for k, rows in self.pool.items() for item, _, lv in rows)],
            default=list).encode()).hexdigest()
        return f"combiner-{digest[:10]}"

    def to_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "C": self.C, "coef": self.coef, "intercept": self.intercept,
                "mean": self.mean, "scale": self.scale, "n_examples": self.n_examples, "routing": self.routing,
                "n_decisions": self.n_decisions,
                "vectors": {item: [round(v, 4) for v in vec] for rows in self.pool.values() for item, vec, _ in rows},
                "pool": {k: [[item, list(lv)] for item, _, lv in rows] for k, rows in self.pool.items()},
                "feature_names": [STATIC_NAMES[i] for i in _columns(self.groups)]
                + (list(POOL_NAMES) if "knn" in self.groups else []),
                "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Combiner:
        c = cls(tuple(data["groups"]), float(data.get("C", 0.5)))
        c.coef, c.intercept = list(data["coef"]), float(data["intercept"])
        c.mean, c.scale = list(data["mean"]), list(data["scale"])
        c.n_examples, c.routing = int(data.get("n_examples", 0)), dict(data.get("routing") or {})
        c.n_decisions = int(data.get("n_decisions", 0))
        vectors = data.get("vectors") or {}
        c.pool = defaultdict(list, {k: [(item, list(vectors[item]), tuple(lv)) for item, lv in rows]
                                    for k, rows in (data.get("pool") or {}).items()})
        return c


# ------------------------------------------------------------------ the pass rule as a probability


def pass_probability(points: Sequence[Sequence[float]], distributions: Sequence[Sequence[float]],
                     pass_threshold: float, min_points_each: float) -> float:
    """P(pass) when criterion ``i`` has level ``j`` (worth ``points[i][j]``) with probability
    ``distributions[i][j]``, independently: the total reaches ``pass_threshold`` and every criterion
    reaches ``min_points_each``."""
    totals: dict[float, float] = {0.0: 1.0}
    for pts, dist in zip(points, distributions, strict=True):
        nxt: dict[float, float] = defaultdict(float)
        for total, p in totals.items():
            for value, q in zip(pts, dist, strict=True):
                if value >= min_points_each and q > 0:
                    nxt[total + value] += p * q
        totals = nxt
    return min(1.0, sum(p for total, p in totals.items() if total >= pass_threshold - 1e-9))
