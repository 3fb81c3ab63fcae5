"""The Telegram chat's handlers (:class:`ChatBot`): a thin layer over :class:`assistant.service.AssistantService`.

Same engine and the same conversation memory as the CLI and the web chat; a learner is
``telegram:<user id>`` (:func:`stackwise.telegram.common.learner_id`), never a name. Commands: /start, /help,
/plan, /hold, /reset, /forget (everything, after ``/forget yes``); any other text is a question. Blocking
service calls run in a worker thread (:func:`asyncio.to_thread`) so the event loop stays free, and a "typing…"
indicator is repeated while an answer is generated. The token is redacted from this module's log records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Chat, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from assistant.api import AssistantError, PlannerError
from stackwise.telegram.common import learner_id, redactor, split_message

if TYPE_CHECKING:
    from assistant.api import Answer, AssistantService

logger = logging.getLogger(__name__)
logger.addFilter(redactor)

TYPING_INTERVAL = 4.0  # Telegram shows "typing…" for about 5 s per chat action
PLAN_USAGE = "Usage: /plan PATHWAY_ID [HOLDING_IDS], e.g. /plan ai-leadership-certificate data-strategy"
HOLD_USAGE = ("Usage: /hold ID,ID (ids, titles or the provider's codes, e.g. /hold data-strategy,ml-fundamentals); "
              "/hold none forgets them.")
EVIDENCE_LATER = ("Thanks for the file. Submitting evidence for assessment arrives with the grader, a later "
                  "feature; for now I answer questions typed as text. Try /help.")
TEXT_ONLY = "I can only read text messages. Type a question, or see /help."
SOMETHING_WRONG = "Sorry, something went wrong on my side. Please try again in a moment."
FORGET_CONFIRM_SECONDS = 10 * 60  # "/forget yes" must follow "/forget" within this

T = TypeVar("T")


# ------------------------------------------------------------------ pure helpers


def format_answer(answer: Answer) -> str:
    """The answer text, then a "Sources:" line naming the cited catalogue entries (not for refusals,
    whose text already names the nearest entries)."""
    text = answer.text.strip()
    if answer.citations and not answer.refused:
        text += "\n\nSources: " + "; ".join(c.label for c in answer.citations)
    return text


class ChatBot:
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
        from stackwise.forget import LearnerData

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
