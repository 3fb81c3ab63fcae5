"""Issuance persistence: issued credentials (with their status-list slot) and an append-only audit log.

Same database as the grader (:mod:`storage`), portable SQL. A credential row is created as a *reservation*
(credential id, status list and index, issue time; no document yet) in a transaction that starts with its
INSERT, so SQLite's busy timeout serialises concurrent issuers; the unique constraints make the allocation
safe: one row per submission, one row per (status list, index). The signed document is then stored with a
compare-and-set ``UPDATE ... WHERE document IS NULL``, so of two concurrent issuers exactly one document wins.
:mod:`issuance.service` is the only user of this module.

Tables: ``issuance_credentials``, ``issuance_audit_log``, ``issuance_credential_visibility`` (whether the
learner made a credential's page public; a table of its own, so databases made before it only gain a table).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Integer,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column

import storage
from storage import Base, UTCDateTime, make_append_only, utcnow


class CredentialRow(Base):
    """One issued (or reserved) credential. ``document`` is the signed JSON text exactly as issued."""

    __tablename__ = "issuance_credentials"
    __table_args__ = (
        UniqueConstraint("submission_id", name="uq_issuance_submission"),
        UniqueConstraint("status_list", "status_index", name="uq_issuance_status_slot"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the UUID of urn:uuid:<id>
    submission_id: Mapped[str] = mapped_column(String(64))
    learner_id: Mapped[str] = mapped_column(String(200), index=True)
    catalogue_id: Mapped[str] = mapped_column(String(200), index=True)
    #: the awarding body (provider id) whose DID signed it; NULL: the instance DID (credentials issued before)
    issuer: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    status_list: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_issued: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    """Append-only: the ORM refuses updates and deletes, and an SQLite/Postgres trigger refuses them too."""

    __tablename__ = "issuance_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    credential_id: Mapped[str | None] = mapped_column(String(36), index=True)
    submission_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VisibilityRow(Base):
    """Whether a credential's public page (and badge images) is shown; no row means private (the default)."""

    __tablename__ = "issuance_credential_visibility"

    credential_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # CredentialRow.id
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


ISSUANCE_TABLES = [CredentialRow.__table__, AuditRow.__table__, VisibilityRow.__table__]


make_append_only(AuditRow, "the issuance audit log", "issuance_audit")  # a change raises storage.AuditLogImmutable


_migrated: set[Engine] = set()


def ensure_tables(engine: Engine) -> None:
    """Create the issuance tables if missing (the shared engine may have been opened before they were imported),
    and add the ``issuer`` column to a table made before it existed (portable ``ALTER TABLE ... ADD COLUMN``)."""
    storage.ensure_tables(engine, ISSUANCE_TABLES)
    if engine in _migrated:
        return
    columns = {c["name"] for c in inspect(engine).get_columns(CredentialRow.__tablename__)}
    if "issuer" not in columns:
        try:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {CredentialRow.__tablename__} ADD COLUMN issuer VARCHAR(100)"))
        except DBAPIError:  # another process added it meanwhile
            if "issuer" not in {c["name"] for c in inspect(engine).get_columns(CredentialRow.__tablename__)}:
                raise
    _migrated.add(engine)


def append_audit(session: Session, event_type: str, actor: str, *, credential_id: str | None = None,
                 submission_id: str | None = None, details: dict | None = None, at: datetime | None = None) -> None:
    """Add one audit entry to the session's transaction (committed or rolled back with the change it records)."""
    session.add(AuditRow(event_type=event_type, credential_id=credential_id, submission_id=submission_id,
                         actor=actor, details=dict(details or {}), created_at=at or utcnow()))
