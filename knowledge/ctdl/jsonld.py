"""JSON-LD helpers."""

from __future__ import annotations

import re
from typing import Any

# ---------------------------------------------------------------- JSON-LD helpers

_PREFIX = re.compile(r"^[A-Za-z][\w.-]*:(?!//)")


def _local(key: str) -> str:
    """``ceterms:name`` -> ``name``; keywords (``@id``) and plain names are kept."""
    if key.startswith("@"):
        return key
    match = _PREFIX.match(key)
    return key[match.end():] if match else key


def _key(obj: dict[str, Any], name: str) -> str | None:
    """The key under which ``obj`` holds the property ``name`` (whatever its prefix)."""
    if name in obj:
        return name
    for key in obj:
        if _local(key) == name:
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
        value = obj.get("@id", obj.get("id"))
        return value if isinstance(value, str) and value.strip() else None
    return None


def _types_of(obj: dict[str, Any]) -> tuple[str, ...]:
    raw = obj.get("@type", obj.get("type"))
    return tuple(_local(t) for t in _as_list(raw) if isinstance(t, str))


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
