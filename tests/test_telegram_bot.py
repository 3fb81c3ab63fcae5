"""The Telegram adapter, offline: a real python-telegram-bot ``Application`` whose HTTP layer is a fake
Bot API (records every call, answers with plausible JSON), fed real ``Update`` objects, on the real
assistant service (catalogue, index, database); the LLM only in the test marked ``model``."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from decimal import Decimal

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from telegram import Update
from telegram.request import BaseRequest, RequestData

from assistant.service import Answer, Citation
from stackwise.telegram.bot import build_application, run_bot
from stackwise.telegram.chat import EVIDENCE_LATER, SOMETHING_WRONG
from stackwise.telegram.common import split_message
from stackwise.wiring import SetupError

TOKEN = "123456789:TEST-token-not-real_abcdefghijklmnopq"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Stackwise", "username": "stackwise_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
TARGET = "ai-leadership-certificate"

_ids = itertools.count(1)


class FakeBotAPI(BaseRequest):
    """Answers Bot API methods offline and records (method, parameters) for every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._message_ids = itertools.count(10_000)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append((name, params))
        if name == "sendMessage" and len(str(params.get("text", "")).encode("utf-16-le")) // 2 > 4096:
            return 400, json.dumps({"ok": False, "error_code": 400,
                                    "description": "Bad Request: message is too long"}).encode()
        if name == "getMe":
            result: object = BOT_USER
        elif name == "sendMessage":
            result = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                      "chat": {"id": params["chat_id"], "type": "private"}, "text": params["text"]}
        elif name == "getUpdates":
            result = []
        else:  # sendChatAction, setMyCommands, deleteWebhook, ...
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def sent(self) -> list[str]:
        return [params["text"] for name, params in self.calls if name == "sendMessage"]

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def svc(assistant):
    """The session's real service (see conftest); every test uses its own Telegram user."""
    return assistant


@pytest_asyncio.fixture
async def bot(svc):
    fake = FakeBotAPI()
    app = build_application(svc, TOKEN, request=fake, typing_interval=0.05)
    async with app:  # initialize: getMe through the fake
        yield app, fake


def user_id() -> int:
    return 500_000 + next(_ids)


def update(app, user: int, text: str | None = None, **extra) -> Update:
    message = {"message_id": next(_ids), "date": int(time.time()),
               "chat": {"id": user, "type": "private", "first_name": "Ada"},
               "from": {"id": user, "is_bot": False, "first_name": "Ada", "language_code": "en"}, **extra}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return Update.de_json({"update_id": next(_ids), "message": message}, app.bot)


async def send(bot, user: int, text: str | None = None, **extra) -> list[str]:
    """Process one message from ``user``; the texts the bot sent back."""
    app, fake = bot
    fake.calls.clear()
    await app.process_update(update(app, user, text, **extra))
    return fake.sent()


def money(totals: dict[str, str]) -> str:
    return " + ".join(f"{c} {Decimal(a):,.2f}".removesuffix(".00") for c, a in sorted(totals.items()))


# ------------------------------------------------------------------ split_message


def assert_consecutive_pieces(text: str, parts: list[str], limit: int) -> None:
    """Every part fits, none is empty, and the parts are the text in order with only whitespace dropped."""
    pos = 0
    for part in parts:
        assert part and part == part.strip()
        assert len(part.encode("utf-16-le")) // 2 <= limit
        at = text.find(part, pos)
        assert at >= 0 and text[pos:at].strip() == "", (text, parts)
        pos = at + len(part)
    assert text[pos:].strip() == ""
    assert re.sub(r"\s+", "", "".join(parts)) == re.sub(r"\s+", "", text)


@hyp_settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab cd\n\n\tx") + ["é", "😀"]), max_size=400),
       limit=st.integers(min_value=2, max_value=60))
def test_split_message_properties(text, limit):
    parts = split_message(text, limit)
    assert_consecutive_pieces(text, parts, limit)
    if text.strip() and len(text.strip().encode("utf-16-le")) // 2 <= limit:
        assert parts == [text.strip()]


def test_split_message_prefers_paragraphs_then_lines_then_words():
    paragraphs = [f"Paragraph {i}: " + " ".join(["word"] * 150) for i in range(8)]  # ~770 chars each
    text = "\n\n".join(paragraphs)
    parts = split_message(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    for part in parts:  # whole paragraphs only
        assert all(chunk in paragraphs for chunk in part.split("\n\n"))
    assert "\n\n".join(parts) == text

    lines = "\n".join(f"- line {i} " + "x" * 40 for i in range(300))
    assert all(p.endswith("x") and p.startswith("- line") for p in split_message(lines, 1000))
    assert split_message("short answer") == ["short answer"]
    assert split_message("  \n ") == []
    assert split_message("y" * 10, 4) == ["yyyy", "yyyy", "yy"]
    with pytest.raises(ValueError):
        split_message("abc", 1)


# ------------------------------------------------------------------ commands


@pytest.mark.asyncio
async def test_start_welcomes_and_gives_examples(bot):
    app, fake = bot
    assert "getMe" in fake.methods()  # initialize() went through the fake
    (reply,) = await send(bot, user_id(), "/start")
    assert "Stackwise assistant" in reply
    for command in ("/plan", "/hold", "/reset", "/help"):
        assert command in reply
    assert "Try asking:" in reply and reply.count("?") >= 3


@pytest.mark.asyncio
async def test_help_lists_commands(bot):
    (reply,) = await send(bot, user_id(), "/help")
    assert reply.startswith("How to use me")
    assert all(c in reply for c in ("/plan", "/hold", "/reset"))


@pytest.mark.asyncio
async def test_plan_gives_the_planner_total(bot, svc):
    (reply,) = await send(bot, user_id(), f"/plan {TARGET} data-strategy")
    route = svc.plan(["data-strategy"], TARGET)["route"]
    assert f"Total {money(route['total_price'])}," in reply
    assert f"{route['total_ects']:g} ECTS" in reply and f"{route['total_weeks']} weeks" in reply
    assert all(step["credential_id"] in reply for step in route["steps"])
    assert "You hold: Data Strategy (data-strategy)" in reply
    assert "\n\nSources: " in reply and f"({TARGET})" in reply.split("Sources: ")[1]


@pytest.mark.asyncio
async def test_plan_without_arguments_lists_pathways(bot, svc):
    (reply,) = await send(bot, user_id(), "/plan")
    assert reply.startswith("Usage: /plan")
    assert all(f"- {pid}: " in reply for pid in svc.catalogue.pathways)


@pytest.mark.asyncio
async def test_plan_unknown_ids_give_the_service_message(bot, svc):
    (reply,) = await send(bot, user_id(), "/plan no-such-pathway")
    assert reply.startswith("unknown pathway 'no-such-pathway'; known pathways:") and "Usage: /plan" in reply
    assert all(pid in reply for pid in svc.catalogue.pathways)
    (reply,) = await send(bot, user_id(), f"/plan {TARGET} data-strategy,not-a-credential")
    assert reply.startswith("unknown credential(s): not-a-credential")


@pytest.mark.asyncio
async def test_hold_sets_shows_and_feeds_plan(bot, svc):
    user = user_id()
    learner = f"telegram:{user}"
    (reply,) = await send(bot, user, "/hold")
    assert "not told me" in reply
    (reply,) = await send(bot, user, "/hold data-strategy, ai-change-leadership")
    assert reply.startswith("Noted: you hold") and "Data Strategy (data-strategy)" in reply
    assert svc.memory.holding(learner) == ["ai-change-leadership", "data-strategy"]
    (reply,) = await send(bot, user, "/hold")
    assert "Leading AI-Enabled Change (ai-change-leadership)" in reply
    (plan,) = await send(bot, user, f"/plan {TARGET}")  # no ids given: the stored holding is used
    route = svc.plan(["ai-change-leadership", "data-strategy"], TARGET)["route"]
    assert f"Total {money(route['total_price'])}," in plan
    (reply,) = await send(bot, user, "/hold bogus-id")
    assert reply.startswith("unknown credential(s): bogus-id") and "Usage: /hold" in reply
    assert svc.memory.holding(learner) == ["ai-change-leadership", "data-strategy"]
    await send(bot, user, "/hold none")
    assert svc.memory.holding(learner) == []


@pytest.mark.asyncio
async def test_unknown_command_points_to_help(bot):
    (reply,) = await send(bot, user_id(), "/frobnicate now")
    assert "/frobnicate" in reply and "/help" in reply
    assert await send(bot, user_id(), "/start@some_other_bot") == []  # meant for another bot in a group
    (reply,) = await send(bot, user_id(), "/start@stackwise_test_bot")
    assert "Stackwise assistant" in reply


# ------------------------------------------------------------------ questions


@pytest.mark.asyncio
async def test_planner_question_with_typing_and_sources(bot, svc):
    app, fake = bot
    user = user_id()
    (reply,) = await send(bot, user, "What do I still need for the AI Leadership Certificate if I hold Data Strategy?")
    route = svc.plan(["data-strategy"], TARGET)["route"]
    assert f"Total {money(route['total_price'])}," in reply
    assert reply.rsplit("\n", 1)[-1].startswith("Sources: AI Leadership Certificate (ai-leadership-certificate)")
    methods = fake.methods()
    assert "sendChatAction" in methods and methods.index("sendChatAction") < methods.index("sendMessage")
    action = next(p for m, p in fake.calls if m == "sendChatAction")
    assert action["action"] == "typing" and action["chat_id"] == user
    assert svc.memory.holding(f"telegram:{user}") == ["data-strategy"]  # same memory as every adapter


@pytest.mark.asyncio
async def test_typing_repeats_while_the_answer_is_generated(bot, svc, monkeypatch):
    real_ask = svc.ask

    def slow_ask(*args, **kwargs):
        time.sleep(0.4)  # blocking, like the LLM: runs in a worker thread, the loop keeps sending "typing"
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(svc, "ask", slow_ask)
    app, fake = bot
    (reply,) = await send(bot, user_id(), "How much does Data Strategy cost?")
    assert "Data Strategy (data-strategy)" in reply
    methods = fake.methods()
    typing_before_answer = methods[: methods.index("sendMessage")].count("sendChatAction")
    assert typing_before_answer >= 3 and "sendChatAction" not in methods[methods.index("sendMessage"):]


@pytest.mark.asyncio
async def test_reset_forgets_conversation_and_holding(bot, svc):
    user = user_id()
    learner = f"telegram:{user}"
    await send(bot, user, "What do I still need for the AI Leadership Certificate if I hold Data Strategy?")
    assert svc.memory.history(learner) and svc.memory.holding(learner) == ["data-strategy"]
    (reply,) = await send(bot, user, "/reset")
    assert reply.startswith("Done: I deleted our conversation (2 message(s))")
    assert svc.memory.history(learner) == [] and svc.memory.holding(learner) == []


@pytest.mark.asyncio
async def test_forget_asks_first_then_deletes_everything_and_says_what(bot, svc):
    user = user_id()
    learner = f"telegram:{user}"  # the Telegram account: the first name in the message plays no part
    await send(bot, user, "What do I still need for the AI Leadership Certificate if I hold Data Strategy?")
    assert svc.memory.stored(learner) == (2, 1)
    (reply,) = await send(bot, user, "/forget yes")  # a "yes" without the question first only asks
    assert reply.startswith("This deletes 2 chat messages; the 1 credential you said you hold.")
    assert "Send /forget yes within 10 minutes to confirm." in reply and svc.memory.stored(learner) == (2, 1)
    (reply,) = await send(bot, user_id(), "/forget yes")  # another account cannot confirm it
    assert reply == "Nothing is stored about you: there is nothing to forget."
    assert svc.memory.stored(learner) == (2, 1)
    (reply,) = await send(bot, user, "/forget yes")
    assert reply == "Forgotten: deleted 2 chat messages; the 1 credential you said you hold."
    assert svc.memory.stored(learner) == (0, 0) and svc.memory.history(learner) == []
    (reply,) = await send(bot, user, "/forget")
    assert reply == "Nothing is stored about you: there is nothing to forget."


@pytest.mark.asyncio
async def test_long_answer_is_split_at_the_limit(bot, svc, monkeypatch):
    paragraphs = [(f"Part {i}. " + "This sentence pads the answer. " * 40).strip() for i in range(12)]  # ~15k chars
    long_text = "\n\n".join(paragraphs)

    def long_ask(learner, question, holding=None):
        return Answer(question=question, text=long_text, intent="info",
                      citations=[Citation(id="data-strategy", kind="credential", title="Data Strategy")])

    monkeypatch.setattr(svc, "ask", long_ask)
    replies = await send(bot, user_id(), "Tell me everything")
    assert len(replies) >= 4 and all(len(r) <= 4096 for r in replies)  # the fake rejects longer ones
    assert "\n\n".join(replies) == long_text + "\n\nSources: Data Strategy (data-strategy)"
    assert all(chunk in paragraphs for reply in replies[:-1] for chunk in reply.split("\n\n"))  # whole paragraphs


@pytest.mark.asyncio
async def test_empty_and_oversized_messages_get_clear_replies(bot):
    (reply,) = await send(bot, user_id(), "   ")
    assert reply.startswith("Please type a question")
    (reply,) = await send(bot, user_id(), "why " * 700)
    assert "characters long" in reply and "under 2,000" in reply


@pytest.mark.asyncio
async def test_document_upload_gets_polite_reply(bot):
    document = {"file_id": "BQACAgIAAxkBAAIB", "file_unique_id": "AgADBAAD", "file_name": "portfolio.pdf",
                "mime_type": "application/pdf", "file_size": 48_213}
    (reply,) = await send(bot, user_id(), document=document, caption="my evidence for Data Strategy")
    assert reply == EVIDENCE_LATER and "grader" in reply
    sticker = {"file_id": "CAACAgIAAxkBAAIC", "file_unique_id": "AgADBQAD", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False}
    (reply,) = await send(bot, user_id(), sticker=sticker)
    assert reply.startswith("I can only read text messages")


@pytest.mark.asyncio
async def test_handler_errors_are_reported_without_the_token(bot, svc, monkeypatch, caplog):
    def broken_ask(*args, **kwargs):
        raise RuntimeError(f"database exploded while calling https://api.telegram.org/bot{TOKEN}/x")

    monkeypatch.setattr(svc, "ask", broken_ask)
    with caplog.at_level(logging.ERROR, logger="stackwise.telegram.chat"):
        replies = await send(bot, user_id(), "What does Data Strategy cost?")
    assert replies == [SOMETHING_WRONG]
    assert "database exploded" in caplog.text and "RuntimeError" in caplog.text
    assert TOKEN not in caplog.text and "[telegram token]" in caplog.text


@pytest.mark.asyncio
async def test_post_init_registers_the_command_menu(bot):
    app, fake = bot
    fake.calls.clear()
    await app.post_init(app)
    ((method, params),) = fake.calls
    commands = params["commands"]
    commands = json.loads(commands) if isinstance(commands, str) else commands
    assert method == "setMyCommands"
    assert [c["command"] for c in commands] == ["start", "help", "plan", "hold", "reset", "forget"]


def test_run_bot_without_token_says_what_to_set(settings):
    with pytest.raises(SetupError, match="set STACKWISE_TELEGRAM_TOKEN"):
        run_bot(settings.model_copy(update={"telegram_token": None}))


# ------------------------------------------------------------------ the real model


@pytest.mark.model
@pytest.mark.asyncio
async def test_info_question_answered_by_the_model_with_sources(bot, svc):
    app, fake = bot
    (reply, *more) = await send(bot, user_id(), "Which credentials cover AI ethics?")
    full = "\n\n".join([reply, *more])
    assert not full.startswith("The catalogue does not say")
    sources = full.rsplit("\n", 1)[-1]
    assert sources.startswith("Sources: ") and re.search(r"\([a-z0-9-]+\)", sources)
    assert "sendChatAction" in fake.methods()
