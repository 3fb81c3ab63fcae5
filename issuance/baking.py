"""Badge images with the credential embedded ("baked"), as Open Badges 3.0 §5.3 describes.

* SVG: an ``<openbadges:credential>`` element (namespace ``https://purl.imsglobal.org/ob/v3p0``) right inside the
  root ``<svg>``, holding the signed credential JSON in a ``CDATA`` section.
* PNG: an ``iTXt`` chunk with the keyword ``openbadgecredential`` (uncompressed, no language tag) holding the JSON,
  before ``IEND``.

:func:`badge_svg` draws a simple badge (title, awarding body, date) and bakes the credential into it
(:func:`badge_png`: a plain round PNG badge);
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

from issuance.errors import BakingError  # noqa: F401  (re-exported)
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
    lines = textwrap.wrap(text, width=width) or [""]
    if len(lines) > limit:
        lines = lines[:limit]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def badge_svg(document: Mapping[str, Any]) -> str:
    """A 400×400 SVG badge for the credential, with the credential baked in."""
    subject = document.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {} if isinstance(subject, Mapping) else {}
    title = str(achievement.get("name") or document.get("name") or "Micro-credential")
    issuer = document.get("issuer")
    issuer_name = str(issuer.get("name", "")) if isinstance(issuer, Mapping) else ""
    issued = str(document.get("validFrom", ""))[:10]
    ects = achievement.get("creditsAvailable")
    eqf = achievement.get("eqfLevel")
    detail = " · ".join(p for p in (f"{ects:g} ECTS" if isinstance(ects, int | float) else "",
                                    f"EQF {eqf}" if eqf else "") if p)
    title_lines = _lines(title, 22, 3)
    y0 = 190 - 14 * (len(title_lines) - 1)
    title_svg = "".join(f'<tspan x="200" y="{y0 + 30 * i}">{escape(line)}</tspan>'
                        for i, line in enumerate(title_lines))
    label = escape(f"{title}, awarded by {issuer_name}" if issuer_name else title, {'"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}" viewBox="0 0 400 400" '
        f'width="400" height="400" role="img" aria-label="{label}">\n'
        f"<openbadges:credential>{_cdata(credential_json(document))}</openbadges:credential>\n"
        '<circle cx="200" cy="200" r="190" fill="#1f4e79"/>\n'
        '<circle cx="200" cy="200" r="172" fill="none" stroke="#f2c14e" stroke-width="6"/>\n'
        '<text x="200" y="92" text-anchor="middle" font-family="sans-serif" font-size="16" fill="#f2c14e" '
        'letter-spacing="3">MICRO-CREDENTIAL</text>\n'
        '<text text-anchor="middle" font-family="sans-serif" font-size="24" font-weight="bold" fill="#ffffff">'
        f"{title_svg}</text>\n"
        '<text x="200" y="285" text-anchor="middle" font-family="sans-serif" font-size="15" fill="#dce6f2">'
        f"{escape(_lines(issuer_name, 34, 1)[0])}</text>\n"
        '<text x="200" y="310" text-anchor="middle" font-family="sans-serif" font-size="14" fill="#dce6f2">'
        f"{escape(detail)}</text>\n"
        '<text x="200" y="335" text-anchor="middle" font-family="sans-serif" font-size="13" fill="#dce6f2">'
        f"{escape(issued)}</text>\n"
        "</svg>\n"
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


def _plain_badge_png(size: int = 256) -> bytes:
    """A simple round badge (no text) drawn without an imaging library: blue disc, gold ring, transparent corners."""
    centre, outer, ring = (size - 1) / 2, size / 2 - 2, size / 2 - 14
    rows = []
    for y in range(size):
        row = bytearray(b"\0")  # filter type: none
        for x in range(size):
            r = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            if r > outer:
                row += b"\0\0\0\0"
            elif ring - 4 <= r <= ring + 4:
                row += bytes((0xF2, 0xC1, 0x4E, 0xFF))
            else:
                row += bytes((0x1F, 0x4E, 0x79, 0xFF))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))


_PLAIN_PNG: bytes | None = None


def badge_png(document: Mapping[str, Any]) -> bytes:
    """A plain round PNG badge with the credential baked in (the SVG badge carries the title and issuer)."""
    global _PLAIN_PNG
    if _PLAIN_PNG is None:
        _PLAIN_PNG = _plain_badge_png()
    return bake_png(_PLAIN_PNG, document)


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
