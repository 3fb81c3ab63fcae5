"""Instructions aimed at the grader (prompt injection): find them, flag them and take them out.

Evidence is data. Anything in it that talks to the grader - "ignore the rubric", a fake ``SYSTEM:``
turn or end of evidence, a hidden HTML span, a "rubric update", an "expected answer", a polite "note to
the AI grader", in any language - is removed before the evidence is scored, so it cannot raise a level,
and the flag sends the submission to a human assessor.

Three layers, each measured on the red-team set (``evals/redteam``, ``stackwise eval redteam``) and on
honest evidence (``evals/grading_evidence``):

1. :mod:`grader.normalise` gives the text a person sees: hidden HTML/CSS and comments are cut out,
   invisible and look-alike characters undone, encoded blocks decoded (as *suspect* passages);
2. rules over whole sentences (hard-wrapped lines joined): a sentence that names the grader and asks for
   a grading act, an imperative grading act, a classic override phrase, an announced rubric change, a
   chat-role marker or a fake evidence boundary (the rest of that paragraph goes with it); an instruction
   in brackets is removed on its own;
3. the model itself (:mod:`grader.injection_judge`): P(yes) that a passage is aimed at the grader, asked
   per passage (short consecutive sentences together, then sentence by sentence where it says yes),
   combined with the rule hits and the passage's kind by a small logistic regression fitted on the
   red-team train split and honest evidence (``grader/injection_weights.json``, ``stackwise eval redteam
   --fit``).

A passage scored above the *flag* threshold (or hit by a rule) is confirmed and cut; one above the lower
*suspect* threshold is kept, but :func:`grader.grading.grade_evidence` scores the evidence with and
without it and sends the submission to review when a level moves.

Why one module (~440 lines): the passage rules and their combination with the model judge's P(yes) are fitted
together on the red-team train split, and the weights file refers to these rules by name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from grader.normalise import ENCODED_KINDS, HIDDEN_KINDS, Normalised, normalise

WEIGHTS_FILE = Path(__file__).resolve().parent / "injection_weights.json"

_ROLE = re.compile(  # a chat-turn marker that never starts an honest sentence
    r"<\|im_(?:start|end)\|>|\[/?INST\]|<</?SYS>>|^#+\s*(?i:system|instruction)s?\b|"
    r"^\W{0,4}(?:SYSTEM|DEVELOPER|SISTEMA|SYSTÈME|SYSTEEM)\s*(?:MESSAGE|PROMPT|NOTE)?\s*:|"
    r"^\W{0,4}(?i:system|developer)\s+(?i:message|note)\s*:",
)
_ROLE_WEAK = re.compile(r"^\W{0,4}(?:system|developer|assistant)\s*(?:prompt)?\s*:\s*(?P<rest>.*)", re.I | re.S)


def _role(sentence: str) -> bool:
    """A fake chat turn: a strong marker, or "System:" followed by something aimed at the grader (an honest
    heading such as "System: the assistant our planners use" is not one)."""
    if _ROLE.search(sentence):
        return True
    weak = _ROLE_WEAK.search(sentence)
    if not weak:
        return False
    rest = weak.group("rest")
    return bool(is_instruction(rest) or _ADDRESSEE.search(rest) or sum(bool(p.search(rest)) for p in _GRADING) >= 2)


_BOUNDARY = re.compile(
    r"^\W*(?:end|begin|start|close|fin|ende|fine|fim|einde|koniec|final)\w*\W+(?:of\W+|de\W+|der\W+|del\W+|"
    r"van\W+|do\W+|da\W+)?(?:the\W+|la\W+|l'|des\W+|los\W+)?(?:learner'?s?\W+)?(?:evidence|submission|document|"
    r"input|user\W+(?:input|content|text)|data|portfolio|preuve|nachweis|evidencia|prova|bewijs|dowod)s?\b|"
    r"^\W*(?:evidence|submission|input|portfolio)\W+(?:ends?|closed?|over|complete)\b|"
    r"^\s*(?:>{3,}|<{3,}|\[/?(?:evidence|submission|end|system)\]|</?(?:evidence|submission|document|user|system|"
    r"instructions?|data)>)|^\W*={3,}\s*[\w-]*(?:evidence|end|system)[\w-]*\s*={3,}",
    re.I,
)
_ADDRESSEE = re.compile(
    r"\b(?:grader|graders|assessor|assessors|marker|markers|examiner|evaluator|evaluation (?:model|system)|"
    r"grading (?:model|system|ai|assistant|bot)|automated (?:assessor|grader|grading|marking|assessment)|"
    r"(?:ai|llm|model|reviewer|marking|grading)[- ](?:grader|assessor|marker|evaluator|reviewer|bot)|"
    r"(?:dear|hello|hi) (?:ai|model|llm)|language model|moderation board|"
    r"bewerter\w*|prüfer\w*|korrektor\w*|ki-bewert\w*|correcteur\w*|correctrice|évaluat\w+|examinateur\w*|"
    r"evaluador\w*|corrector\w*|calificador\w*|valutator\w*|correttor\w*|esaminator\w*|avaliador\w*|"
    r"beoordelaar\w*|oceniając\w*|egzaminator\w*|sprawdzając\w*)\b",
    re.I,
)
_ACT = re.compile(
    r"\b(?:record|award|assign|give|grant|mark|score|rate|grade|output|set|apply|treat|pass|accept|flag|"
    r"vergeb\w*|vergib|geben|gib|bewert\w*|attribu\w*|donne\w*|note[rz]|asign\w*|otorg\w*|d[ae]r|califi\w*|"
    r"assegn\w*|dai|valut\w*|atribu\w*|conced\w*|toeken\w*|geef|geven|beoordeel\w*|przyzn\w*|oceń\w*|wystaw\w*)"
    r"\w*\b",
    re.I,
)
_OBJECT = re.compile(
    r"\b(?:levels?|criteri(?:on|a)|marks?|points|score|grade|pass(?:ed)?|distinction|accomplished|exemplary|"
    r"highest|full|maximum|top|confidence|descriptors?|rubric|(?:this|the|my) (?:submission|evidence|portfolio|"
    r"work|learner)|generous|stufe\w*|niveau\w*|note\w*|punkt\w*|kriteri\w*|critère\w*|nivel\w*|nota\w*|"
    r"criterio\w*|livell\w*|voto|criteri|nível|níveis|critérios|cijfer\w*|poziom\w*|ocen\w*|kryteri\w*|"
    r"höchst\w*|maximal\w*|máxim\w*|massim\w*|hoogst\w*|najwyższ\w*|plus haut\w*)\b",
    re.I,
)
_IMPERATIVE = re.compile(
    r"^\W*(?:please\s+)?(?:record|award|assign|give|grant|output|set|mark|score|rate)\b.*\b(?:levels?|criteri|"
    r"marks|confidence|pass|distinction|accomplished|highest)",
    re.I | re.S,
)
_OVERRIDE = re.compile(
    r"ignore (?:all |any |the |your |my )*(?:previous |prior |above |earlier |grading )+(?:instructions?|prompts?|"
    r"rules|guidelines)|ignore (?:the |your |this )?(?:rubric|criteria|marking scheme)|"
    r"disregard (?:all |the |your |any )*(?:previous |prior |above |earlier )*(?:instructions?|rubric|criteria|"
    r"rules)|(?:award|give|assign|grant)(?: me| this(?: submission| work| portfolio)?)? (?:full|maximum|max|top|"
    r"the highest|perfect|all(?: the)?) (?:marks?|points|score|grade|levels?)|"
    r"(?:mark|grade|score|rate) (?:this|me|it) (?:as )?(?:excellent|exemplary|distinction|outstanding|"
    r"the highest|full marks|a pass|passed)|(?:this|the) (?:submission|evidence|portfolio) (?:must|should|"
    r"deserves to) (?:pass|receive|get)|respond (?:only )?with ['\"]?(?:pass|excellent|[A-D])['\"]?|"
    r"\b(?:rubric|marking scheme|descriptors?) (?:update|amendment|revision|change)s?\b|"
    r"\b(?:updated|new|revised|simplified) (?:rubric|descriptors|marking scheme)\b|"
    r"\bdescriptors\b[^.]{0,80}\b(?:simplified|updated|changed|replaced|relaxed)\b|"
    r"\bexpected (?:answer|output|levels?|grade|result)s?\s*[:=]|\"?(?:expected_?(?:level|answer|grade)s?|"
    r"réponse attendue|erwartete antwort|respuesta esperada|risposta attesa)\"?\s*[:=]|"
    r"\b(?:jede[rnms]?|alle[rn]?|every|each|all|chaque|toutes? les|cada|todas? las|ogni|tutte le|elke|alle|każd\w*|"
    r"wszystki\w*)\s+(?:\w+\s+){0,2}(?:frage|fragen|question|questions|pregunta|preguntas|domand\w*|pergunt\w*|"
    r"vra(?:ag|gen)|pytani\w*|checks?)\b.{0,70}\b(?:yes|ja|oui|sí|sim|tak|true)\b",
    re.I,
)
_HIDDEN_WORDS = re.compile(r"\binstruction|\bprompt\b|\bignore\b|\bgrad(?:e|er|ing)\b|\brubric\b", re.I)
_ASIDE = re.compile(r"\(([^()]{12,})\)|\[([^\[\]]{12,})\]")  # a parenthesised or bracketed aside
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9*#¿¡-]|[^\W\d_])")
_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|>|\||```)")
_CHUNK_WORDS = 60


@dataclass(frozen=True)
class Passage:
    """One unit the detector judges: a sentence (or a few), an aside or a suspect from normalisation."""

    text: str  # what it says (decoded for encoded blocks)
    cut: str  # the text to cut from the normalised evidence; "" when normalisation already cut it
    kind: str  # sentence, aside, role, boundary, or a normalisation kind (hidden_html, base64, ...)
    rule: bool  # a rule says it is aimed at the grader
    parts: tuple[Passage, ...] = ()  # for a group of consecutive sentences: the sentences
    paragraph: int = -1  # which paragraph of the text it comes from (-1: not from the text itself)


@dataclass(frozen=True)
class InjectionScan:
    flagged: bool
    matches: list[str]  # the removed passages that were aimed at the grader
    sanitised: str  # the evidence without them (normalised; see grader.normalise)
    without_suspects: str = ""  # the sanitised evidence also without the merely suspect passages
    suspects: list[str] = field(default_factory=list)  # passages above the suspect threshold, not confirmed
    #: ``without_suspects`` also without every paragraph that held a confirmed passage (what an attack's
    #: neighbouring sentences add is not trusted either); equal to it when nothing was confirmed in the text
    without_regions: str = ""
    scores: list[tuple[str, str, float]] = field(default_factory=list)  # (kind, passage, suspicion) judged
    changes: dict[str, int] = field(default_factory=dict)  # what normalisation changed


class PassageJudge(Protocol):
    """The model's side: P(yes) that each passage is aimed at the grader (see grader.injection_judge)."""

    def p_yes(self, passages: Sequence[str]) -> list[float]: ...


# ------------------------------------------------------------------ rules

def _unwrap(paragraph: str) -> str:
    """Join hard-wrapped lines; keep list items, headings and tables on their own lines."""
    lines = paragraph.split("\n")
    out: list[str] = []
    for line in lines:
        if out and line.strip() and not _BLOCK_START.match(line) and not _BLOCK_START.match(out[-1]):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


def is_instruction(sentence: str) -> bool:
    """Does this sentence address the grader or ask for a grading act (the rules alone)?"""
    if _OVERRIDE.search(sentence) or _IMPERATIVE.search(sentence) or _role(sentence):
        return True
    return bool(_ADDRESSEE.search(sentence) and _ACT.search(sentence) and _OBJECT.search(sentence))


def _aimed_at_grader(hidden: str) -> bool:
    return bool(_ADDRESSEE.search(hidden) or _OVERRIDE.search(hidden) or _IMPERATIVE.search(hidden.strip("<!-> "))
                or (_ACT.search(hidden) and _OBJECT.search(hidden)) or _HIDDEN_WORDS.search(hidden))


def passages(normalised: Normalised) -> list[Passage]:
    """The evidence cut into the passages the detector judges (see :class:`Passage`)."""
    out: list[Passage] = []
    for s in normalised.suspects:
        rule = _aimed_at_grader(s.text) if s.kind in HIDDEN_KINDS else is_instruction(s.text)
        out.append(Passage(s.text, s.raw, s.kind, rule))
    text = normalised.text

    def aside(match: re.Match[str]) -> str:
        inner = " ".join((match.group(1) or match.group(2)).split())
        if is_instruction(inner):
            out.append(Passage(" ".join(match.group(0).split()), match.group(0), "aside", True))
            return ""
        return match.group(0)

    text = _ASIDE.sub(aside, text)
    for number, paragraph in enumerate(_PARAGRAPHS.split(text)):
        taken = False  # a role marker or fake boundary takes the rest of its paragraph
        for line in _unwrap(paragraph).split("\n"):
            for sentence in _SENTENCE_END.split(line):
                if not sentence.strip():
                    continue
                if taken:
                    out.append(Passage(sentence, sentence, "role", True, paragraph=number))
                elif _role(sentence) or _BOUNDARY.search(sentence):
                    taken = True
                    kind = "role" if _role(sentence) else "boundary"
                    out.append(Passage(sentence, sentence, kind, True, paragraph=number))
                else:
                    out.append(Passage(sentence, sentence, "sentence", is_instruction(sentence), paragraph=number))
    return out


# ------------------------------------------------------------------ features and the fitted combination

_LETTER_LEVELS = re.compile(r"[\"']?[\w ]{2,30}[\"']?\s*[:=]\s*[\"']?[A-F][\"']?\s*[,}]")


def _shingles(text: str, n: int = 4) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class RubricTerms:
    """What of the credential's rubric a passage may copy: descriptor word 4-grams and level labels."""

    shingles: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, descriptors: Sequence[str], labels: Sequence[str]) -> RubricTerms:
        grams: set[str] = set()
        for d in descriptors:
            grams |= _shingles(d)
        return cls(frozenset(grams), frozenset(label.lower() for label in labels if len(label) >= 4))


_GRADING = [re.compile(p, re.I) for p in (
    r"\b(?:criteri\w*|kriteri\w*|critère\w*|critéri\w*|kryteri\w*)",
    r"\b(?:levels?|niveau\w*|nivel\w*|livell\w*|nível|níveis|stufe\w*|poziom\w*|rubric\w*|grille|rúbrica|griglia|"
    r"rubriek)",
    r"\b(?:highest|top|maximum|full marks|accomplished|exemplary|distinction|höchst\w*|maximal\w*|máxim\w*|"
    r"massim\w*|hoogst\w*|najwyższ\w*|plus haut\w*)",
    r"\b(?:pass(?:ed)?|grade[ds]?|marks|score[ds]?|bestanden|aprobad\w*|aprovad\w*|réussi\w*|geslaagd|zaliczon\w*|"
    r"superat\w*|cijfer|ocen\w*|punteggio|puntuación|pontuação|decision|besluit|decisión|décision)\b",
)]
_SECOND = re.compile(r"\b(?:you|your|please|kindly|bitte|sie|ihr|vous|votre|veuillez|merci|usted|por favor|"
                     r"agradecer\w*|per favore|você|proszę|alstublieft|whoever|quiconque|wer|chi|quien)\b", re.I)
_FIRST = re.compile(r"\b(?:i|we|my|our|me|us|ich|wir|mein\w*|unser\w*|je|nous|mon|ma|mes|notre|nos|yo|nosotros|"
                    r"mis|nuestr\w*|io|noi|mio|mia|nostr\w*|eu|nós|meu|minha|nosso\w*|ik|wij|mijn|ons|onze|ja|"
                    r"mój|moja|nasz\w*)\b", re.I)

_QUOTED = re.compile(r"\"[^\"]{3,}\"|“[^”]{3,}”|„[^“”]{3,}[“”]|«[^»]{3,}»|‘[^’]{8,}’")
_STAFF = re.compile(r"\b(?:moderators?|modérat\w+|moderador\w*|moderator\w*|reviewer[- ]?bot|awarding body|"
                    r"course (?:team|director|lead)|programme office|whoever (?:reads|grades|marks|reviews))\b", re.I)

_TOPIC = re.compile(r"\b(?:large )?language models?\b|\bevaluation (?:models?|systems?)\b|\bmarkers?\b", re.I)

FEATURES = ("rule", "model", "hidden", "encoded", "rubric_copy", "level_labels", "addressee", "letters", "grading",
            "reader")


def features(passage: Passage, p_model: float | None, rubric: RubricTerms) -> dict[str, float]:
    grams = _shingles(passage.text)
    lower = passage.text.lower()
    unquoted = _QUOTED.sub(" ", passage.text)  # a quoted prompt talks to a chatbot, not to the grader
    topicless = _TOPIC.sub(" ", passage.text)  # "large language models" is a topic, not someone addressed
    p = 0.5 if p_model is None else min(max(p_model, 1e-4), 1 - 1e-4)
    return {
        "rule": float(passage.rule),
        "model": math.log(p / (1 - p)),
        "hidden": float(passage.kind in HIDDEN_KINDS),
        "encoded": float(passage.kind in ENCODED_KINDS or passage.kind == "alt_text"),
        "rubric_copy": len(grams & rubric.shingles) / len(grams) if grams else 0.0,
        "level_labels": min(3, sum(1 for label in rubric.labels if re.search(rf"\b{re.escape(label)}\b", lower))) / 3,
        "addressee": float(bool(_ADDRESSEE.search(topicless) or _STAFF.search(topicless))),
        "letters": float(bool(_LETTER_LEVELS.search(passage.text))),
        "grading": sum(bool(p.search(passage.text)) for p in _GRADING) / len(_GRADING),
        "reader": min(1.0, len(_SECOND.findall(unquoted)) / (1 + len(_FIRST.findall(unquoted)))),
    }


@dataclass(frozen=True)
class Weights:
    """The fitted combination: suspicion = sigmoid(intercept + sum(coef * feature))."""

    intercept: float
    coef: dict[str, float]
    flag_threshold: float
    suspect_threshold: float
    version: str = "unfitted"

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> Weights:
        if not path.is_file():  # before the first fit: the model's P(yes) alone, rules confirm
            return cls(0.0, {"model": 1.0, "rule": 8.0}, 0.7, 0.5)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(float(data["intercept"]), {k: float(v) for k, v in data["coef"].items()},
                   float(data["flag_threshold"]), float(data["suspect_threshold"]), str(data.get("version", "?")))

    def suspicion(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(self.coef.get(k, 0.0) * v for k, v in values.items())
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


# ------------------------------------------------------------------ cutting

def _span_pattern(passage: str) -> re.Pattern[str]:
    """The passage as it may appear in the text: same words, any whitespace between them."""
    return re.compile(r"\s+".join(re.escape(word) for word in passage.split()))


def _cut(text: str, cuts: Sequence[str]) -> str:
    """``text`` with each passage removed (and the blank lines it leaves closed up).

    Everything else stays byte for byte, so the scorer reads exactly what an honest learner's identical
    text would give it: a removed instruction cannot change a level, not even through the layout.
    """
    out = text
    changed = False
    for passage in cuts:
        if not passage.strip():
            continue
        match = _span_pattern(passage).search(out)
        if match is None:
            continue
        start, end = match.span()
        while start > 0 and out[start - 1] in " \t":
            start -= 1
        out = out[:start] + out[end:]
        changed = True
    if not changed:
        return text
    return _tidy(out)


_EMPTY_ITEM = re.compile(r"(?m)^[ \t]*(?:[-*+]|\d+[.)])[ \t]*$\n?")  # a list item left empty
_EMPTY_FENCE = re.compile(r"(?m)^[ \t]*(```|~~~)[\w+-]*[ \t]*\n(?:[ \t]*\n)*[ \t]*\1[ \t]*$\n?")
_ORPHAN_TABLE = re.compile(r"(?m)^(?:[ \t]*\|[^\n]*\n)?[ \t]*\|[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?"
                           r"[ \t]*$(?!\n[ \t]*\|)\n?")  # a table header (and rule) whose rows are gone


def _tidy(text: str) -> str:
    """Close up what a cut leaves: trailing blanks, empty list items, empty code fences, row-less tables."""
    out = re.sub(r"[ \t]+\n", "\n", text)
    out = _EMPTY_ITEM.sub("", out)
    out = _EMPTY_FENCE.sub("", out)
    out = _ORPHAN_TABLE.sub("", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


# ------------------------------------------------------------------ the detector

def group_passages(items: list[Passage]) -> list[Passage]:
    """Consecutive ordinary sentences of one paragraph joined into passages of up to ~60 words (one model
    question each)."""
    out: list[Passage] = []
    run: list[Passage] = []

    def close() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(Passage("\n".join(p.text for p in run), "", "group", False, tuple(run), run[0].paragraph))
        run.clear()

    for p in items:
        if p.kind != "sentence" or p.rule:
            close()
            out.append(p)
            continue
        if run and (run[-1].paragraph != p.paragraph
                    or sum(len(q.text.split()) for q in run) + len(p.text.split()) > _CHUNK_WORDS):
            close()
        run.append(p)
    close()
    return out


_groups = group_passages  # the name evals/redteam_bench.py imports (grader.api.group_passages is the face's)

class InjectionDetector:
    """Rules, normalisation and (with a ``judge``) the model, combined by the fitted :class:`Weights`."""

    def __init__(self, judge: PassageJudge | None = None, weights: Weights | None = None):
        self.judge = judge
        self.weights = weights or Weights.load()

    def _judge(self, units: list[Passage], rubric: RubricTerms) -> list[float]:
        if self.judge is None:  # rules alone: a rule hit confirms, nothing else is judged
            return [1.0 if p.rule else 0.0 for p in units]
        asked = [i for i, p in enumerate(units) if not p.rule]
        probs = dict(zip(asked, self.judge.p_yes([units[i].text for i in asked]), strict=True)) if asked else {}
        return [1.0 if p.rule else self.weights.suspicion(features(p, probs[i], rubric)) for i, p in enumerate(units)]

    def scan(self, text: str, rubric: RubricTerms = RubricTerms()) -> InjectionScan:
        """Find passages aimed at the grader; ``sanitised`` is the normalised text without them."""
        normal = normalise(text)
        found = passages(normal)
        units = group_passages(found)
        scores = self._judge(units, rubric)
        w = self.weights
        confirmed: list[Passage] = []
        suspect: list[Passage] = []
        judged: list[tuple[str, str, float]] = []
        for unit, score in zip(units, scores, strict=True):
            judged.append((unit.kind, unit.text, round(score, 4)))
            if unit.parts and score >= w.flag_threshold:  # localise: which of its sentences?
                inner = self._judge(list(unit.parts), rubric)
                judged.extend((p.kind, p.text, round(s, 4)) for p, s in zip(unit.parts, inner, strict=True))
                hits = [p for p, s in zip(unit.parts, inner, strict=True) if s >= w.flag_threshold]
                confirmed.extend(hits or unit.parts)
                suspect.extend(p for p, s in zip(unit.parts, inner, strict=True)
                               if w.suspect_threshold <= s < w.flag_threshold and hits)
            elif score >= w.flag_threshold or unit.rule:
                confirmed.append(unit)
            elif score >= w.suspect_threshold or unit.kind in ENCODED_KINDS:
                suspect.append(unit)
        confirmed_parts = [p for c in confirmed for p in (c.parts or (c,))]
        sanitised = _cut(normal.text, [p.cut for p in confirmed_parts])
        without = _cut(sanitised, [p.cut for s in suspect for p in (s.parts or (s,))])
        matches = [" ".join(p.text.split()) for p in confirmed]
        regions = {p.paragraph for p in confirmed_parts if p.paragraph >= 0}
        without_regions = _cut(without, [p.cut for p in found if p.paragraph in regions]) if regions else without
        return InjectionScan(bool(confirmed), matches, sanitised, without,
                             suspects=[" ".join(p.text.split()) for p in suspect], scores=judged,
                             changes=dict(normal.changes), without_regions=without_regions)


def scan_injection(text: str, judge: PassageJudge | None = None, rubric: RubricTerms = RubricTerms()
                   ) -> InjectionScan:
    """Normalise ``text`` and find the passages aimed at the grader (rules only without a ``judge``)."""
    return InjectionDetector(judge).scan(text, rubric)
