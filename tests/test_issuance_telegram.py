"""Telegram learners receive their credential as a JSON document when it is issued: right after the result
message of an automatic pass, or as soon as an assessor's approval issues it. Offline: the real bot
``Application`` on the fake Bot API of tests/test_telegram_bot.py (extended to answer sendDocument), the real
grader queue and issuance service on a scratch database; no model and no assistant are used."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Future
from types import SimpleNamespace

import pytest
import pytest_asyncio

from grader.models import CriterionGrade, GradeResult, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from issuance.keys import load_or_create_issuer_key
from stackwise.telegram.bot import build_application
from tests.test_issuance_service import catalogue, decide, make_service, seed
from tests.test_telegram_bot import BOT_USER, TOKEN, user_id
from tests.test_telegram_submit import FakeBotAPIWithFiles, no_model


class FakeBotAPIWithDocuments(FakeBotAPIWithFiles):
    """Also answers sendDocument, keeping each sent file's name and bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[tuple[int, str, bytes, str]] = []  # (chat id, filename, content, caption)
        self.order: list[str] = []  # "message" / "document", in the order they were sent

    async def do_request(self, url: str, method: str, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if name == "sendDocument":
            params = dict(request_data.parameters)
            filename, content, _mime = request_data.multipart_data["document"]
            self.calls.append((name, params))
            self.documents.append((int(params["chat_id"]), filename, content, params.get("caption", "")))
            self.order.append("document")
            result = {"message_id": 1, "date": int(time.time()), "from": BOT_USER,
                      "chat": {"id": params["chat_id"], "type": "private"},
                      "document": {"file_id": "sent", "file_unique_id": "usent", "file_name": filename}}
            return 200, json.dumps({"ok": True, "result": result}).encode()
        if name == "sendMessage":
            self.order.append("message")
        return await super().do_request(url, method, request_data, read_timeout, write_timeout, connect_timeout,
                                        pool_timeout)


@pytest.fixture
def services(tmp_path):
    database = f"sqlite:///{tmp_path / 'stackwise.db'}"
    queue = GraderQueue(database, rubrics=rubrics_from_catalogue(catalogue()))
    grader = GraderService(catalogue(), queue, scorer_factory=no_model)
    issuance = make_service(queue, load_or_create_issuer_key(tmp_path / "key" / "issuer.json"), database)
    issuance.subscribe()
    yield grader, issuance
    issuance.close()


@pytest_asyncio.fixture
async def bot(services):
    grader, issuance = services
    fake = FakeBotAPIWithDocuments()
    app = build_application(SimpleNamespace(), TOKEN, request=fake, typing_interval=0.05, grader=grader,
                            issuance=issuance)
    async with app:  # run_polling's post_init attaches the listener; here it is attached by hand
        stop = app.bot_data["submissions"].attach_issuance(app.bot)
        yield app, fake
        stop()


async def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_the_result_message_of_a_pass_is_followed_by_the_credential(bot, services):
    app, fake = bot
    grader, issuance = services
    submissions = app.bot_data["submissions"]
    user = user_id()
    graded: Future = Future()
    sid = grader.queue.create_submission(SubmissionIn(credential_id="data-strategy", learner_id=f"telegram:{user}",
                                                      reflection="x")).id
    submissions._notify_when_graded(graded, app.bot, user, f"telegram:{user}", sid)  # as /done does
    # the grading thread records a pass (issuing the credential), then its future completes
    await asyncio.to_thread(_grade_pass, grader, sid)
    graded.set_result(grader.queue.get_submission(sid, learner_id=f"telegram:{user}"))
    await wait_for(lambda: fake.documents)
    await asyncio.sleep(0.2)  # nothing else arrives
    issued = issuance.for_submission(sid)
    assert fake.order == ["message", "document"] and "passed" in fake.all_sent[-1]
    chat, filename, content, caption = fake.documents[0]
    assert chat == user and filename == f"credential-{issued.uuid}.json"
    assert json.loads(content) == issued.document and issuance.verify(json.loads(content)).ok
    assert "Data Strategy" in caption


def _grade_pass(grader: GraderService, sid: str) -> None:
    rubric = catalogue().credentials["data-strategy"].rubric
    grader.queue.start_grading(sid)
    grader.queue.record_grade(sid, GradeResult(
        credential_id="data-strategy", decision="pass", model="test", prompt_version="test",
        criteria=[CriterionGrade(criterion_id=c.id, level_id=c.levels[-1].id) for c in rubric.criteria],
        total_points=rubric.max_points, max_points=rubric.max_points))


@pytest.mark.asyncio
async def test_an_approval_sends_the_credential_to_the_telegram_learner_only(bot, services):
    app, fake = bot
    grader, issuance = services
    user = user_id()
    approved = await asyncio.to_thread(seed, grader.queue, "review", learner=f"telegram:{user}")
    failed = await asyncio.to_thread(seed, grader.queue, "fail", learner=f"telegram:{user}")
    web = await asyncio.to_thread(seed, grader.queue, "pass", learner="webkey-someone")
    await asyncio.to_thread(decide, grader.queue, approved, "approve", None, "approved after review")
    await wait_for(lambda: fake.documents)
    await asyncio.sleep(0.3)
    assert issuance.for_submission(web) is not None and issuance.for_submission(failed) is None
    assert len(fake.documents) == 1  # the web learner's credential and the failed submission send nothing
    chat, filename, content, _caption = fake.documents[0]
    assert chat == user and json.loads(content) == issuance.for_submission(approved).document
    # sent once: a later re-issue (idempotent) or a repeated event does not send it again
    await asyncio.to_thread(issuance.issue, approved)
    assert await app.bot_data["submissions"].send_credential(app.bot, user, issuance.for_submission(approved)) is False
    assert len(fake.documents) == 1
