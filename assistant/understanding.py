"""Deterministic reading of a learner's question: which catalogue entries it names and what it asks.

Pure functions. Entity linking matches credential and pathway titles and ids (exact, then fuzzy
with rapidfuzz); intent detection uses phrase rules, so planner questions are routed to code, never
to the language model's arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from knowledge.schema import Catalogue


class Intent(StrEnum):
    progress = "progress"  # what do I still need for P
    order = "order"  # which order respects prerequisites
    credit = "credit"  # how many ECTS towards the MSc
    shared = "shared"  # which credentials count towards more than one pathway
    cheapest = "cheapest"  # total cost / duration of the cheapest route
    fastest = "fastest"  # the route with the fewest weeks of study
    facts = "facts"  # price, duration, ECTS, level, prerequisites of one named credential
    info = "info"  # anything else: answered from retrieved catalogue text


PLANNER_INTENTS = {Intent.progress, Intent.order, Intent.credit, Intent.shared, Intent.cheapest, Intent.fastest}

_RULES: list[tuple[Intent, re.Pattern[str]]] = [
    (Intent.shared, re.compile(r"more than one pathway|several pathways|multiple pathways|both pathways|"
                               r"(count|counts) towards (two|both|several|multiple)|shared between pathways")),
    (Intent.credit, re.compile(r"\b(ects|credits?)\b.*\btowards?\b.*\b(msc|master|degree|diploma|bachelor|minor)|"
                               r"recogni[sz]\w*|credit transfer|count towards (an?|the) (msc|master|degree)")),
    (Intent.fastest, re.compile(r"fastest|quickest|shortest (route|way|time)|least time|soonest")),
    (Intent.cheapest, re.compile(r"cheapest|lowest[- ]cost|least expensive|total (cost|price)|"
                                 r"cost (me )?to (finish|complete)|cost of (completing|finishing)|"
                                 r"how much (more )?(would|will|does) it cost")),
    (Intent.order, re.compile(r"\border\b|\bsequence\b|which (one )?first|take first|before (taking|i take)|"
                              r"in what order")),
    (Intent.progress, re.compile(r"still need|do i need|remaining|what else|missing|left to (do|take)|"
                                 r"to (complete|finish|earn|get) (the|my|this)|how (far|close) am i|"
                                 r"what('s| is) left")),
]

_HOLD = re.compile(r"\b(i|we) (already )?(hold|completed|finished|earned|passed)\b|"
                   r"\b(i|we)'ve (already )?(completed|earned|passed|finished|done|got)\b|"
                   r"\b(i|we)( already)? have (already )?(completed|earned|passed|finished|done|got)\b|"
                   r"\b(i|we)('ve| have) got\b|\balready (hold|have)\b|\bholding\b")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


@dataclass(frozen=True)
class Mention:
    entity_id: str
    kind: str  # "credential" or "pathway"
    score: float


def _aliases(title: str, entity_id: str) -> set[str]:
    aliases = {normalise(title), normalise(entity_id)}
    for sep in (" — ", " - ", ":", "(", " and the "):
        head = title.split(sep)[0]
        if len(normalise(head)) >= 8:
            aliases.add(normalise(head))
    return {a for a in aliases if len(a) >= 4}


def link_entities(catalogue: Catalogue, question: str, *, fuzzy_threshold: float = 90) -> list[Mention]:
    """Catalogue entries the question names, best first (exact alias matches before fuzzy ones)."""
    text = normalise(question)
    if not text:
        return []
    padded = f" {text} "
    found: dict[str, Mention] = {}
    entries = [(c.id, c.title, "credential") for c in catalogue.credentials.values()]
    entries += [(p.id, p.title, "pathway") for p in catalogue.pathways.values()]
    for entity_id, title, kind in entries:
        best = 0.0
        for alias in _aliases(title, entity_id):
            if f" {alias} " in padded:
                best = max(best, 100.0 + len(alias) / 100)
            elif len(alias) >= 10 and len(text) >= len(alias) - 2:
                best = max(best, fuzz.partial_ratio(alias, text))
        if best >= fuzzy_threshold:
            found[entity_id] = Mention(entity_id, kind, best)
    return sorted(found.values(), key=lambda m: (-m.score, m.entity_id))


_FACETS: dict[str, re.Pattern[str]] = {
    "price": re.compile(r"\b(cost|costs|price|fee|fees|how much|expensive|free)\b"),
    "duration": re.compile(r"\b(how long|duration|weeks?|hours?|take to complete|time does)\b"),
    "ects": re.compile(r"\b(ects|credits?|workload)\b"),
    "eqf": re.compile(r"\b(eqf|level)\b"),
    "prerequisites": re.compile(r"\b(prerequisites?|requirements? to (start|enrol)|need before|entry requirements?)\b"),
    "provider": re.compile(r"\b(who (offers|awards|runs|provides)|provider|awarding body|"
                           r"which (university|institution))\b"),
    "assessment": re.compile(r"\b(assess\w*|graded|exam|portfolio)\b"),
}


def detect_facets(question: str) -> list[str]:
    """Which fixed facts of a credential the question asks for (price, duration, ...)."""
    text = question.lower()
    return [name for name, pattern in _FACETS.items() if pattern.search(text)]


def detect_intent(question: str) -> Intent:
    text = " ".join(question.lower().split())
    for intent, pattern in _RULES:
        if pattern.search(text):
            return intent
    return Intent.info


def says_holding(question: str) -> bool:
    """Does the learner state that they hold the credentials they mention?"""
    return bool(_HOLD.search(question.lower().replace("\u2019", "'")))
