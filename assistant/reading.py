"""A learner's question read into a small form: which tool answers it, about what, what they hold.

Two readers fill the same :class:`Reading`:

- :func:`read_by_rules` (:mod:`assistant.understanding`) — phrase rules and entity linking; instant, and it
  says whether it is *certain* (English, every name matched exactly, one clear intent, no holding or
  negation to interpret);
- :class:`ModelReader` — the bundled model fills the form as grammar-constrained JSON (the schema is
  compiled to a llama.cpp grammar, so the reply always parses), choosing among handles of the catalogue
  entries the question may mean; the handles are then mapped back to catalogue ids.

:class:`QuestionReader` combines them: ``rules`` and ``model`` use one reader alone, ``hybrid`` (the
default) keeps the rules' reading when it is certain and asks the model otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from assistant.linking import Mention
from knowledge.schema import Catalogue
from prompts import load_prompt

log = logging.getLogger(__name__)

MAX_CANDIDATES = 8
READ_MAX_TOKENS = 96


class Tool(StrEnum):
    facts = "facts"
    prerequisites = "prerequisites"
    required_by = "required_by"
    can_enrol = "can_enrol"
    still_needed = "still_needed"
    cheapest = "cheapest"
    fastest = "fastest"
    order = "order"
    credit = "credit"
    shared = "shared"
    provider = "provider"
    compare = "compare"
    search = "search"
    off_topic = "off_topic"


PLANNER_TOOLS = frozenset({Tool.prerequisites, Tool.required_by, Tool.can_enrol, Tool.still_needed, Tool.cheapest,
                           Tool.fastest, Tool.order, Tool.credit, Tool.shared, Tool.compare})


class Facet(StrEnum):
    price = "price"
    ects = "ects"
    eqf = "eqf"
    duration = "duration"
    provider = "provider"
    country = "country"
    prerequisites = "prerequisites"
    language = "language"
    assessment = "assessment"
    delivery = "delivery"


class Reading(BaseModel):
    """What the question asks, with every entry as a catalogue id."""

    tool: Tool
    about: list[str] = Field(default_factory=list, description="ids the question is about (its targets)")
    held: list[str] = Field(default_factory=list, description="credential ids stated as held in this message")
    not_held: list[str] = Field(default_factory=list, description="credential ids stated as NOT held (corrections)")
    none_held: bool = False
    unknown_named: bool = Field(default=False, description="names a credential that is not in the catalogue")
    facets: list[Facet] = Field(default_factory=list)
    language: str = "en"
    followup: bool = False
    source: Literal["rules", "model"] = "rules"
    certain: bool = True
    seconds: float = 0.0


class _Form(BaseModel):
    """The model's reply, before handles are mapped to ids."""

    tool: Tool
    about: list[str] = Field(default_factory=list)
    held: list[str] = Field(default_factory=list)
    none_held: bool = False
    facets: list[Facet] = Field(default_factory=list)
    lang: Literal["en", "de", "fr", "es", "other"] = "en"


def _form_schema(handles: Sequence[str]) -> dict[str, Any]:
    item = {"enum": [*handles, "X"]}
    return {
        "type": "object",
        "properties": {
            "tool": {"enum": [t.value for t in Tool]},
            "about": {"type": "array", "items": item, "maxItems": 3},
            "held": {"type": "array", "items": item, "maxItems": 6},
            "none_held": {"type": "boolean"},
            "facets": {"type": "array", "items": {"enum": [f.value for f in Facet]}, "maxItems": 4},
            "lang": {"enum": ["en", "de", "fr", "es", "other"]},
        },
        "required": ["tool", "about", "held", "none_held", "facets", "lang"],
    }


class Candidates(BaseModel):
    """The entries shown to the model, each under a short handle."""

    handles: dict[str, str]  # handle -> catalogue id

    def ids(self, handles: Sequence[str]) -> list[str]:
        out: list[str] = []
        for h in handles:
            cid = self.handles.get(h)
            if cid is not None and cid not in out:
                out.append(cid)
        return out


def candidates_for(catalogue: Catalogue, mentions: Sequence[Mention], extra: Sequence[str] = ()) -> Candidates:
    """Handles for the entries the question names (and ``extra`` ids, e.g. nearest search hits), with the
    credential each pathway earns and the pathway each named certificate completes."""
    ids: list[str] = []

    def add(entity_id: str) -> None:
        if entity_id not in ids and (entity_id in catalogue.credentials or entity_id in catalogue.pathways
                                     or entity_id in catalogue.providers):
            ids.append(entity_id)

    for m in mentions:
        add(m.entity_id)
    for e in extra:
        add(e)
    for entity_id in list(ids):
        if entity_id in catalogue.pathways and catalogue.pathways[entity_id].destination:
            add(catalogue.pathways[entity_id].destination or "")
        for p in catalogue.pathways.values():
            if p.destination == entity_id:
                add(p.id)
    ids = ids[:MAX_CANDIDATES]
    handles: dict[str, str] = {}
    counts = {"C": 0, "P": 0, "O": 0}
    for entity_id in ids:
        letter = "P" if entity_id in catalogue.pathways else "O" if entity_id in catalogue.providers else "C"
        counts[letter] += 1
        handles[f"{letter}{counts[letter]}"] = entity_id
    return Candidates(handles=handles)


def _entry_line(catalogue: Catalogue, handle: str, entity_id: str, handle_of: dict[str, str]) -> str:
    if entity_id in catalogue.providers:
        return f"{handle} {catalogue.providers[entity_id].name} (provider)"
    if entity_id in catalogue.pathways:
        p = catalogue.pathways[entity_id]
        earns = f", earns {handle_of[p.destination]}" if p.destination and p.destination in handle_of else ""
        return f"{handle} {p.title} (pathway{earns})"
    c = catalogue.credentials[entity_id]
    codes = [a for a in c.aliases if not a.startswith("ce-")][:2]
    code = f", code {', '.join(codes)}" if codes else ""
    return f"{handle} {c.title} (credential{code})"


class ModelReader:
    """The bundled model reads the question into the form, as grammar-constrained JSON."""

    def __init__(self, model_provider: Any, catalogue: Catalogue):
        self._model_provider = model_provider  # a callable returning the loaded TextModel
        self.catalogue = catalogue
        self.prompt = load_prompt("assistant_read")

    def messages(self, question: str, candidates: Candidates, previous: str = "") -> list[dict[str, str]]:
        handle_of = {cid: h for h, cid in candidates.handles.items()}
        lines = [_entry_line(self.catalogue, h, cid, handle_of) for h, cid in candidates.handles.items()]
        user = self.prompt.render("user", entries="\n".join(lines) or "(none)",
                                  previous=f"Previous answer: {previous}\n" if previous else "", question=question)
        return [{"role": "system", "content": self.prompt.parts["system"]}, {"role": "user", "content": user}]

    def read(self, question: str, candidates: Candidates, previous: str = "") -> Reading | None:
        """The model's reading, or None when its reply does not fit the form (the caller keeps the rules')."""
        model = self._model_provider()
        raw = model.chat(self.messages(question, candidates, previous), max_tokens=READ_MAX_TOKENS,
                         temperature=0.0, json_schema=_form_schema(list(candidates.handles)))
        try:
            form = _Form.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            log.warning("question reader: reply does not fit the form (%s): %r", exc.__class__.__name__, raw[:200])
            return None
        held = [cid for cid in candidates.ids(form.held) if cid in self.catalogue.credentials]
        about = candidates.ids(form.about)
        return Reading(tool=form.tool, about=about, held=held, none_held=form.none_held,
                       unknown_named="X" in form.about and not about, facets=list(dict.fromkeys(form.facets)),
                       language=form.lang if form.lang != "other" else "en", source="model", certain=True)
