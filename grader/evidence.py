"""Evidence intake: turn uploaded files and text into plain text, with clear, typed errors.

Supported: plain text, Markdown, PDF (pypdf) and DOCX (python-docx); links are kept as links (never
fetched). The type is decided from the file's bytes first and its name second, so a renamed file
cannot smuggle another format in. Nothing here discards input: callers store the original bytes
whatever the outcome.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_CHARS = 60_000
MIN_WORDS = 15
TEXT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


class EvidenceError(ValueError):
    """Evidence that cannot be graded; ``code`` names the problem, the message explains it to a learner."""

    code = "invalid"

    def __init__(self, message: str, filename: str | None = None):
        self.filename = filename
        super().__init__(f"{filename}: {message}" if filename else message)


class UnsupportedType(EvidenceError):
    code = "unsupported_type"


class TooLarge(EvidenceError):
    code = "too_large"


class EmptyEvidence(EvidenceError):
    code = "empty"


class Unreadable(EvidenceError):
    code = "unreadable"


class ScannedImageOnly(EvidenceError):
    code = "scanned_image_only"


@dataclass(frozen=True)
class ExtractedFile:
    filename: str
    media_type: str
    text: str


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
        if b"\x00" in data[:4096]:
            raise UnsupportedType(f"is named {suffix} but holds binary data", filename)
        return TEXT_TYPES[suffix]
    if suffix in (".pdf", ".docx"):
        raise Unreadable(f"is named {suffix} but its content is not a valid {suffix[1:].upper()} file", filename)
    allowed = ", ".join(sorted({*TEXT_TYPES, ".pdf", ".docx"}))
    raise UnsupportedType(f"file type {suffix or '(none)'!r} is not accepted; use one of {allowed}", filename)


def _pdf_text(data: bytes, filename: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unreadable("is password-protected; upload an unprotected copy", filename)
        pages = [page.extract_text() or "" for page in reader.pages]
        has_images = any(page.images for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise Unreadable(f"could not be read as PDF ({exc})", filename) from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text and has_images:
        raise ScannedImageOnly("contains only scanned images and no text; upload a text PDF, DOCX or plain text",
                               filename)
    return text


def _docx_text(data: bytes, filename: str) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for corrupt files
        raise Unreadable(f"could not be read as DOCX ({type(exc).__name__})", filename) from exc
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(parts)


def _decode_text(data: bytes, filename: str) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unreadable("is not UTF-8 text", filename)


def extract_file(filename: str, data: bytes) -> ExtractedFile:
    """Plain text of one uploaded file; raises an :class:`EvidenceError` subclass when it has none."""
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(f"is {len(data) / 1_048_576:.1f} MB; the limit is {MAX_FILE_BYTES // 1_048_576} MB", filename)
    if not data.strip():
        raise EmptyEvidence("is empty", filename)
    media_type = sniff_media_type(filename, data)
    if media_type == PDF:
        text = _pdf_text(data, filename)
    elif media_type == DOCX:
        text = _docx_text(data, filename)
    else:
        text = _decode_text(data, filename)
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
