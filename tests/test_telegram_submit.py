"""Evidence submission over Telegram, offline: the real ``Application`` on the fake Bot API of
tests/test_telegram_bot.py, extended to answer getFile and serve file downloads, and a real
:class:`grader.service.GraderService` on a per-test SQLite database with the demo catalogue. Its scorer
factory raises, so background grading ends in a recorded error (and the learner is told); only the test
marked ``model`` grades with the real LLM."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
import pytest_asyncio
from telegram import Update

from grader.models import Assessor, Status, SubmissionIn
from grader.queue import open_queue, rubrics_from_catalogue
from grader.service import GraderService
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE
from stackwise.telegram.bot import build_application
from stackwise.telegram.drafts import NOT_IMAGES
from stackwise.telegram.submissions import PRIVATE_ONLY, UNSUPPORTED_MESSAGE, Submissions
from tests.test_telegram_bot import TOKEN, FakeBotAPI, user_id
from tests.test_telegram_bot import update as make_update

CREDENTIAL = "data-strategy"
EVIDENCE = ("In my role as data lead I wrote our data strategy: I mapped the business goals to data assets, "
            "assessed data quality across three systems, set up a governance board and defined KPIs for the "
            "analytics roadmap, which the executive team approved in March.")
ASSESSOR = Assessor(username="test-assessor")


class FakeBotAPIWithFiles(FakeBotAPI):
    """Also answers getFile and serves downloads (``File.download_as_bytearray`` GETs
    ``<base_file_url>/<file_path>`` through the same request object)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.all_sent: list[str] = []  # every message, never cleared (results arrive between updates)

    def document(self, name: str | None, data: bytes, mime: str | None = "text/plain",
                 size: int | None = None) -> dict:
        file_id = f"BQACAgIAAx{len(self.files)}"
        self.files[file_id] = data
        doc = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data) if size is None else size}
        if name is not None:
            doc["file_name"] = name
        if mime is not None:
            doc["mime_type"] = mime
        return doc

    async def do_request(self, url: str, method: str, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None) -> tuple[int, bytes]:
        if "/file/bot" in url:  # a file download
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            self.calls.append(("download", {"path": path}))
            file_id = path.removeprefix("documents/")
            return (200, self.files[file_id]) if file_id in self.files else (404, b"Not Found")
        name = url.rsplit("/", 1)[-1]
        if name == "getFile":
            params = dict(request_data.parameters) if request_data else {}
            self.calls.append((name, params))
            file_id = params["file_id"]
            result = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id]),
                      "file_path": f"documents/{file_id}"}
            return 200, json.dumps({"ok": True, "result": result}).encode()
        status, body = await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                                connect_timeout, pool_timeout)
        if name == "sendMessage":
            self.all_sent.append(self.calls[-1][1]["text"])
        return status, body


def no_model():
    raise RuntimeError("no model in this test")


@pytest.fixture(scope="module")
def catalogue():
    from stackwise.config import BUNDLED_CATALOGUE

    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture
def grader(settings, catalogue):
    assert settings.catalogue == BUNDLED_CATALOGUE
    service = GraderService(catalogue, open_queue(settings.db_url, rubrics=rubrics_from_catalogue(catalogue)),
                            scorer_factory=no_model)
    yield service
    if service._executor is not None:
        service._executor.shutdown(wait=True)


@pytest_asyncio.fixture
async def bot(assistant, grader):
    fake = FakeBotAPIWithFiles()
    app = build_application(assistant, TOKEN, request=fake, typing_interval=0.05, grader=grader)
    async with app:
        yield app, fake


async def send(bot, user: int, text: str | None = None, chat_type: str = "private", **extra) -> list[str]:
    """Process one message from ``user``; the texts the bot sent back while handling it."""
    app, fake = bot
    fake.calls.clear()
    upd = make_update(app, user, text, **extra)
    if chat_type != "private":
        data = upd.to_dict()
        data["message"]["chat"] = {"id": -1000 - user, "type": chat_type, "title": "Study group"}
        upd = Update.de_json(data, app.bot)
    await app.process_update(upd)
    return fake.sent()


async def wait_for_message(fake: FakeBotAPIWithFiles, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in fake.all_sent:
            if needle in text:
                return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message containing {needle!r}; sent: {fake.all_sent}")


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in text.split(". "):
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def submission_id(reply: str) -> str:
    assert reply.startswith("Received: submission "), reply
    return reply.removeprefix("Received: submission ").split()[0]


# ------------------------------------------------------------------ commands


@pytest.mark.asyncio
async def test_submit_without_argument_lists_credentials_and_help_explains(bot, grader):
    (reply,) = await send(bot, user_id(), "/submit")
    assert reply.startswith("Usage: /submit CREDENTIAL_ID")
    for cid, credential in grader.catalogue.credentials.items():
        assert f"- {cid}: {credential.title}" in reply
    (reply,) = await send(bot, user_id(), "/help")
    assert all(c in reply for c in ("/submit", "/reflection", "/done", "/cancel", "/status", "/plan"))

    app, fake = bot
    fake.calls.clear()
    await app.post_init(app)
    ((method, params),) = fake.calls
    commands = params["commands"]
    commands = json.loads(commands) if isinstance(commands, str) else commands
    assert [c["command"] for c in commands] == ["start", "help", "plan", "hold", "reset", "forget", "submit",
                                                "reflection", "done", "cancel", "status"]


@pytest.mark.asyncio
async def test_unknown_credential_gets_a_clear_message_and_no_draft(bot, grader):
    user = user_id()
    (reply,) = await send(bot, user, "/submit no-such-credential")
    assert reply.startswith("unknown credential 'no-such-credential'; known credentials:")
    assert CREDENTIAL in reply and "Usage: /submit" in reply
    (reply,) = await send(bot, user, "/done")
    assert reply.startswith("You have no submission open")
    assert grader.queue.submissions_for_learner(f"telegram:{user}") == []


@pytest.mark.asyncio
async def test_submission_commands_are_private(bot):
    (reply,) = await send(bot, user_id(), f"/submit {CREDENTIAL}", chat_type="group")
    assert reply == PRIVATE_ONLY
    (reply,) = await send(bot, user_id(), "/status", chat_type="group")
    assert reply == PRIVATE_ONLY


# ------------------------------------------------------------------ a whole submission


@pytest.mark.asyncio
async def test_documents_text_and_reflection_are_submitted_and_the_result_is_sent(bot, grader):
    app, fake = bot
    user = user_id()
    learner = f"telegram:{user}"
    (reply,) = await send(bot, user, f"/submit {CREDENTIAL}")
    credential = grader.catalogue.credentials[CREDENTIAL]
    assert reply.startswith(f"Started your submission for {credential.title} ({CREDENTIAL})")
    assert all(c.title in reply for c in credential.rubric.criteria) and "/done" in reply

    portfolio = EVIDENCE.encode()
    (reply,) = await send(bot, user, document=fake.document("portfolio.txt", portfolio))
    assert reply.startswith("Added portfolio.txt (") and "1 file(s)" in reply and "Warning" not in reply
    assert [m for m in fake.methods() if m in ("getFile", "download")] == ["getFile", "download"]
    report = docx_bytes(EVIDENCE)
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    (reply,) = await send(bot, user, document=fake.document("report.docx", report, docx_type),
                          caption="here it is")
    assert reply.startswith("Added report.docx") and "caption was not added" in reply

    (reply,) = await send(bot, user, "I also presented the strategy to the board.")
    assert reply.startswith("Added to your evidence") and "1 text message(s)" in reply
    (reply,) = await send(bot, user, "/reflection")
    assert reply.startswith("Type your reflective statement now")
    (reply,) = await send(bot, user, "I learned to tie data work to business outcomes.")
    assert reply.startswith("Added to your reflective statement")
    (reply,) = await send(bot, user, "/reflection Next time I would involve legal earlier.")
    assert reply.startswith("Added to your reflective statement")
    (reply,) = await send(bot, user, "/status")
    assert reply.startswith("Open (not yet submitted): ") and "2 file(s)" in reply

    (reply,) = await send(bot, user, "/done")
    sid = submission_id(reply)
    assert "being graded" in reply

    detail = grader.queue.get_submission(sid, assessor=ASSESSOR, include_content=True)
    assert detail.learner_id == learner and detail.credential_id == CREDENTIAL and detail.learner_name == "Ada"
    assert [f.filename for f in detail.files] == ["portfolio.txt", "report.docx", "telegram-messages.txt"]
    assert detail.files[0].content == portfolio and detail.files[1].content == report
    assert detail.files[2].content == b"I also presented the strategy to the board."
    assert detail.reflection == ("I learned to tie data work to business outcomes.\n\n"
                                 "Next time I would involve legal earlier.")

    # grading runs on the grader's thread; here the scorer cannot load, so the learner hears why
    result = await wait_for_message(fake, f"Your submission {sid}")
    assert "could not be graded: grading failed unexpectedly" in result
    assert grader.queue.get_submission(sid, learner_id=learner).status == Status.error
    (reply,) = await send(bot, user, "/done")  # the draft is gone
    assert reply.startswith("You have no submission open") and "restarted" not in reply


@pytest.mark.asyncio
async def test_empty_document_is_stored_as_an_error_with_a_clear_reply(bot, grader):
    app, fake = bot
    user = user_id()
    await send(bot, user, f"/submit {CREDENTIAL}")
    (reply,) = await send(bot, user, document=fake.document("notes.txt", b""))
    assert reply.startswith("Added notes.txt (0 bytes)") and "Warning: notes.txt: is empty" in reply
    (reply,) = await send(bot, user, "/done")
    (stored,) = grader.queue.submissions_for_learner(f"telegram:{user}")
    assert stored.status == Status.error and stored.filenames == ["notes.txt"]
    assert reply.startswith(f"Your submission {stored.id} for Data Strategy ({CREDENTIAL}) could not be graded: "
                            "notes.txt: file is empty")


@pytest.mark.asyncio
async def test_files_are_checked_before_download(bot, grader):
    app, fake = bot
    user = user_id()
    (reply,) = await send(bot, user, document=fake.document("portfolio.txt", EVIDENCE.encode()))
    assert reply.startswith("To submit a file as evidence, first start a submission")
    assert "restarted" in reply  # no draft in this process: it may have been lost in a restart
    await send(bot, user, f"/submit {CREDENTIAL}")

    (reply,) = await send(bot, user, document=fake.document("portfolio.pdf", b"%PDF-", "application/pdf",
                                                            size=25 * 1024 * 1024))
    assert "portfolio.pdf is 25.0 MB" in reply and "up to 10 MB" in reply and "at most 20 MB" in reply
    (reply,) = await send(bot, user, document=fake.document("slides.pptx", b"PK\x03\x04", "application/vnd.ms-pp"))
    assert reply.startswith("I cannot grade slides.pptx: .pptx files are not accepted")
    (reply,) = await send(bot, user, document=fake.document("scan.jpg", b"\xff\xd8\xff", "image/jpeg"))
    assert reply == NOT_IMAGES
    (reply,) = await send(bot, user, document=fake.document(None, EVIDENCE.encode(), "text/plain"))
    assert reply.startswith("Added evidence.txt")  # unnamed, but its type says text
    assert [m for m, _ in fake.calls if m in ("getFile", "download")] == ["getFile", "download"]
    assert sum(name == "download" for name, _ in fake.calls) == 1


@pytest.mark.asyncio
async def test_photos_and_other_media_get_clear_messages(bot):
    app, fake = bot
    user = user_id()
    photo = [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQAD", "width": 90, "height": 67, "file_size": 1200}]
    (reply,) = await send(bot, user, photo=photo)
    assert reply == NOT_IMAGES and "scanned" in reply and "PDF" in reply
    await send(bot, user, f"/submit {CREDENTIAL}")
    (reply,) = await send(bot, user, photo=photo, caption="my certificate")
    assert reply == NOT_IMAGES
    sticker = {"file_id": "CAACAgIAAxkBAAIC", "file_unique_id": "AgADBQAD", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False}
    (reply,) = await send(bot, user, sticker=sticker)
    assert reply == UNSUPPORTED_MESSAGE
    assert not [m for m in fake.methods() if m in ("getFile", "download")]


# ------------------------------------------------------------------ status, repeats, cancel, restart


@pytest.mark.asyncio
async def test_status_shows_only_the_learners_own_submissions(bot, grader):
    user = user_id()
    (reply,) = await send(bot, user, "/status")
    assert reply.startswith("You have not submitted any evidence yet")
    other = grader.receive(SubmissionIn(credential_id=CREDENTIAL, learner_id="telegram:1", files=[
        ("theirs.txt", EVIDENCE.encode(), "text/plain")]))
    mine = grader.receive(SubmissionIn(credential_id="ml-fundamentals", learner_id=f"telegram:{user}", files=[
        ("mine.txt", b"", "text/plain")]))
    (reply,) = await send(bot, user, "/status")
    assert reply.startswith("Your submissions, newest first:")
    assert mine.id in reply and other.id not in reply
    assert "could not be graded (mine.txt: file is empty)" in reply
    (reply,) = await send(bot, user, f"/status {mine.id}")
    assert reply.startswith(f"Your submission {mine.id} for ") and "could not be graded" in reply
    (reply,) = await send(bot, user, f"/status {other.id}")
    assert reply.startswith(f"no submission '{other.id}'")


@pytest.mark.asyncio
async def test_a_redelivered_done_does_not_submit_twice(bot, grader):
    app, fake = bot
    user = user_id()
    await send(bot, user, f"/submit {CREDENTIAL}")
    await send(bot, user, document=fake.document("empty.md", b""))  # stored as an error: no grading thread
    done = make_update(app, user, "/done")
    fake.calls.clear()
    await app.process_update(done)
    (first,) = fake.sent()
    fake.calls.clear()
    await app.process_update(done)  # Telegram delivers the same update again
    (second,) = fake.sent()
    (stored,) = grader.queue.submissions_for_learner(f"telegram:{user}")
    assert stored.id in first and "could not be graded" in first
    assert second == f"Already received: submission {stored.id}. /status shows its progress."


@pytest.mark.asyncio
async def test_a_redelivered_done_with_the_draft_restored_returns_the_same_submission(bot, grader):
    """Even if the draft were still there (the key is the /done message), the queue returns the same one."""
    app, fake = bot
    user = user_id()
    learner = f"telegram:{user}"
    submissions: Submissions = app.bot_data["submissions"]
    await send(bot, user, f"/submit {CREDENTIAL}")
    await send(bot, user, document=fake.document("empty.md", b""))
    draft = submissions.drafts[learner]
    done = make_update(app, user, "/done")
    await app.process_update(done)
    submissions.drafts[learner] = draft
    submissions._done.clear()
    fake.calls.clear()
    await app.process_update(done)
    (reply,) = fake.sent()
    (stored,) = grader.queue.submissions_for_learner(learner)
    assert stored.id in reply


@pytest.mark.asyncio
async def test_cancel_drops_the_draft_and_text_is_a_question_again(bot, grader):
    user = user_id()
    (reply,) = await send(bot, user, "/cancel")
    assert reply.startswith("There is nothing to cancel")
    await send(bot, user, f"/submit {CREDENTIAL}")
    (reply,) = await send(bot, user, "/submit ml-fundamentals")
    assert reply.startswith("You are already preparing a submission for Data Strategy") and "/cancel" in reply
    (reply,) = await send(bot, user, "How much does Data Strategy cost?")
    assert reply.startswith("Added to your evidence")
    (reply,) = await send(bot, user, "/cancel")
    assert reply.startswith("Dropped your submission for Data Strategy (data-strategy) (1 text message(s)")
    (reply,) = await send(bot, user, "/done")
    assert reply.startswith("You have no submission open")
    assert grader.queue.submissions_for_learner(f"telegram:{user}") == []
    (reply,) = await send(bot, user, "How much does Data Strategy cost?")
    assert "Data Strategy (data-strategy)" in reply and "Sources:" in reply  # the assistant answers


@pytest.mark.asyncio
async def test_done_without_evidence_keeps_the_draft(bot, grader):
    user = user_id()
    await send(bot, user, f"/submit {CREDENTIAL}")
    (reply,) = await send(bot, user, "/done")
    assert reply.startswith("Nothing to submit yet for Data Strategy")
    (reply,) = await send(bot, user, "/status")
    assert reply.startswith("Open (not yet submitted)")
    assert grader.queue.submissions_for_learner(f"telegram:{user}") == []


@pytest.mark.asyncio
async def test_a_restart_loses_the_draft_and_says_so(assistant, grader):
    user = user_id()
    first = FakeBotAPIWithFiles()
    app = build_application(assistant, TOKEN, request=first, grader=grader)
    async with app:
        await send((app, first), user, f"/submit {CREDENTIAL}")
        await send((app, first), user, "Some evidence text typed before the restart.")
    second = FakeBotAPIWithFiles()
    app = build_application(assistant, TOKEN, request=second, grader=grader)  # the bot restarted
    async with app:
        (reply,) = await send((app, second), user, "/done")
    assert reply.startswith("You have no submission open") and "lost because I restarted" in reply


# ------------------------------------------------------------------ the real model


@pytest.mark.model
@pytest.mark.asyncio
async def test_real_grading_sends_the_learner_a_result(assistant, shared_settings):
    from stackwise.wiring import grader_service

    grader = grader_service(shared_settings)
    fake = FakeBotAPIWithFiles()
    app = build_application(assistant, TOKEN, request=fake, grader=grader)
    user = user_id()
    async with app:
        await send((app, fake), user, f"/submit {CREDENTIAL}")
        await send((app, fake), user, EVIDENCE)
        (reply,) = await send((app, fake), user, "/done")
        sid = submission_id(reply)
        result = await wait_for_message(fake, f"Your submission {sid}", timeout=600)
    view = grader.queue.get_submission(sid, learner_id=f"telegram:{user}")
    assert view.status in (Status.passed, Status.failed, Status.review), view.error_message
    expected = {Status.passed: " passed", Status.failed: " did not pass", Status.review: "an assessor"}
    assert expected[view.status] in result


def test_review_message_says_when_this_instance_has_no_assessor(tmp_path, monkeypatch):
    """The bot does not promise an assessor who does not exist (issue 15's honest states)."""
    from datetime import UTC, datetime

    from grader.accounts import ASSESSORS_FILE_ENV
    from grader.models import SubmissionView
    from stackwise.telegram.drafts import format_result
    from tests.test_web_grader import write_accounts

    now = datetime.now(UTC)
    view = SubmissionView(id="s1", credential_id="data-strategy", learner_id="tg:1", status=Status.review,
                          ready_to_issue=False, created_at=now, updated_at=now)
    monkeypatch.delenv(ASSESSORS_FILE_ENV, raising=False)
    alone = format_result(view, None)
    assert "no assessor yet" in alone and "kept" in alone
    monkeypatch.setenv(ASSESSORS_FILE_ENV, str(write_accounts(tmp_path / "assessors.toml")))
    staffed = format_result(view, None)
    assert "will be decided by an assessor" in staffed and "no assessor" not in staffed
