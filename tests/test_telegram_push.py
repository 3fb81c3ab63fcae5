"""Telegram pushes every outcome and credential to its learner once, whoever decided it and whenever.

Two "processes" share one SQLite database, as the web app and the bot do: each has its own grader service,
queue and issuance service (their in-process events never reach the other). The bot is the real
``Application`` on an offline fake Bot API (tests/test_telegram_bot.py's, answering sendDocument too and
refusing sends on demand: the Telegram servers are the fault boundary), started with its real ``post_init``
(which starts the pushes). The web side decides through the served review queue (Gradio, as an assessor's
browser does) or the grader's review API; no model is loaded (the scorer factory raises)."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest

from grader.models import Assessor, Status, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from issuance.keys import load_or_create_issuer_key
from stackwise.identity import learner_id_for_key, new_learner_key
from stackwise.notify import DeliveryLog
from stackwise.telegram.bot import build_application
from tests.test_issuance_service import catalogue, make_service
from tests.test_telegram_bot import BOT_USER, TOKEN, user_id
from tests.test_telegram_submit import FakeBotAPIWithFiles, no_model, send
from tests.test_web_grader import PASSWORDS, Desk, seed_review, served_blocks, write_accounts

CREDENTIAL = "data-strategy"
ASSESSOR = Assessor(username="alice")


class FakeTelegram(FakeBotAPIWithFiles):
    """The fake Bot API, also answering sendDocument; ``refuse`` maps a chat id to the HTTP status its sends get
    (502: Telegram unreachable, a passing fault; 403: the learner blocked the bot)."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[tuple[int, str, bytes, str]] = []  # (chat id, filename, content, caption)
        self.refuse: dict[int, int] = {}
        self.refused = 0

    async def do_request(self, url: str, method: str, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if name in ("sendMessage", "sendDocument"):
            chat = int(request_data.parameters["chat_id"])
            if chat in self.refuse:
                self.refused += 1
                code = self.refuse[chat]
                text = {403: "Forbidden: bot was blocked by the user", 502: "Bad Gateway"}[code]
                return code, json.dumps({"ok": False, "error_code": code, "description": text}).encode()
        if name == "sendDocument":
            params = dict(request_data.parameters)
            filename, content, _mime = request_data.multipart_data["document"]
            self.calls.append((name, params))
            self.documents.append((int(params["chat_id"]), filename, content, params.get("caption", "")))
            result = {"message_id": 1, "date": int(time.time()), "from": BOT_USER,
                      "chat": {"id": params["chat_id"], "type": "private"},
                      "document": {"file_id": "sent", "file_unique_id": "usent", "file_name": filename}}
            return 200, json.dumps({"ok": True, "result": result}).encode()
        return await super().do_request(url, method, request_data, read_timeout, write_timeout, connect_timeout,
                                        pool_timeout)

    def to(self, chat: int) -> list[str]:
        """Every message sent to ``chat``."""
        return [p["text"] for name, p in self.calls if name == "sendMessage" and int(p["chat_id"]) == chat]


class Process:
    """One process's services on the shared database: a grader (no model) and, optionally, issuance."""

    def __init__(self, database: str, key, *, issuance: bool = True):
        self.grader = GraderService(catalogue(), GraderQueue(database, rubrics=rubrics_from_catalogue(catalogue())),
                                    scorer_factory=no_model)
        self.issuance = make_service(self.grader.queue, key, database) if issuance else None
        if self.issuance is not None:
            self.issuance.subscribe()  # as stackwise.wiring does: this process's passes and approvals issue

    def close(self) -> None:
        if self.issuance is not None:
            self.issuance.close()
        self.grader.close()


@pytest.fixture
def world(tmp_path):
    database = f"sqlite:///{tmp_path / 'stackwise.db'}"
    key = load_or_create_issuer_key(tmp_path / "key" / "issuer.json")
    made: list[Process] = []

    def process(**kwargs) -> Process:
        made.append(Process(database, key, **kwargs))
        return made[-1]

    yield SimpleNamespace(database=database, process=process)
    for p in made:
        p.close()


@asynccontextmanager
async def running_bot(process: Process, fake: FakeTelegram, push_seconds: float = 0.05):
    """The bot as ``run_polling`` starts it (``post_init``) and stops it (``post_stop``), minus getUpdates."""
    app = build_application(SimpleNamespace(), TOKEN, request=fake, typing_interval=0.05, grader=process.grader,
                            issuance=process.issuance, push_seconds=push_seconds)
    async with app:
        await app.post_init(app)
        try:
            yield app
        finally:
            await app.post_stop(app)


async def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def top_levels() -> dict[str, str]:
    return {c.id: c.levels[-1].id for c in catalogue().credentials[CREDENTIAL].rubric.criteria}


def review_then(process: Process, learner: str, decision: str, comment: str = "") -> str:
    """A submission graded into review, then decided by an assessor through the grader's review API."""
    sid = seed_review(process.grader, learner, levels=top_levels())
    process.grader.queue.claim(sid, ASSESSOR)
    process.grader.queue.decide(sid, ASSESSOR, decision, {}, comment)
    return sid


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.asyncio
async def test_an_assessor_decision_in_the_web_review_queue_reaches_the_telegram_learner_once(
        world, tmp_path, monkeypatch):
    from grader.accounts import ASSESSORS_FILE_ENV
    from stackwise.web.grader_tabs import build_grader_app

    monkeypatch.setenv(ASSESSORS_FILE_ENV, str(write_accounts(tmp_path / "assessors.toml")))
    web, bot_process = world.process(), world.process()
    user, fake = user_id(), FakeTelegram()
    async with running_bot(bot_process, fake) as app:
        sid = await asyncio.to_thread(seed_review, web.grader, f"telegram:{user}", levels=top_levels())
        await wait_for(lambda: any("will be decided by an assessor" in t for t in fake.to(user)))

        def assess() -> str:
            with served_blocks(build_grader_app(web.grader)) as url:
                desk = Desk(url)
                desk.login("alice", PASSWORDS["alice"])
                desk.open(sid)
                desk.claim()
                return desk.decide("approve", comment="Well evidenced throughout.")[0]

        said = await asyncio.to_thread(assess)
        assert web.grader.queue.get_submission(sid, assessor=ASSESSOR).status is Status.approved, said
        await wait_for(lambda: fake.documents)
        issued = web.issuance.for_submission(sid)
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0  # nothing left: each sent once
        messages = fake.to(user)
        assert len(messages) == 2 and "will be decided by an assessor" in messages[0]
        approved = messages[1]
        assert f"Your submission {sid} for Data Strategy" in approved and "was approved by an assessor" in approved
        assert "Assessor's comment: Well evidenced throughout." in approved and "By criterion:" in approved
        assert len(fake.documents) == 1
        chat, filename, content, caption = fake.documents[0]
        assert (chat, filename) == (user, f"credential-{issued.uuid}.json")
        assert json.loads(content) == issued.document and web.issuance.verify(json.loads(content)).ok
        assert "Data Strategy" in caption and web.issuance.config.credential_url(issued.uuid) in caption


@pytest.mark.asyncio
async def test_outcomes_decided_while_the_bot_was_down_are_delivered_on_its_next_start(world):
    web = world.process()
    before, user, other = user_id(), user_id(), user_id()
    await asyncio.to_thread(review_then, web, f"telegram:{before}", "reject", "Not yet.")
    first = FakeTelegram()
    async with running_bot(world.process(), first):  # the bot's first run on this database
        pass
    assert first.to(before) == []  # decided before the bot ever ran: never pushed
    approved = await asyncio.to_thread(review_then, web, f"telegram:{user}", "approve")
    rejected = await asyncio.to_thread(review_then, web, f"telegram:{other}", "reject", "The roadmap is missing.")

    second = FakeTelegram()
    async with running_bot(world.process(), second) as app:  # restarted: a new process, a new bot
        await wait_for(lambda: second.documents and second.to(other))
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0
    assert [t for t in second.to(user) if approved in t and "was approved by an assessor" in t]
    assert len(second.to(user)) == 1 and [d[0] for d in second.documents] == [user]
    assert len(second.to(other)) == 1 and "was not approved by an assessor" in second.to(other)[0]
    assert rejected in second.to(other)[0] and "The roadmap is missing." in second.to(other)[0]
    assert second.to(before) == []

    third = FakeTelegram()
    async with running_bot(world.process(), third) as app:
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0
    assert third.to(user) == third.to(other) == [] and third.documents == []


@pytest.mark.asyncio
async def test_a_failed_send_is_retried_and_a_blocked_chat_is_not(world):
    web = world.process(issuance=False)
    user, blocked, fake = user_id(), user_id(), FakeTelegram()
    fake.refuse = {user: 502, blocked: 403}
    async with running_bot(world.process(issuance=False), fake, push_seconds=3600) as app:
        pushes = app.bot_data["pushes"]
        await wait_for(lambda: pushes.polls >= 1)  # the loop's first poll is over; the next is an hour away
        sid = await asyncio.to_thread(review_then, web, f"telegram:{user}", "reject", "Add the costed roadmap.")
        await asyncio.to_thread(review_then, web, f"telegram:{blocked}", "reject", "Not yet.")
        assert await pushes.deliver_due(app.bot) == 0  # Telegram unreachable: nothing recorded as sent
        assert fake.refused >= 1 and fake.to(user) == []
        refused = fake.refused
        fake.refuse = {blocked: 403}  # Telegram is back; the other learner still blocks the bot
        assert await pushes.deliver_due(app.bot) == 1
        assert len(fake.to(user)) == 1 and sid in fake.to(user)[0] and "Add the costed roadmap." in fake.to(user)[0]
        tried_blocked = fake.refused - refused
        assert tried_blocked == 1  # tried once this pass, then recorded as undeliverable
        assert await pushes.deliver_due(app.bot) == 0
        assert fake.refused - refused == tried_blocked and len(fake.to(user)) == 1  # neither sent nor tried again


@pytest.mark.asyncio
async def test_a_send_whose_record_the_database_refused_is_not_sent_again(world):
    from sqlalchemy.exc import OperationalError

    web = world.process(issuance=False)
    user, fake = user_id(), FakeTelegram()
    async with running_bot(world.process(issuance=False), fake, push_seconds=3600) as app:
        pushes = app.bot_data["pushes"]
        await wait_for(lambda: pushes.polls >= 1)
        record, refusals = pushes.deliveries.record, []

        def locked_once(*args, **kwargs):  # the fault: the database is locked just after Telegram took the send
            if not refusals:
                refusals.append(args)
                raise OperationalError("INSERT INTO notify_deliveries", {}, Exception("database is locked"))
            return record(*args, **kwargs)

        pushes.deliveries.record = locked_once
        await asyncio.to_thread(review_then, web, f"telegram:{user}", "reject", "Add the costed roadmap.")
        assert await pushes.deliver_due(app.bot) == 1
        assert len(refusals) == 1 and len(fake.to(user)) == 1
        assert await pushes.deliver_due(app.bot) == 0  # the next poll writes the record instead of sending again
        assert len(fake.to(user)) == 1
        pushes.deliveries.record = record
        assert pushes.deliveries.recorded("telegram", [refusals[0][1]]) == {refusals[0][1]}


@pytest.mark.asyncio
async def test_web_learners_get_no_telegram_message(world):
    web = world.process()
    fake = FakeTelegram()
    async with running_bot(world.process(), fake) as app:
        await asyncio.to_thread(review_then, web, learner_id_for_key(new_learner_key()), "approve")
        await asyncio.to_thread(review_then, web, learner_id_for_key(new_learner_key()), "reject", "Not yet.")
        outcomes = await asyncio.to_thread(web.grader.queue.outcomes_since, None)
        assert {status for *_, status, _at in outcomes} == {Status.approved, Status.rejected}
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0
    assert fake.methods().count("sendMessage") == 0 and fake.documents == []


@pytest.mark.asyncio
async def test_a_credential_issued_later_is_pushed_after_its_outcome(world):
    web = world.process(issuance=False)  # issuance not set up when the assessor approves
    user, fake = user_id(), FakeTelegram()
    async with running_bot(world.process(), fake) as app:
        sid = await asyncio.to_thread(review_then, web, f"telegram:{user}", "approve")
        await wait_for(lambda: any("was approved by an assessor" in t for t in fake.to(user)))
        assert fake.documents == []  # nothing issued yet
        later = world.process()  # e.g. the web app restarted with its issuer key: issue_pending catches up
        issued = await asyncio.to_thread(later.issuance.issue_pending)
        assert [i.submission_id for i in issued] == [sid]
        await wait_for(lambda: fake.documents)
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0
    assert len(fake.documents) == 1 and fake.documents[0][0] == user
    assert json.loads(fake.documents[0][2]) == issued[0].document
    assert len([t for t in fake.to(user) if "was approved by an assessor" in t]) == 1


@pytest.mark.asyncio
async def test_grading_resumed_after_a_restart_is_pushed(world):
    user, fake = user_id(), FakeTelegram()
    stopped = world.process()  # the bot stored the submission at /done, then stopped before grading it
    sid = stopped.grader.queue.create_submission(SubmissionIn(
        credential_id=CREDENTIAL, learner_id=f"telegram:{user}",
        files=[("notes.txt", b"My data strategy work for the retailer.", "text/plain")])).id
    restarted = world.process()
    async with running_bot(restarted, fake) as app:
        assert restarted.grader.resume_pending(keep_sweeping=False) == [sid]  # as run_bot does, once pushes began
        await wait_for(lambda: fake.to(user))
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0
    assert len(fake.to(user)) == 1 and f"Your submission {sid}" in fake.to(user)[0]
    assert "could not be graded" in fake.to(user)[0]


@pytest.mark.asyncio
async def test_a_submission_stored_as_an_error_at_done_is_told_once(world):
    user, fake = user_id(), FakeTelegram()
    async with running_bot(world.process(), fake) as app:
        await send((app, fake), user, f"/submit {CREDENTIAL}")
        await send((app, fake), user, document=fake.document("notes.txt", b""))
        (reply,) = await send((app, fake), user, "/done")
        assert "could not be graded: notes.txt: file is empty" in reply
        assert await app.bot_data["pushes"].deliver_due(app.bot) == 0  # the poll does not tell it again
    assert len([t for t in fake.to(user) if "could not be graded" in t]) == 1


def test_the_delivery_log_records_each_key_once(world):
    log = DeliveryLog(world.database)
    started = log.started("test")
    assert log.started("test") == started
    assert log.record("test", "outcome:a") and not log.record("test", "outcome:a")
    assert log.record("test", "outcome:b", "undeliverable")
    assert log.recorded("test", ["outcome:a", "outcome:b", "outcome:c"]) == {"outcome:a", "outcome:b"}
    assert log.recorded("other", ["outcome:a"]) == set()
