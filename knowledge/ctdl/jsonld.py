"""JSON-LD: every CTDL node is expanded and compacted with pyld against the pinned CTDL context.

Publishers write CTDL with the ``ceterms:`` prefix (the Credential Engine context), with full IRIs
(``https://purl.org/ctdl/terms/name``), with their own prefixes, or with a context URL we cannot fetch.
Expanding each node (its document's ``@context`` first replaced by the pinned copy where it names a CTDL
context) and compacting it against ``contexts/ctdl-pinned-v1.jsonld`` gives one spelling for all of them:
``ceterms:name``, ``ceterms:ownedBy``, ``schema:value``, types ``ceterms:Certificate``. The rest of the
importer reads those compact keys through :func:`get` and :func:`term` — by namespace, never by cutting
an arbitrary prefix off a key.

Nothing is fetched: the loader is :class:`knowledge.jsonld_loader.OfflineDocumentLoader` with the pinned CTDL
context as its only document; any other context URL in a source is left out and reported.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pyld.jsonld import JsonLdError, JsonLdProcessor

from knowledge.errors import KnowledgeError
from knowledge.jsonld_loader import OfflineDocumentLoader

#: The URL the pinned context is served under (the Credential Engine CTDL context).
CTDL_CONTEXT_URL = "https://credreg.net/ctdl/schema/context/json"
#: Context URLs publishers use for CTDL; all are served the pinned copy.
CTDL_CONTEXT_URLS = tuple(
    f"{scheme}://credreg.net/{schema}/schema/context/json{slash}"
    for scheme in ("https", "http") for schema in ("ctdl", "ctdlasn") for slash in ("", "/")
)
CTDL_VOCAB = "https://purl.org/ctdl/terms/"
PINNED_CONTEXT_FILE = "ctdl-pinned-v1.jsonld"
#: Namespaces whose compact keys (``ceterms:name``) the importer reads by local name.
CTDL_NAMESPACES = ("ceterms", "ceasn", "schema", "skos", "qdata", "asn")
#: Namespace spellings that mean the same vocabulary (http/https, the credreg.net terms URL).
_NAMESPACE_ALIASES = {
    "http://purl.org/ctdl/terms/": "https://purl.org/ctdl/terms/",
    "https://credreg.net/ctdl/terms/": "https://purl.org/ctdl/terms/",
    "http://credreg.net/ctdl/terms/": "https://purl.org/ctdl/terms/",
    "http://purl.org/ctdlasn/terms/": "https://purl.org/ctdlasn/terms/",
    "https://schema.org/": "http://schema.org/",
}
#: Base for relative @id values and references: resolved against it for JSON-LD processing and made relative
#: again on compaction, so a source's relative ids come back as written.
_RELATIVE_BASE = "https://relative.stackwise.invalid/ctdl/"
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
#: pyld is not thread-safe (shared LRU caches); expansion and compaction hold this lock.
_PYLD_LOCK = threading.RLock()
#: pyld raises these besides JsonLdError on malformed input.
_PYLD_FAILURES = (JsonLdError, TypeError, ValueError, KeyError, AttributeError, RecursionError)


@cache
def pinned_context() -> dict[str, Any]:
    """The pinned CTDL context document (parsed)."""
    text = resources.files("knowledge.ctdl.contexts").joinpath(PINNED_CONTEXT_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _loader() -> OfflineDocumentLoader:
    return OfflineDocumentLoader({url: pinned_context for url in CTDL_CONTEXT_URLS}, _unknown_context)


class UnknownCtdlContext(JsonLdError, KnowledgeError):
    """A CTDL source names a JSON-LD context other than the pinned CTDL context; nothing is fetched."""


def _unknown_context(url: str, known: list[str]) -> Exception:
    return UnknownCtdlContext(f"JSON-LD document {url!r} is not available offline (only the pinned CTDL context "
                              "is served)", "jsonld.LoadDocumentError", {"url": url}, code="loading document failed")


def is_ctdl_context_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip() in CTDL_CONTEXT_URLS


@dataclass
class Compacted:
    """One node object after expansion and compaction, and what the JSON-LD processing left out."""

    data: dict[str, Any] | None
    dropped: list[str] = field(default_factory=list)  # keys that are not JSON-LD terms (no context defines them)
    error: str | None = None


def source_contexts(*contexts: Any) -> tuple[list[Any], list[str]]:
    """The contexts to expand a node with: ``@vocab`` CTDL (a term without a prefix is read as a CTDL term, as
    publishers who write ``"name"`` with the CTDL context mean; ``id``/``type`` as ``@id``/``@type``), the
    pinned CTDL context, then the source's own inline contexts; CTDL context URLs are served the pinned copy,
    other URLs (not available offline) are left out and returned as the second value."""
    out: list[Any] = [{"@vocab": CTDL_VOCAB, "id": "@id", "type": "@type"}, CTDL_CONTEXT_URL]
    skipped: list[str] = []
    for context in contexts:
        for entry in context if isinstance(context, list) else [context]:
            if entry is None:
                continue
            if isinstance(entry, str):
                if not is_ctdl_context_url(entry) and entry not in skipped:
                    skipped.append(entry)
            elif isinstance(entry, dict):
                out.append(entry)
    return out, skipped


def invalid_context(context: Any) -> str | None:
    """Why ``context`` is not a JSON-LD ``@context`` (a URL, an object, null, or a list of those), or None."""
    for entry in context if isinstance(context, list) else [context]:
        if entry is not None and not isinstance(entry, str | dict):
            return f"@context must be a URL, an object or a list of them, not {json.dumps(entry)[:40]}"
    return None


def compact_node(item: dict[str, Any], contexts: list[Any]) -> Compacted:
    """``item`` expanded with ``contexts`` and compacted against the pinned CTDL context."""
    document = {key: value for key, value in item.items() if key != "@context"}
    document = _language_maps(document)
    document["@context"] = contexts
    dropped: list[str] = []

    def on_dropped(prop: str | None) -> None:
        if prop is not None and str(prop) not in dropped:
            dropped.append(str(prop))

    options = {"documentLoader": _loader(), "contextResolver": _loader().context_resolver(), "base": _RELATIVE_BASE}
    try:
        with _PYLD_LOCK:
            expanded = JsonLdProcessor(on_property_dropped=on_dropped).expand(copy.deepcopy(document), options)
            expanded = _normalise(expanded)
            if not expanded:
                return Compacted(None, dropped)
            compacted = JsonLdProcessor().compact(
                expanded[0] if len(expanded) == 1 else expanded, CTDL_CONTEXT_URL,
                {**options, "contextResolver": _loader().context_resolver()})
    except _PYLD_FAILURES as exc:
        return Compacted(None, dropped, _innermost(exc))
    compacted.pop("@context", None)
    return Compacted(_compact_keys(compacted), dropped)


def _compact_keys(value: Any) -> Any:
    """Keys left as full IRIs in a CTDL namespace (no term could take the value) in their compact form."""
    if isinstance(value, list):
        return [_compact_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        for namespace, prefix in _namespaces().items():
            if key.startswith(namespace) and len(key) > len(namespace):
                key = f"{prefix}:{key[len(namespace):]}"
                break
        item = _compact_keys(item)
        if key in out:
            out[key] = [*_listed(out[key]), *[i for i in _listed(item) if i not in _listed(out[key])]]
        else:
            out[key] = item
    return out


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _innermost(exc: BaseException) -> str:
    messages: list[str] = []
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        if current.args and isinstance(current.args[0], str):
            messages.append(current.args[0])
        current = current.__cause__
    return " ".join((messages[-1] if messages else type(exc).__name__).split())[:200]


def _is_language_map(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and _LANGUAGE_TAG.match(k) for k in value)
            and all(isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
                    for v in value.values()))


def _language_maps(value: Any) -> Any:
    """Language maps (``{"en": "Data"}``) as value objects, so they keep their meaning under properties the
    pinned context does not declare as language containers (JSON-LD would read them as nodes)."""
    if isinstance(value, list):
        return [_language_maps(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not key.startswith("@") and _is_language_map(item):
            out[key] = [{"@value": text, "@language": lang}
                        for lang, texts in item.items() for text in (texts if isinstance(texts, list) else [texts])]
        elif key == "@context":
            out[key] = item
        else:
            out[key] = _language_maps(item)
    return out


@cache
def _namespaces() -> dict[str, str]:
    """Namespace IRI -> prefix, for the CTDL namespaces of the pinned context."""
    context = pinned_context()["@context"]
    return {context[prefix]: prefix for prefix in CTDL_NAMESPACES}


@cache
def _reference_properties() -> frozenset[str]:
    """Expanded IRIs of the properties the pinned context types ``@id`` (their string values are references)."""
    context = pinned_context()["@context"]
    out = set()
    for key, definition in context.items():
        if isinstance(definition, dict) and definition.get("@type") == "@id":
            prefix, _, local = key.partition(":")
            out.add(context[prefix] + local)
    return frozenset(out)


def _expand_ref(value: str) -> str:
    """A reference written as a compact IRI with a pinned prefix (``creditUnit:ECTS``) as a full IRI."""
    prefix, sep, rest = value.strip().partition(":")
    namespace = pinned_context()["@context"].get(prefix) if sep and not rest.startswith("//") else None
    return namespace + rest if isinstance(namespace, str) else value.strip()


def _alias(iri: str) -> str:
    for old, new in _NAMESPACE_ALIASES.items():
        if iri.startswith(old):
            return new + iri[len(old):]
    return iri


def _normalise(value: Any) -> Any:
    """Expanded JSON-LD with every property and type IRI in the namespaces' canonical spelling."""
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@type" and "@value" not in value:
            item = [_alias(t) if isinstance(t, str) else t for t in (item if isinstance(item, list) else [item])]
        elif not key.startswith("@"):
            key = _alias(key)
            item = _normalise(item)
            if key in _reference_properties():  # a plain string under a reference property names a node
                item = [{"@id": _expand_ref(v["@value"])} if isinstance(v, dict) and set(v) == {"@value"}
                        and isinstance(v["@value"], str) else v for v in item]
        elif key in ("@graph", "@list", "@set", "@reverse"):
            item = _normalise(item)
        if key in out and isinstance(out[key], list) and isinstance(item, list):
            out[key] = out[key] + [i for i in item if i not in out[key]]
        else:
            out[key] = item
    return out


# ---------------------------------------------------------------- reading compacted nodes


def term(key: str) -> str:
    """The local name of a compact key in a CTDL namespace (``ceterms:name`` -> ``name``); other keys as they are."""
    prefix, sep, rest = key.partition(":")
    if sep and prefix in CTDL_NAMESPACES and rest and not rest.startswith("//"):
        return rest
    return key


def _key(obj: dict[str, Any], name: str) -> str | None:
    """The key under which the compacted node ``obj`` holds the CTDL property ``name``."""
    if name in obj and (name.startswith("@") or ":" in name):
        return name
    for namespace in CTDL_NAMESPACES:
        key = f"{namespace}:{name}"
        if key in obj:
            return key
    return None


def _get(obj: dict[str, Any], name: str) -> Any:
    key = _key(obj, name)
    return None if key is None else obj[key]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _id_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        value = obj.get("@id")
        return value if isinstance(value, str) and value.strip() else None
    return None


def _types_of(obj: dict[str, Any]) -> tuple[str, ...]:
    return tuple(term(t) for t in _as_list(obj.get("@type")) if isinstance(t, str))


def _refs(value: Any) -> list[str]:
    """Node references in a property value: strings or objects with an @id."""
    out = []
    for item in _as_list(value):
        ref = item.strip() if isinstance(item, str) else _id_of(item)
        if ref and ref not in out:
            out.append(ref)
    return out


def _ptr(base: str, *parts: str | int) -> str:
    return base + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
