"""Evidence intake: turn uploaded files and text into plain text, with clear, typed errors.

Supported: plain text, Markdown, PDF (pypdf) and DOCX (python-docx); links are kept as links (never
fetched). The type is decided from the file's bytes first and its name second, so a renamed file
cannot smuggle another format in. Nothing here discards input: callers store the original bytes
whatever the outcome.

Intake is bounded (:class:`IntakeLimits`): a DOCX's ZIP directory is checked before anything is
unpacked (total and per-part unpacked size, compression ratio, number of parts), and DOCX and PDF
files are parsed in a child process (:mod:`grader.extract_worker`) with a wall-time and a memory
limit, so a crafted file costs at most those limits and cannot hold the grading thread. Text files
are decoded as UTF-8, then by their byte-order mark, then as charset-normalizer guesses.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import (  # noqa: F401  (re-exported: the evidence errors' old home)
    ERRORS_BY_CODE,
    EmptyEvidence,
    EvidenceError,
    ExtractionMemory,
    ExtractionTimeout,
    ScannedImageOnly,
    TooLarge,
    Unreadable,
    UnsupportedType,
)
from grader.parsers import (  # noqa: F401  (re-exported: their home before grader.parsers)
    DEFAULT_LIMITS,
    DOCX,
    MAX_FILE_BYTES,
    MAX_TOTAL_CHARS,
    MB,
    PDF,
    IntakeLimits,
    _too_much_text,
    docx_text,
    megabytes,
    pdf_text,
)

MIN_WORDS = 15
TEXT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
RATIO_FLOOR_BYTES = MB  # parts smaller than this unpacked are not ratio-checked (tiny parts pack arbitrarily well)
# byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_WIDE_ENCODINGS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]
# charset-normalizer guesses poorly on short texts (cp1250 for French, mac_iceland for Finnish...): among its
# candidates that read about as cleanly as its best one, Windows-1252 - what "ANSI" Notepad and Word write on
# Western-European Windows - is preferred.
PREFERRED_LEGACY = "cp1252"
_PREFERENCE_CHAOS_MARGIN = 0.1


@dataclass(frozen=True)
class ExtractedFile:
    filename: str
    media_type: str
    text: str


def _has_bom(data: bytes) -> bool:
    return data.startswith(codecs.BOM_UTF8) or any(data.startswith(bom) for bom, _ in _BOMS)


def sniff_media_type(filename: str, data: bytes) -> str:
    """The media type from the file's content, checked against its name."""
    suffix = Path(filename).suffix.lower()
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except zipfile.BadZipFile:
            pass
        raise UnsupportedType("is a ZIP archive but not a Word (.docx) document", filename)
    if suffix in TEXT_TYPES:
        if b"\x00" in data[:4096] and not _has_bom(data):
            raise UnsupportedType(f"is named {suffix} but holds binary data", filename)
        return TEXT_TYPES[suffix]
    if suffix in (".pdf", ".docx"):
        raise Unreadable(f"is named {suffix} but its content is not a valid {suffix[1:].upper()} file", filename)
    allowed = ", ".join(sorted({*TEXT_TYPES, ".pdf", ".docx"}))
    raise UnsupportedType(f"file type {suffix or '(none)'!r} is not accepted; use one of {allowed}", filename)


def check_archive(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS, filename: str | None = None) -> None:
    """Refuse a DOCX whose ZIP directory promises too much, before any part is unpacked.

    ``zipfile`` never unpacks more than a part's declared size, so the declared sizes checked here bound what
    the parser can be handed.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Unreadable(f"could not be read as DOCX ({exc})", filename) from exc
    if len(parts) > limits.max_parts:
        raise TooLarge(f"the DOCX holds {len(parts):,} parts; the limit is {limits.max_parts:,}", filename)
    total = sum(part.file_size for part in parts)
    if total > limits.max_unpacked_bytes:
        raise TooLarge(f"the DOCX unpacks to {megabytes(total)}; the limit is {megabytes(limits.max_unpacked_bytes)}",
                       filename)
    for part in parts:
        if part.file_size > limits.max_part_bytes:
            raise TooLarge(f"the part {part.filename!r} of the DOCX unpacks to {megabytes(part.file_size)}; the "
                           f"limit is {megabytes(limits.max_part_bytes)} per part", filename)
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size >= RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise TooLarge(f"the part {part.filename!r} of the DOCX unpacks {ratio:,.0f} times larger than it is "
                           f"stored; the limit is {limits.max_ratio:,.0f} times (this is how ZIP bombs look)",
                           filename)


def decode_text(data: bytes, filename: str | None = None) -> str:
    """Text from bytes: strict UTF-8 (with or without its mark), then a UTF-16/32 byte-order mark, then the
    encoding charset-normalizer finds (Windows-1252 preferred when it reads as cleanly)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise Unreadable(f"starts with a {encoding.upper()} byte-order mark but is not valid "
                                 f"{encoding.upper()} text", filename) from exc
    encoding = guess_encoding(data)
    if encoding is None:
        raise Unreadable("is not text in an encoding that could be recognised; save it as UTF-8 and upload it "
                         "again", filename)
    return data.decode(encoding, errors="replace")


def guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's guess for text with no byte-order mark (never UTF-16/32: those need a mark)."""
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_exclusion=_WIDE_ENCODINGS)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if match.chaos <= best.chaos + _PREFERENCE_CHAOS_MARGIN and PREFERRED_LEGACY in match.could_be_from_charset:
            return PREFERRED_LEGACY
    return best.encoding


def extract_file(filename: str, data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ExtractedFile:
    """Plain text of one uploaded file; raises an :class:`EvidenceError` subclass when it has none.

    DOCX and PDF files are parsed in a child process within ``limits`` (see :mod:`grader.extract_worker`).
    """
    if len(data) > limits.max_file_bytes:
        raise TooLarge(f"is {megabytes(len(data))}; the limit is {megabytes(limits.max_file_bytes)}", filename)
    if not data.strip():
        raise EmptyEvidence("is empty", filename)
    media_type = sniff_media_type(filename, data)
    if media_type in (PDF, DOCX):
        from grader.extract_worker import extract_isolated

        if media_type == DOCX:
            check_archive(data, limits, filename)
        text = extract_isolated(media_type, data, limits, filename)
    else:
        text = decode_text(data, filename)
    text = normalise_text(text)
    if not text:
        raise EmptyEvidence("contains no text", filename)
    return ExtractedFile(filename, media_type, text)


def normalise_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def find_links(text: str) -> list[str]:
    return list(dict.fromkeys(m.rstrip(".,;:") for m in _URL.findall(text)))


def combine(texts: list[str], reflection: str | None = None) -> str:
    """The evidence as the grader reads it, with limits checked."""
    parts = [t for t in texts if t.strip()]
    if reflection and reflection.strip():
        parts.append("Reflective statement:\n" + normalise_text(reflection))
    body = "\n\n".join(parts).strip()
    if len(body.split()) < MIN_WORDS:
        raise EmptyEvidence(f"the evidence has {len(body.split())} words; at least {MIN_WORDS} are needed to grade it")
    if len(body) > MAX_TOTAL_CHARS:
        raise TooLarge(f"the evidence has {len(body):,} characters; the limit is {MAX_TOTAL_CHARS:,}. "
                       "Submit the most relevant excerpts.")
    return body
