"""Evidence-intake bench: what a crafted upload costs to read, unbounded (as before issue 12) and bounded.

Builds, in memory, a ZIP-bomb DOCX (a few hundred KB holding ``--unpacked-mb`` of paragraph XML) and
reads it three ways, each in a fresh process, printing wall time and peak memory (RSS of the process and
of any parser process it started; figures only, nothing asserted):

* **unbounded** - python-docx in the grading process, paragraphs then tables: the reading before issue 12;
* **bounded** - :func:`grader.evidence.extract_file` with the default limits: refused from the ZIP directory;
* **directory limits lifted** - the same with the size and ratio limits lifted: the parser (in its child
  process) stops once the file has given more text than any evidence may have;
* **child limits only** - every size limit lifted, so the child process's wall-time and memory limits are
  what stop it.

Run: ``python -m evals.intake_bench [--unpacked-mb 60]`` (the builders are reused by the tests).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PARAGRAPH = b"<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>"
_MB = 1_048_576


def _blank_docx() -> bytes:
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    return buffer.getvalue()


def zip_bomb_docx(unpacked_mb: float, paragraph: bytes = PARAGRAPH, *, extra_parts: int = 0) -> bytes:
    """A valid DOCX that unpacks to about ``unpacked_mb`` MB, nearly all of it ``word/document.xml`` repeating
    ``paragraph`` (packed at the highest compression: the file is a few hundred times smaller), with
    ``extra_parts`` tiny parts more."""
    source = zipfile.ZipFile(io.BytesIO(_blank_docx()))
    others = sum(info.file_size for info in source.infolist() if info.filename != "word/document.xml")
    head = source.read("word/document.xml").split(b"<w:body>")[0] + b"<w:body>"
    tail = b"<w:sectPr/></w:body></w:document>"
    count = max(1, (int(unpacked_mb * _MB) - others - len(head) - len(tail)) // len(paragraph))
    body = head + paragraph * count + tail
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, body if info.filename == "word/document.xml" else source.read(info))
        for n in range(extra_parts):
            archive.writestr(f"customXml/extra{n}.xml", b"<a/>")
    return out.getvalue()


def many_pages_pdf(pages: int, text: str | None = None) -> bytes:
    """A PDF of ``pages`` pages (blank, or each showing ``text``), written by pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    font = None
    for _ in range(pages):
        page = writer.add_blank_page(width=300, height=300)
        if text is None:
            continue
        if font is None:
            font = writer._add_object(DictionaryObject({
                NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica")}))
        stream = StreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 200 Td ({text}) Tj ET".encode())
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): font})})
        page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---- one measured case, run in its own process ---------------------------------------------------


def _unbounded(data: bytes) -> str:
    import docx  # the reading before issue 12, in the calling process

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return f"read {sum(len(p) for p in parts):,} characters"


def _bounded(data: bytes, lifted: tuple[str, ...] = ()) -> str:
    from grader.evidence import DEFAULT_LIMITS, EvidenceError, extract_file

    limits = DEFAULT_LIMITS.model_copy(update=dict.fromkeys(lifted, 1 << 40))
    try:
        return f"read {len(extract_file('bomb.docx', data, limits).text):,} characters"
    except EvidenceError as exc:
        return f"refused ({type(exc).__name__}): {exc}"


def _own_peak_kb() -> int:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it does not carry the parent's peak over exec)."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))


def _case(name: str, path: str) -> None:
    data = Path(path).read_bytes()
    started = time.perf_counter()
    outcome = _unbounded(data) if name == "unbounded" else _bounded(data, LIFTED[name])
    seconds = time.perf_counter() - started
    peak = max(_own_peak_kb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # self, or its parser
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "outcome": outcome}))


def _run_self(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evals.intake_bench", *args], capture_output=True, text=True,
                          check=False)


def _measure(name: str, path: Path) -> dict:
    done = _run_self("--case", name, str(path))
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"seconds": float("nan"), "peak_mb": float("nan"),
                "outcome": f"the process stopped (exit code {done.returncode}): {done.stderr.strip()[-200:]}"}
    return json.loads(lines[-1])


CASES = {"unbounded": "unbounded (before)", "bounded": "bounded (defaults)",
         "lifted": "directory limits lifted", "child": "child limits only"}
_DIRECTORY = ("max_unpacked_bytes", "max_part_bytes", "max_ratio")
LIFTED = {"bounded": (), "lifted": _DIRECTORY, "child": (*_DIRECTORY, "max_text_chars")}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpacked-mb", type=float, default=60.0)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--case", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--build", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        _case(*args.case)
        return []
    if args.build:
        Path(args.build).write_bytes(zip_bomb_docx(args.unpacked_mb))
        return []
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bomb.docx"
        _run_self("--unpacked-mb", str(args.unpacked_mb), "--build", str(path)).check_returncode()  # kept out of
        # this process, whose peak memory every measured process would otherwise start from
        unpacked = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
        print(f"ZIP-bomb DOCX: {path.stat().st_size / 1024:,.0f} KB on disk, {unpacked / _MB:,.1f} MB unpacked")
        for name in args.cases.split(","):
            row = {"case": CASES[name], **_measure(name, path)}
            rows.append(row)
            print(f"{row['case']:<34} {row['seconds']:7.2f} s  {row['peak_mb']:7.0f} MB peak  {row['outcome']}")
    return rows


if __name__ == "__main__":
    main()
