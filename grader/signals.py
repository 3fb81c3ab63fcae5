"""Pure checks on evidence text before and beside scoring: pseudonymisation, signs of machine-generated
text, near-duplicates of other submissions and verbatim quotes. Prompt injection: :mod:`grader.injection`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)(\+?\d[\d ()-]{7,}\d)(?!\w)")
_STUDENT_ID = re.compile(r"\b(?:[A-Z]{1,3}\d{5,}|\d{7,})\b")
_PROFILE = re.compile(r"https?://(?:www\.)?(linkedin\.com/in|github\.com|twitter\.com|x\.com)/[\w-]+", re.I)


@dataclass(frozen=True)
class Pseudonymised:
    text: str
    replacements: dict[str, int] = field(default_factory=dict)


def pseudonymise(text: str, *, names: list[str] = (), identifiers: list[str] = ()) -> Pseudonymised:
    """Replace the learner's names, e-mails, phone numbers, ids and profile links with placeholders."""
    counts: dict[str, int] = {}

    def sub(pattern: re.Pattern[str], placeholder: str, value: str) -> str:
        new, n = pattern.subn(placeholder, value)
        if n:
            counts[placeholder] = counts.get(placeholder, 0) + n
        return new

    out = sub(_PROFILE, "[PROFILE_LINK]", text)
    out = sub(_EMAIL, "[EMAIL]", out)
    for ident in sorted({i for i in identifiers if i and len(i) >= 3}, key=len, reverse=True):
        out = sub(re.compile(re.escape(ident), re.I), "[LEARNER_ID]", out)
    parts: set[str] = set()
    for name in names:
        if name and name.strip():
            parts.add(name.strip())
            parts.update(p for p in re.split(r"[\s-]+", name.strip()) if len(p) >= 3)
    for part in sorted(parts, key=len, reverse=True):
        out = sub(re.compile(rf"(?<!\w){re.escape(part)}(?!\w)", re.I), "[LEARNER]", out)
    out = sub(_STUDENT_ID, "[ID]", out)
    out = sub(_PHONE, "[PHONE]", out)
    return Pseudonymised(out, counts)


# ------------------------------------------------------------------ machine-generated text

_MACHINE_MARKERS = [
    r"as an ai( language)? model", r"i hope this helps", r"\bcertainly!", r"\bdelve\b", r"\btapestry\b",
    r"it is important to note that", r"in today's (fast-paced|rapidly evolving|ever-changing)", r"\bin conclusion,",
    r"\bfurthermore,", r"\bmoreover,", r"plays a (crucial|pivotal|vital) role", r"\bseamless(ly)?\b",
    r"\blandscape of\b", r"\bever-evolving\b", r"regenerate response",
]
_MACHINE_RE = [re.compile(p, re.I) for p in _MACHINE_MARKERS]


def machine_generated_markers(text: str) -> list[str]:
    """Stock phrases typical of chatbot output; several together suggest a machine-written text."""
    return [m.pattern for m in _MACHINE_RE if m.search(text)]


def looks_machine_generated(text: str, threshold: int = 3) -> bool:
    markers = machine_generated_markers(text)
    return any("ai( language)? model" in m or "regenerate" in m for m in markers) or len(markers) >= threshold


# ------------------------------------------------------------------ near-duplicates

def shingles(text: str, size: int = 5) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def near_duplicate(text: str, others: dict[str, str], threshold: float = 0.6) -> tuple[str, float] | None:
    """The most similar other submission (id, similarity) if it is at least ``threshold`` alike."""
    mine = shingles(text)
    best: tuple[str, float] | None = None
    for other_id, other_text in others.items():
        score = jaccard(mine, shingles(other_text))
        if score >= threshold and (best is None or score > best[1]):
            best = (other_id, score)
    return best


# ------------------------------------------------------------------ quotes

def _squash(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def quote_in_evidence(quote: str, evidence: str) -> bool:
    """Is ``quote`` a verbatim passage of the evidence (ignoring case, spacing and punctuation)?"""
    q = _squash(quote)
    return bool(q) and q in _squash(evidence)
