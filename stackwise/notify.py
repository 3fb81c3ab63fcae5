"""What a push channel has already told learners: the delivery log that makes "every outcome, exactly once" hold
across processes and restarts (the Telegram bot uses it, :mod:`stackwise.telegram.pushes`).

Why a log and not an outbox that the deciding code fills: an outcome is decided in several places (the grading
thread's AI grade, an assessor's decision in the web review queue or the CLI, issuance right after it or later
by ``issue_pending``), often in another process than the bot's. Each of them already commits its decision to
the shared database (a submission's ``status`` and ``status_changed_at``, an issued credential's row); that
committed row *is* the outbox entry, written in the same transaction as the decision by construction. What is
left to record is the channel's side: which of those outcomes it has delivered. A channel polls
:meth:`grader.api.GraderQueue.outcomes_since` (and the credential of each issuable one), sends what this log
does not hold, and records each after a successful send; a failed send is not recorded, so it is retried on the
next poll, and a bot that was down delivers on its next start.

- **Keys** name one outcome: :func:`outcome_key` (submission, status and when it took that status, so an
  error retried into a later error is told again) and :func:`credential_key` (the credential of a submission:
  issuance issues at most one).
- **Start**: :meth:`DeliveryLog.started` is when the channel first used this database; outcomes decided before
  that are never pushed (a new bot does not replay a database's history).
- **Undeliverable** outcomes (the learner blocked the bot, the chat is gone) are recorded as such and not
  retried.
- Delivery is at-least-once between a successful send and the record of it (a crash exactly there sends the
  outcome again on the next start); one process delivers per channel (Telegram lets one bot poll at a time).

The log holds submission and credential ids only, nothing about the learner (*forget me* unlinks those ids
in the grader and issuance stores). Tables ``notify_channels`` and ``notify_deliveries``, created on open.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

import storage
from storage import Base, UTCDateTime, engine_for, session_factory, utcnow

State = Literal["sent", "undeliverable"]


class ChannelRow(Base):
    __tablename__ = "notify_channels"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    __tablename__ = "notify_deliveries"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_notify_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


TABLES = [ChannelRow.__table__, DeliveryRow.__table__]


def outcome_key(submission_id: str, status: str, at: datetime) -> str:
    """The key of one submission's outcome: its id, the status and the instant it took that status."""
    return f"outcome:{submission_id}:{status}:{at.strftime('%Y%m%dT%H%M%S.%f')}"


def credential_key(submission_id: str) -> str:
    """The key of the credential issued for a submission (issuance issues at most one per submission)."""
    return f"credential:{submission_id}"


class DeliveryLog:
    """Which outcomes a channel has delivered, on the database at ``database_url`` (the grader's)."""

    def __init__(self, database_url: str):
        storage.ensure_tables(engine_for(database_url), TABLES)
        self._sessions = session_factory(database_url)

    def started(self, channel: str) -> datetime:
        """When ``channel`` first used this database (recorded now on the first call)."""
        with self._sessions() as session:
            found = session.get(ChannelRow, channel)
            if found is not None:
                return found.started_at
        try:
            with self._sessions.begin() as session:
                now = utcnow()
                session.add(ChannelRow(channel=channel, started_at=now))
            return now
        except IntegrityError:  # another process recorded it first
            with self._sessions() as session:
                return session.get(ChannelRow, channel).started_at

    def recorded(self, channel: str, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` already delivered (or given up as undeliverable) on ``channel``."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._sessions() as session:
            for start in range(0, len(wanted), 500):  # keep the IN list within every backend's limits
                found.update(session.scalars(select(DeliveryRow.key).where(
                    DeliveryRow.channel == channel, DeliveryRow.key.in_(wanted[start:start + 500]))))
        return found

    def record(self, channel: str, key: str, state: State = "sent") -> bool:
        """Record one delivery; False when it was recorded already."""
        try:
            with self._sessions.begin() as session:
                session.add(DeliveryRow(channel=channel, key=key, state=state, at=utcnow()))
            return True
        except IntegrityError:
            return False
