""""Forget me": everything one learner left in Stackwise, counted and deleted (for the web app and Telegram).

One learner id (a hashed web learner key, or ``telegram:<user id>``) reaches three stores:

* the assistant's memory (:class:`assistant.memory.ConversationMemory`): chat messages and the credentials the
  learner said they hold - deleted;
* the grader's store (:mod:`grader.erasure`): evidence files, reflections, links, name, email, the model's
  and assessors' text about them - deleted; the submission skeleton stays, unlinked;
* issued credentials (:mod:`issuance.erasure`): kept for verification and revocation, unlinked.

:meth:`LearnerData.preview` says what would go (the confirmation step); :meth:`LearnerData.forget` does it
and says what went.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from assistant.api import ConversationMemory
    from grader.api import GraderQueue
    from issuance.api import IssuanceService


log = logging.getLogger(__name__)


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class ForgetReport(BaseModel):
    """What one learner has stored (a preview) or what was deleted (after forgetting)."""

    messages: int = 0  # chat messages
    held: int = 0  # credentials the learner said they hold
    submissions: int = 0  # submissions whose evidence and personal data go
    files: int = 0  # evidence files
    file_bytes: int = 0
    withdrawn: int = 0  # submissions still waiting for grading or review (withdrawn)
    credentials: int = 0  # issued credential records (kept, unlinked)

    @property
    def empty(self) -> bool:
        return not (self.messages or self.held or self.submissions or self.credentials)

    def items(self) -> list[str]:
        """What is (or was) stored, in words: one phrase per store that has something."""
        parts = []
        if self.messages:
            parts.append(_n(self.messages, "chat message"))
        if self.held:
            parts.append(f"the {_n(self.held, 'credential')} you said you hold")
        if self.submissions:
            parts.append(f"the evidence of {_n(self.submissions, 'submission')} ({_n(self.files, 'file')}, "
                         f"{self.file_bytes:,} bytes, with reflections, links, name and email)"
                         + (f", {self.withdrawn} of them withdrawn from grading or review" if self.withdrawn else ""))
        return parts

    def kept(self) -> str:
        """The sentence about issued credentials (kept for verification and revocation, unlinked)."""
        if not self.credentials:
            return ""
        verb = "stays" if self.credentials == 1 else "stay"
        return (f"{_n(self.credentials, 'issued credential')} {verb} on record so that verifiers can still check "
                "and the issuer can still revoke it, no longer linked to you (keep your downloaded copy).")


class LearnerData:
    """The stores that hold a learner's data; ``grader`` and ``issuance`` are optional (chat-only app)."""

    def __init__(self, memory: ConversationMemory, grader: GraderQueue | None = None,
                 issuance: IssuanceService | None = None):
        self.memory, self.grader, self.issuance = memory, grader, issuance

    @classmethod
    def of(cls, assistant: Any, grader: Any = None, issuance: Any = None) -> LearnerData:
        """From the services a channel holds (an assistant service, a grader service, an issuance service)."""
        return cls(assistant.memory, getattr(grader, "queue", None), issuance)

    def preview(self, learner_id: str) -> ForgetReport:
        """What :meth:`forget` would delete or unlink now (nothing changes)."""
        messages, held = self.memory.stored(learner_id)
        report = ForgetReport(messages=messages, held=held)
        if self.grader is not None:
            from grader.api import learner_data

            report = report.model_copy(update=learner_data(self.grader, learner_id).model_dump())
        if self.issuance is not None:
            from issuance.api import credentials_of

            report.credentials = credentials_of(self.issuance, learner_id)
        return report

    def forget(self, learner_id: str) -> ForgetReport:
        """Delete the learner's messages, profile and evidence; unlink their issued credentials.

        On SQLite the deleted pages are zeroed (``secure_delete``, set by :mod:`storage`) and the write-ahead
        log is checkpointed and truncated afterwards, so the deleted bytes do not linger in the files."""
        _messages, held = self.memory.stored(learner_id)
        report = ForgetReport(messages=self.memory.forget(learner_id), held=held)
        if self.grader is not None:
            from grader.api import erase_learner

            report = report.model_copy(update=erase_learner(self.grader, learner_id).model_dump())
        if self.issuance is not None:
            from issuance.api import unlink_learner

            report.credentials = unlink_learner(self.issuance, learner_id)
        _checkpoint(self.memory, self.grader, self.issuance)
        return report


def _checkpoint(*stores: Any) -> None:
    """Fold SQLite's write-ahead log into the database and truncate it (best effort: a long reader may delay it)."""
    engines = {getattr(getattr(store, "_sessions", None), "kw", {}).get("bind") for store in stores}
    for engine in engines:
        if engine is None or engine.dialect.name != "sqlite":
            continue
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # the data is deleted either way; only its old copy in the log waits for a checkpoint
            log.warning("SQLite checkpoint after forgetting a learner failed", exc_info=True)
