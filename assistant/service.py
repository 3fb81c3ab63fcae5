"""The assistant's one service layer: the CLI, Gradio and Telegram adapters call only this.

A question is first *read* into a :class:`~assistant.reading.Reading` — which tool answers it, about which
catalogue entries, what the learner states they hold — by phrase rules when they are certain, by the bundled
model (grammar-constrained JSON) otherwise (:mod:`assistant.reading`, :mod:`assistant.understanding`).
Then:

- structured questions (prerequisites, what requires X, can I enrol, what is still needed, cheapest and
  fastest routes, credit, provider facts, comparisons, a credential's fixed facts) are answered by one tool
  each (:mod:`assistant.tools` over :mod:`assistant.planner`): the reply's figures are the planner's;
- everything else is answered by the language model from retrieved catalogue extracts, with the extracts'
  ids as citations; when retrieval finds nothing relevant, or the model says the extracts do not answer,
  the reply is "the catalogue does not say" with the nearest entries.

Holdings change only when the learner states them in the message (or passes them explicitly); the reply
says what was recorded. Follow-ups ("and how long does that take?") resolve against the previous answer's
subject (a route, a credential, a list). A question in German, French or Spanish gets the tool's answer
translated by the model, which must keep every figure: otherwise the English answer is given.

Why one module (~570 lines): it is the assistant's one orchestration of a turn (read, holdings, tool or retrieval,
translation, memory); its steps are small private methods over the same state, and the work itself lives in reading,
understanding, tools and planner.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant import planner
from assistant.errors import AssistantError
from assistant.language import LANGUAGE_NAMES
from assistant.linking import Mention, link_entities, resolve
from assistant.memory import ConversationMemory, Subject
from assistant.reading import Facet, ModelReader, Reading, Tool, candidates_for
from assistant.tools import ToolAnswer, Tools
from assistant.understanding import read_by_rules
from knowledge.index import CatalogueIndex, unique_entities
from knowledge.schema import Catalogue
from knowledge.search import Hit, search
from prompts import load_prompt

MAX_QUESTION_CHARS = 2000
CONTEXT_CHUNKS = 3
CHUNK_CHARS = 600  # short prompts keep the time to first token near a second on 2 cores
# below this cosine similarity, with no catalogue entry named, a question is treated as out of catalogue
RELEVANCE_FLOOR = 0.35
CANDIDATE_FUZZY = 75.0  # names this close to the question's words are shown to the model reader
CANDIDATE_DENSE = 0.45  # and entries this close in meaning (MiniLM cosine)
REFUSAL = "The catalogue does not say."
REFUSALS = {"en": REFUSAL, "de": "Dazu sagt der Katalog nichts.", "fr": "Le catalogue ne le dit pas.",
            "es": "El catálogo no lo dice."}
NEAREST = {"en": "The nearest catalogue entries are", "de": "Die nächsten Einträge im Katalog sind",
           "fr": "Les entrées les plus proches du catalogue sont", "es": "Las entradas más cercanas del catálogo son"}
NOT_IN_CATALOGUE = "NOT_IN_CATALOGUE"
ReaderMode = Literal["rules", "model", "hybrid"]
_ROUTE_FACETS = {Facet.duration, Facet.price, Facet.ects}
_NEEDS_TARGET = {Tool.facts, Tool.prerequisites, Tool.required_by, Tool.can_enrol, Tool.compare, Tool.provider}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


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
    intent: str  # the tool that answered ("search" = the language model from retrieved extracts)
    citations: list[Citation] = Field(default_factory=list)
    planner: dict[str, Any] | None = None
    refused: bool = False
    holding: list[str] = Field(default_factory=list)
    recorded: list[str] = Field(default_factory=list, description="credentials recorded as held from this message")
    removed: list[str] = Field(default_factory=list, description="credentials removed from the holdings")
    reading: dict[str, Any] | None = None
    language: str = "en"
    prompt_id: str | None = None
    seconds: float = 0.0


class Event(BaseModel):
    """A streamed piece of an answer: text tokens, then one final event carrying the whole answer."""

    type: Literal["token", "final"]
    text: str = ""
    answer: Answer | None = None


def _figures(text: str) -> list[str]:
    return [n.replace(",", "").replace(".", "") for n in _NUMBER.findall(text)]


def keeps_figures(original: str, translated: str) -> bool:
    """Every number of ``original`` appears in ``translated`` (thousands separators aside)."""
    return set(_figures(original)) <= set(_figures(translated))


class AssistantService:
    def __init__(self, catalogue: Catalogue, index: CatalogueIndex, memory: ConversationMemory, model: Any = None,
                 *, model_loader: Any = None, max_tokens: int = 220, reader: ReaderMode = "hybrid"):
        self.catalogue = catalogue
        self.index = index
        self.memory = memory
        self._model = model
        self._model_loader = model_loader
        self._model_lock = threading.Lock()
        self.max_tokens = max_tokens
        self.reader_mode: ReaderMode = reader
        self.prompt = load_prompt("assistant_answer")
        self.translate_prompt = load_prompt("assistant_translate")
        self.tools = Tools(catalogue)
        # every name a translation must keep, longest first ("Title (id)" before "Title")
        self._names_longest_first = sorted({
            *(f"{c.title} ({cid})" for cid, c in catalogue.credentials.items()),
            *(f"{p.title} ({pid})" for pid, p in catalogue.pathways.items()),
            *(c.title for c in catalogue.credentials.values()), *(p.title for p in catalogue.pathways.values()),
            *(v.name for v in catalogue.providers.values())}, key=len, reverse=True)
        self.model_reader = ModelReader(lambda: self.model, catalogue)

    # ------------------------------------------------------------------ public API

    @property
    def model(self) -> Any:
        with self._model_lock:
            if self._model is None:
                if self._model_loader is None:
                    raise RuntimeError("no language model configured")
                self._model = self._model_loader()
            return self._model

    @property
    def has_model(self) -> bool:
        return self._model is not None or self._model_loader is not None

    def warm_up(self) -> None:
        """Load the model and embeddings and fill the model's cache with the reader's instructions, so the
        first learner waits less."""
        search(self.index, "warm up", k=1)
        self.model.chat([{"role": "user", "content": "Say OK."}], max_tokens=2)
        self.model_reader.read("warm up", candidates_for(self.catalogue, []))

    def parse_holding(self, raw: str | list[str] | None) -> list[str]:
        """Credential ids from ids, titles, provider codes or CTDL ctids (comma-separated or a list); unknown
        ones raise a clear error."""
        if raw is None:
            return []
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        refs = [item.strip() for item in items if item and item.strip()]
        ids, unknown = [], []
        for ref in refs:
            cid = resolve(self.catalogue, ref, kinds=("credential",))
            (ids if cid else unknown).append(cid or ref)
        if unknown:
            hint = ", ".join(sorted(self.catalogue.credentials)[:6])
            raise AssistantError(f"unknown credential(s): {', '.join(unknown)} (give an id, title or code, e.g. "
                                 f"{hint}, ...)")
        return sorted(set(ids))

    def ask(self, learner_id: str, question: str, holding: list[str] | None = None) -> Answer:
        final = None
        for event in self.stream(learner_id, question, holding):
            if event.type == "final":
                final = event.answer
        assert final is not None
        return final

    def read(self, text: str, previous: Subject | None = None) -> tuple[Reading, list[Mention]]:
        """How the question is read, by the configured reader (see :mod:`assistant.reading`)."""
        started = time.perf_counter()
        rules, mentions = read_by_rules(self.catalogue, text, has_previous=previous is not None)
        if self.reader_mode == "rules" or not self.has_model or (self.reader_mode == "hybrid" and rules.certain):
            rules.seconds = round(time.perf_counter() - started, 3)
            return rules, mentions
        # loosely spelt names too (the model tells a typo from a different credential), and the previous subject
        named = [m.entity_id for m in link_entities(self.catalogue, text, fuzzy_threshold=CANDIDATE_FUZZY,
                                                    kinds=("credential", "pathway", "provider"))]
        extra = named + [h.entity_id for h in search(self.index, text, k=6)
                         if (h.dense_score or 0.0) >= CANDIDATE_DENSE][:3]
        if previous is not None:
            extra = [*extra, *previous.ids[:2]]
        candidates = candidates_for(self.catalogue, mentions, extra)
        described = self._describe(previous)
        reading = self.model_reader.read(text, candidates, described)
        if reading is None:
            return rules, mentions
        # where the rules found a statement of holdings (a clause after "I hold", "ich habe ... abgeschlossen")
        # they decide what is held; the model's list is used only when the rules found none
        if rules.held or rules.not_held:
            reading.held = list(rules.held)
        reading.held = [c for c in reading.held if c not in rules.not_held]
        reading.not_held = list(rules.not_held)
        # entries the question names exactly stay among its targets, whatever the model picked
        exact = [m.entity_id for m in mentions
                 if m.exact and m.entity_id in rules.about and m.entity_id not in reading.held]
        reading.about = list(dict.fromkeys([*reading.about, *exact]))
        if reading.tool is Tool.shared and rules.tool is not Tool.shared:
            reading.tool = Tool.search  # a rare question with its own words: the model alone is not trusted with it
        if reading.tool in _NEEDS_TARGET and not reading.about and previous is None:
            reading.tool = Tool.search
        # a tool computes on what the learner named (or the previous answer's subject); an entry that only
        # resembles the question's topic ("anything on dashboards?") is a search, not a tool's target
        spoken = {*named, *(m.entity_id for m in mentions), *(previous.ids if previous is not None else [])}
        if reading.tool in _NEEDS_TARGET and reading.about and not spoken & set(reading.about):
            reading.tool = Tool.search
        if rules.none_held:
            reading.none_held = True
        if rules.language != "en":
            reading.language = rules.language  # two or more function words of one language outvote the model
        reading.followup = not reading.about and previous is not None
        reading.seconds = round(time.perf_counter() - started, 3)
        return reading, mentions

    def stream(self, learner_id: str, question: str, holding: list[str] | None = None) -> Iterator[Event]:
        """Answer ``question`` for ``learner_id``, yielding text as it is produced, then the answer."""
        started = time.perf_counter()
        text = self._clean(question)
        previous = self.memory.subject(learner_id)
        reading, mentions = self.read(text, previous)
        reading = self._resolve_followup(reading, previous)
        held, recorded, removed = self._update_holding(learner_id, reading, holding)
        basis = [] if reading.none_held else held

        if reading.tool is Tool.facts and not reading.facets and not reading.followup:
            reading = reading.model_copy(update={"tool": Tool.search})  # "what do I learn in X?"
        answer: Answer | None = None
        result = None if reading.tool is Tool.search else self._tool_answer(reading, basis)
        streamed = False
        # a structured question about a credential the catalogue does not have is refused; a topic search is not
        if reading.tool is Tool.off_topic or (reading.unknown_named and not reading.about
                                              and reading.tool is not Tool.search):
            answer = self._refusal(text, held, reading)
        elif result is not None:
            streamed = True
            answer = Answer(question=text, text=result.text, intent=reading.tool.value, holding=held,
                            citations=self._citations(result.cited), planner=result.planner, refused=result.refused)
            if reading.language != "en" and reading.language in LANGUAGE_NAMES and self.has_model:
                for event in self._translated(answer, reading.language):
                    if event.type == "final":
                        answer = event.answer
                    else:
                        yield event
            else:
                yield Event(type="token", text=answer.text)
            self.memory.set_subject(learner_id, result.subject)
        if answer is None:
            # another language: the small model answers the English question from the extracts, and that answer
            # is translated like a tool's (names masked, figures checked)
            translate = reading.language != "en" and reading.language in LANGUAGE_NAMES and self.has_model
            for event in self._rag_stream(learner_id, text, mentions, held, reading):
                if event.type == "final":
                    answer = event.answer
                elif not translate:
                    yield event
            assert answer is not None
            if translate and not answer.refused:
                streamed = True
                for event in self._translated(answer, reading.language):
                    if event.type == "final":
                        answer = event.answer
                    else:
                        yield event
            elif translate:
                answer = self._refusal(text, held, reading)
            if not answer.refused:
                about = [c.id for c in answer.citations if c.kind == "credential"][:1]
                if about:
                    self.memory.set_subject(learner_id, Subject(kind="credential", tool=Tool.search.value, ids=about))
        if answer.refused and not streamed:
            yield Event(type="token", text=answer.text)  # every channel shows a refusal as it shows an answer
        note = self._holding_note(recorded, removed)
        if note:
            answer.text = f"{answer.text}\n\n{note}"
            yield Event(type="token", text=f"\n\n{note}")
        answer.recorded, answer.removed, answer.language = recorded, removed, reading.language
        answer.reading = reading.model_dump(mode="json")
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

    def plan_answer(self, holding: list[str], target: str) -> Answer:
        """The progress answer for ``target`` as text, without touching any learner's memory."""
        held = self.parse_holding(holding)
        if target not in self.catalogue.pathways:
            raise AssistantError(self._unknown_pathway(target))
        reading = Reading(tool=Tool.still_needed, about=[target])
        result = self.tools.still_needed(reading, held)
        assert result is not None
        return Answer(question=f"What do I still need for {target}?", text=result.text, intent=Tool.still_needed.value,
                      holding=held, citations=self._citations(result.cited), planner=result.planner)

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

    def _update_holding(self, learner_id: str, reading: Reading,
                        holding: list[str] | None) -> tuple[list[str], list[str], list[str]]:
        """(holdings after this message, recorded from its text, removed by its text)."""
        before = set(self.memory.holding(learner_id))
        held = set(before)
        if holding:
            held |= set(self.parse_holding(holding))
        recorded = sorted(c for c in reading.held if c in self.catalogue.credentials and c not in held)
        held |= set(recorded)
        removed = sorted(c for c in reading.not_held if c in held)
        held -= set(removed)
        if held != before:
            self.memory.set_holding(learner_id, sorted(held))
        return sorted(held), recorded, removed

    def _holding_note(self, recorded: list[str], removed: list[str]) -> str:
        parts = []
        if recorded:
            parts.append(f"Noted: you hold {self.tools.names(recorded)}.")
        if removed:
            parts.append(f"Noted: you do not hold {self.tools.names(removed)}.")
        if parts:
            parts.append("If that is wrong, tell me (for example \u201cI don't hold …\u201d).")
        return " ".join(parts)

    def _describe(self, subject: Subject | None) -> str:
        if subject is None or not subject.ids:
            return ""
        names = ", ".join(self.tools.title(i) for i in subject.ids[:3])
        if subject.kind == "route":
            return f"{'fastest' if subject.objective == 'time' else 'cheapest'} route to {names}"
        return f"{subject.tool} about {names}"

    def _resolve_followup(self, reading: Reading, previous: Subject | None) -> Reading:
        """A question that names nothing is about the previous answer's subject."""
        if reading.about or previous is None or not previous.ids or reading.tool in (Tool.off_topic, Tool.shared):
            return reading
        if previous.kind == "list" and reading.tool in (Tool.cheapest, Tool.fastest):
            return reading.model_copy(update={"about": previous.ids[:12], "followup": True})
        if previous.kind == "route" and (reading.tool in (Tool.cheapest, Tool.fastest, Tool.still_needed)
                                         or set(reading.facets) & _ROUTE_FACETS):
            tool = reading.tool if reading.tool in (Tool.cheapest, Tool.fastest) else (
                Tool.fastest if previous.objective == "time" else Tool.cheapest)
            return reading.model_copy(update={"tool": tool, "about": previous.ids[:1], "followup": True})
        if reading.tool is Tool.search and reading.facets:
            return reading.model_copy(update={"tool": Tool.facts, "about": previous.ids[:1], "followup": True})
        if reading.tool is not Tool.search:
            return reading.model_copy(update={"about": previous.ids[:2], "followup": True})
        return reading

    # ------------------------------------------------------------------ tools

    def _tool_answer(self, reading: Reading, held: list[str]) -> ToolAnswer | None:
        t, tools = reading.tool, self.tools
        try:
            if t is Tool.facts:
                named_pathway = any(e in self.catalogue.pathways for e in reading.about)
                if named_pathway and Facet.price in reading.facets and not any(
                        e in self.catalogue.credentials for e in reading.about):
                    return tools.route(reading, held, "price")
                return tools.facts(reading)
            if t is Tool.provider:
                return tools.provider(reading) or tools.facts(reading)
            if t is Tool.prerequisites:
                return tools.prerequisites(reading)
            if t is Tool.required_by:
                return tools.required_by(reading)
            if t is Tool.can_enrol:
                return tools.can_enrol(reading, held)
            if t is Tool.compare:
                return tools.compare(reading) or tools.facts(reading)
            if t is Tool.credit:
                return tools.credit(reading, held)
            if t is Tool.shared:
                return tools.shared()
            if t in (Tool.cheapest, Tool.fastest):
                objective = "price" if t is Tool.cheapest else "time"
                if reading.followup and len(tools.credentials_of(reading)) > 1 and tools.pathway_of(reading) is None:
                    return tools.cheapest_of(tools.credentials_of(reading), objective)  # "which of those ..."
                return tools.route(reading, held, objective)
            if t is Tool.order:
                return tools.order(reading, held) or tools.which_pathway()
            if t is Tool.still_needed:
                answer = tools.still_needed(reading, held)
                if answer is None and tools.credentials_of(reading):
                    return tools.can_enrol(reading, held)
                return answer or tools.which_pathway()
        except planner.PlannerError as exc:
            return ToolAnswer(text=str(exc), cited=reading.about)
        return None

    def _to_english(self, text: str) -> str:
        """``text`` (a learner's question) in English, catalogue names kept as written."""
        protected, markers = self._protected(text)
        messages = [{"role": "system", "content": self.translate_prompt.render("system", language="English")},
                    {"role": "user", "content": protected}]
        english = self.model.chat(messages, max_tokens=120, temperature=0.0).strip()
        if not english or any(marker not in english for marker in markers):
            english = f"{text} {english}".strip()  # a marker lost: keep the original words beside the translation
        for marker, name in markers.items():
            english = english.replace(marker, name)
        return english

    def _protected(self, text: str) -> tuple[str, dict[str, str]]:
        """``text`` with every catalogue name (and its id) replaced by a marker such as [[1]], so a translation
        cannot rename a credential; the markers and what they stand for."""
        markers: dict[str, str] = {}
        for name in self._names_longest_first:
            if name in text:
                marker = f"[[{len(markers) + 1}]]"
                markers[marker] = name
                text = text.replace(name, marker)
        return text, markers

    def _translated(self, answer: Answer, language: str) -> Iterator[Event]:
        """The tool's answer in ``language``; the English answer when a figure or a name did not survive.

        Names are replaced by markers before translating and put back as each marker completes."""
        protected, markers = self._protected(answer.text)
        messages = [{"role": "system", "content": self.translate_prompt.render("system",
                                                                               language=LANGUAGE_NAMES[language])},
                    {"role": "user", "content": protected}]
        budget = min(600, 2 * self.model.count_tokens(protected) + 40)
        pieces: list[str] = []
        shown = 0

        def restore(t: str) -> str:
            for marker, name in markers.items():
                t = t.replace(marker, name)
            return t

        for piece in self.model.stream_chat(messages, max_tokens=budget, temperature=0.0):
            pieces.append(piece)
            done = "".join(pieces)
            cut = len(done) - 1 if done.endswith("[") else len(done)
            opened = done.rfind("[[")
            if opened >= shown and "]]" not in done[opened:]:
                cut = opened  # hold back a marker until it is complete
            if cut > shown:
                yield Event(type="token", text=restore(done[shown:cut]))
                shown = cut
        raw = "".join(pieces).strip()
        translated = restore(raw)
        if raw and all(m in raw for m in markers) and keeps_figures(answer.text, translated):
            if len("".join(pieces)) > shown:
                yield Event(type="token", text=restore("".join(pieces)[shown:]))
            yield Event(type="final", answer=answer.model_copy(update={"text": translated}))
            return
        note = ("\n\n(The translation changed a figure or a name, so here is the exact answer in English.)\n"
                + answer.text)
        yield Event(type="token", text=note)
        yield Event(type="final", answer=answer)

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

    # ------------------------------------------------------------------ retrieval-augmented answers

    def _refusal(self, text: str, held: list[str], reading: Reading, hits: list[Hit] | None = None) -> Answer:
        hits = hits if hits is not None else search(self.index, text, k=6)
        nearest = self._citations([h.entity_id for h in hits])[:3]
        lang = reading.language if reading.language in REFUSALS else "en"
        reply = REFUSALS[lang]
        if nearest:
            reply += f" {NEAREST[lang]}: " + "; ".join(c.label for c in nearest) + "."
        return Answer(question=text, text=reply, intent=reading.tool.value, refused=True, citations=nearest,
                      holding=held)

    def _rag_stream(self, learner_id: str, text: str, mentions: list[Mention], held: list[str],
                    reading: Reading) -> Iterator[Event]:
        query = asked = text
        if reading.language != "en" and self.has_model:
            english = self._to_english(text)
            query = f"{text} {english}"  # the embeddings are English
            asked = english  # answered in English, then translated (see stream)
        if reading.about:
            query = " ".join([query, *(self.tools.title(e) for e in reading.about[:2])])
        elif not mentions:
            recent = self.memory.recent_entities(learner_id)[:1]
            query = " ".join([query, *(self._citation(e).title for e in recent if self._citation(e))])
        hits = search(self.index, query, k=8)
        best_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
        if not mentions and not reading.about and best_dense < RELEVANCE_FLOOR:
            yield Event(type="final", answer=self._refusal(text, held, reading, hits))
            return
        named = {m.entity_id for m in mentions} | set(reading.about)
        ordered = sorted(hits, key=lambda h: (h.entity_id not in named,))[:CONTEXT_CHUNKS]
        context = "\n\n".join(f"[{h.entity_id}] {h.text[:CHUNK_CHARS]}" for h in ordered)
        messages: list[dict[str, str]] = [{"role": "system", "content": self.prompt.render("system")}]
        for turn in self.memory.history(learner_id)[-2:]:
            messages.append({"role": turn.role, "content": turn.content[:200]})
        messages.append({"role": "user", "content": self.prompt.render("user", context=context, question=asked)})

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
            yield Event(type="final", answer=self._refusal(text, held, reading, hits))
            return
        if not decided:
            yield Event(type="token", text=buffered)
        context_ids = unique_entities(h.entity_id for h in ordered)
        cited = [i for i in re.findall(r"\[([a-z0-9-]+)\]", reply) if i in context_ids]
        cited += [m.entity_id for m in link_entities(self.catalogue, reply) if m.entity_id in context_ids]
        if not cited:
            cited = context_ids[:2]
        yield Event(type="final", answer=Answer(
            question=text, text=reply, intent=Tool.search.value, holding=held, citations=self._citations(cited),
            prompt_id=self.prompt.id,
        ))
