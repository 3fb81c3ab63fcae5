"""The model's side of a reading: short questions about the evidence, answered from log-probabilities.

The messages are the system prompt, the rubric (shared by every submission for the credential, so its
cache is reused across submissions), the evidence (read once per submission) and then one short question
at a time, so the cost of a question is only its own few tokens. Two kinds of question:

- ``check``: for each level above the lowest, "does the evidence clearly show everything this level asks
  for?" — P(yes) from the token log-probabilities of ``yes`` / ``no`` (decomposed yes/no checks are what
  small judges answer best);
- ``letters``: which level letter the evidence reaches, as a distribution over the letters.

The evidence sits between marker lines holding a fresh random token per reading (``secrets.token_hex``),
kept for all the questions of that reading so the model's prefix cache still works: no evidence can contain
or guess its own closing marker (a marker derived from the evidence could be computed by its author).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Literal

from grader.choice_model import ChoiceModel
from grader.engine import CriterionSpec
from prompts import Prompt, load_prompt

LETTERS = "ABCDEF"
MAX_EVIDENCE_CHARS = 6000
Questions = Literal["checks", "letters", "both"]


def render_rubric(specs: Sequence[CriterionSpec]) -> str:
    blocks = []
    for number, spec in enumerate(specs, start=1):
        levels = "\n".join(f"  {LETTERS[i]}) {lv.label}: {lv.descriptor}" for i, lv in enumerate(spec.levels))
        blocks.append(f"Criterion {number}: {spec.title}\n  {spec.description}\n{levels}")
    return "\n\n".join(blocks)


def new_marker(name: str = "EVIDENCE") -> str:
    """A fresh, unguessable boundary line for one request (64 random bits)."""
    return f"====={name}-{secrets.token_hex(8)}====="


class CheckReader:
    """Asks the model the questions of :mod:`grader.checks` (``questions``: checks, letters or both)."""

    def __init__(self, model: ChoiceModel, questions: Questions = "checks", prompt: Prompt | None = None):
        if questions not in ("checks", "letters", "both"):
            raise ValueError(f"unknown question set {questions!r}; use checks, letters or both")
        self.model = model
        self.questions = questions
        self.prompt = prompt or load_prompt("grader_checks")

    @property
    def config(self) -> dict[str, str]:
        return {"model": self.model.name, "prompt": self.prompt.id, "questions": self.questions}

    def prefix(self, title: str, specs: Sequence[CriterionSpec], evidence: str, marker: str | None = None
               ) -> list[dict[str, str]]:
        """The cached part of every question of one reading; ``marker`` defaults to a fresh random one."""
        text = evidence[:MAX_EVIDENCE_CHARS]
        marker = marker or new_marker()
        return [
            {"role": "system", "content": self.prompt.render("system")},
            {"role": "user", "content": self.prompt.render("rubric", title=title, rubric=render_rubric(specs))},
            {"role": "user", "content": self.prompt.render("evidence", evidence=text, marker=marker)},
        ]

    def read(self, title: str, specs: Sequence[CriterionSpec], evidence: str
             ) -> dict[str, tuple[list[float] | None, list[float] | None]]:
        head = self.prefix(title, specs, evidence)
        out: dict[str, tuple[list[float] | None, list[float] | None]] = {}
        for number, spec in enumerate(specs, start=1):
            checks = letters = None
            if self.questions in ("letters", "both"):
                options = list(LETTERS[: spec.n_levels])
                levels = "  ".join(f"{LETTERS[i]}) {lv.label}" for i, lv in enumerate(spec.levels))
                question = self.prompt.render("letters", number=number, criterion_title=spec.title, levels=levels)
                dist = self.model.choice_distribution([*head, {"role": "user", "content": question}], options)
                letters = [dist[o] for o in options]
            if self.questions in ("checks", "both"):
                checks = []
                for k in range(1, spec.n_levels):
                    level = spec.levels[k]
                    question = self.prompt.render("check", number=number, letter=LETTERS[k], level_label=level.label,
                                                  level_descriptor=level.descriptor)
                    dist = self.model.choice_distribution([*head, {"role": "user", "content": question}],
                                                          ["yes", "no"])
                    checks.append(dist["yes"])
            out[spec.key] = (checks, letters)
        return out
