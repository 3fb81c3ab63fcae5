"""Telegram adapter for the assistant: a thin layer over :class:`assistant.service.AssistantService`.

Same engine and the same conversation memory as the CLI and the web chat; a learner is
``telegram:<user id>`` (the Telegram account, which Telegram authenticates; the private chat's id is the same
number), never a name. Commands: /start, /help, /plan, /hold, /reset, /forget (everything, after
``/forget yes``); any other text is a question.
Given a :class:`grader.service.GraderService`, the bot also takes evidence for assessment: /submit,
/reflection, /done, /cancel, /status (handlers in :mod:`assistant.telegram_submit`); while a submission
is open, the learner's text messages are evidence rather than questions.
Blocking service calls run in a worker thread (:func:`asyncio.to_thread`) so the event loop stays free,
and a "typing…" indicator is repeated while an answer is generated. Replies longer than Telegram's
4096-character limit are split on paragraph, then line, then word boundaries (:func:`split_message`).

Run with :func:`run_bot` (token from ``STACKWISE_TELEGRAM_TOKEN``). The token is never logged: it is
redacted from this module's log records and, under :func:`run_bot`, from every record the root logger's
handlers write (httpx, which logs request URLs containing the token, is limited to warnings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import BotCommand, Chat, Message, Update, User
from telegram.constants import ChatAction, MessageLimit
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest

from assistant.planner import PlannerError
from assistant.service import AssistantError

if TYPE_CHECKING:
    from assistant.service import Answer, AssistantService
    from grader.service import GraderService
    from issuance.service import IssuanceService
    from stackwise.config import Settings

logger = logging.getLogger(__name__)

TYPING_INTERVAL = 4.0  # Telegram shows "typing…" for about 5 s per chat action
PLAN_USAGE = "Usage: /plan PATHWAY_ID [HOLDING_IDS], e.g. /plan ai-leadership-certificate data-strategy"
HOLD_USAGE = ("Usage: /hold ID,ID (ids, titles or the provider's codes, e.g. /hold data-strategy,ml-fundamentals); "
              "/hold none forgets them.")
EVIDENCE_LATER = ("Thanks for the file. Submitting evidence for assessment arrives with the grader, a later "
                  "feature; for now I answer questions typed as text. Try /help.")
TEXT_ONLY = "I can only read text messages. Type a question, or see /help."
SOMETHING_WRONG = "Sorry, something went wrong on my side. Please try again in a moment."
COMMANDS = [
    ("start", "welcome and example questions"),
    ("help", "how to use the assistant"),
    ("plan", "PATHWAY_ID [HOLDING_IDS]: what you still need"),
    ("hold", "ID,ID: the credentials you already hold"),
    ("reset", "delete our conversation and your holdings"),
    ("forget", "delete everything stored about you (asks first)"),
]
FORGET_CONFIRM_SECONDS = 10 * 60  # "/forget yes" must follow "/forget" within this

T = TypeVar("T")


# ------------------------------------------------------------------ pure helpers


def _utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """Length (in characters) of the longest prefix of ``text`` within ``limit`` UTF-16 units."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split ``text`` into non-empty parts of at most ``limit`` (UTF-16 units), cutting at the last
    paragraph break, else line break, else space that keeps a part at least half full; a single
    unbroken run longer than ``limit`` is cut hard. Whitespace at each cut (and around the text) is
    dropped; nothing else is changed, so the parts are consecutive pieces of the original text.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 (one emoji takes two UTF-16 units)")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if _utf16_len(rest) <= limit:
            parts.append(rest)
            break
        fit = _fitting_prefix(rest, limit)
        cut = fit  # hard cut unless a boundary is found
        for separator, min_fill in (("\n\n", fit // 2), ("\n", fit // 2), (" ", 1), ("\t", 1)):
            # the separator may start right after the fitting prefix: it is dropped at the cut
            at = rest.rfind(separator, 0, fit + len(separator))
            if at >= max(min_fill, 1):
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts


def format_answer(answer: Answer) -> str:
    """The answer text, then a "Sources:" line naming the cited catalogue entries (not for refusals,
    whose text already names the nearest entries)."""
    text = answer.text.strip()
    if answer.citations and not answer.refused:
        text += "\n\nSources: " + "; ".join(c.label for c in answer.citations)
    return text


def learner_id(user: User) -> str:
    return f"telegram:{user.id}"


class _Redactor(logging.Filter):
    """Replaces bot tokens in log records (message and traceback) with ``[telegram token]``."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[telegram token]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_redactor = _Redactor()
logger.addFilter(_redactor)


# ------------------------------------------------------------------ handlers


class _Bot:
    """The handlers; every answer comes from the service, this class only talks Telegram."""

    def __init__(self, service: AssistantService, typing_interval: float, extra_help: str = ""):
        self.service = service
        self.typing_interval = typing_interval
        self.extra_help = extra_help
        # one lock per learner: updates are processed concurrently, but one learner's turns stay in order
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.grader: Any = None  # set by build_application: "/forget" also erases submissions and credentials
        self.issuance: Any = None
        self.submissions: Any = None
        self._forget_asked: dict[str, float] = {}  # learner -> when "/forget" showed what would be deleted

    # -------------------------------------------------------------- plumbing

    def _lock(self, learner: str) -> asyncio.Lock:
        lock = self._locks.get(learner)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[learner] = lock
        return lock

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    @contextlib.asynccontextmanager
    async def _typing(self, chat: Chat) -> AsyncIterator[None]:
        async def keep_typing() -> None:
            while True:
                with contextlib.suppress(TelegramError):  # the indicator is a nicety, never a failure
                    await chat.send_action(ChatAction.TYPING)
                await asyncio.sleep(self.typing_interval)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    async def _reply(message: Message, text: str) -> None:
        for part in split_message(text) or ["(empty answer)"]:
            await message.reply_text(part)

    @staticmethod
    def _who(update: Update) -> tuple[Message, str] | None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return None
        return message, learner_id(user)

    def _credential_names(self, ids: list[str]) -> str:
        creds = self.service.catalogue.credentials
        return ", ".join(f"{creds[i].title} ({i})" if i in creds else i for i in ids)

    def _pathway_list(self) -> str:
        pathways = self.service.catalogue.pathways
        return "\n".join(f"- {pid}: {pathways[pid].title}" for pid in sorted(pathways))

    def _examples(self) -> list[str]:
        pathways = [self.service.catalogue.pathways[p] for p in sorted(self.service.catalogue.pathways)]
        credentials = [self.service.catalogue.credentials[c] for c in sorted(self.service.catalogue.credentials)]
        examples = []
        if pathways:
            examples.append(f"What do I still need for the {pathways[0].title}?")
            examples.append(f"What is the cheapest route to the {pathways[-1].title}?")
        if credentials:
            examples.append(f"How much does {credentials[0].title} cost?")
            examples.append(f"What will I learn in {credentials[-1].title}?")
        return examples

    def _help_text(self) -> str:
        return (
            "How to use me:\n"
            "- Type any question about the catalogue; answers name their sources.\n"
            "- Tell me what you already hold: /hold data-strategy,ml-fundamentals "
            "(or write \"I hold Data Strategy\"); /hold alone shows it.\n"
            f"- {PLAN_USAGE}. /plan alone lists the pathways.\n"
            "- /reset deletes our conversation and the credentials you told me you hold; /forget deletes "
            "everything stored about you, submissions included (it asks first).\n"
            "- /help shows this message."
        ) + (f"\n\n{self.extra_help}" if self.extra_help else "")

    # -------------------------------------------------------------- commands

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        examples = "\n".join(f"- {q}" for q in self._examples())
        await self._reply(who[0], (
            "Hi! I am the Stackwise assistant. I answer questions about the micro-credentials in the "
            "catalogue and work out what you still need for a pathway, the cheapest route and the credit "
            "you would earn.\n\n"
            f"{self._help_text()}\n\nTry asking:\n{examples}"
        ))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is not None:
            await self._reply(who[0], self._help_text())

    async def plan(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        args = context.args or []
        if not args:
            await self._reply(message, f"{PLAN_USAGE}\n\nPathways:\n{self._pathway_list()}")
            return
        target, holding = args[0], ",".join(args[1:])
        try:
            held = (self.service.parse_holding(holding) if holding
                    else await self._call(self.service.memory.holding, learner))
            answer = await self._call(self.service.plan_answer, held, target)
        except (AssistantError, PlannerError) as exc:
            await self._reply(message, f"{exc}\n\n{PLAN_USAGE}")
            return
        await self._reply(message, format_answer(answer))

    async def hold(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        args = context.args or []
        async with self._lock(learner):
            if not args:
                held = await self._call(self.service.memory.holding, learner)
                text = (f"You hold: {self._credential_names(held)}." if held
                        else f"You have not told me about any credentials you hold yet.\n{HOLD_USAGE}")
            elif [a.lower() for a in args] in (["none"], ["clear"]):
                await self._call(self.service.memory.set_holding, learner, [])
                text = "Done: I no longer assume you hold any credentials."
            else:
                try:
                    held = self.service.parse_holding(",".join(args))
                except AssistantError as exc:
                    await self._reply(message, f"{exc}\n{HOLD_USAGE}")
                    return
                await self._call(self.service.memory.set_holding, learner, held)
                text = f"Noted: you hold {self._credential_names(held)}."
        await self._reply(message, text)

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        async with self._lock(learner):
            removed = await self._call(self.service.forget, learner)
        await self._reply(message, f"Done: I deleted our conversation ({removed} message(s)) and the credentials "
                                   "you told me you hold. We start afresh.")

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/forget``: what is stored about the learner, and how to confirm; ``/forget yes``: delete it all."""
        from assistant.forget import LearnerData

        if (who := self._who(update)) is None:
            return
        message, learner = who
        data = LearnerData.of(self.service, self.grader, self.issuance)
        confirmed = [a.lower() for a in context.args or []] == ["yes"]
        asked = self._forget_asked.pop(learner, None)
        now = time.monotonic()
        self._forget_asked = {k: t for k, t in self._forget_asked.items() if now - t < FORGET_CONFIRM_SECONDS}
        async with self._lock(learner):
            if not confirmed or asked is None or now - asked >= FORGET_CONFIRM_SECONDS:
                report = await self._call(data.preview, learner)
                if report.empty:
                    await self._reply(message, "Nothing is stored about you: there is nothing to forget.")
                    return
                self._forget_asked[learner] = now
                kept = f"\n\n{report.kept()}" if report.credentials else ""
                await self._reply(message, f"This deletes {'; '.join(report.items())}.{kept}\n\nIt cannot be "
                                           "undone. Send /forget yes within 10 minutes to confirm.")
                return
            if self.submissions is not None:
                self.submissions.drafts.pop(learner, None)  # an open draft goes too
            report = await self._call(data.forget, learner)
        logger.info("a Telegram learner was forgotten: %s", report.model_dump())
        kept = f" {report.kept()}" if report.credentials else ""
        await self._reply(message, f"Forgotten: deleted {'; '.join(report.items()) or 'nothing (it was already gone)'}."
                                   f"{kept}")

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        command = (who[0].text or "/").split()[0]
        addressee = command.partition("@")[2]
        if addressee and addressee.lower() != (context.bot.username or "").lower():
            return  # a command for another bot in a group chat
        await self._reply(who[0], f"I do not know the command {command}. See /help.")

    # -------------------------------------------------------------- messages

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        async with self._lock(learner):
            try:
                async with self._typing(message.chat):
                    answer = await self._call(self.service.ask, learner, message.text or "")
            except AssistantError as exc:
                await self._reply(message, str(exc))
                return
        await self._reply(message, format_answer(answer))

    async def evidence(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is not None:
            await self._reply(who[0], EVIDENCE_LATER)

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is not None:
            await self._reply(who[0], TEXT_ONLY)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("error while handling a Telegram update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(TelegramError):
                await update.effective_message.reply_text(SOMETHING_WRONG)


# ------------------------------------------------------------------ wiring


def build_application(service: AssistantService, token: str, *, request: BaseRequest | None = None,
                      base_url: str | None = None, get_updates_request: BaseRequest | None = None,
                      typing_interval: float = TYPING_INTERVAL, grader: GraderService | None = None,
                      issuance: IssuanceService | None = None) -> Application:
    """The bot's :class:`telegram.ext.Application` with every handler registered.

    ``request`` replaces the HTTP layer (tests pass an offline fake; it is also used for getUpdates
    unless ``get_updates_request`` is given); ``base_url`` points the bot at another Bot API server,
    e.g. a self-hosted one. With a ``grader`` the evidence-submission commands are added; the
    :class:`assistant.telegram_submit.Submissions` handling them is ``application.bot_data["submissions"]``.
    With ``issuance`` (and a grader) learners receive their credential file when it is issued.
    """
    _redactor.secrets.add(token)
    commands = list(COMMANDS)
    submissions = None
    if grader is not None:
        from assistant.telegram_submit import SUBMIT_COMMANDS, SUBMIT_HELP, Submissions

        commands += SUBMIT_COMMANDS
        bot = _Bot(service, typing_interval, extra_help=SUBMIT_HELP)
        submissions = Submissions(grader, learner_id, bot._lock, issuance=issuance)
    else:
        bot = _Bot(service, typing_interval)
    bot.grader, bot.issuance, bot.submissions = grader, issuance, submissions

    async def post_init(application: Application) -> None:
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in commands])
        if submissions is not None and issuance is not None:
            application.bot_data["stop_credentials"] = submissions.attach_issuance(application.bot)

    async def post_shutdown(application: Application) -> None:
        stop = application.bot_data.pop("stop_credentials", None)
        if stop is not None:
            stop()

    builder = (ApplicationBuilder().token(token).concurrent_updates(True).post_init(post_init)
               .post_shutdown(post_shutdown))
    if request is not None:
        builder = builder.request(request).get_updates_request(get_updates_request or request)
    elif get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()

    new = filters.UpdateType.MESSAGE  # edited messages and channel posts are not questions
    handlers: list[tuple[str, Callable]] = [("start", bot.start), ("help", bot.help), ("plan", bot.plan),
                                            ("hold", bot.hold), ("reset", bot.reset), ("forget", bot.forget)]
    if submissions is not None:
        handlers += [("submit", submissions.submit), ("reflection", submissions.reflection),
                     ("done", submissions.done), ("cancel", submissions.cancel), ("status", submissions.status)]
    for name, callback in handlers:
        application.add_handler(CommandHandler(name, callback, filters=new))
    application.add_handler(MessageHandler(new & filters.COMMAND, bot.unknown_command))
    if submissions is not None:
        application.bot_data["submissions"] = submissions
        # while a submission is open in this chat, text is evidence (or the reflective statement)
        application.add_handler(MessageHandler(new & filters.TEXT & submissions.drafting, submissions.text))
        application.add_handler(MessageHandler(new & filters.TEXT, bot.question))
        application.add_handler(MessageHandler(new & filters.Document.ALL, submissions.document))
        application.add_handler(MessageHandler(new & filters.PHOTO, submissions.photo))
        application.add_handler(MessageHandler(new & submissions.drafting, submissions.unsupported))
    else:
        application.add_handler(MessageHandler(new & filters.TEXT, bot.question))
        application.add_handler(MessageHandler(new & (filters.Document.ALL | filters.PHOTO), bot.evidence))
    application.add_handler(MessageHandler(new, bot.other))
    application.add_error_handler(bot.error)
    return application


def _protect_logs(token: str) -> None:
    """Keep the token out of every log line this process writes."""
    _redactor.secrets.add(token)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if _redactor not in handler.filters:
            handler.addFilter(_redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs each request URL, token included


def run_bot(settings: Settings | None = None, *, base_url: str | None = None, warm_up: bool = True) -> None:
    """Run the bot with long polling until interrupted (Ctrl-C).

    Raises :class:`stackwise.wiring.SetupError` when ``STACKWISE_TELEGRAM_TOKEN`` is not set.
    """
    from stackwise.config import get_settings
    from stackwise.wiring import SetupError, assistant_service, grader_service, issuance_service

    settings = settings or get_settings()
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise SetupError("no Telegram bot token: set STACKWISE_TELEGRAM_TOKEN to the token @BotFather gave you")
    _protect_logs(token)
    service = assistant_service(settings)
    if warm_up:
        logger.info("loading the model before accepting messages")
        service.warm_up()
    grader = grader_service(settings)
    resumed = grader.resume_pending()
    if resumed:
        logger.info("grading %d submission(s) left ungraded by the last run (learners see them with /status)",
                    len(resumed))
    issuance = issuance_service(settings)
    application = build_application(service, token, base_url=base_url, grader=grader, issuance=issuance)
    logger.info("Telegram bot polling for messages (Ctrl-C stops it)")
    application.run_polling(allowed_updates=[Update.MESSAGE])


if __name__ == "__main__":
    run_bot()
