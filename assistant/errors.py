"""The assistant's typed errors: one root, :class:`AssistantError` (a ``ValueError``, as it always was).

- :class:`AssistantError` itself: bad input from the learner
- ``assistant.planner.PlannerError`` and its kinds (``UnknownId``, ``ImpossibleTarget``, ``AmbiguousTarget``,
  ``NotAPathwayTarget``): a planning question that cannot be answered
"""

from __future__ import annotations


class AssistantError(ValueError):
    """Bad input from the learner; the message is safe to show. The root of every assistant error."""
