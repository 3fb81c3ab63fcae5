"""Reading DOCX and PDF evidence within limits: the parsers and the limits they obey.

These run in the isolated child process (:mod:`grader.extract_worker`) as well as in tests, so this module imports
only the grader's errors: :mod:`grader.evidence` (which starts the child) imports from here, never the other way.
"""

from __future__ import annotations

import io

from pydantic import BaseModel, ConfigDict, Field

from grader.errors import EvidenceError, ScannedImageOnly, TooLarge, Unreadable

MB = 1_048_576
MAX_FILE_BYTES = 10 * MB
MAX_TOTAL_CHARS = 60_000
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class IntakeLimits(BaseModel):
    """What one evidence file may cost to read. Defaults are safe; the composition root passes configured ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: int = Field(default=MAX_FILE_BYTES, gt=0)
    max_unpacked_bytes: int = Field(default=40 * MB, gt=0, description="a DOCX's parts together, unpacked")
    max_part_bytes: int = Field(default=16 * MB, gt=0, description="one DOCX part, or one PDF stream, unpacked")
    max_ratio: float = Field(default=100.0, gt=1, description="unpacked / packed size of one DOCX part")
    max_parts: int = Field(default=1000, gt=0, description="parts in a DOCX")
    max_pages: int = Field(default=500, gt=0, description="pages in a PDF")
    max_pdf_objects: int = Field(default=200_000, gt=0, description="objects a PDF declares")
    max_text_chars: int = Field(default=4 * MAX_TOTAL_CHARS, gt=0, description="text read from one file")
    timeout_s: float = Field(default=30.0, gt=0, description="wall time to parse one DOCX or PDF")
    memory_bytes: int = Field(default=1024 * MB, ge=64 * MB, description="address space of the parsing process")


DEFAULT_LIMITS = IntakeLimits()


def megabytes(size: float) -> str:
    """``40 MB`` for whole megabytes, ``60.3 MB`` otherwise."""
    value = size / MB
    return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"


def pdf_text(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> str:
    """The text of a PDF, within ``limits`` (pages, declared objects, unpacked stream size, characters)."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PdfReadError

    with apply_configuration(**{name: limits.max_part_bytes for name in (
            "zlib_maximum_output_length", "lzw_maximum_output_length", "run_length_maximum_output_length",
            "brotli_maximum_output_length", "maximum_declared_stream_length")}):
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise Unreadable("is password-protected; upload an unprotected copy")
            objects = int(reader.trailer.get("/Size", 0) or 0)
            if objects > limits.max_pdf_objects:
                raise TooLarge(f"the PDF declares {objects:,} objects; the limit is {limits.max_pdf_objects:,}")
            count = len(reader.pages)
            if count > limits.max_pages:
                raise TooLarge(f"the PDF has {count:,} pages; the limit is {limits.max_pages:,}")
            pages, length = [], 0
            for page in reader.pages:
                pages.append(page.extract_text() or "")
                length += len(pages[-1])
                if length > limits.max_text_chars:
                    raise _too_much_text(limits)
            has_images = not any(p.strip() for p in pages) and any(page.images for page in reader.pages)
        except EvidenceError:
            raise
        except LimitReachedError as exc:
            raise TooLarge(f"a part of the PDF unpacks to more than {megabytes(limits.max_part_bytes)}, the limit",
                           ) from exc
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise Unreadable(f"could not be read as PDF ({exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text and has_images:
        raise ScannedImageOnly("contains only scanned images and no text; upload a text PDF, DOCX or plain text")
    return text


def docx_text(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> str:
    """The paragraphs, then the table rows, of a DOCX (call :func:`check_archive` first)."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:  # python-docx raises several unrelated types for corrupt files
        raise Unreadable(f"could not be read as DOCX ({type(exc).__name__})") from exc
    parts, length = [], 0

    def add(text: str) -> None:
        nonlocal length
        parts.append(text)
        length += len(text)
        if length > limits.max_text_chars:
            raise _too_much_text(limits)

    for paragraph in document.paragraphs:
        if (text := paragraph.text).strip():
            add(text)
    for table in document.tables:
        for row in table.rows:
            add(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(parts)


def _too_much_text(limits: IntakeLimits) -> TooLarge:
    return TooLarge(f"holds more than {limits.max_text_chars:,} characters of text; the evidence limit is "
                    f"{MAX_TOTAL_CHARS:,}. Submit the most relevant excerpts.")
