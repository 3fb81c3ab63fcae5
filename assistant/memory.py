"""Per-learner conversation memory and profile, persisted in the database.

Memory is bounded twice: only the last ``window`` turns go into a prompt, and at most
``max_stored`` turns are kept per learner. A learner can delete everything with :meth:`forget`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import JSON, DateTime, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base, engine_for, ensure_tables, session_factory

MAX_MESSAGE_CHARS = 4000


def _now() -> datetime:
    return datetime.now(UTC)


class TurnRow(Base):
    __tablename__ = "assistant_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    entities: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ProfileRow(Base):
    __tablename__ = "learner_profiles"

    learner_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    holding: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class SubjectRow(Base):
    """What the learner's last answer was about (a route, a credential, a list), for follow-up questions."""

    __tablename__ = "assistant_subjects"

    learner_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class Subject(BaseModel):
    """The previous answer's subject: ``kind`` is route, credential, pathway or list."""

    kind: str
    tool: str
    ids: list[str] = []
    objective: str | None = None  # price or time, for a route


class Turn(BaseModel):
    role: str
    content: str
    entities: list[str] = []


class ConversationMemory:
    def __init__(self, database_url: str, *, window: int = 6, max_stored: int = 200):
        tables = [TurnRow.__table__, ProfileRow.__table__, SubjectRow.__table__]
        ensure_tables(engine_for(database_url), tables)  # the engine may predate them
        self._sessions = session_factory(database_url)
        self.window = window
        self.max_stored = max_stored

    def history(self, learner_id: str, limit: int | None = None) -> list[Turn]:
        """The last ``limit`` (default: window) turns, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(TurnRow).where(TurnRow.learner_id == learner_id)
                .order_by(TurnRow.id.desc()).limit(limit or self.window)
            ).all()
        return [Turn(role=r.role, content=r.content, entities=list(r.entities or [])) for r in reversed(rows)]

    def add_exchange(self, learner_id: str, question: str, answer: str, entities: list[str]) -> None:
        with self._sessions.begin() as session:
            session.add(TurnRow(learner_id=learner_id, role="user", content=question[:MAX_MESSAGE_CHARS], entities=[]))
            session.add(TurnRow(learner_id=learner_id, role="assistant", content=answer[:MAX_MESSAGE_CHARS],
                                entities=entities))
            session.flush()
            keep = session.scalars(
                select(TurnRow.id).where(TurnRow.learner_id == learner_id)
                .order_by(TurnRow.id.desc()).offset(self.max_stored).limit(1)
            ).first()
            if keep is not None:
                session.execute(delete(TurnRow).where(TurnRow.learner_id == learner_id, TurnRow.id <= keep))

    def recent_entities(self, learner_id: str) -> list[str]:
        """Entities cited in the most recent assistant turn (for follow-ups like "that one")."""
        for turn in reversed(self.history(learner_id)):
            if turn.role == "assistant" and turn.entities:
                return turn.entities
        return []

    def holding(self, learner_id: str) -> list[str]:
        with self._sessions() as session:
            row = session.get(ProfileRow, learner_id)
            return list(row.holding) if row else []

    def set_holding(self, learner_id: str, credential_ids: list[str]) -> None:
        with self._sessions.begin() as session:
            row = session.get(ProfileRow, learner_id)
            if row is None:
                session.add(ProfileRow(learner_id=learner_id, holding=sorted(set(credential_ids))))
            else:
                row.holding = sorted(set(credential_ids))

    def subject(self, learner_id: str) -> Subject | None:
        with self._sessions() as session:
            row = session.get(SubjectRow, learner_id)
            return Subject.model_validate(row.subject) if row and row.subject else None

    def set_subject(self, learner_id: str, subject: Subject | None) -> None:
        with self._sessions.begin() as session:
            row = session.get(SubjectRow, learner_id)
            data = subject.model_dump(mode="json") if subject else {}
            if row is None:
                session.add(SubjectRow(learner_id=learner_id, subject=data))
            else:
                row.subject = data

    def stored(self, learner_id: str) -> tuple[int, int]:
        """(stored turns, credentials saved as held) for the learner: what :meth:`forget` would delete."""
        with self._sessions() as session:
            turns = session.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.learner_id == learner_id))
            row = session.get(ProfileRow, learner_id)
            return int(turns or 0), len(row.holding) if row else 0

    def purge_prefixes(self, prefixes: tuple[str, ...]) -> int:
        """Delete the turns and profiles of every learner id starting with one of ``prefixes`` (identities
        nobody can reach any more); returns how many turns were removed."""
        with self._sessions.begin() as session:
            removed = 0
            for prefix in prefixes:
                removed += session.execute(delete(TurnRow).where(TurnRow.learner_id.startswith(
                    prefix, autoescape=True))).rowcount or 0
                session.execute(delete(ProfileRow).where(ProfileRow.learner_id.startswith(prefix, autoescape=True)))
                session.execute(delete(SubjectRow).where(SubjectRow.learner_id.startswith(prefix, autoescape=True)))
        return int(removed)

    def forget(self, learner_id: str) -> int:
        """Delete the learner's conversation and profile; returns how many turns were removed."""
        with self._sessions.begin() as session:
            removed = session.execute(delete(TurnRow).where(TurnRow.learner_id == learner_id)).rowcount
            session.execute(delete(ProfileRow).where(ProfileRow.learner_id == learner_id))
            session.execute(delete(SubjectRow).where(SubjectRow.learner_id == learner_id))
        return int(removed or 0)
