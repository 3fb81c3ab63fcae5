"""Literal values in CTDL: texts, numbers, codes, URLs, ISO 8601 durations; the importer's constants."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError

from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _refs

MAX_FILE_BYTES = 20_000_000
HOURS_PER_ECTS = 27.5  # 1 ECTS = 25-30 hours of notional workload
PLACEHOLDER_ECTS = 5.0
PLACEHOLDER_EQF = 5
DEFAULT_COUNTRY = "US"  # the Credential Engine registry is US-based
DEFAULT_CURRENCY = "USD"
MAX_ECTS = 480.0  # the largest degrees (e.g. an integrated master of 8 years) carry 480 ECTS
REVIEW = "REVIEW"
_RELAXATION_BUDGET = 200_000
_PREFERRED_LANGS = ("en-US", "en", "en-GB")


def _lang_value(value: dict[str, Any]) -> Any:
    langs = {str(k).lstrip("@"): v for k, v in value.items()}
    for lang in _PREFERRED_LANGS:
        if lang in langs:
            return langs[lang]
    for lang, v in langs.items():
        if lang.lower().startswith("en"):
            return v
    return next(iter(langs.values()), None)


def _texts(value: Any) -> list[str]:
    """Every text in a literal value: strings, language maps (English preferred), @value objects."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        text = " ".join(value.split())
        return [text] if text else []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        if "@value" in value:
            return _texts(value["@value"])
        if "@id" in value or "@type" in value:
            return []
        return _texts(_lang_value(value))
    return []


def _text(value: Any) -> str | None:
    texts = _texts(value)
    return texts[0] if texts else None


def _alignments(value: Any) -> list[tuple[str | None, str | None]]:
    """(code, name) of CredentialAlignmentObjects, or (uri, None) for plain references."""
    out: list[tuple[str | None, str | None]] = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, dict):
            node = _get(item, "targetNode")
            code = node if isinstance(node, str) else _id_of(node)
            name = _text(_get(item, "targetNodeName")) or _text(_get(item, "name"))
            out.append((code, name))
    return out


def _code(code: str) -> str:
    """Last segment of a vocabulary term: ``audLevel:BachelorsDegreeLevel`` -> ``bachelorsdegreelevel``."""
    return re.split(r"[:/#]", code.strip().rstrip("/"))[-1].lower()


def _number(value: Any) -> float | None:
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


# letters that Unicode does not decompose into a base letter plus accents
_TRANSLITERATION = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
                                  "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d", "ı": "i"})


def _slugify(text: str, max_len: int = 64) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2:] else cut
    return slug.strip("-")


_URL = TypeAdapter(HttpUrl)


def _url(value: Any) -> str | None:
    for text in [*(_refs(value)), *_texts(value)]:
        try:
            return str(_URL.validate_python(text))
        except ValidationError:
            continue
    return None


def _sentences(text: str, limit: int = 3) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if len(p.strip()) > 3 and not p.strip().endswith("?")]
    return [p[:500] for p in parts[:limit]]
