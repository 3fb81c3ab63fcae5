"""Badge images with the credential embedded ("baked"), as Open Badges 3.0 §5.3 describes.

* SVG: an ``<openbadges:credential>`` element (namespace ``https://purl.imsglobal.org/ob/v3p0``) right inside the
  root ``<svg>``, holding the signed credential JSON in a ``CDATA`` section.
* PNG: an ``iTXt`` chunk with the keyword ``openbadgecredential`` (uncompressed, no language tag) holding the JSON,
  before ``IEND``.

:func:`badge_svg` and :func:`badge_png` draw a round badge showing the credential (title, awarding body, level /
ECTS, issue date; the PNG drawn by :mod:`issuance.badge_image`) and bake the credential into it;
:func:`unbake_svg` / :func:`unbake_png` get the credential back (the verification page accepts baked images).
The credential is embedded byte-for-byte as JSON, so its proof still verifies after extraction.
"""

from __future__ import annotations

import json
import struct
import textwrap
import zlib
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from issuance.badge_image import TITLE_LINES, draw_png, thumbnail_png
from issuance.errors import BakingError  # noqa: F401  (re-exported)
from issuance.sharing import credential_facts
from issuance.verify import shape_problem

OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
PNG_KEYWORD = b"openbadgecredential"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def credential_json(document: Mapping[str, Any]) -> str:
    """The credential as compact JSON (what is embedded and downloaded)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _lines(text: str, width: int, limit: int) -> list[str]:
    lines = textwrap.wrap(text, width=width, break_long_words=True) or [""]
    if len(lines) > limit:
        lines = lines[:limit]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def badge_svg(document: Mapping[str, Any]) -> str:
    """A 600×600 SVG badge showing the credential's title (wrapped), awarding body, level / ECTS and issue date,
    laid out as the PNG (:func:`badge_png`), with the credential baked in."""
    facts = credential_facts(document)
    title = facts.title or "Micro-credential"
    title_lines = _lines(title, 20, TITLE_LINES)
    top = 268 - 48 * (len(title_lines) - 1) / 2
    title_svg = "".join(f'<tspan x="300" y="{top + 48 * i:g}">{escape(line)}</tspan>'
                        for i, line in enumerate(title_lines))
    below = top + 48 * (len(title_lines) - 1) + 62
    details = []
    for text, size in ((facts.issuer_name, 24), (facts.level_text, 22), (facts.issued_text, 22)):
        if text:
            details.append(f'<text x="300" y="{below:g}" text-anchor="middle" dominant-baseline="middle" '
                           f'font-family="sans-serif" font-size="{size}" fill="#dce6f2">'
                           f"{escape(_lines(text, 34, 1)[0])}</text>\n")
            below += size + 14
    label = ", ".join(p for p in (title, f"awarded by {facts.issuer_name}" if facts.issuer_name else "",
                                  facts.level_text, f"issued {facts.issued_text}" if facts.issued_text else "") if p)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}" viewBox="0 0 600 600" '
        f'width="600" height="600" role="img" aria-label="{_attr(label)}">\n'
        f"<openbadges:credential>{_cdata(credential_json(document))}</openbadges:credential>\n"
        f"<title>{escape(label)}</title>\n"
        '<circle cx="300" cy="300" r="296" fill="#1f4e79"/>\n'
        '<circle cx="300" cy="300" r="270" fill="none" stroke="#f2c14e" stroke-width="8"/>\n'
        '<text x="300" y="128" text-anchor="middle" dominant-baseline="middle" font-family="sans-serif" '
        'font-size="24" fill="#f2c14e" letter-spacing="3">MICRO-CREDENTIAL</text>\n'
        '<text text-anchor="middle" dominant-baseline="middle" font-family="sans-serif" font-size="40" '
        f'font-weight="bold" fill="#ffffff">{title_svg}</text>\n'
        + "".join(details)
        + "</svg>\n"
    )


def _parse_credential(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BakingError(f"the credential embedded in the {where} is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise BakingError(f"the credential embedded in the {where} is nested too deeply to be a credential") from None
    if not isinstance(value, dict):
        raise BakingError(f"the credential embedded in the {where} is not a JSON object")
    _bounded(value)
    return value


def _bounded(value: Any) -> None:
    problem = shape_problem(value)
    if problem is not None:
        raise BakingError(problem)


def unbake_svg(data: bytes | str) -> dict[str, Any]:
    """The credential baked into an SVG (``<openbadges:credential>`` with JSON content). JWT-baked badges
    (a ``verify`` attribute) are refused: this app verifies Data Integrity proofs only."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_IMAGE_BYTES:
        raise BakingError(f"the SVG is larger than {MAX_IMAGE_BYTES // 1_048_576} MB")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise BakingError("SVGs with a DOCTYPE or entity declarations are not accepted")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise BakingError(f"the file is not a well-formed SVG ({exc})") from None
    element = root.find(f"{{{OB_NAMESPACE}}}credential")
    if element is None:
        element = next(root.iter(f"{{{OB_NAMESPACE}}}credential"), None)
    if element is None:
        raise BakingError("the SVG has no <openbadges:credential> element: no credential is baked into it")
    if element.get("verify"):
        raise BakingError("the SVG carries a JWT credential (verify attribute); only JSON credentials are supported")
    return _parse_credential((element.text or "").strip(), "SVG")


# ---------------------------------------------------------------- PNG


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(PNG_SIGNATURE):
        raise BakingError("the file is not a PNG image")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 12 <= len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise BakingError("the PNG is truncated")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[-1][0] != b"IEND":
        raise BakingError("the PNG has no IEND chunk")
    return chunks


def bake_png(png: bytes, document: Mapping[str, Any]) -> bytes:
    """``png`` with the credential in an ``iTXt`` chunk ``openbadgecredential`` (any earlier one replaced)."""
    chunks = [(k, b) for k, b in _chunks(png) if not (k == b"iTXt" and b.split(b"\0", 1)[0] == PNG_KEYWORD)]
    text = PNG_KEYWORD + b"\0" + b"\0\0" + b"\0" + b"\0" + credential_json(document).encode("utf-8")
    out = PNG_SIGNATURE
    for kind, body in chunks:
        if kind == b"IEND":
            out += _chunk(b"iTXt", text)
        out += _chunk(kind, body)
    return out


def badge_png(document: Mapping[str, Any]) -> bytes:
    """A PNG badge showing the credential's title, awarding body, level / ECTS and issue date
    (:func:`issuance.badge_image.draw_png`), with the credential baked in."""
    return bake_png(draw_png(credential_facts(document)), document)


def badge_thumbnail(document: Mapping[str, Any], size: int = 160) -> bytes:
    """The badge picture at ``size`` pixels for a listing (no credential baked in: it is not a download)."""
    return thumbnail_png(credential_facts(document), size)


def unbake_png(data: bytes) -> dict[str, Any]:
    """The credential in a PNG's ``openbadgecredential`` iTXt chunk."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"the PNG is larger than {MAX_IMAGE_BYTES // 1_048_576} MB")
    for kind, body in _chunks(data):
        if kind != b"iTXt":
            continue
        keyword, _, rest = body.partition(b"\0")
        if keyword != PNG_KEYWORD or len(rest) < 2:
            continue
        compressed, _method, rest = rest[0], rest[1], rest[2:]
        _language, _, rest = rest.partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        if compressed:
            try:
                text = zlib.decompressobj().decompress(text, MAX_IMAGE_BYTES)
            except zlib.error:
                raise BakingError("the PNG's credential chunk is not valid compressed data") from None
        return _parse_credential(text.decode("utf-8", errors="replace"), "PNG")
    raise BakingError("the PNG has no openbadgecredential iTXt chunk: no credential is baked into it")


def extract_credential(data: bytes, filename: str = "") -> dict[str, Any]:
    """A credential from an uploaded file: JSON, a baked SVG or a baked PNG (by content, then name)."""
    head = data.lstrip()[:200]
    if data.startswith(PNG_SIGNATURE):
        return unbake_png(data)
    if head.startswith(b"<") or filename.lower().endswith(".svg"):
        return unbake_svg(data)
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"the file is larger than {MAX_IMAGE_BYTES // 1_048_576} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BakingError("the file is neither JSON, an SVG nor a PNG") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BakingError(f"the file is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise BakingError("the file's JSON is nested too deeply to be a credential") from None
    if not isinstance(value, dict):
        raise BakingError("the file's JSON is not an object, so it is not a credential")
    _bounded(value)
    return value
