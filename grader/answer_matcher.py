"""How well a learner's answer matches the reference answer, learned from many graded answers.

Public API::

    AnswerMatcher(labels, embedder=None, C=0.1).fit(tasks, gold, extra=None).predict(tasks, extra=None)
        -> [dict[label, prob]]
    matcher_features(task, vectors=None) -> list[float]
    cross_fitted(make, tasks, gold, groups, targets, folds=5, extra=None) -> {task id: dict[label, prob]}

The language model grades one answer at a time; a course team also holds thousands of answers that
assessors already graded, for other questions as well as this one. The matcher learns from all of
them what a matching answer looks like, independent of the question: a multinomial logistic
regression over the word-overlap signals of :func:`grader.short_answer.lexical_features` and, with an
embedder (the local MiniLM), the cosine of the answer with its nearest reference answer and with the
question, and the element-wise product and absolute difference of the answer's and that reference's
unit vectors (the classic sentence-pair features). ``extra`` features can be added per answer, such as the
vote of the nearest graded answers to the same question. Because it needs no language model, it is fitted
on the whole training pool, not only on the few hundred calibration items the final ensemble is fitted
on; its output is then a single feature group (``matcher``) of :class:`grader.short_answer.Calibrator`
beside the model's log-probabilities (stacking: few features for the small calibration set).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from grader.short_answer import Embedder, ShortAnswerTask, lexical_features

LEXICAL_KEYS = ("length", "question_overlap", "ref_f1", "ref_precision", "ref_recall")


def _unit(vector: Sequence[float]) -> Any:
    import numpy as np

    v = np.asarray(vector, dtype=float)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


def matcher_features(task: ShortAnswerTask, vectors: dict[str, Any] | None = None) -> list[float]:
    """The numbers the matcher reads for one answer; ``vectors``: unit embeddings by text (None: word overlap only)."""
    lex = lexical_features(task.response, task.references, task.question)
    out = [lex[k] for k in LEXICAL_KEYS]
    if vectors is None:
        return out
    import numpy as np

    answer = vectors[task.response or " "]
    refs = [vectors[r] for r in task.references] or [vectors[task.question or " "]]
    sims = [float(answer @ ref) for ref in refs]
    nearest = refs[int(np.argmax(sims))]
    out += [max(sims), float(answer @ vectors[task.question or " "])]
    return out + (answer * nearest).tolist() + np.abs(answer - nearest).tolist()


class AnswerMatcher:
    """Label probabilities of an answer from its similarity to the reference (see the module docstring).

    ``embedder``: sentence embeddings (None: word overlap only). ``C``: inverse L2 strength of the regression.
    """

    def __init__(self, labels: Sequence[str], embedder: Embedder | None = None, C: float = 0.1):
        self.labels = list(labels)
        self.embedder = embedder
        self.C = C
        self._clf: Any = None
        self._mean: Any = None
        self._scale: Any = None
        self._only: str | None = None

    @property
    def kind(self) -> str:
        return "embedding" if self.embedder is not None else "lexical"

    def _vectors(self, tasks: Sequence[ShortAnswerTask]) -> dict[str, Any] | None:
        if self.embedder is None:
            return None
        texts = list(dict.fromkeys(t for task in tasks for t in (task.response or " ", task.question or " ",
                                                                     *task.references)))
        return {text: _unit(v) for text, v in zip(texts, self.embedder(texts), strict=True)}

    def _x(self, tasks: Sequence[ShortAnswerTask], extra: Sequence[Sequence[float]] | None) -> Any:
        import numpy as np

        if extra is not None and len(extra) != len(tasks):
            raise ValueError("extra features are needed for every task")
        vectors = self._vectors(tasks)
        rows = [matcher_features(t, vectors) for t in tasks]
        if extra is not None:
            rows = [row + [float(v) for v in more] for row, more in zip(rows, extra, strict=True)]
        return np.asarray(rows, dtype=float)

    def fit(self, tasks: Sequence[ShortAnswerTask], gold: Sequence[str],
            extra: Sequence[Sequence[float]] | None = None) -> AnswerMatcher:
        if not tasks or len(tasks) != len(gold):
            raise ValueError("fit needs as many gold labels as tasks, and at least one")
        unknown = sorted(set(gold) - set(self.labels))
        if unknown:
            raise ValueError(f"gold labels {unknown} are not on the scale {self.labels}")
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        if len(set(gold)) == 1:
            self._only = gold[0]
            return self
        x = self._x(tasks, extra)
        self._mean = x.mean(axis=0)
        std = x.std(axis=0)
        self._scale = np.where(std > 1e-9, std, 1.0)
        self._clf = LogisticRegression(C=self.C, max_iter=3000).fit((x - self._mean) / self._scale, list(gold))
        return self

    def predict(self, tasks: Sequence[ShortAnswerTask],
                extra: Sequence[Sequence[float]] | None = None) -> list[dict[str, float]]:
        if self._only is not None:
            return [{label: float(label == self._only) for label in self.labels} for _ in tasks]
        if self._clf is None:
            raise RuntimeError("the matcher is not fitted")
        if not tasks:
            return []
        probs = self._clf.predict_proba((self._x(tasks, extra) - self._mean) / self._scale)
        classes = [str(c) for c in self._clf.classes_]
        return [{label: float(row[classes.index(label)]) if label in classes else 0.0 for label in self.labels}
                for row in probs]


def fold_of(key: str, folds: int) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % folds


def cross_fitted(make: Callable[[], AnswerMatcher], tasks: Sequence[ShortAnswerTask], gold: Sequence[str],
                 groups: Sequence[str], targets: set[str], folds: int = 5,
                 extra: Sequence[Sequence[float]] | None = None) -> dict[str, dict[str, float]]:
    """Out-of-fold predictions for the ``targets`` among ``tasks`` (by task id): each target is predicted by a
    matcher fitted on the tasks whose group (a question id, say) falls in another fold, so a calibration
    answer is never scored by a matcher that saw it or, with question groups, its question."""
    fold = [fold_of(g, folds) for g in groups]
    out: dict[str, dict[str, float]] = {}
    for f in sorted({fold[i] for i, t in enumerate(tasks) if t.id in targets}):
        train = [i for i in range(len(tasks)) if fold[i] != f]
        chosen = [i for i, t in enumerate(tasks) if fold[i] == f and t.id in targets]
        if not train:
            continue
        matcher = make().fit([tasks[i] for i in train], [gold[i] for i in train],
                             None if extra is None else [extra[i] for i in train])
        predicted = matcher.predict([tasks[i] for i in chosen], None if extra is None else [extra[i] for i in chosen])
        out.update(zip((tasks[i].id for i in chosen), predicted, strict=True))
    return out
