"""Reading CTDL files: JSON documents, their node objects, and whether they are CTDL at all."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.ctdl.jsonld import _as_list, _get, _key, _ptr, _types_of, term
from knowledge.ctdl.report import CtdlImportError
from knowledge.ctdl.values import (
    MAX_FILE_BYTES,
    _text,
)
from knowledge.ctdl.vocab import (
    _KNOWN_CTDL,
)

# ---------------------------------------------------------------- reading


@dataclass
class _Node:
    id: str
    data: dict[str, Any]
    file: str
    pointer: str
    doc: tuple[str, int]
    origins: dict[str, str] = field(default_factory=dict)  # key -> pointer of the definition it came from

    @property
    def types(self) -> tuple[str, ...]:
        return _types_of(self.data)

    @property
    def type_label(self) -> str:
        raw = self.data.get("@type")
        return ", ".join(str(t) for t in _as_list(raw)) or "(untyped)"

    def get(self, name: str) -> Any:
        return _get(self.data, name)

    def key(self, name: str) -> str:
        return _key(self.data, name) or name

    def ptr(self, *parts: str | int) -> str:
        base = self.origins.get(str(parts[0]), self.pointer) if parts else self.pointer
        return _ptr(base, *parts)

    @property
    def name(self) -> str | None:
        return _text(self.get("name")) or _text(self.get("title"))

    def has(self, name: str) -> bool:
        return _key(self.data, name) is not None


def _read_documents(path: Path) -> list[Any]:
    """Every JSON document in ``path`` (a file may hold several concatenated documents)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CtdlImportError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", path)
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CtdlImportError(f"not UTF-8 text ({exc.reason}); expected CTDL JSON-LD", path) from exc
    except OSError as exc:
        raise CtdlImportError(f"cannot read file: {exc.strerror or exc}", path) from exc
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            doc, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise CtdlImportError(
                f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; expected CTDL JSON-LD", path
            ) from exc
        docs.append(doc)
    if not docs:
        raise CtdlImportError("file is empty; expected CTDL JSON-LD", path)
    return docs


def _doc_nodes(doc: Any) -> list[tuple[str, Any]]:
    """(pointer, item) of the node objects a document holds."""
    if isinstance(doc, list):
        return [(f"/{i}", item) for i, item in enumerate(doc)]
    if isinstance(doc, dict):
        graph_key = "@graph" if "@graph" in doc else None
        if graph_key is not None:
            items = [(_ptr("", "@graph", i), item) for i, item in enumerate(_as_list(doc[graph_key]))]
            if _types_of(doc):
                items.insert(0, ("", {k: v for k, v in doc.items() if k != "@graph"}))
            return items
        return [("", doc)]
    return []


#: namespaces of the CTDL classes (compact form, after :func:`knowledge.ctdl.jsonld.compact_node`)
_CTDL_TYPE_PREFIXES = ("ceterms", "ceasn", "asn", "qdata")


def _is_ctdl(doc: Any, nodes: list[dict[str, Any]]) -> bool:
    """Whether a document is CTDL: it names a CTDL context, or one of its compacted nodes has a CTDL type."""
    if isinstance(doc, dict):
        context = json.dumps(doc.get("@context", ""))
        if "credreg.net" in context or "ctdl" in context.lower():
            return True
    for node in nodes:
        raw = [t for t in _as_list(node.get("@type")) if isinstance(t, str)]
        if any(t.partition(":")[0] in _CTDL_TYPE_PREFIXES or term(t) in _KNOWN_CTDL for t in raw):
            return True
    return False


def _not_ctdl_reason(doc: Any) -> str:
    if isinstance(doc, dict) and {"elementId", "requirements"} <= doc.keys():
        return ("JSON but not CTDL: this looks like a Badgr pathway export (elementId/requirements); "
                "export the pathway as CTDL JSON-LD instead")
    if isinstance(doc, dict):
        keys = ", ".join(list(doc)[:8])
        return f"JSON but not CTDL: no CTDL @context or ceterms:/ceasn: @type found (top-level keys: {keys})"
    return f"JSON but not CTDL: the document is a {type(doc).__name__}, expected a JSON-LD object or @graph"
