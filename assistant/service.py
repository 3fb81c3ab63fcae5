"""The assistant's one service layer: the CLI, Gradio and Telegram adapters call only this.

A question is read deterministically first (:mod:`assistant.understanding`):

- planner questions (what is still needed, order, credit, shared credentials, cheapest route) are
  answered by :mod:`assistant.planner`, and the answer text is rendered from its result, so every
  figure equals the planner's;
- questions about a named credential's fixed facts (price, duration, ECTS, level, prerequisites,
  provider) are answered from the catalogue entry itself;
- everything else is answered by the language model from retrieved catalogue extracts, with the
  extracts' ids as citations; when retrieval finds nothing relevant, or the model says the extracts
  do not answer, the reply is "the catalogue does not say" with the nearest entries.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant import planner
from assistant.memory import ConversationMemory
from assistant.understanding import (
    PLANNER_INTENTS,
    Intent,
    Mention,
    detect_facets,
    detect_intent,
    link_entities,
    says_holding,
)
from knowledge.index import CatalogueIndex, unique_entities
from knowledge.schema import Catalogue
from knowledge.search import Hit, search
from prompts import load_prompt

MAX_QUESTION_CHARS = 2000
CONTEXT_CHUNKS = 3
CHUNK_CHARS = 600  # short prompts keep the time to first token near a second on 2 cores
# below this cosine similarity, with no catalogue entry named, a question is treated as out of catalogue
RELEVANCE_FLOOR = 0.35
REFUSAL = "The catalogue does not say."
NOT_IN_CATALOGUE = "NOT_IN_CATALOGUE"


class AssistantError(ValueError):
    """Bad input from the learner; the message is safe to show."""


class Citation(BaseModel):
    id: str
    kind: str
    title: str

    @property
    def label(self) -> str:
        return f"{self.title} ({self.id})"


class Answer(BaseModel):
    question: str
    text: str
    intent: str
    citations: list[Citation] = Field(default_factory=list)
    planner: dict[str, Any] | None = None
    refused: bool = False
    holding: list[str] = Field(default_factory=list)
    prompt_id: str | None = None
    seconds: float = 0.0


class Event(BaseModel):
    """A streamed piece of an answer: text tokens, then one final event carrying the whole answer."""

    type: Literal["token", "final"]
    text: str = ""
    answer: Answer | None = None


def _money(totals: dict[str, Decimal]) -> str:
    if not totals:
        return "nothing more to pay"
    return " + ".join(f"{currency} {amount:,.2f}".replace(".00", "") for currency, amount in sorted(totals.items()))


def _fmt(x: float) -> str:
    return f"{x:g}"


class AssistantService:
    def __init__(self, catalogue: Catalogue, index: CatalogueIndex, memory: ConversationMemory, model: Any = None,
                 *, model_loader: Any = None, max_tokens: int = 220):
        self.catalogue = catalogue
        self.index = index
        self.memory = memory
        self._model = model
        self._model_loader = model_loader
        self._model_lock = threading.Lock()
        self.max_tokens = max_tokens
        self.prompt = load_prompt("assistant_answer")

    # ------------------------------------------------------------------ public API

    @property
    def model(self) -> Any:
        with self._model_lock:
            if self._model is None:
                if self._model_loader is None:
                    raise RuntimeError("no language model configured")
                self._model = self._model_loader()
            return self._model

    def warm_up(self) -> None:
        """Load the model and embeddings and run one tiny generation, so the first learner waits less."""
        search(self.index, "warm up", k=1)
        self.model.chat([{"role": "user", "content": "Say OK."}], max_tokens=2)

    def parse_holding(self, raw: str | list[str] | None) -> list[str]:
        """Credential ids from a comma-separated string or list; unknown ids raise a clear error."""
        if raw is None:
            return []
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        ids = [item.strip() for item in items if item and item.strip()]
        unknown = [i for i in ids if i not in self.catalogue.credentials]
        if unknown:
            hint = ", ".join(sorted(self.catalogue.credentials)[:6])
            raise AssistantError(f"unknown credential id(s): {', '.join(unknown)} (ids look like: {hint}, ...)")
        return sorted(set(ids))

    def ask(self, learner_id: str, question: str, holding: list[str] | None = None) -> Answer:
        final = None
        for event in self.stream(learner_id, question, holding):
            if event.type == "final":
                final = event.answer
        assert final is not None
        return final

    def stream(self, learner_id: str, question: str, holding: list[str] | None = None) -> Iterator[Event]:
        """Answer ``question`` for ``learner_id``, yielding text as it is produced, then the answer."""
        started = time.perf_counter()
        text = self._clean(question)
        held = self._update_holding(learner_id, text, holding)
        mentions = link_entities(self.catalogue, text)
        intent = detect_intent(text)
        facets = detect_facets(text)
        names_credential_only = bool(mentions) and all(m.kind == "credential" for m in mentions)
        names_pathway = any(m.kind == "pathway" for m in mentions)
        if facets and names_credential_only and (
                intent in (Intent.info, Intent.cheapest) or (intent is Intent.order and "prerequisites" in facets)):
            intent = Intent.facts  # "how much does Data Strategy cost?" is about that credential
        elif intent is Intent.info and names_pathway and "price" in facets:
            intent = Intent.cheapest  # "how much does the AI Leadership Certificate cost?"
        if intent is Intent.info and not mentions and facets and self.memory.recent_entities(learner_id):
            intent = Intent.facts  # follow-up such as "and how long does that one take?"

        if intent in PLANNER_INTENTS:
            answer = self._planner_answer(learner_id, text, intent, mentions, held)
            yield Event(type="token", text=answer.text)
        elif intent is Intent.facts:
            answer = self._facts_answer(learner_id, text, mentions, held)
            yield Event(type="token", text=answer.text)
        else:
            answer = None
            for event in self._rag_stream(learner_id, text, mentions, held):
                if event.type == "final":
                    answer = event.answer
                else:
                    yield event
            assert answer is not None
        answer.seconds = round(time.perf_counter() - started, 3)
        self.memory.add_exchange(learner_id, text, answer.text, [c.id for c in answer.citations])
        yield Event(type="final", answer=answer)

    def plan(self, holding: list[str], target: str) -> dict[str, Any]:
        """Planner result for ``target`` given ``holding``: progress, cheapest route, credit recognition."""
        held = self.parse_holding(holding)
        if target not in self.catalogue.pathways:
            raise AssistantError(self._unknown_pathway(target))
        progress = planner.pathway_progress(self.catalogue, target, held)
        result: dict[str, Any] = {"progress": progress.model_dump(mode="json"), "route": None, "error": None}
        try:
            result["route"] = planner.cheapest_route(self.catalogue, target, held).model_dump(mode="json")
        except planner.ImpossibleTarget as exc:
            result["error"] = str(exc)
        recognitions = planner.recognised_credit(self.catalogue, target, held)
        result["recognition"] = [r.model_dump(mode="json") for r in recognitions]
        return result

    def _unknown_pathway(self, target: str) -> str:
        return f"unknown pathway {target!r}; known pathways: {', '.join(sorted(self.catalogue.pathways))}"

    def forget(self, learner_id: str) -> int:
        return self.memory.forget(learner_id)

    # ------------------------------------------------------------------ input handling

    def _clean(self, question: str) -> str:
        text = " ".join((question or "").split())
        if not text:
            raise AssistantError("Please type a question, e.g. "
                                 "'What do I still need for the AI Leadership Certificate?'")
        if len(text) > MAX_QUESTION_CHARS:
            raise AssistantError(f"That message is {len(text):,} characters long; please keep questions under "
                                 f"{MAX_QUESTION_CHARS:,} characters.")
        return text

    def _update_holding(self, learner_id: str, text: str, holding: list[str] | None) -> list[str]:
        held = set(self.memory.holding(learner_id))
        changed = False
        if holding:
            held |= set(self.parse_holding(holding))
            changed = True
        if says_holding(text):
            stated = {m.entity_id for m in link_entities(self.catalogue, text) if m.kind == "credential"}
            # a credential named after "for"/"towards" is a target, not a holding; keep it simple: only credentials
            if stated - held:
                held |= stated
                changed = True
        if changed:
            self.memory.set_holding(learner_id, sorted(held))
        return sorted(held)

    # ------------------------------------------------------------------ citations

    def _citation(self, entity_id: str) -> Citation | None:
        if entity_id in self.catalogue.credentials:
            return Citation(id=entity_id, kind="credential", title=self.catalogue.credentials[entity_id].title)
        if entity_id in self.catalogue.pathways:
            return Citation(id=entity_id, kind="pathway", title=self.catalogue.pathways[entity_id].title)
        if entity_id in self.catalogue.providers:
            return Citation(id=entity_id, kind="provider", title=self.catalogue.providers[entity_id].name)
        return None

    def _citations(self, ids: list[str]) -> list[Citation]:
        return [c for c in (self._citation(i) for i in unique_entities(ids)) if c is not None]

    def _title(self, cid: str) -> str:
        return self.catalogue.credentials[cid].title

    # ------------------------------------------------------------------ planner answers

    def _target_pathway(self, learner_id: str, mentions: list[Mention]) -> str | None:
        for mention in mentions:
            if mention.kind == "pathway":
                return mention.entity_id
        for entity in self.memory.recent_entities(learner_id):
            if entity in self.catalogue.pathways:
                return entity
        return None

    def plan_answer(self, holding: list[str], target: str) -> Answer:
        """The progress answer for ``target`` as text, without touching any learner's memory."""
        held = self.parse_holding(holding)
        if target not in self.catalogue.pathways:
            raise AssistantError(self._unknown_pathway(target))
        return self._planner_answer("", f"What do I still need for {target}?", Intent.progress, [], held, target)

    def _planner_answer(self, learner_id: str, text: str, intent: Intent, mentions: list[Mention],
                        held: list[str], target: str | None = None) -> Answer:
        if intent is Intent.shared:
            shared = planner.shared_credentials(self.catalogue)
            lines = [f"{len(shared)} credentials count towards more than one pathway:"]
            for cid, paths in shared.items():
                names = ", ".join(self.catalogue.pathways[p].title for p in paths)
                lines.append(f"- {self._title(cid)} ({cid}): {len(paths)} pathways — {names}")
            return Answer(question=text, text="\n".join(lines), intent=intent.value, holding=held,
                          citations=self._citations(list(shared)), planner={"shared": shared})

        target = target or self._target_pathway(learner_id, mentions)
        if target is None:
            options = ", ".join(f"{p.title} ({p.id})" for p in self.catalogue.pathways.values())
            return Answer(question=text, intent=intent.value, holding=held,
                          text=f"Which pathway do you mean? The catalogue has: {options}.",
                          citations=self._citations(list(self.catalogue.pathways)))
        pathway = self.catalogue.pathways[target]
        result = self.plan(held, target)
        progress = planner.PathwayProgress.model_validate(result["progress"])
        route = planner.Route.model_validate(result["route"]) if result["route"] else None
        held_note = (f"You hold: {', '.join(f'{self._title(c)} ({c})' for c in held)}." if held
                     else "You have not told me about any credentials you hold yet.")
        lines: list[str] = []
        if intent is Intent.progress:
            if progress.complete:
                lines.append(f"You have completed the {pathway.title}. {held_note}")
            else:
                lines.append(f"For the {pathway.title}: {held_note}")
                for rule, spec in zip(progress.rules, pathway.requirements, strict=True):
                    mark = "met" if rule.satisfied else f"still needed: {self._names(rule.still_needed)}"
                    lines.append(f"- {spec.label or rule.description} → {mark}")
                if route:
                    lines.append(self._route_sentence(route, "The cheapest way to finish"))
        elif intent is Intent.cheapest:
            if route is None:
                lines.append(f"The {pathway.title} cannot be completed: {result['error']}")
            else:
                lines.append(self._route_sentence(route, f"The cheapest route to the {pathway.title}"))
        elif intent is Intent.fastest:
            if route is None:
                lines.append(f"The {pathway.title} cannot be completed: {result['error']}")
            else:
                route = planner.cheapest_route(self.catalogue, target, held, objective="time")
                lines.append(self._route_sentence(route, f"The fastest route to the {pathway.title}"))
        elif intent is Intent.order:
            if route is None:
                lines.append(f"No valid order exists: {result['error']}")
            elif not route.steps:
                lines.append(f"You already meet every requirement of the {pathway.title}.")
            else:
                lines.append(f"A study order for the {pathway.title} that respects every prerequisite:")
                for n, step in enumerate(route.steps, 1):
                    pre = self.catalogue.credentials[step.credential_id].prerequisites
                    after = f" (after {', '.join(pre)})" if pre else ""
                    lines.append(f"{n}. {step.title} ({step.credential_id}){after}")
        elif intent is Intent.credit:
            recognitions = [planner.Recognition.model_validate(r) for r in result["recognition"]]
            if not recognitions:
                lines.append(f"The catalogue lists no credit recognition for the {pathway.title}.")
            for rec in recognitions:
                scope = (f"for {', '.join(self._title(c) for c in rec.requires)}" if rec.requires
                         else f"for completing the {pathway.title}")
                state = "you have earned this" if rec.earned else "not yet earned"
                lines.append(f"- {rec.recognised_by_name} recognises {_fmt(rec.ects)} ECTS towards {rec.towards} "
                             f"{scope} ({state}).")
            lines.append("Credentials you hold that count towards the pathway: "
                         f"{_fmt(progress.ects_held_towards)} ECTS.")
        cited = [target, *[s.credential_id for s in (route.steps if route else [])]]
        return Answer(question=text, text="\n".join(lines), intent=intent.value, holding=held,
                      citations=self._citations(cited), planner=result)

    def _names(self, still_needed: str | None) -> str:
        if not still_needed:
            return ""
        return re.sub(r"[a-z0-9]+(?:-[a-z0-9]+)+",
                      lambda m: f"{self._title(m[0])} ({m[0]})" if m[0] in self.catalogue.credentials else m[0],
                      still_needed)

    def _route_sentence(self, route: planner.Route, lead: str) -> str:
        if not route.steps:
            return f"{lead}: nothing more is needed."
        names = ", ".join(f"{s.title} ({s.credential_id})" for s in route.steps)
        text = (f"{lead} takes {len(route.steps)} more credential(s): {names}. Total {_money(route.total_price)}, "
                f"{_fmt(route.total_ects)} ECTS, {route.total_weeks} weeks of study "
                f"(about {_fmt(round(route.total_hours))} hours) if taken one after another.")
        if route.mixed_currencies:
            text += " Prices are in different currencies and are not converted."
        return text

    # ------------------------------------------------------------------ facts answers

    def _facts_answer(self, learner_id: str, text: str, mentions: list[Mention], held: list[str]) -> Answer:
        ids = [m.entity_id for m in mentions if m.kind == "credential"] or [
            e for e in self.memory.recent_entities(learner_id) if e in self.catalogue.credentials][:1]
        if not ids:
            return self._refusal(text, held, Intent.facts)
        facets = detect_facets(text) or ["price", "duration", "ects"]
        lines = []
        for cid in ids[:3]:
            c = self.catalogue.credentials[cid]
            parts = []
            if "price" in facets:
                parts.append("is free" if not c.price.amount else f"costs {c.price.currency} {c.price.amount:,}")
            if "duration" in facets:
                parts.append(f"takes {c.duration.weeks} weeks at about {_fmt(c.duration.hours_per_week)} hours a week "
                             f"({_fmt(round(c.duration.total_hours))} hours)")
            if "ects" in facets:
                parts.append(f"carries {_fmt(c.ects)} ECTS")
            if "eqf" in facets:
                parts.append(f"is at EQF level {c.eqf_level}")
            if "prerequisites" in facets:
                parts.append("requires " + ", ".join(f"{self._title(p)} ({p})" for p in c.prerequisites)
                             if c.prerequisites else "has no prerequisites")
            if "provider" in facets:
                parts.append(f"is awarded by {self.catalogue.providers[c.awarding_body].name}")
            if "assessment" in facets:
                parts.append(f"is assessed by {c.assessment_type.value.replace('_', ' ')} assessment against a "
                             f"{len(c.rubric.criteria)}-criterion rubric")
            lines.append(f"{c.title} ({cid}) " + "; ".join(parts) + ".")
        return Answer(question=text, text="\n".join(lines), intent=Intent.facts.value, holding=held,
                      citations=self._citations(ids[:3]))

    # ------------------------------------------------------------------ retrieval-augmented answers

    def _refusal(self, text: str, held: list[str], intent: Intent, hits: list[Hit] | None = None) -> Answer:
        hits = hits if hits is not None else search(self.index, text, k=6)
        nearest = self._citations([h.entity_id for h in hits])[:3]
        reply = REFUSAL
        if nearest:
            reply += " The nearest catalogue entries are: " + "; ".join(c.label for c in nearest) + "."
        return Answer(question=text, text=reply, intent=intent.value, refused=True, citations=nearest, holding=held)

    def _rag_stream(self, learner_id: str, text: str, mentions: list[Mention], held: list[str]) -> Iterator[Event]:
        query = text
        if not mentions:
            recent = self.memory.recent_entities(learner_id)[:1]
            query = " ".join([text, *(self._citation(e).title for e in recent if self._citation(e))])
        hits = search(self.index, query, k=8)
        best_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
        if not mentions and best_dense < RELEVANCE_FLOOR:
            yield Event(type="final", answer=self._refusal(text, held, Intent.info, hits))
            return
        named = {m.entity_id for m in mentions}
        ordered = sorted(hits, key=lambda h: (h.entity_id not in named,))[:CONTEXT_CHUNKS]
        context = "\n\n".join(f"[{h.entity_id}] {h.text[:CHUNK_CHARS]}" for h in ordered)
        messages: list[dict[str, str]] = [{"role": "system", "content": self.prompt.render("system")}]
        for turn in self.memory.history(learner_id)[-2:]:
            messages.append({"role": turn.role, "content": turn.content[:200]})
        messages.append({"role": "user", "content": self.prompt.render("user", context=context, question=text)})

        pieces: list[str] = []
        buffered = ""
        decided = False
        for piece in self.model.stream_chat(messages, max_tokens=self.max_tokens, temperature=0.0):
            pieces.append(piece)
            if decided:
                yield Event(type="token", text=piece)
                continue
            buffered += piece
            stripped = buffered.lstrip()
            if NOT_IN_CATALOGUE.startswith(stripped[: len(NOT_IN_CATALOGUE)]) and len(stripped) < len(NOT_IN_CATALOGUE):
                continue  # might still become the refusal marker: hold it back
            decided = True
            if stripped.startswith(NOT_IN_CATALOGUE):
                break
            yield Event(type="token", text=buffered)
        reply = "".join(pieces).strip()
        if not reply or reply.startswith(NOT_IN_CATALOGUE):
            yield Event(type="final", answer=self._refusal(text, held, Intent.info, hits))
            return
        if not decided:
            yield Event(type="token", text=buffered)
        context_ids = unique_entities(h.entity_id for h in ordered)
        cited = [i for i in re.findall(r"\[([a-z0-9-]+)\]", reply) if i in context_ids]
        cited += [m.entity_id for m in link_entities(self.catalogue, reply) if m.entity_id in context_ids]
        if not cited:
            cited = context_ids[:2]
        yield Event(type="final", answer=Answer(
            question=text, text=reply, intent=Intent.info.value, holding=held, citations=self._citations(cited),
            prompt_id=self.prompt.id,
        ))
