"""Bounded evidence intake (issue 12, failures 2 and 10): ZIP-bomb DOCX, oversized PDF, the parsing process's
time and memory limits, and the charset of legacy text files - through the real extraction path (child
process included), the grader service's intake and the web form. Files are built here, at test time."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import zipfile
from io import BytesIO

import psutil
import pytest

from evals.intake_bench import main as intake_bench
from evals.intake_bench import many_pages_pdf, zip_bomb_docx
from grader.evidence import (
    DEFAULT_LIMITS,
    MB,
    EmptyEvidence,
    ExtractionMemory,
    ExtractionTimeout,
    IntakeLimits,
    TooLarge,
    Unreadable,
    UnsupportedType,
    check_archive,
    combine,
    decode_text,
    extract_file,
    sniff_media_type,
)
from grader.models import Assessor, Status, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE, Settings

CATALOGUE = load_catalogue(BUNDLED_CATALOGUE)
CREDENTIAL = "data-strategy"
LIFTED = {"max_unpacked_bytes": 1 << 40, "max_part_bytes": 1 << 40, "max_ratio": 1e12}  # directory checks off
FRENCH = ("J’ai préparé trois versions du prompt – chacune « meilleure » que la précédente ; la troisième a "
          "fonctionné correctement dans neuf cas sur dix. Prochaine étape : l’évaluation avec les utilisateurs.")
ENGLISH = ("For the retailer I assessed data maturity across five dimensions – “people”, “process” and "
           "“platform” among them – ranked twelve use cases by value, and proposed a costed roadmap. Café notes.")


def no_model():
    raise AssertionError("these tests must not load or run the model")


def parsers_left() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "grader.extract_worker" in " ".join(p.cmdline())]


# ---------------------------------------------------------------------------------------------- DOCX / PDF


def test_a_zip_bomb_docx_is_refused_from_its_directory_before_anything_is_unpacked():
    bomb = zip_bomb_docx(60)
    assert len(bomb) < 1 * MB  # small on disk ...
    assert sum(i.file_size for i in zipfile.ZipFile(BytesIO(bomb)).infolist()) > 59.9 * MB  # ... big unpacked
    with pytest.raises(TooLarge) as info:
        extract_file("bomb.docx", bomb)
    assert str(info.value) == "bomb.docx: the DOCX unpacks to 60.0 MB; the limit is 40 MB"
    assert parsers_left() == []


@pytest.mark.parametrize(("limits", "build", "message"), [
    ({}, lambda: zip_bomb_docx(10), "times larger than it is stored; the limit is 100 times"),  # ratio ~290
    ({"max_part_bytes": 2 * MB, "max_ratio": 1e9}, lambda: zip_bomb_docx(4),
     r"the part 'word/document\.xml' of the DOCX unpacks to 3\.\d MB; the limit is 2 MB per part"),
    ({}, lambda: zip_bomb_docx(0.01, extra_parts=1000), "parts; the limit is 1,000"),
    ({"max_unpacked_bytes": 1 * MB, "max_ratio": 1e9}, lambda: zip_bomb_docx(2),
     r"the DOCX unpacks to 2\.0 MB; the limit is 1 MB"),
])
def test_docx_directory_limits_each_give_a_one_line_reason(limits, build, message):
    data = build()
    with pytest.raises(TooLarge, match="^x.docx: ") as info:
        check_archive(data, DEFAULT_LIMITS.model_copy(update=limits), "x.docx")
    assert re.search(message, str(info.value)) and "\n" not in str(info.value)
    with pytest.raises(TooLarge, match=message):
        extract_file("x.docx", data, DEFAULT_LIMITS.model_copy(update=limits))


def test_an_ordinary_docx_with_a_table_is_read_in_the_child_process():
    import docx

    document = docx.Document()
    document.add_paragraph("I ranked twelve use cases by value and feasibility.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"cell {r}{c}"
    buffer = BytesIO()
    document.save(buffer)
    check_archive(buffer.getvalue())  # passes the directory checks
    text = extract_file("report.docx", buffer.getvalue()).text
    assert text == "I ranked twelve use cases by value and feasibility.\ncell 00 | cell 01\ncell 10 | cell 11"


def test_the_parsing_process_is_killed_at_the_wall_time_limit():
    bomb = zip_bomb_docx(40)  # passes with the directory checks off; python-docx needs many seconds for it
    limits = IntakeLimits(**LIFTED, max_text_chars=1 << 40, timeout_s=1)
    with pytest.raises(ExtractionTimeout) as info:
        extract_file("slow.docx", bomb, limits)
    assert str(info.value).startswith("slow.docx: reading it took longer than 1 s, the limit; upload a smaller")
    assert parsers_left() == []  # killed and reaped, not left running


def test_the_parsing_process_stops_at_the_memory_limit():
    bomb = zip_bomb_docx(30)
    limits = IntakeLimits(**LIFTED, max_text_chars=1 << 40, memory_bytes=160 * MB, timeout_s=120)
    with pytest.raises(ExtractionMemory) as info:
        extract_file("big.docx", bomb, limits)
    assert str(info.value).startswith("big.docx: reading it needed more than 160 MB of memory, the limit")
    assert parsers_left() == []


def test_text_beyond_what_any_evidence_may_hold_stops_the_parser():
    bomb = zip_bomb_docx(8)  # 8 MB of XML, ~4.8 M characters of text
    with pytest.raises(TooLarge, match="holds more than 240,000 characters of text; the evidence limit is 60,000"):
        extract_file("long.docx", bomb, IntakeLimits(**LIFTED))


def test_a_pdf_with_too_many_pages_is_refused_before_its_text_is_read():
    data = many_pages_pdf(DEFAULT_LIMITS.max_pages + 1)
    with pytest.raises(TooLarge) as info:
        extract_file("pages.pdf", data)
    assert str(info.value) == "pages.pdf: the PDF has 501 pages; the limit is 500"
    text = extract_file("three.pdf", many_pages_pdf(3, "My prompt versions")).text
    assert text.split("\n\n") == ["My prompt versions"] * 3
    with pytest.raises(TooLarge, match="the PDF has 3 pages; the limit is 2"):
        extract_file("three.pdf", many_pages_pdf(3, "My prompt versions"), IntakeLimits(max_pages=2))


def test_a_pdf_stream_that_unpacks_past_the_part_limit_is_refused():
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=300)
    stream = StreamObject()
    stream._data = zlib.compress(b"BT (hello) Tj ET\n" + b" " * (20 * MB), 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = BytesIO()
    writer.write(buffer)
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(TooLarge, match="^flate.pdf: a part of the PDF unpacks to more than 16 MB, the limit$"):
        extract_file("flate.pdf", buffer.getvalue())


def test_an_unreadable_docx_still_gets_a_one_line_error():
    data = zip_bomb_docx(0.01)
    broken = data.replace(b"word/document.xml", b"word/documenX.xml", 1)  # central directory names disagree
    with pytest.raises((Unreadable, UnsupportedType)) as info:
        extract_file("broken.docx", broken)
    assert str(info.value).startswith("broken.docx: ") and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------- charset


@pytest.mark.parametrize("text", ["café – naïve “quotes”", "España, año, niño, señor – ¿qué tal?",
                                  "Tämä on testi – ääkköset ovat tärkeitä.", FRENCH, ENGLISH])
def test_windows_1252_text_decodes_right(text):
    data = text.encode("cp1252")
    assert sniff_media_type("notes.txt", data) == "text/plain"
    assert extract_file("notes.txt", data).text == text


@pytest.mark.parametrize(("text", "encoding"), [
    ("Ετοίμασα τρεις εκδοχές της εντολής. Κάθε μία ήταν καλύτερη από την προηγούμενη.", "cp1253"),
    ("Я подготовил три версии запроса. Каждая была лучше предыдущей; третья работала правильно в девяти случаях "
     "из десяти.", "cp1251"),
])
def test_other_legacy_encodings_are_found_by_charset_normalizer(text, encoding):
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_accepted(encoding):
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
           "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}[encoding]
    data = bom + ENGLISH.encode(encoding)
    assert sniff_media_type("notes.md", data) == "text/markdown"
    assert extract_file("notes.md", data).text == ENGLISH


def test_utf8_is_unchanged_and_real_binary_is_still_refused():
    assert extract_file("a.txt", FRENCH.encode("utf-8")).text == FRENCH
    assert extract_file("a.txt", codecs.BOM_UTF8 + FRENCH.encode("utf-8")).text == FRENCH
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(UnsupportedType, match="^photo.txt: is named .txt but holds binary data$"):
        extract_file("photo.txt", png)
    noise = bytes(b for b in hashlib.sha512(b"seed").digest() * 40 if b)  # binary with no NUL byte
    with pytest.raises(Unreadable, match="is not text in an encoding that could be recognised"):
        extract_file("noise.txt", noise)
    with pytest.raises(Unreadable, match="UTF-16 byte-order mark but is not valid UTF-16"):
        extract_file("odd.txt", codecs.BOM_UTF16_LE + b"a\x00b")  # an odd byte count


def test_windows_1252_evidence_counts_its_words():
    """The issue's symptom: cp1252 read as UTF-16 gave 'the evidence has 1 words'."""
    body = combine([extract_file("essay.txt", (ENGLISH + " " + ENGLISH).encode("cp1252")).text])
    assert len(body.split()) == 2 * len(ENGLISH.split())


# ---------------------------------------------------------------------------------------------- service, web


@pytest.fixture
def service(tmp_path):
    queue = GraderQueue(f"sqlite:///{tmp_path / 'intake.db'}", rubrics=rubrics_from_catalogue(CATALOGUE))
    return GraderService(CATALOGUE, queue, scorer_factory=no_model)


def test_the_service_records_a_bomb_as_an_error_and_keeps_the_file(service):
    bomb = zip_bomb_docx(60)
    view = service.submit(SubmissionIn(credential_id=CREDENTIAL, learner_id="intake-bomb", learner_name="Ada",
                                       files=[("bomb.docx", bomb, "application/octet-stream")]))
    assert view.status is Status.error
    assert view.error_message == "bomb.docx: the DOCX unpacks to 60.0 MB; the limit is 40 MB"
    detail = service.queue.get_submission(view.id, assessor=Assessor(username="checker"), include_content=True)
    stored = detail.files[0]
    assert stored.content == bomb and stored.sha256 == hashlib.sha256(bomb).hexdigest()  # nothing is lost
    assert stored.extraction_error == view.error_message
    events = service.queue.audit_log(view.id)
    assert events[-1].event_type == "error" and events[-1].details["message"] == view.error_message


def test_the_service_uses_the_limits_it_is_given(service):
    service.intake_limits = IntakeLimits(max_pages=2)
    pdf = many_pages_pdf(3, "My prompt versions")
    view = service.submit(SubmissionIn(credential_id=CREDENTIAL, learner_id="intake-pages",
                                       files=[("deck.pdf", pdf, "application/pdf")]))
    assert view.status is Status.error and view.error_message == "deck.pdf: the PDF has 3 pages; the limit is 2"


def test_the_service_reads_windows_1252_and_utf16_files(service):
    """Extraction is recorded before the scorer is needed; the scorer here fails (no model), which is recorded
    as a grading error - the extracted texts are what this checks."""
    files = [("notes.txt", ENGLISH.encode("cp1252"), "text/plain"),
             ("more.txt", codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), "text/plain")]
    view, future = service.submit_in_background(SubmissionIn(credential_id=CREDENTIAL, learner_id="intake-cs",
                                                             files=files))
    assert future is not None and future.result(timeout=60).status is Status.error
    detail = service.queue.get_submission(view.id, assessor=Assessor(username="checker"))
    assert [f.extracted_text for f in detail.files] == [ENGLISH, FRENCH]
    assert [f.extraction_error for f in detail.files] == [None, None]


def test_the_web_form_refuses_a_bomb_before_storing_it_and_says_why(service, tmp_path):
    from stackwise.identity import learner_id_for_key, new_learner_key
    from stackwise.web.grader_handlers import GraderWeb

    path = tmp_path / "bomb.docx"
    path.write_bytes(zip_bomb_docx(60))
    web, key = GraderWeb(service), new_learner_key()
    message = web.submit(CREDENTIAL, [str(path)], "", "", "Ada", "", key, "token-bomb")[0]
    assert message.startswith("Nothing was sent") and "the DOCX unpacks to 60.0 MB; the limit is 40 MB" in message
    assert service.queue.submissions_for_learner(learner_id_for_key(key)) == []
    # the service path (Telegram, CLI, an older form) still records it as an error with the same reason: see above


def test_limits_come_from_settings_through_the_composition_root(monkeypatch, tmp_path):
    from stackwise.wiring import _grader

    monkeypatch.setenv("STACKWISE_EVIDENCE_UNPACKED_MB", "5")
    monkeypatch.setenv("STACKWISE_EVIDENCE_TIMEOUT_S", "7.5")
    settings = Settings(home=tmp_path)
    limits = _grader(settings.model_dump_json(exclude={"telegram_token"})).intake_limits  # the service as wired
    assert (limits.max_unpacked_bytes, limits.timeout_s, limits.max_pages) == (5 * MB, 7.5, 500)
    with pytest.raises(TooLarge, match="unpacks to 6.0 MB; the limit is 5 MB"):
        extract_file("x.docx", zip_bomb_docx(6), limits)


def test_empty_and_oversized_files_keep_their_errors():
    with pytest.raises(EmptyEvidence):
        extract_file("empty.docx", b"  ")
    with pytest.raises(TooLarge, match="is 10.0 MB; the limit is 10 MB"):
        extract_file("big.txt", b"a" * (10 * MB + 1))


def test_the_intake_bench_prints_its_figures(capsys):
    rows = intake_bench(["--unpacked-mb", "2", "--cases", "bounded,lifted"])
    out = capsys.readouterr().out
    assert [r["case"] for r in rows] == ["bounded (defaults)", "directory limits lifted"]
    assert "refused (TooLarge)" in rows[0]["outcome"] and "240,000 characters" in rows[1]["outcome"]
    assert "MB peak" in out and os.linesep in out
