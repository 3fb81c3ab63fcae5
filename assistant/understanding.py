"""The rules' reading of a question (the fast path): phrase rules over the linked catalogue entries.

Pure functions. :func:`read_by_rules` fills a :class:`~assistant.reading.Reading` and says whether it is
*certain*: an English question whose names all match exactly, with one clear intent and nothing to
interpret about holdings (no "I hold", "I don't have", "without"). Anything else is read by the model
(:class:`assistant.reading.ModelReader`), which sees the same linked entries.

Holdings change only when stated: a credential counts as held when it is named after "I hold",
"I have completed", "I've passed" ... in the same clause, before any "for", "towards" or "want".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.language import clearly_english, detect_language
from assistant.linking import Mention, link_entities, normalise
from assistant.reading import Facet, Reading, Tool
from knowledge.schema import Catalogue

_TOOL_RULES: list[tuple[Tool, re.Pattern[str]]] = [
    (Tool.shared, re.compile(r"more than one pathway|several pathways|multiple pathways|both pathways|"
                             r"counts? towards (two|both|several|multiple)|shared between pathways")),
    (Tool.credit, re.compile(r"\b(ects|credits?)\b.*\b(towards?|count for|against)\b|"
                             r"recogni[sz]\w*|credit transfer|advanced standing|"
                             r"counts? towards (an?|the|my) (msc|master|degree|bachelor)")),
    (Tool.compare, re.compile(r"\bcompare\b|\bdifference between\b|\bversus\b|\bvs\b|"
                              r"\bwhich is (cheaper|shorter|longer|quicker|more expensive|dearer)\b|"
                              r"\b(cheaper|shorter|longer|more expensive|dearer) than\b|"
                              r"\b(more|fewer|less) (ects|credits?|hours|weeks)\b.*\bthan\b|"
                              r"\bhow many more\b.*\bthan\b")),
    (Tool.required_by, re.compile(r"^(which|what) (\w+ ){0,2}(credentials?|courses?|ones?|modules?|programmes?|"
                                  r"programs?|badges?|micro ?credentials?) (\w+ )?(require|requires|need|needs|"
                                  r"build on|builds on|depend on|depends on)\b|\bunlocks?\b|"
                                  r"\b(a )?(prerequisite|requirement) (for|of|to) (anything|any|another|other|which|"
                                  r"what|something)\b|\brequired (for|by) (anything|any|other|which|what)\b|"
                                  r"\bwhat (can i take|comes|opens up) after\b")),
    (Tool.can_enrol, re.compile(r"\bcan i (enrol|enroll|start|take|begin|sign up|register|join)\b|"
                                r"\bam i (eligible|allowed|able)\b|\beligib|\ballowed to (start|take|enrol|enroll)\b|"
                                r"\bqualify for\b|\bmay i (start|take|enrol|enroll)\b")),
    (Tool.fastest, re.compile(r"fastest|quickest|shortest (route|way|time)|least time|soonest")),
    (Tool.cheapest, re.compile(r"cheapest|lowest cost|least expensive|total (cost|price)|"
                               r"cost (me )?to (finish|complete)|cost of (completing|finishing)|"
                               r"how much (more )?(would|will) it cost")),
    (Tool.order, re.compile(r"\border\b|\bsequence\b|which (one )?first|take first|in what order")),
    (Tool.still_needed, re.compile(r"still need|do i need (to|for)|remaining|what else|missing|left to (do|take)|"
                                   r"to (complete|finish|earn|get) (the|my|this)|how (far|close) am i|"
                                   r"what s left|what is left")),
    (Tool.prerequisites, re.compile(r"prerequisites?|pre ?reqs?|entry requirements?|"
                                    r"(need|have) (to have |to hold )?(before|first)|required (before|first)|"
                                    r"^what (does|do) .+ require\b|requirements? (for|to (start|enrol|enroll|take))|"
                                    r"what should i (take|do) (before|first)")),
]

_FACETS: dict[Facet, re.Pattern[str]] = {
    Facet.price: re.compile(r"\b(cost|costs|price|priced|fee|fees|how much|expensive|cheap|free|pay|tuition)\b"),
    Facet.duration: re.compile(r"\b(how long|duration|weeks?|hours?|months?|take to complete|time does|last)\b"),
    Facet.ects: re.compile(r"\b(ects|credits?|workload|credit points?)\b"),
    Facet.eqf: re.compile(r"\b(eqf|level)\b"),
    Facet.prerequisites: re.compile(r"\b(prerequisites?|pre ?reqs?|entry requirements?|need before)\b"),
    Facet.provider: re.compile(r"\b(who (offers|awards|runs|provides|issues)|provider|awarding body|"
                               r"which (university|institution|organi[sz]ation|school|college)|"
                               r"an? (university|college|school|company|business school|training provider))\b"),
    Facet.country: re.compile(r"\b(country|based|located|headquartered|where is)\b"),
    Facet.language: re.compile(r"\b(language|taught in|in english|in german|in french|in spanish)\b"),
    Facet.assessment: re.compile(r"\b(assess\w*|graded|exam|portfolio)\b"),
    Facet.delivery: re.compile(r"\b(online|in person|on ?site|delivery|self paced|blended|remote|campus)\b"),
}

_HOLD_CUE = re.compile(r"\b(i|we) (ve |have |had )?(already )?(hold|completed|finished|earned|passed|done|got|took|"
                       r"taken|obtained|achieved)\b|\balready (hold|have)\b|\bholding\b|\bhaving (completed|done|"
                       r"passed|earned|finished)\b")
_HOLD_CUE_OTHER = re.compile(r"\bj ai (deja )?(termine|obtenu|valide|reussi|fait|suivi|complete)\b|"
                             r"\b(ya )?(he|hemos) (completado|terminado|aprobado|obtenido|hecho|cursado)\b|"
                             r"\b(ya )?tengo\b")
_HOLD_CLAUSE_DE = re.compile(r"\b(ich|wir) (habe|haben|hab)\b.*\b(abgeschlossen|bestanden|absolviert|gemacht|"
                             r"erworben|erreicht|beendet)\b")
_HAVE = re.compile(r"\b(i|we) (ve |have )(got )?(the )?$")
_NOT_HELD_CUE = re.compile(r"\b(i|we) (don t|do not|haven t|have not|never|didn t|did not|no longer) (\w+ )?(hold|have|"
                           r"completed|finished|earned|passed|done|taken|take|got)\b|\bnot (yet )?(completed|done|"
                           r"taken|held|passed)\b")
_NONE_HELD = re.compile(r"\bwithout (holding|having|any|anything)\b|\b(hold|have) (nothing|no credentials?|none)\b|"
                        r"\bfrom scratch\b|\bfrom zero\b|\bno prior\b")
_STOP_HOLDING = re.compile(r"\b(for|towards?|want|wants|wish|plan|planning|would like|hope|looking|interested|"
                           r"before|enrol|enroll|start|take|get|earn|need|cost|costs|about|"
                           r"combien|coute|pour|veux|voudrais|quel|quelle|cuanto|cuesta|para|quiero|cual|"
                           r"was|wie|fur|kostet|mochte|will)\b")
_NEGATION = re.compile(r"\b(not|no|without|never|except|don t|doesn t|isn t|aren t)\b")
_FOLLOWUP = re.compile(r"^(and|also|what about|how about|so)\b|\b(that|it|this|those|these|them|the route|"
                       r"the same|that one|this one)\b")
_CLAUSE_SPLIT = re.compile(r"[.?!;\n]+|,\s*(?=(?:but|and|what|how|which|can|could|do|does|is|will|so)\b)|\bbut\b",
                           re.IGNORECASE)


@dataclass(frozen=True)
class Holdings:
    held: list[str]
    not_held: list[str]
    none_held: bool
    cue: bool  # any statement about holdings at all


def clauses(text: str) -> list[str]:
    return [c for c in (part.strip() for part in _CLAUSE_SPLIT.split(text)) if c]


def _held_in_clause(norm: str, mentions: list[Mention], cues: tuple[re.Pattern[str], ...]) -> list[str]:
    """Credentials named after one of ``cues`` in the clause (normalised, with its credential mentions)."""
    out: list[str] = []
    for cue in cues:
        for match in cue.finditer(norm):
            stops = [s.start() for s in _STOP_HOLDING.finditer(norm, match.end())
                     if not any(m.start <= s.start() < m.end for m in mentions)]  # "SQL for Analytics" is a name
            end = stops[0] if stops else len(norm)
            out += [m.entity_id for m in mentions if match.start() <= m.start and m.end <= end + 1]
    # "I have <credential>" / "I've got <credential>": "have" is a cue only right before a name
    for m in mentions:
        if _HAVE.search(norm[: m.start]) and m.entity_id not in out:
            out.append(m.entity_id)
    return out


def read_holdings(catalogue: Catalogue, text: str) -> Holdings:
    """Credentials the learner says, in this message, that they hold (or do not hold)."""
    held: list[str] = []
    not_held: list[str] = []
    norm_all = normalise(text)
    none_held = bool(_NONE_HELD.search(norm_all))
    for clause in clauses(text):
        norm = normalise(clause)
        mentions = [m for m in link_entities(catalogue, clause) if m.kind == "credential"]
        if _NOT_HELD_CUE.search(norm):
            not_held += _held_in_clause(norm, mentions, (_NOT_HELD_CUE,))
            continue
        held += _held_in_clause(norm, mentions, (_HOLD_CUE, _HOLD_CUE_OTHER))
        if _HOLD_CLAUSE_DE.search(norm):  # "Ich habe A und B abgeschlossen"
            held += [m.entity_id for m in mentions]
    cue = bool(_HOLD_CUE.search(norm_all) or _NOT_HELD_CUE.search(norm_all) or none_held or held)
    return Holdings(list(dict.fromkeys(held)), list(dict.fromkeys(not_held)), none_held, cue)


def detect_facets(text: str, mentions: list[Mention] | None = None) -> list[Facet]:
    norm = without_names(text, mentions)
    return [facet for facet, pattern in _FACETS.items() if pattern.search(norm)]


def matched_tools(text: str, mentions: list[Mention] | None = None) -> list[Tool]:
    norm = without_names(text, mentions)
    tools = [tool for tool, pattern in _TOOL_RULES if pattern.search(norm)]
    if Tool.required_by in tools and Tool.prerequisites in tools:
        tools.remove(Tool.prerequisites)  # "is X a prerequisite for anything?" asks what requires X
    return tools


def without_names(text: str, mentions: list[Mention] | None = None) -> str:
    """The normalised text with each linked name replaced by "x", so words inside a title ("Natural Language
    Processing") are not read as the question's words ("language")."""
    norm = normalise(text)
    for m in sorted(mentions or [], key=lambda m: -m.start):
        if 0 <= m.start < m.end <= len(norm):
            norm = norm[: m.start] + "x" + norm[m.end:]
    return " ".join(norm.split())


def read_by_rules(catalogue: Catalogue, text: str, *, has_previous: bool = False) -> tuple[Reading, list[Mention]]:
    """The rules' reading and the linked mentions (which the model reader is shown as candidates)."""
    mentions = link_entities(catalogue, text, kinds=("credential", "pathway", "provider"))
    holdings = read_holdings(catalogue, text)
    facets = detect_facets(text, mentions)
    tools = matched_tools(text, mentions)
    held = set(holdings.held)
    about = [m.entity_id for m in mentions if m.entity_id not in held]
    destinations = {p.destination for p in catalogue.pathways.values() if p.destination}
    named_credentials = [m for m in mentions if m.kind == "credential" and m.entity_id not in held]
    # a certificate that a pathway earns stands for that pathway in route questions
    names_pathway = any(m.kind == "pathway" or m.entity_id in destinations for m in mentions
                        if m.entity_id not in held)
    tool = tools[0] if tools else None
    if tool in (None, Tool.cheapest, Tool.order) and facets and named_credentials and not names_pathway and (
            tool is not Tool.order or Facet.prerequisites in facets):
        tool = Tool.facts  # "how much does Data Strategy cost?" is about that credential
    elif tool is None and names_pathway and Facet.price in facets:
        tool = Tool.cheapest  # "how much does the AI Leadership Certificate cost?"
    elif tool is None and (Facet.country in facets or Facet.provider in facets) and (
            named_credentials or any(m.kind == "provider" for m in mentions)):
        tool = Tool.provider
    followup = not about and bool(_FOLLOWUP.search(normalise(text)) or (facets and has_previous))
    if tool is None:
        tool = Tool.facts if (facets and (about or followup)) else Tool.search
    norm = normalise(text)
    certain = (
        clearly_english(text)
        and all(m.exact for m in mentions)
        and len(set(tools)) <= 1
        and not holdings.cue
        and not _NEGATION.search(norm)
        and (bool(about) or (followup and has_previous) or tool is Tool.shared)
    )
    reading = Reading(tool=tool, about=about, held=holdings.held, not_held=holdings.not_held,
                      none_held=holdings.none_held, facets=facets, language=detect_language(text),
                      followup=followup, source="rules", certain=certain)
    return reading, mentions
