"""What the grader needs of a language model: a name and a probability per option (one definition for the
rubric checks, the legacy scorers, the injection judge and the short-answer model)."""

from __future__ import annotations

from typing import Protocol


class ChoiceModel(Protocol):
    """A model that names itself and, given chat ``messages``, returns P(option) for each of ``options``."""

    name: str

    def choice_distribution(self, messages: list[dict[str, str]], options: list[str]) -> dict[str, float]: ...
