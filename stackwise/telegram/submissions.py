"""Evidence submission over Telegram: the grader's commands for the bot in :mod:`stackwise.telegram.bot`.

A learner (``telegram:<user id>``) opens a draft with ``/submit CREDENTIAL_ID`` in a private chat, then
sends documents (.txt, .md, .pdf, .docx) and text messages as evidence; after ``/reflection`` their text
messages form the reflective statement instead. ``/done`` stores the submission through
:meth:`grader.service.GraderService.submit_in_background` (idempotency key from the chat and the /done
message id, so a redelivered update never submits twice) and the result is sent to the chat when the
grading thread finishes: its future's done-callback schedules the delivery on the bot's event loop.
``/cancel`` drops the draft; ``/status`` lists the learner's own submissions (``/status ID``: one of them).
Results and credentials are sent through :class:`stackwise.telegram.pushes.Pushes`, which also pushes every
outcome decided elsewhere (an assessor in the web review queue, grading resumed after a restart, a credential
issued later), each once, from the database.

Drafts (:mod:`stackwise.telegram.drafts`) live in memory only. A learner whose draft was lost because the bot
restarted is told so the next time they use a draft command or send a file. Files are checked before download:
Telegram lets bots fetch at most 20 MB and the grader reads at most :data:`grader.evidence.MAX_FILE_BYTES`.

About 500 lines, one class: every handler of the submission conversation reads and writes the same per-learner
drafts and pending results (the pure parts are in :mod:`stackwise.telegram.drafts`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from pydantic import ValidationError
from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes, filters

from grader.api import (
    MAX_TOTAL_CHARS,
    EvidenceError,
    GraderError,
    Status,
    SubmissionView,
    UnknownCredential,
    extract_file,
)
from stackwise.telegram.common import split_message
from stackwise.telegram.drafts import (
    MAX_DOCUMENT_BYTES,
    MAX_DRAFT_FILES,
    MAX_STATUS_LINES,
    NOT_IMAGES,
    TELEGRAM_DOWNLOAD_LIMIT,
    Draft,
    evidence_filename,
    format_result,
    status_label,
)
from stackwise.telegram.pushes import Pushes

if TYPE_CHECKING:
    from grader.api import GraderService
    from issuance.api import IssuanceService, IssuedCredential
    from knowledge.api import Credential

logger = logging.getLogger(__name__)


SUBMIT_USAGE = "Usage: /submit CREDENTIAL_ID, e.g. /submit data-strategy; /submit alone lists the credentials."
UNSUPPORTED_MESSAGE = ("I cannot use that as evidence. Send text messages or documents (.txt, .md, .pdf, .docx); "
                       "/done submits what you have sent, /cancel drops it.")
PRIVATE_ONLY = "Evidence is personal: please use /submit and /status in a private chat with me."
CAPTION_IGNORED = ("The file's caption was not added; send text you want assessed as a separate message.")
SUBMIT_COMMANDS = [
    ("submit", "CREDENTIAL_ID: start submitting evidence"),
    ("reflection", "what you type next is your reflective statement"),
    ("done", "send your evidence for grading"),
    ("cancel", "drop the submission you are preparing"),
    ("status", "your submissions and their results"),
]
SUBMIT_HELP = (
    "Submitting evidence for a credential (in a private chat):\n"
    "1. /submit CREDENTIAL_ID starts a submission (/submit alone lists the credentials).\n"
    f"2. Send documents (.txt, .md, .pdf with selectable text, .docx; up to {MAX_DOCUMENT_BYTES // 1_048_576} MB "
    "each) and/or type text: it all becomes your evidence (while a submission is open, what you type is evidence, "
    "not a question for me). Photos and scans cannot be graded.\n"
    "3. Optional: /reflection, then type your reflective statement (or /reflection YOUR TEXT).\n"
    "4. /done submits it for grading; I send you the result when it is ready. /cancel drops it.\n"
    "- /status lists your submissions and their results; /status ID shows one.\n"
    "Until /done your submission is kept only while I am running: if I restart, start it again."
)

# ------------------------------------------------------------------ handlers


class _DraftOpen(filters.MessageFilter):
    """Messages from a learner who has a draft open in this chat."""

    def __init__(self, submissions: Submissions):
        super().__init__(name="DraftOpen")
        self._submissions = submissions

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is None:
            return False
        draft = self._submissions.drafts.get(self._submissions.learner_id(user))
        return draft is not None and draft.chat_id == message.chat_id


class Submissions:
    """The grader's Telegram handlers. ``learner_id`` maps a Telegram user to a learner id; ``lock`` gives
    the per-learner lock shared with the assistant's handlers (one learner's updates stay in order)."""

    def __init__(self, grader: GraderService, learner_id: Callable, lock: Callable[[str], asyncio.Lock],
                 issuance: IssuanceService | None = None, pushes: Pushes | None = None):
        self.grader = grader
        self.issuance = issuance
        self.pushes = pushes or Pushes(grader, issuance)
        self.learner_id = learner_id
        self._lock = lock
        self.drafts: dict[str, Draft] = {}
        self._known: set[str] = set()  # learners who opened a draft since this process started
        self._done: dict[str, tuple[int, int, str]] = {}  # learner -> (chat id, /done message id, submission id)
        self._notifications: set[asyncio.Future] = set()
        self.drafting = _DraftOpen(self)

    # -------------------------------------------------------------- plumbing

    def _who(self, update: Update) -> tuple[Message, str] | None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return None
        return message, self.learner_id(user)

    async def _private_who(self, update: Update) -> tuple[Message, str] | None:
        """Like :meth:`_who`, but only in a private chat (elsewhere the learner is told so and None comes back)."""
        if (who := self._who(update)) is None:
            return None
        if not self._private(who[0]):
            await self._reply(who[0], PRIVATE_ONLY)
            return None
        return who

    @staticmethod
    async def _reply(message: Message, text: str) -> None:
        for part in split_message(text) or ["(empty message)"]:
            await message.reply_text(part)

    def _credential(self, credential_id: str) -> Credential | None:
        return self.grader.catalogue.credentials.get(credential_id)

    def _title(self, credential_id: str) -> str:
        credential = self._credential(credential_id)
        return f"{credential.title} ({credential_id})" if credential else credential_id

    def _draft(self, learner: str, message: Message) -> Draft | None:
        draft = self.drafts.get(learner)
        return draft if draft is not None and draft.chat_id == message.chat_id else None

    def _no_draft(self, learner: str) -> str:
        text = "You have no submission open. Start one with /submit CREDENTIAL_ID (/submit alone lists them)."
        if learner not in self._known:
            text += ("\n\nIf you started one earlier, it was lost because I restarted (submissions are kept only "
                     "until /done while I am running); please start it again.")
        return text

    @staticmethod
    def _private(message: Message) -> bool:
        return message.chat.type == ChatType.PRIVATE

    def _credential_list(self) -> str:
        credentials = self.grader.catalogue.credentials
        lines = [f"- {cid}: {credentials[cid].title}" for cid in sorted(credentials)
                 if getattr(credentials[cid], "rubric", None) is not None]
        return "\n".join(lines)

    # -------------------------------------------------------------- commands

    async def submit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := await self._private_who(update)) is None:
            return
        message, learner = who
        args = context.args or []
        if not args:
            await self._reply(message, f"{SUBMIT_USAGE}\n\nCredentials you can submit evidence for:\n"
                                       f"{self._credential_list()}")
            return
        credential_id = args[0].strip().lower()
        credential = self._credential(credential_id)
        if credential is None:
            error = UnknownCredential(credential_id, sorted(self.grader.catalogue.credentials))
            await self._reply(message, f"{error}.\n\n{SUBMIT_USAGE}")
            return
        async with self._lock(learner):
            draft = self.drafts.get(learner)
            if draft is not None:
                same = draft.credential_id == credential_id
                await self._reply(message, (
                    f"You are already preparing a submission for {self._title(draft.credential_id)} "
                    f"({draft.summary()}). " + ("Keep sending evidence, then /done." if same else
                                                "Send /done to submit it or /cancel to drop it first.")))
                return
            self.drafts[learner] = Draft(credential_id=credential_id, chat_id=message.chat_id)
            self._known.add(learner)
        rubric = credential.rubric
        criteria = "; ".join(c.title for c in rubric.criteria)
        await self._reply(message, (
            f"Started your submission for {credential.title} ({credential_id}).\n\n"
            f"It is assessed on: {criteria} (pass mark {rubric.pass_threshold} of {rubric.max_points} points).\n\n"
            "Now send your evidence: documents (.txt, .md, .pdf with selectable text, .docx) and/or text messages. "
            "For a reflective statement send /reflection, then type it. When everything is here, send /done; "
            "/cancel drops the submission."
        ))

    async def reflection(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        text = (message.text or "").strip()
        inline = text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""
        async with self._lock(learner):
            draft = self._draft(learner, message)
            if draft is None:
                await self._reply(message, self._no_draft(learner))
                return
            draft.reflecting = True
            if inline:
                reply = self._add_text(draft, message.message_id, inline)
            else:
                reply = ("Type your reflective statement now: every text message you send until /done is part of it. "
                         "Documents you send are still added as evidence.")
        await self._reply(message, reply)

    async def done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        user = update.effective_user
        async with self._lock(learner):
            draft = self._draft(learner, message)
            if draft is None:
                last = self._done.get(learner)
                if last is not None and last[:2] == (message.chat_id, message.message_id):
                    await self._reply(message, f"Already received: submission {last[2]}. /status shows its progress.")
                else:
                    await self._reply(message, self._no_draft(learner))
                return
            if draft.is_empty():
                await self._reply(message, (
                    f"Nothing to submit yet for {self._title(draft.credential_id)}: send documents or text first, "
                    "or /cancel to drop the submission."))
                return
            key = f"telegram:{message.chat_id}:{message.message_id}"
            try:
                submission = draft.to_submission(learner, user.full_name if user else "", key)
                view, future = await asyncio.to_thread(self.grader.submit_in_background, submission)
            except (GraderError, EvidenceError, UnknownCredential, ValidationError) as exc:
                detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                await self._reply(message, f"I could not accept this submission: {detail}. Your submission is still "
                                           "open: fix it and send /done again, or /cancel it.")
                return
            del self.drafts[learner]
            self._done[learner] = (message.chat_id, message.message_id, view.id)
        if view.status == Status.error:  # stored straight as an error: pushed now, so the poll does not repeat it
            if not await self.pushes.deliver_submission(context.bot, view.id):  # a repeated /done: answer it
                await self._reply(message, format_result(view, self._credential(view.credential_id)))
        elif future is None and not (getattr(self.grader, "enqueue_only", False) and view.status == Status.received):
            # a redelivered /done: the submission exists already (with grading workers, a new one has no future:
            # its result comes through the pushes' poll of the queue)
            await self._reply(message, f"Already received: submission {view.id} ({status_label(view)}). "
                                       "/status shows its progress.")
        else:
            await self._reply(message, (
                f"Received: submission {view.id} for {self._title(view.credential_id)} is being graded. This "
                "usually takes a minute or two; I will send you the result here, and /status shows it too."))
            if future is not None:
                self._notify_when_graded(future, context.bot, message.chat_id, learner, view.id)

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        async with self._lock(learner):
            draft = self._draft(learner, message)
            if draft is None:
                await self._reply(message, "There is nothing to cancel. " + self._no_draft(learner))
                return
            del self.drafts[learner]
        await self._reply(message, f"Dropped your submission for {self._title(draft.credential_id)} "
                                   f"({draft.summary()}). Nothing was sent for grading.")

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := await self._private_who(update)) is None:
            return
        message, learner = who
        args = context.args or []
        queue = self.grader.queue
        if args:
            try:
                view = await asyncio.to_thread(queue.get_submission, args[0], learner_id=learner)
            except GraderError as exc:
                await self._reply(message, f"{exc}. /status lists your submissions.")
                return
            await self._reply(message, format_result(view, self._credential(view.credential_id)))
            return
        views = await asyncio.to_thread(queue.submissions_for_learner, learner)
        lines = []
        draft = self._draft(learner, message)
        if draft is not None:
            lines.append(f"Open (not yet submitted): {self._title(draft.credential_id)}: {draft.summary()}. "
                         "/done submits it.")
        if views:
            lines.append("Your submissions, newest first:")
            lines += [f"- {v.id}: {self._title(v.credential_id)}, {v.created_at:%Y-%m-%d}: {status_label(v)}"
                      for v in views[:MAX_STATUS_LINES]]
            if len(views) > MAX_STATUS_LINES:
                lines.append(f"(and {len(views) - MAX_STATUS_LINES} older)")
            lines.append("/status ID shows one submission with its result by criterion.")
        elif draft is None:
            lines.append("You have not submitted any evidence yet. " + SUBMIT_USAGE)
        await self._reply(message, "\n".join(lines))

    # -------------------------------------------------------------- evidence messages

    def _add_text(self, draft: Draft, message_id: int, text: str) -> str:
        if draft.text_chars() + len(text) > MAX_TOTAL_CHARS:
            return (f"That text was not added: your typed evidence would exceed {MAX_TOTAL_CHARS:,} characters. "
                    "Send the most relevant excerpts, or put longer material in a document.")
        (draft.reflection if draft.reflecting else draft.texts).append((message_id, text))
        what = "your reflective statement" if draft.reflecting else "your evidence"
        return f"Added to {what}. So far: {draft.summary()}. Send more, or /done to submit."

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message while a draft is open: evidence, or after /reflection the reflective statement."""
        if (who := self._who(update)) is None:
            return
        message, learner = who
        text = (message.text or "").strip()
        if not text:
            await self._reply(message, "That message is empty; send your evidence as text or a document.")
            return
        async with self._lock(learner):
            draft = self._draft(learner, message)
            if draft is None:  # cancelled or submitted meanwhile
                await self._reply(message, self._no_draft(learner))
                return
            reply = self._add_text(draft, message.message_id, text)
        await self._reply(message, reply)

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is None:
            return
        message, learner = who
        document = message.document
        if document is None:
            return
        checked = evidence_filename(document.file_name, document.mime_type)
        if isinstance(checked, str):
            await self._reply(message, checked)
            return
        filename, media_type = checked
        if document.file_size is not None and document.file_size > MAX_DOCUMENT_BYTES:
            await self._reply(message, self._too_large(filename, document.file_size))
            return
        async with self._lock(learner):
            draft = self._draft(learner, message)
            if draft is None:
                await self._reply(message, ("To submit a file as evidence, first start a submission with "
                                            "/submit CREDENTIAL_ID, then send the file again.\n\n"
                                            + self._no_draft(learner)))
                return
            if len(draft.files) >= MAX_DRAFT_FILES:
                await self._reply(message, f"A submission can have at most {MAX_DRAFT_FILES} files; {filename} was "
                                           "not added. Send /done to submit what you have.")
                return
            try:
                telegram_file = await document.get_file()
                data = bytes(await telegram_file.download_as_bytearray())
            except TelegramError as exc:
                logger.warning("could not download a document: %s", exc)
                await self._reply(message, f"I could not download {filename} from Telegram ({exc.message}). "
                                           "Please send it again.")
                return
            if len(data) > MAX_DOCUMENT_BYTES:
                await self._reply(message, self._too_large(filename, len(data)))
                return
            warning = ""
            try:
                await asyncio.to_thread(extract_file, filename, data)
            except EvidenceError as exc:
                warning = (f"\n\nWarning: {exc}. This file cannot be graded as it is; it stays in your submission "
                           "(an assessor can see it), but send a readable copy too, or /cancel and start again.")
            draft.files.append((message.message_id, filename, data, media_type))
            summary = draft.summary()
        caption = f"\n\n{CAPTION_IGNORED}" if message.caption else ""
        await self._reply(message, f"Added {filename} ({_size(len(data))}). So far: {summary}. Send more, or /done "
                                   f"to submit.{warning}{caption}")

    @staticmethod
    def _too_large(filename: str, size: int) -> str:
        return (f"{filename} is {_size(size)}; I can accept files up to {MAX_DOCUMENT_BYTES // 1_048_576} MB "
                f"(Telegram lets bots download at most {TELEGRAM_DOWNLOAD_LIMIT // 1_048_576} MB). "
                "Send a smaller file, e.g. the relevant excerpts or a PDF without images.")

    async def photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (who := self._who(update)) is not None:
            await self._reply(who[0], NOT_IMAGES)

    async def unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything else (voice, video, sticker, ...) while a draft is open."""
        if (who := self._who(update)) is not None:
            await self._reply(who[0], UNSUPPORTED_MESSAGE)

    # -------------------------------------------------------------- results

    def _notify_when_graded(self, future: Future[SubmissionView], bot: Bot, chat_id: int, learner: str,
                            submission_id: str) -> None:
        """When the grading thread finishes, send the result (and a credential it issued) from the bot's event
        loop, through :class:`stackwise.telegram.pushes.Pushes` (so it is sent once, and retried if it fails)."""
        loop = asyncio.get_running_loop()
        self.pushes.awaiting.add(submission_id)

        def on_done(done: Future[SubmissionView]) -> None:  # runs on the grading thread
            try:
                scheduled = asyncio.run_coroutine_threadsafe(self._send_result(done, bot, submission_id), loop)
            except RuntimeError:  # the loop is closed: the bot stopped; its next start delivers the result
                logger.info("bot stopped before submission %s was graded; its next start sends the result",
                            submission_id)
                return
            self._notifications.add(scheduled)
            scheduled.add_done_callback(self._notifications.discard)

        future.add_done_callback(on_done)

    async def _send_result(self, done: Future[SubmissionView], bot: Bot, submission_id: str) -> None:
        try:
            if done.exception() is not None:  # grading's own fallback failed too: what is stored is sent
                logger.error("grading submission %s raised: %s", submission_id, done.exception())
            await self.pushes.deliver_submission(bot, submission_id)
        except Exception:
            logger.exception("could not send the result of submission %s; the next poll tries again", submission_id)
        finally:
            self.pushes.awaiting.discard(submission_id)

    # -------------------------------------------------------------- credentials

    async def send_credential(self, bot: Bot, chat_id: int, issued: IssuedCredential) -> bool:
        """Send the signed credential as a JSON document (once per credential); True when it was sent now."""
        return await self.pushes.send_credential(bot, chat_id, issued)

    def attach_issuance(self, bot: Bot) -> Callable[[], None]:
        """Start pushing outcomes and credentials to Telegram learners (:meth:`Pushes.start`; the bot's
        ``post_init`` does this). Call on the bot's event loop; returns the function that stops it."""
        return self.pushes.start(bot)


def _size(size: int) -> str:
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"

