"""Rubric scoring with the open-weights model: one probability distribution over levels per criterion.

The level distribution comes from the model's token log-probabilities over the level letters
(:meth:`TextModel.choice_distribution`), never from parsing generated text. The evidence comes first
in every criterion prompt, so the model's KV cache of the evidence is reused across criteria.
Quotes are verbatim evidence sentences chosen for the criterion; the rationale names the level's
descriptor and the quote that supports it.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from grader.choice_model import ChoiceModel
from grader.signals import jaccard, shingles
from knowledge.schema import Credential, RubricCriterion
from prompts import Prompt, load_prompt

LETTERS = "ABCDEF"
CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
MAX_EVIDENCE_CHARS = 6000  # what the model reads; the whole text is stored and quoted from
EXEMPLARS_PER_CRITERION = 2


class Scorer(Protocol):
    """What the grading pipeline calls: the engine (default) or a legacy strategy."""

    def score(self, credential: Credential, evidence: str) -> RubricScore: ...


@runtime_checkable
class Refittable(Protocol):
    """A scorer whose fitted combiner a refit replaces (the engine's :class:`grader.engine_scorer.EngineScorer`)."""

    combiner: Any


@dataclass(frozen=True)
class CriterionScore:
    criterion_id: str
    level_id: str
    distribution: dict[str, float]  # level id -> probability (calibrated)
    confidence: float
    rationale: str
    quotes: list[str]


@dataclass(frozen=True)
class RubricScore:
    criteria: list[CriterionScore]
    model: str
    prompt_id: str
    seconds: float
    engine: bool = False  # scored by grader.engine (the fields below are set)
    p_pass: float | None = None
    decision_threshold: float | None = None
    level_threshold: float | None = None
    engine_version: str | None = None
    readings: dict[str, dict] | None = None  # criterion id -> grader.engine.Reading.to_dict()


def load_temperature(model: str, prompt_id: str, path: Path = CALIBRATION_FILE) -> float:
    """Temperature fitted by ``stackwise eval`` on labelled data for this model and prompt (1.0 if none)."""
    if not path.is_file():
        return 1.0
    table = json.loads(path.read_text(encoding="utf-8"))
    return float(table.get(f"{model}|{prompt_id}", {}).get("temperature", 1.0))


def calibrate(distribution: dict[str, float], temperature: float) -> dict[str, float]:
    """Temperature scaling of a probability distribution (T > 1 softens, T < 1 sharpens)."""
    if temperature == 1.0:
        return dict(distribution)
    logits = {k: math.log(max(p, 1e-12)) / temperature for k, p in distribution.items()}
    top = max(logits.values())
    exps = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(exps.values())
    return {k: v / total for k, v in exps.items()}


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.split(text) if len(s.split()) >= 4]


def pick_quotes(evidence: str, criterion: RubricCriterion, level_index: int, k: int = 2) -> list[str]:
    """The ``k`` evidence sentences closest to the criterion and the chosen level (verbatim)."""
    level = criterion.levels[level_index]
    target = shingles(f"{criterion.title} {criterion.description} {level.descriptor}", size=1)
    scored = [(jaccard(shingles(s, size=1), target), i, s) for i, s in enumerate(sentences(evidence))]
    best = sorted(scored, key=lambda t: (-t[0], t[1]))[:k]
    return [s for score, _, s in sorted(best, key=lambda t: t[1]) if score > 0]


def select_exemplars(
    evidence: str, criterion: RubricCriterion, k: int = EXEMPLARS_PER_CRITERION
) -> list[tuple[str, str]]:
    """(letter, exemplar text) of the ``k`` level exemplars most similar to the evidence."""
    mine = shingles(evidence, size=1)
    scored = [
        (jaccard(mine, shingles(level.exemplar, size=1)), LETTERS[i], level.exemplar)
        for i, level in enumerate(criterion.levels) if level.exemplar
    ]
    best = sorted(scored, key=lambda t: -t[0])[:k]
    return [(letter, text) for _, letter, text in sorted(best, key=lambda t: t[1])]


STRATEGIES = {"rubric": "grader_rubric", "letters": "grader_criterion", "thresholds": "grader_threshold"}


def render_rubric(credential: Credential) -> str:
    """The whole rubric as text: every criterion with its lettered levels and descriptors."""
    blocks = []
    for number, criterion in enumerate(credential.rubric.criteria, start=1):
        levels = "\n".join(f"  {LETTERS[i]}) {lv.label}: {' '.join(lv.descriptor.split())}"
                           for i, lv in enumerate(criterion.levels))
        blocks.append(f"Criterion {number}: {criterion.title}\n  {' '.join(criterion.description.split())}\n{levels}")
    return "\n\n".join(blocks)


class RubricScorer:
    """Scores each criterion with one of three strategies.

    ``rubric`` (default): the whole rubric and the evidence are two shared messages (the model's cache
    holds them across criteria, and the rubric across submissions for the same credential); each
    criterion then costs only a short question; the distribution is over the level letters.
    ``letters``: one prompt listing every level, the distribution over the level letters.
    ``thresholds``: for each level above the lowest, P(yes) that the evidence reaches it; the level
    distribution follows from these cumulative probabilities (made monotone).
    """

    def __init__(self, model: ChoiceModel, prompt: Prompt | None = None, temperature: float | None = None,
                 strategy: str = "rubric"):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown scoring strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        self.model = model
        self.strategy = strategy
        self.prompt = prompt or load_prompt(STRATEGIES[strategy])
        self.temperature = temperature if temperature is not None else load_temperature(model.name, self.prompt.id)

    def threshold_messages(self, evidence: str, criterion: RubricCriterion, index: int) -> list[dict[str, str]]:
        level = criterion.levels[index]
        user = self.prompt.render(
            "user", criterion_title=criterion.title,
            criterion_description=criterion.description, level_label=level.label, level_descriptor=level.descriptor,
        )
        return self._with_evidence(evidence, user)

    def _with_evidence(self, evidence: str, user: str) -> list[dict[str, str]]:
        """System prompt, then the evidence as its own message (the model reuses its cache across
        criteria for whole leading messages), then the criterion-specific question."""
        return [
            {"role": "system", "content": self.prompt.render("system")},
            {"role": "user", "content": self.prompt.render("evidence", evidence=evidence[:MAX_EVIDENCE_CHARS])},
            {"role": "user", "content": user},
        ]

    def rubric_messages(self, evidence: str, credential: Credential, criterion: RubricCriterion
                        ) -> list[dict[str, str]]:
        number = next(i for i, c in enumerate(credential.rubric.criteria, start=1) if c.id == criterion.id)
        levels = "  ".join(f"{LETTERS[i]}) {lv.label}" for i, lv in enumerate(criterion.levels))
        return [
            {"role": "system", "content": self.prompt.render("system")},
            {"role": "user", "content": self.prompt.render("rubric", credential_title=credential.title,
                                                           rubric=render_rubric(credential))},
            {"role": "user", "content": self.prompt.render("evidence", evidence=evidence[:MAX_EVIDENCE_CHARS])},
            {"role": "user", "content": self.prompt.render("user", number=number, criterion_title=criterion.title,
                                                           levels=levels)},
        ]

    def level_distribution(self, evidence: str, criterion: RubricCriterion,
                           credential: Credential | None = None) -> dict[str, float]:
        """Probability per level id (before calibration)."""
        if self.strategy == "rubric":
            if credential is None:
                raise ValueError("the rubric strategy needs the credential")
            letters = list(LETTERS[: len(criterion.levels)])
            raw = self.model.choice_distribution(self.rubric_messages(evidence, credential, criterion), letters)
            return {criterion.levels[i].id: raw[letter] for i, letter in enumerate(letters)}
        if self.strategy == "letters":
            letters = list(LETTERS[: len(criterion.levels)])
            raw = self.model.choice_distribution(self.messages(evidence, criterion), letters)
            return {criterion.levels[i].id: raw[letter] for i, letter in enumerate(letters)}
        reach = [1.0]
        for index in range(1, len(criterion.levels)):
            yes = self.model.choice_distribution(self.threshold_messages(evidence, criterion, index), ["yes", "no"])
            reach.append(min(reach[-1], yes["yes"]))
        reach.append(0.0)
        return {level.id: max(reach[i] - reach[i + 1], 1e-6) for i, level in enumerate(criterion.levels)}

    def messages(self, evidence: str, criterion: RubricCriterion) -> list[dict[str, str]]:
        levels = "\n".join(f"{LETTERS[i]}) {lv.label} — {lv.descriptor}" for i, lv in enumerate(criterion.levels))
        examples = select_exemplars(evidence, criterion)
        exemplars = ""
        if examples:
            exemplars = "\nEXAMPLES OF EVIDENCE AT SOME LEVELS:\n" + "\n".join(
                f"{letter}) \"{text.strip()}\"" for letter, text in examples) + "\n"
        user = self.prompt.render(
            "user", criterion_title=criterion.title,
            criterion_description=criterion.description, levels=levels, exemplars=exemplars,
        )
        return self._with_evidence(evidence, user)

    def score_criterion(self, evidence: str, criterion: RubricCriterion,
                        credential: Credential | None = None) -> CriterionScore:
        raw = self.level_distribution(evidence, criterion, credential)
        total = sum(raw.values())
        by_level = calibrate({k: v / total for k, v in raw.items()}, self.temperature)
        ids = [level.id for level in criterion.levels]
        index = max(range(len(ids)), key=lambda i: (by_level[ids[i]], -i))
        level = criterion.levels[index]
        quotes = pick_quotes(evidence, criterion, index)
        rationale = f"{level.label}: {level.descriptor}"
        if quotes:
            rationale += f" The evidence says: \u201c{quotes[0][:200]}\u201d"
        return CriterionScore(criterion.id, level.id, by_level, by_level[level.id], rationale, quotes)

    def score(self, credential: Credential, evidence: str) -> RubricScore:
        started = time.perf_counter()
        criteria = [self.score_criterion(evidence, c, credential) for c in credential.rubric.criteria]
        graded_by = getattr(self.model, "label", None) or self.model.name  # http:<name>@<host> on a server
        return RubricScore(criteria, graded_by, self.prompt.id, round(time.perf_counter() - started, 3))
