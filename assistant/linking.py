"""Entity linking: which catalogue entries a piece of text names, and where.

A credential or pathway is named by its title, a head of its title ("Data Strategy" for "Data Strategy
— from Insight to Roadmap"), its id, or any of its aliases (the provider's course codes, CTDL ctids,
short titles kept by the importer). Exact matches on word boundaries come first; then fuzzy matches
(rapidfuzz partial ratio, for typos) of the longer names. Pure functions over the catalogue.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from knowledge.schema import Catalogue

FUZZY_THRESHOLD = 90.0
FUZZY_MIN_CHARS = 10


def normalise(text: str) -> str:
    """Lower case, accents folded, every run of non-alphanumerics one space."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


@dataclass(frozen=True)
class Mention:
    entity_id: str
    kind: str  # "credential", "pathway" or "provider"
    score: float  # > 100 for an exact name match, else the fuzzy ratio
    start: int = 0  # character span in the normalised text
    end: int = 0

    @property
    def exact(self) -> bool:
        return self.score > 100


@dataclass(frozen=True)
class _Entry:
    entity_id: str
    kind: str
    names: tuple[str, ...]  # normalised


def _heads(title: str) -> set[str]:
    heads = set()
    for sep in (" — ", " – ", " - ", ":", "(", " and the "):
        head = title.split(sep)[0]
        if len(normalise(head)) >= 8:
            heads.add(normalise(head))
    return heads


_SMALL_WORDS = frozenset(["a", "an", "and", "for", "in", "of", "on", "the", "to", "with", "from", "by"])


def _acronyms(title: str) -> set[str]:
    """"NLP Essentials" for "Natural Language Processing Essentials", "ML in Production" for "Machine Learning
    in Production": each run of 2-4 content words may be written as its initials."""
    words = normalise(title).split()
    out = set()
    for i in range(len(words)):
        for j in range(i + 2, min(i + 4, len(words)) + 1):
            span = words[i:j]
            if any(w in _SMALL_WORDS or w.isdigit() for w in span):
                break
            alias = " ".join([*words[:i], "".join(w[0] for w in span), *words[j:]])
            if len(alias) >= 6 and alias != " ".join(words):
                out.add(alias)
    return out


_ENTRY_CACHE: dict[int, tuple[Catalogue, tuple[_Entry, ...]]] = {}  # id(catalogue) -> (catalogue, its entries)


def _names(*names: str, title: str | None = None, acronyms: bool = False) -> tuple[str, ...]:
    """The normalised names an entry may be called by: the given names, and for a ``title`` its heads (and
    initials); names under 4 characters only when they are codes."""
    found = {normalise(n) for n in names}
    if title is not None:
        found |= _heads(title) | (_acronyms(title) if acronyms else set())
    return tuple(sorted(n for n in found if len(n) >= 4 or _is_code(n)))


def _entries(catalogue: Catalogue) -> tuple[_Entry, ...]:
    """Every credential, pathway and provider with its names, computed once per catalogue object."""
    cached = _ENTRY_CACHE.get(id(catalogue))
    if cached is not None and cached[0] is catalogue:
        return cached[1]
    entries = tuple([
        *(_Entry(c.id, "credential", _names(c.title, c.id, *c.aliases, title=c.title, acronyms=True))
          for c in catalogue.credentials.values()),
        *(_Entry(p.id, "pathway", _names(p.title, p.id, *p.aliases, title=p.title))
          for p in catalogue.pathways.values()),
        *(_Entry(v.id, "provider", tuple(n for n in _names(v.name, v.id) if len(n) >= 4))
          for v in catalogue.providers.values()),
    ])
    if len(_ENTRY_CACHE) > 16:
        _ENTRY_CACHE.clear()
    _ENTRY_CACHE[id(catalogue)] = (catalogue, entries)
    return entries


@lru_cache(maxsize=4096)
def _is_code(name: str) -> bool:
    """A course code such as "hp mc 01" or "grn 101": letters and digits together."""
    return bool(re.search(r"[a-z]", name) and re.search(r"\d", name) and len(name) >= 3)


def link_entities(catalogue: Catalogue, text: str, *, fuzzy_threshold: float = FUZZY_THRESHOLD,
                  kinds: tuple[str, ...] = ("credential", "pathway")) -> list[Mention]:
    """Catalogue entries ``text`` names, best first (exact name matches before fuzzy ones)."""
    norm = normalise(text)
    if not norm:
        return []
    padded = f" {norm} "
    found: dict[str, Mention] = {}
    for entry in _entries(catalogue):
        if entry.kind not in kinds:
            continue
        best: Mention | None = None
        for name in entry.names:
            at = padded.find(f" {name} ")
            if at >= 0:
                candidate = Mention(entry.entity_id, entry.kind, 100.0 + len(name) / 100, at, at + len(name))
            elif len(name) >= FUZZY_MIN_CHARS and len(norm) >= len(name) - 2 and not _is_code(name):
                alignment = fuzz.partial_ratio_alignment(name, norm, score_cutoff=fuzzy_threshold)
                if alignment is None:
                    continue
                candidate = Mention(entry.entity_id, entry.kind, alignment.score, alignment.dest_start,
                                    alignment.dest_end)
            else:
                continue
            if best is None or candidate.score > best.score:
                best = candidate
        if best is not None and best.score >= fuzzy_threshold:
            found[entry.entity_id] = best
    mentions = sorted(found.values(), key=lambda m: (-m.score, m.entity_id))
    return _drop_nested(mentions)


def _drop_nested(mentions: list[Mention]) -> list[Mention]:
    """A fuzzy or shorter match lying inside a longer exact one is the same words: keep the longer
    ("Certificate in Applied AI" is not also "Applied AI")."""
    kept: list[Mention] = []
    for m in mentions:
        inside = any(k.exact and k.start <= m.start and m.end <= k.end and (k.end - k.start) > (m.end - m.start)
                     for k in kept)
        if not inside:
            kept.append(m)
    return kept


def resolve(catalogue: Catalogue, reference: str, *, kinds: tuple[str, ...] = ("credential", "pathway")) -> str | None:
    """The one catalogue id ``reference`` stands for (an id, title, code, ctid or a close spelling), or None."""
    ref = reference.strip()
    if not ref:
        return None
    for kind, table in (("credential", catalogue.credentials), ("pathway", catalogue.pathways),
                        ("provider", catalogue.providers)):
        if kind in kinds and ref in table:
            return ref
    norm = normalise(ref)
    exact = [e.entity_id for e in _entries(catalogue) if e.kind in kinds and norm in e.names]
    if len(exact) == 1:
        return exact[0]
    if exact:
        return None  # ambiguous
    best, best_score = None, 0.0
    for entry in _entries(catalogue):
        if entry.kind not in kinds:
            continue
        for name in entry.names:
            if _is_code(name) or _is_code(norm):
                continue
            score = fuzz.ratio(name, norm)
            if score > best_score:
                best, best_score = entry.entity_id, score
    return best if best_score >= FUZZY_THRESHOLD - 5 else None
