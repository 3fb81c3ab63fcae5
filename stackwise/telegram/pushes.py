"""Telegram pushes every outcome and credential to its learner, whoever decided it and whenever.

An outcome reaches a Telegram learner (``telegram:<user id>``) whether the bot's own grading thread recorded it
(the submission came in by /done, or was resumed after a restart by
:meth:`grader.service.GraderService.resume_pending`), an assessor decided it in the web review queue or the CLI
(another process), or issuance issued the credential later (right after the decision, or
:meth:`issuance.service.IssuanceService.issue_pending`). Web learners get nothing here.

How, in one paragraph: the decisions themselves are the outbox. Every deciding path commits the submission's
new status to the shared database; :class:`Pushes` polls :meth:`grader.api.GraderQueue.outcomes_since` for
Telegram learners (and each issuable submission's credential), sends whatever the
:class:`stackwise.notify.DeliveryLog` does not hold, and records each send after Telegram accepted it. So
a bot that was down delivers on its next start, a send that failed is retried on the next poll, and nothing
is sent twice (all sends of one bot go through one lock, and a send whose record the database refused is held
as sent in memory until the record is written). The loop is an asyncio task started in the
application's ``post_init`` (python-telegram-bot's JobQueue needs APScheduler, which is not installed); it
polls every :data:`POLL_SECONDS` and sooner when this process grades a submission or issues a credential.

What is pushed: every status a grade or a decision gives (passed, not passed, under review, approved, not
approved, resubmission requested, could not be graded), as the bot words it for /status
(:func:`stackwise.telegram.drafts.format_result`: the outcome, the points and a line per criterion); then the
signed credential as a JSON document with the link to its page. A submission withdrawn by *forget me* is not
a learner's outcome and is never pushed. While this process is still grading a submission (its feedback is
being written) it is left for the next poll. Outcomes older than :data:`WINDOW` that never got through
(Telegram unreachable for a week) are left to /status; outcomes decided before the bot first ran on this
database are never pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, TelegramError

from grader.api import ISSUABLE_STATUSES, Status
from stackwise.identity import TELEGRAM_LEARNER_PREFIX, telegram_user
from stackwise.notify import DeliveryLog, credential_key, outcome_key
from stackwise.telegram.common import redactor, split_message
from stackwise.telegram.drafts import format_result

if TYPE_CHECKING:
    from grader.api import GraderService
    from issuance.api import IssuanceService, IssuedCredential

logger = logging.getLogger(__name__)
logger.addFilter(redactor)

CHANNEL = "telegram"
POLL_SECONDS = 15.0
WINDOW = timedelta(days=7)


class _Stop(Exception):
    """Telegram did not take a send for a reason that may pass (network, flood control): end this pass."""


class Pushes:
    """Delivers outcomes and credentials to Telegram learners, each once (see the module docstring).

    ``deliveries`` defaults to a :class:`DeliveryLog` on the grader's database; ``poll_seconds`` is the
    longest wait between two polls of the running loop (:meth:`start`)."""

    def __init__(self, grader: GraderService, issuance: IssuanceService | None = None, *,
                 deliveries: DeliveryLog | None = None, poll_seconds: float = POLL_SECONDS):
        self.grader = grader
        self.issuance = issuance
        self.deliveries = deliveries or DeliveryLog(grader.queue.database_url)
        self.poll_seconds = poll_seconds
        self.awaiting: set[str] = set()  # submissions whose /done result this process sends when grading ends
        self._lock = asyncio.Lock()
        self._sent_unrecorded: set[str] = set()  # sent, but the database refused the record (see _record_sent)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.polls = 0  # polls the running loop has finished

    # -------------------------------------------------------------- the loop

    def start(self, bot: Bot) -> Callable[[], None]:
        """Start polling on the running event loop (a task) and hear this process's issued credentials;
        returns the function that stops both. The bot's first start on a database is recorded here: outcomes
        decided before it are not pushed (:meth:`begin`)."""
        self.begin()
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        task = self._loop.create_task(self._run(bot), name="stackwise-telegram-pushes")
        unsubscribe = self.issuance.on_issued(lambda _issued: self.wake()) if self.issuance else (lambda: None)

        def stop() -> None:
            unsubscribe()
            task.cancel()

        return stop

    def begin(self) -> None:
        """Record the bot's first start on this database if this is it (outcomes decided before are not pushed);
        ``run_bot`` calls it before grading resumes, so a resumed submission's outcome always counts."""
        self.deliveries.started(CHANNEL)

    def wake(self) -> None:
        """Poll now rather than at the next tick (safe from any thread)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the bot stopped
            loop.call_soon_threadsafe(event.set)

    async def _run(self, bot: Bot) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.deliver_due(bot)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next poll tries again
                logger.exception("delivering outcomes to Telegram learners failed")
            self.polls += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    # -------------------------------------------------------------- delivering

    async def deliver_due(self, bot: Bot) -> int:
        """One poll: send every outcome and credential not delivered yet; returns how many were sent."""
        async with self._lock:
            since = max(await asyncio.to_thread(self.deliveries.started, CHANNEL),
                        datetime.now(UTC) - WINDOW)
            rows = await asyncio.to_thread(self.grader.queue.outcomes_since, since,
                                           learner_prefix=TELEGRAM_LEARNER_PREFIX)
            rows = [r for r in rows if r[0] not in self.awaiting and not self.grader.grading_here(r[0])]
            return await self._deliver(bot, rows)

    async def deliver_submission(self, bot: Bot, submission_id: str) -> int:
        """Send this submission's outcome (and credential) now if not delivered yet (after /done's grading)."""
        async with self._lock:
            rows = await asyncio.to_thread(self.grader.queue.outcomes_since, None,
                                           learner_prefix=TELEGRAM_LEARNER_PREFIX, submission_ids=[submission_id])
            return await self._deliver(bot, rows)

    async def send_credential(self, bot: Bot, chat_id: int, issued: IssuedCredential) -> bool:
        """Send one credential unless it was delivered already; True when it was sent now."""
        async with self._lock:
            key = credential_key(issued.submission_id)
            if await self._delivered([key]):
                return False
            await self._send_credential(bot, chat_id, issued)
            await self._record_sent(key)
            return True

    async def _deliver(self, bot: Bot, rows: list[tuple[str, str, Status, datetime]]) -> int:
        if not rows:
            return 0
        keys = [outcome_key(sid, status.value, at) for sid, _l, status, at in rows]
        keys += [credential_key(sid) for sid, _l, status, _at in rows if status in ISSUABLE_STATUSES]
        done = await self._delivered(keys)
        credentials: dict[str, IssuedCredential] = {}
        if self.issuance is not None:  # read only the credentials still to send: an idle poll is two queries
            for sid, _learner, status, _at in rows:
                if status in ISSUABLE_STATUSES and credential_key(sid) not in done:
                    issued = await asyncio.to_thread(self.issuance.for_submission, sid)
                    if issued is not None:
                        credentials[sid] = issued
        sent = 0
        try:
            for sid, learner, status, at in rows:
                chat_id = telegram_user(learner)
                if chat_id is None:
                    continue
                key = outcome_key(sid, status.value, at)
                if key not in done:
                    told = await self._attempt(key, sid, lambda c=chat_id, s=sid, who=learner: self._send_outcome(
                        bot, c, s, who))
                    sent += told
                    if not told:
                        continue  # the credential never comes before its outcome
                issued = credentials.get(sid)
                if issued is not None:
                    sent += await self._attempt(credential_key(sid), sid,
                                                lambda c=chat_id, i=issued: self._send_credential(bot, c, i))
        except _Stop as exc:
            logger.warning("Telegram did not take a message (%s); trying again at the next poll", exc)
        return sent

    async def _attempt(self, key: str, submission_id: str, send: Callable[[], Any]) -> int:
        """Send, then record; a refusal that will not pass is recorded as undeliverable, anything else retried."""
        try:
            await send()
        except (Forbidden, BadRequest) as exc:  # blocked the bot, or the chat is gone: retrying cannot help
            logger.info("cannot reach the learner of submission %s on Telegram (%s); not retried", submission_id,
                        exc.message)
            await asyncio.to_thread(self.deliveries.record, CHANNEL, key, "undeliverable")
            return 0
        except TelegramError as exc:  # network, timeout, flood control: later
            raise _Stop(exc.message) from exc
        except Exception:
            logger.exception("could not send %s to its learner; trying again at the next poll", key)
            return 0
        await self._record_sent(key)
        return 1

    async def _record_sent(self, key: str) -> None:
        """Record a send Telegram accepted. If the database refuses the record (locked, unreachable), the key is
        held in memory as sent, so the next poll writes the record instead of sending the message again."""
        try:
            await asyncio.to_thread(self.deliveries.record, CHANNEL, key)
        except Exception:
            logger.exception("sent %s but could not record it; recording it at the next poll", key)
            self._sent_unrecorded.add(key)

    async def _delivered(self, keys: list[str]) -> set[str]:
        """Those of ``keys`` already delivered: recorded in the log, or sent by this process and not recorded yet
        (their records are written first; a database still refusing them ends the pass, the keys kept)."""
        for key in sorted(self._sent_unrecorded):
            await asyncio.to_thread(self.deliveries.record, CHANNEL, key)
            self._sent_unrecorded.discard(key)
        return await asyncio.to_thread(self.deliveries.recorded, CHANNEL, keys)

    async def _send_outcome(self, bot: Bot, chat_id: int, submission_id: str, learner: str) -> None:
        view = await asyncio.to_thread(self.grader.queue.get_submission, submission_id, learner_id=learner)
        credential = self.grader.catalogue.credentials.get(view.credential_id)
        for part in split_message(format_result(view, credential)):
            await bot.send_message(chat_id, part)

    async def _send_credential(self, bot: Bot, chat_id: int, issued: IssuedCredential) -> None:
        from issuance.api import credential_json

        credential = self.grader.catalogue.credentials.get(issued.credential_id)
        title = f"{credential.title} ({issued.credential_id})" if credential else issued.title or issued.credential_id
        data = io.BytesIO(credential_json(issued.document).encode("utf-8"))
        page = self.issuance.config.credential_url(issued.uuid) if self.issuance is not None else ""
        caption = (f"Your credential for {title}: a signed Open Badges 3.0 credential. Keep this file; anyone can "
                   "check it on the Verify page of the web app." + (f" Its page: {page}" if page else ""))
        await bot.send_document(chat_id, InputFile(data, filename=f"credential-{issued.uuid}.json"),
                                caption=caption[:1024])
