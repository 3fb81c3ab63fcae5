"""The assistant's one public face: what channels (CLI, web, Telegram), the wiring and evals import.

Everything else in ``assistant/`` is internal and may move; import from here. Contents:

- **the service**: :class:`AssistantService` (``ask`` / ``stream`` a learner's question over the catalogue,
  holdings, plans), built on a :class:`ConversationMemory` (*forget me* across the domains is the composition
  root's: ``stackwise.forget``).
- **pydantic in/out models**: :class:`Answer`, :class:`Citation`, :class:`Event` (a streamed piece),
  :class:`Subject`, :class:`Turn`, :class:`Reading` with its :class:`Tool` and :class:`Facet`;
  :data:`PLANNER_TOOLS`.
- **for evals/**: :func:`link_entities` and :func:`candidates_for` (how a question is tied to catalogue entries).
- **errors**: the root :class:`AssistantError` and the planner's :class:`PlannerError` kinds
  (:mod:`assistant.errors`).
"""

from __future__ import annotations

from assistant.errors import AssistantError
from assistant.linking import link_entities
from assistant.memory import ConversationMemory, Subject, Turn
from assistant.planner import AmbiguousTarget, ImpossibleTarget, NotAPathwayTarget, PlannerError, UnknownId
from assistant.reading import PLANNER_TOOLS, Facet, Reading, Tool, candidates_for
from assistant.service import Answer, AssistantService, Citation, Event

__all__ = [
    # the service
    "AssistantService", "ConversationMemory",
    # pydantic in/out models
    "Answer", "Citation", "Event", "Subject", "Turn", "Reading", "Tool", "Facet", "PLANNER_TOOLS",
    # for evals/
    "link_entities", "candidates_for",
    # errors
    "AssistantError", "PlannerError", "UnknownId", "ImpossibleTarget", "AmbiguousTarget", "NotAPathwayTarget",
]
