"""Short-answer grading: question + reference answer(s) + learner response -> probability per label.

Public API::

    SCALES, LabelScale, scale_for(labels)          # label scales (2-way, 3-way, SAF, custom)
    ShortAnswerTask, GradedAnswer                  # what is graded, and graded examples
    ExamplePool(answers, similarity="lexical")     # graded answers of the same question, nearest first
    ShortAnswerScorer(model, scale, pool).score(task) -> RawScore
    Calibrator(labels, features).fit(raws, gold).predict(raw) -> dict[label, prob]

How a score is made (:class:`ShortAnswerScorer`): the model reads a system prompt with the scale's
guide, the question with its reference answer(s), optionally graded answers of other learners to the
same question retrieved from a training pool (nearest to the response, ``shots_per_label`` per label,
most similar last; off by default: on SciEntsBank they did not raise the model's AUROC and tripled
the time per item, while their labels used as a vote, below, are a strong signal), and the response;
the label distribution comes from the token log-probabilities
of the label words (:meth:`TextModel.choice_distribution`), never from generated text. Shared content
comes first (system, then the question), so the model's cache is reused across a question's answers.

Beside the model, each :class:`RawScore` carries cheap signals: lexical overlap and (optionally)
embedding similarity of the response with the reference answers, and a similarity-weighted vote of
the nearest graded answers of the same question. A :class:`Calibrator` (multinomial logistic
regression, fitted on a labelled calibration split) turns the model's log-probabilities, alone or
together with those signals, into calibrated probabilities: with the model features alone it is
temperature plus per-label bias scaling; with the signals it is an ensemble.

Why one module (~520 lines): the short-answer eval's model-based grader and its SemEval-style baseline features are
one experiment, kept together so the eval reads as one recipe.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.choice_model import ChoiceModel
from prompts import Prompt, load_prompt

PROMPT_NAME = "short_answer"
FEATURE_GROUPS = ("model", "lexical", "embedding", "knn", "matcher")
KNN_K = 5


# ------------------------------------------------------------------ label scales


@dataclass(frozen=True)
class LabelScale:
    """An ordered set of labels. For ordinal scales the order is lowest to highest."""

    name: str
    labels: tuple[str, ...]
    ordinal: bool
    guide: str  # prompt part with the scale's guide: twoway, threeway, saf or generic

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"a label scale needs at least two distinct labels, got {self.labels}")
        if any(not label.strip() for label in self.labels):
            raise ValueError("labels must be non-empty")


SCALES: dict[str, LabelScale] = {
    "2way": LabelScale("2way", ("incorrect", "correct"), ordinal=True, guide="twoway"),
    "3way": LabelScale("3way", ("correct", "contradictory", "incorrect"), ordinal=False, guide="threeway"),
    "saf": LabelScale("saf", ("incorrect", "partial", "correct"), ordinal=True, guide="saf"),
}


def scale_for(labels: Sequence[str], *, ordered: bool = False, name: str = "custom") -> LabelScale:
    """The built-in scale with exactly these labels, else a custom one.

    ``ordered``: ``labels`` are given lowest to highest (an ordinal scale). Otherwise numeric labels are
    sorted numerically (ordinal) and others keep their order (nominal).
    """
    distinct = list(dict.fromkeys(str(label) for label in labels))
    if not ordered:
        for scale in SCALES.values():
            if set(scale.labels) == set(distinct):
                return scale
        try:
            numbers = [float(label) for label in distinct]
        except ValueError:
            return LabelScale(name, tuple(distinct), ordinal=False, guide="generic")
        ranked = [label for _, label in sorted(zip(numbers, distinct, strict=True))]
        return LabelScale(name, tuple(ranked), ordinal=True, guide="generic")
    return LabelScale(name, tuple(distinct), ordinal=True, guide="generic")


# ------------------------------------------------------------------ tasks and examples


@dataclass(frozen=True)
class ShortAnswerTask:
    id: str
    question_id: str
    question: str
    references: tuple[str, ...]
    response: str


@dataclass(frozen=True)
class GradedAnswer:
    id: str
    question_id: str
    response: str
    label: str


_WORD = re.compile(r"[a-z0-9]+")
_STOP_TEXT = """a an the and or but if then so of to in on at by for with from as is are was were be been being it its
this that these those there their they them he she his her we you your i my me our do does did can could will would
should may might must have has had which who whom what when where why how than too very just also into about while"""
STOPWORDS = frozenset(_STOP_TEXT.split())  # negations stay: "not connected" must differ from "connected"


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, crudely stemmed words of ``text`` without stop words (for lexical overlap)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def overlap_f1(a: str, b: str) -> float:
    """Token F1 of the content words of ``a`` and ``b`` (bag of words), 0 when either is empty."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    common: dict[str, int] = defaultdict(int)
    counts_b: dict[str, int] = defaultdict(int)
    for w in wb:
        counts_b[w] += 1
    for w in wa:
        if counts_b[w] > 0:
            counts_b[w] -= 1
            common[w] += 1
    hits = sum(common.values())
    if not hits:
        return 0.0
    precision, recall = hits / len(wa), hits / len(wb)
    return 2 * precision * recall / (precision + recall)


def lexical_features(response: str, references: Sequence[str], question: str = "") -> dict[str, float]:
    """Overlap of the response with its best-matching reference answer (F1, recall of the reference, precision)
    and with the question; the classic word-overlap signals of the SemEval-2013 baselines."""
    resp = content_words(response)
    best = {"ref_f1": 0.0, "ref_recall": 0.0, "ref_precision": 0.0}
    for ref in references:
        words = content_words(ref)
        if not words or not resp:
            continue
        shared = len(set(resp) & set(words))
        f1 = overlap_f1(response, ref)
        if f1 >= best["ref_f1"]:
            best = {"ref_f1": f1, "ref_recall": shared / len(set(words)), "ref_precision": shared / len(set(resp))}
    q = set(content_words(question))
    best["question_overlap"] = len(set(resp) & q) / len(set(resp)) if resp and q else 0.0
    best["length"] = math.log1p(len(resp))
    return best


Embedder = Callable[[list[str]], list[list[float]]]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def memoised(embed: Embedder, limit: int = 50_000) -> Embedder:
    """``embed`` with a per-text memory (reference answers and responses recur), missing texts in one batch."""
    memory: dict[str, list[float]] = {}

    def embed_texts(texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in memory))
        if missing:
            if len(memory) + len(missing) > limit:
                memory.clear()
            memory.update(zip(missing, embed(missing), strict=True))
        return [memory[t] for t in texts]

    return embed_texts


def minilm_embedder() -> Embedder:
    """The local all-MiniLM-L6-v2 sentence embeddings (loaded once per process, nothing downloaded), memoised."""
    from knowledge.index import get_embeddings

    return memoised(get_embeddings().embed_documents)


class ExamplePool:
    """Graded answers by question, searchable by similarity to a response.

    ``similarity``: ``"lexical"`` (content-word F1) or ``"embedding"`` (cosine of ``embedder`` vectors,
    by default the local MiniLM model; vectors are computed per question on first use and kept).
    """

    def __init__(self, answers: Sequence[GradedAnswer], similarity: str = "lexical", embedder: Embedder | None = None):
        if similarity not in {"lexical", "embedding"}:
            raise ValueError(f"unknown similarity {similarity!r}; use lexical or embedding")
        self.similarity = similarity
        self._embedder = embedder
        self.by_question: dict[str, list[GradedAnswer]] = defaultdict(list)
        for answer in answers:
            self.by_question[answer.question_id].append(answer)
        self._vectors: dict[str, list[list[float]]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_question.values())

    def fingerprint(self) -> str:
        """A short hash of the pool's answers and labels (for cache keys)."""
        import hashlib

        digest = hashlib.sha256()
        for qid in sorted(self.by_question):
            for a in sorted(self.by_question[qid], key=lambda a: a.id):
                digest.update(f"{qid}\x1f{a.id}\x1f{a.label}\x1e".encode())
        return f"{self.similarity}-{digest.hexdigest()[:12]}"

    def has_question(self, question_id: str) -> bool:
        return bool(self.by_question.get(question_id))

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self._embedder is None:
            self._embedder = minilm_embedder()
        return self._embedder(texts)

    def ranked(self, question_id: str, response: str, exclude: set[str] = frozenset()
               ) -> list[tuple[float, GradedAnswer]]:
        """(similarity, answer) for the question's graded answers, most similar first (ties: pool order)."""
        answers = self.by_question.get(question_id, [])
        if not answers:
            return []
        if self.similarity == "lexical":
            sims = [overlap_f1(response, a.response) for a in answers]
        else:
            if question_id not in self._vectors:
                self._vectors[question_id] = self.embed([a.response for a in answers])
            query = self.embed([response])[0]
            sims = [_cosine(query, v) for v in self._vectors[question_id]]
        scored = [(s, i, a) for i, (s, a) in enumerate(zip(sims, answers, strict=True)) if a.id not in exclude]
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [(s, a) for s, _, a in scored]

    def shots(self, ranked: list[tuple[float, GradedAnswer]], labels: Sequence[str], per_label: int
              ) -> list[tuple[float, GradedAnswer]]:
        """The ``per_label`` most similar answers of each label, least similar first (the nearest sits last)."""
        chosen: list[tuple[float, GradedAnswer]] = []
        for label in labels:
            chosen.extend([t for t in ranked if t[1].label == label][:per_label])
        return sorted(chosen, key=lambda t: t[0])

    @staticmethod
    def knn_vote(ranked: list[tuple[float, GradedAnswer]], labels: Sequence[str], k: int = KNN_K
                 ) -> dict[str, float] | None:
        """Similarity-weighted label shares among the ``k`` nearest answers; None without any."""
        top = ranked[:k]
        if not top:
            return None
        weights = {label: 0.0 for label in labels}
        for sim, answer in top:
            if answer.label in weights:
                weights[answer.label] += max(sim, 0.0) + 1e-3
        total = sum(weights.values())
        return {label: w / total for label, w in weights.items()} if total else None


# ------------------------------------------------------------------ scoring


@dataclass
class RawScore:
    """What the scorer measured for one task, before calibration (JSON-ready via :meth:`to_dict`)."""

    model: dict[str, float]  # label -> probability from the model's token log-probabilities
    lexical: dict[str, float]  # overlap with the reference answers and the question
    embedding: float | None = None  # best cosine with a reference answer (when the scorer has an embedder)
    knn: dict[str, float] | None = None  # nearest graded answers' vote (None: no graded answers of this question)
    shots: list[str] = field(default_factory=list)  # ids of the graded answers shown to the model
    seconds: float = 0.0
    matcher: dict[str, float] | None = None  # grader.answer_matcher's label probabilities (None: no matcher)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "lexical": self.lexical, "embedding": self.embedding, "knn": self.knn,
                "shots": self.shots, "seconds": self.seconds, "matcher": self.matcher}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RawScore:
        return cls(model=dict(data["model"]), lexical=dict(data["lexical"]), embedding=data.get("embedding"),
                   knn=data.get("knn"), shots=list(data.get("shots", [])), seconds=float(data.get("seconds", 0.0)),
                   matcher=data.get("matcher"))


def _quote(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShortAnswerScorer:
    """Label distribution of a learner's short answer from the model (see the module docstring).

    ``pool``: graded answers to retrieve examples and the kNN vote from (same question only; ``None``
    for none). ``shots_per_label``: examples shown per label (0: zero-shot). ``embedder``: sentence
    embeddings for the response's similarity to the reference answers (``None``: not computed).
    ``max_response_chars`` bounds what the model reads of each answer.
    """

    def __init__(self, model: ChoiceModel, scale: LabelScale, pool: ExamplePool | None = None, *,
                 shots_per_label: int = 0, embedder: Embedder | None = None, prompt: Prompt | None = None,
                 max_response_chars: int = 1200):
        self.model = model
        self.scale = scale
        self.pool = pool
        self.embedder = embedder
        self.shots_per_label = shots_per_label
        self.prompt = prompt or load_prompt(PROMPT_NAME)
        self.max_response_chars = max_response_chars
        self.options = list(scale.labels)

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    def config(self) -> dict[str, Any]:
        """Everything that changes the raw score, for cache keys."""
        return {"prompt": self.prompt.id, "model": self.model.name, "scale": list(self.scale.labels),
                "guide": self.scale.guide, "shots_per_label": self.shots_per_label,
                "similarity": self.pool.similarity if self.pool else None,
                "reference_embedding": self.embedder is not None,
                "max_response_chars": self.max_response_chars}

    def _options_text(self) -> str:
        opts = self.options
        return ", ".join(opts[:-1]) + " or " + opts[-1] if len(opts) > 1 else opts[0]

    def messages(self, task: ShortAnswerTask, shots: Sequence[GradedAnswer] = ()) -> list[dict[str, str]]:
        """System (shared by every task), question (shared by a question's answers), examples, response."""
        options = self._options_text()
        guide = self.prompt.render(self.scale.guide, options=", ".join(self.options))
        refs = "\n".join(f"- {_quote(r, 600)}" for r in task.references) or "(none given)"
        msgs = [
            {"role": "system", "content": self.prompt.render("system", guide=guide, options=options)},
            {"role": "user", "content": self.prompt.render("question", question=task.question.strip(),
                                                           references=refs)},
        ]
        if shots:
            lines = "\n".join(f"- \"{_quote(a.response, 400)}\" -> {a.label}" for a in shots)
            msgs.append({"role": "user", "content": self.prompt.render("examples", examples=lines)})
        msgs.append({"role": "user", "content": self.prompt.render(
            "response", response=_quote(task.response, self.max_response_chars) or "(empty)", options=options)})
        return msgs

    def score(self, task: ShortAnswerTask, *, exclude: set[str] = frozenset(), use_pool: bool = True) -> RawScore:
        """Score one task. ``exclude``: pool answer ids not to use (the task itself, say); ``use_pool=False``
        grades as for an unseen question (no examples, no vote)."""
        started = time.perf_counter()
        ranked = (self.pool.ranked(task.question_id, task.response, exclude | {task.id})
                  if self.pool is not None and use_pool else [])
        shots = self.pool.shots(ranked, self.options, self.shots_per_label) if ranked and self.shots_per_label else []
        model = self.model.choice_distribution(self.messages(task, [a for _, a in shots]), self.options)
        embedding = None
        if self.embedder is not None and task.references:
            vectors = self.embedder([task.response or " ", *task.references])
            embedding = max(_cosine(vectors[0], v) for v in vectors[1:])
        return RawScore(
            model={k: float(v) for k, v in model.items()},
            lexical=lexical_features(task.response, task.references, task.question),
            embedding=embedding,
            knn=ExamplePool.knn_vote(ranked, self.options) if ranked else None,
            shots=[a.id for _, a in shots],
            seconds=round(time.perf_counter() - started, 4),
        )


# ------------------------------------------------------------------ calibration and ensembling


def feature_vector(raw: RawScore, labels: Sequence[str], features: Sequence[str]) -> list[float]:
    """The numbers a :class:`Calibrator` reads from a raw score, for the chosen feature groups.

    ``model``: log-probability of each label (centred); ``lexical``: word overlap with the reference answers
    and the question, and the answer's length; ``embedding``: best cosine with a reference answer (0 when
    absent); ``knn``: the nearest graded answers' vote (uniform when absent) and whether there was one;
    ``matcher``: the answer matcher's log-probability of each label (centred; zeros when absent).
    """
    out: list[float] = []
    if "model" in features:
        out.extend(centred_logs(raw.model, labels, 1e-9))
    if "lexical" in features:
        out.extend(raw.lexical[k] for k in sorted(raw.lexical))
    if "embedding" in features:
        out.append(raw.embedding if raw.embedding is not None else 0.0)
    if "knn" in features:
        out.extend(knn_features(raw.knn, labels))
    if "matcher" in features:
        out.extend(centred_logs(raw.matcher, labels, 1e-6) if raw.matcher else [0.0] * len(labels))
    return out


def centred_logs(dist: dict[str, float], labels: Sequence[str], floor: float) -> list[float]:
    """Log-probability of each label (at least ``floor``), minus their mean."""
    logs = [math.log(max(dist.get(label, 0.0), floor)) for label in labels]
    mean = sum(logs) / len(logs)
    return [v - mean for v in logs]


def knn_features(vote: dict[str, float] | None, labels: Sequence[str]) -> list[float]:
    """The nearest graded answers' vote per label (uniform when there is none) and whether there was one."""
    shares = vote or {label: 1.0 / len(labels) for label in labels}
    return [*(shares.get(label, 0.0) for label in labels), 1.0 if vote else 0.0]


class Calibrator:
    """Multinomial logistic regression from raw scores to label probabilities, fitted on labelled items.

    ``features``: any of ``model``, ``lexical``, ``embedding``, ``knn``, ``matcher`` (see :func:`feature_vector`).
    ``C`` is the inverse L2 strength. Labels absent from the fitting data get probability 0. Fitting on a single
    label gives that label probability 1 (reported as ``degenerate``).
    """

    def __init__(self, labels: Sequence[str], features: Sequence[str] = ("model",), C: float = 1.0):
        unknown = [f for f in features if f not in FEATURE_GROUPS]
        if unknown or not features:
            raise ValueError(f"features must be a non-empty subset of {FEATURE_GROUPS}, got {list(features)}")
        self.labels = list(labels)
        self.features = list(features)
        self.C = C
        self.classes_: list[str] = []
        self.coef_: list[list[float]] = []
        self.intercept_: list[float] = []
        self.mean_: list[float] = []
        self.scale_: list[float] = []
        self.degenerate: str | None = None

    def _x(self, raws: Sequence[RawScore]) -> list[list[float]]:
        return [feature_vector(r, self.labels, self.features) for r in raws]

    def fit(self, raws: Sequence[RawScore], gold: Sequence[str]) -> Calibrator:
        if len(raws) != len(gold) or not raws:
            raise ValueError("fit needs as many gold labels as raw scores, and at least one")
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        present = sorted(set(gold), key=self.labels.index)
        if len(present) == 1:
            self.degenerate, self.classes_ = present[0], present
            return self
        x = np.asarray(self._x(raws), dtype=float)
        self.mean_ = x.mean(axis=0).tolist()
        std = x.std(axis=0)
        self.scale_ = np.where(std > 1e-9, std, 1.0).tolist()
        xs = (x - np.asarray(self.mean_)) / np.asarray(self.scale_)
        clf = LogisticRegression(C=self.C, max_iter=2000)
        clf.fit(xs, list(gold))
        self.classes_ = [str(c) for c in clf.classes_]
        coef, intercept = clf.coef_, clf.intercept_
        if len(self.classes_) == 2:  # sklearn keeps one row for binary problems: expand to softmax form
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef.tolist(), intercept.tolist()
        return self

    def predict(self, raw: RawScore) -> dict[str, float]:
        if not self.classes_:
            raise RuntimeError("the calibrator is not fitted")
        if self.degenerate is not None:
            return {label: float(label == self.degenerate) for label in self.labels}
        x = feature_vector(raw, self.labels, self.features)
        xs = [(v - m) / s for v, m, s in zip(x, self.mean_, self.scale_, strict=True)]
        logits = {c: b + sum(w * v for w, v in zip(row, xs, strict=True))
                  for c, row, b in zip(self.classes_, self.coef_, self.intercept_, strict=True)}
        top = max(logits.values())
        exps = {c: math.exp(v - top) for c, v in logits.items()}
        total = sum(exps.values())
        return {label: exps.get(label, 0.0) / total for label in self.labels}

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "features": self.features, "C": self.C, "classes": self.classes_,
                "coef": self.coef_, "intercept": self.intercept_, "mean": self.mean_, "scale": self.scale_,
                "degenerate": self.degenerate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        cal = cls(data["labels"], data["features"], data.get("C", 1.0))
        cal.classes_, cal.coef_, cal.intercept_ = list(data["classes"]), data["coef"], data["intercept"]
        cal.mean_, cal.scale_, cal.degenerate = data["mean"], data["scale"], data.get("degenerate")
        return cal


def fit_temperature(raws: Sequence[RawScore], gold: Sequence[str], labels: Sequence[str]) -> float:
    """The single temperature T minimising the log-loss of softmax(log p / T) on labelled items."""
    from scipy.optimize import minimize_scalar

    logs = [[math.log(max(r.model.get(label, 0.0), 1e-9)) for label in labels] for r in raws]
    index = [list(labels).index(g) for g in gold]

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        total = 0.0
        for row, i in zip(logs, index, strict=True):
            scaled = [v / t for v in row]
            top = max(scaled)
            total -= scaled[i] - top - math.log(sum(math.exp(v - top) for v in scaled))
        return total / max(len(logs), 1)

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(math.exp(res.x))
