"""Grader persistence: tables, the lifecycle transition table, and the append-only audit log.

Portable SQL only (SQLite by default, any SQLAlchemy URL such as Postgres works): every state change is
a compare-and-set ``UPDATE ... WHERE status = :expected`` whose row count says whether it won, so
concurrent writers never both succeed; every write transaction starts with its write, so SQLite's busy
timeout (see ``stackwise.db``) serialises writers instead of failing them. The workflow on top of this
lives in :mod:`grader.queue` - adapters call that, not this module.

Tables: ``grader_submissions``, ``grader_files``, ``grader_grades``, ``grader_criterion_grades``,
``grader_decisions``, ``grader_reviews`` (one row per criterion of a decision), ``grader_audit_log``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from grader.models import ISSUABLE_STATUSES, GraderError, Status
from stackwise import db
from stackwise.db import Base, make_append_only

# Which status may follow which. Claiming/releasing a lease does not change the status. A ``grading`` row
# carries the grading worker's lease in ``claimed_by``/``lease_expires_at`` (the same columns an assessor's
# review lease uses, so databases created before grading leases need no migration); when that lease
# expires (the worker died) the row goes back to ``received``. ``error -> received`` is an assessor's retry.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.received: frozenset({Status.grading, Status.error}),
    Status.grading: frozenset({Status.passed, Status.failed, Status.review, Status.error, Status.received}),
    Status.review: frozenset({Status.approved, Status.rejected, Status.resubmission_requested}),
    Status.failed: frozenset({Status.review}),  # appeal: a human looks again
    Status.error: frozenset({Status.grading, Status.received}),  # retry after a transient failure
    Status.passed: frozenset(),
    Status.approved: frozenset(),
    Status.rejected: frozenset(),
    Status.resubmission_requested: frozenset(),
}

MAX_STORED_FILE_BYTES = 25 * 1024 * 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC; values come back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in Status)
_ISSUABLE_VALUES = ", ".join(f"'{s.value}'" for s in sorted(ISSUABLE_STATUSES))


class SubmissionRow(Base):
    __tablename__ = "grader_submissions"
    __table_args__ = (
        UniqueConstraint("learner_id", "idempotency_key", name="uq_grader_submission_idempotency"),
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="ck_grader_submission_status"),
        CheckConstraint(f"NOT ready_to_issue OR status IN ({_ISSUABLE_VALUES})", name="ck_grader_issuable"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    credential_id: Mapped[str] = mapped_column(String(200), index=True)
    learner_id: Mapped[str] = mapped_column(String(200), index=True)
    learner_name: Mapped[str] = mapped_column(String(300), default="")
    learner_email: Mapped[str | None] = mapped_column(String(320))
    links: Mapped[list] = mapped_column(JSON, default=list)
    reflection: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), index=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_to_issue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_submission_id: Mapped[str | None] = mapped_column(
        ForeignKey("grader_submissions.id"), unique=True  # at most one resubmission per request
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    review_reasons: Mapped[list] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FileRow(Base):
    __tablename__ = "grader_files"
    __table_args__ = (UniqueConstraint("submission_id", "position", name="uq_grader_file_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("grader_submissions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # None when over MAX_STORED_FILE_BYTES
    extracted_text: Mapped[str | None] = mapped_column(Text)
    extraction_error: Mapped[str | None] = mapped_column(Text)


class GradeRow(Base):
    __tablename__ = "grader_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("grader_submissions.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(100))
    total_points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    model_input: Mapped[str | None] = mapped_column(Text)  # the pseudonymised text the model saw
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CriterionGradeRow(Base):
    __tablename__ = "grader_criterion_grades"
    __table_args__ = (UniqueConstraint("grade_id", "criterion_id", name="uq_grader_grade_criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grader_grades.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    criterion_id: Mapped[str] = mapped_column(String(200))
    level_id: Mapped[str] = mapped_column(String(200))
    distribution: Mapped[dict] = mapped_column(JSON, default=dict)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    rationale: Mapped[str] = mapped_column(Text, default="")
    quotes: Mapped[list] = mapped_column(JSON, default=list)


class DecisionRow(Base):
    __tablename__ = "grader_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("grader_submissions.id"), index=True)
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("grader_grades.id"))
    assessor: Mapped[str] = mapped_column(String(200), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    total_points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    rubric_passed: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewRow(Base):
    """One criterion of an assessor's decision: the AI's level, the final level, and the comment."""

    __tablename__ = "grader_reviews"
    __table_args__ = (UniqueConstraint("decision_id", "criterion_id", name="uq_grader_review_criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("grader_decisions.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("grader_submissions.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(200))
    criterion_id: Mapped[str] = mapped_column(String(200), index=True)
    ai_level_id: Mapped[str | None] = mapped_column(String(200))
    final_level_id: Mapped[str] = mapped_column(String(200))
    kept: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    """Append-only: the ORM refuses updates and deletes, and SQLite/Postgres triggers refuse them too."""

    __tablename__ = "grader_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    submission_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngineRecordRow(Base):
    """What the rubric engine measured and concluded for one grade (kept so the combiner can be refitted on
    assessor decisions without running the model again), and the model-written feedback once it is ready."""

    __tablename__ = "grader_engine_records"

    grade_id: Mapped[int] = mapped_column(ForeignKey("grader_grades.id"), primary_key=True)
    engine_version: Mapped[str] = mapped_column(String(100))
    p_pass: Mapped[float | None] = mapped_column(Float)
    decision_threshold: Mapped[float | None] = mapped_column(Float)
    readings: Mapped[dict] = mapped_column(JSON, default=dict)  # criterion id -> Reading.to_dict()
    feedback: Mapped[dict] = mapped_column(JSON, default=dict)  # criterion id -> {rationale, quotes, next_step}
    feedback_seconds: Mapped[float | None] = mapped_column(Float)


GRADER_TABLES = [
    m.__table__ for m in (SubmissionRow, FileRow, GradeRow, CriterionGradeRow, DecisionRow, ReviewRow, AuditRow,
                          EngineRecordRow)
]


class AuditLogImmutable(GraderError):
    """Something tried to change or delete an audit entry."""


make_append_only(AuditRow, AuditLogImmutable, "the audit log", "grader_audit")


def ensure_tables(engine: Engine) -> None:
    """Create the grader tables if missing (the shared engine may have been opened before they were imported)."""
    db.ensure_tables(engine, GRADER_TABLES)


def append_audit(session: Session, event_type: str, submission_id: str | None, actor: str,
                 details: dict | None = None, *, at: datetime | None = None) -> None:
    """Add one audit entry to the session's transaction (committed or rolled back with the change it records)."""
    session.add(AuditRow(event_type=event_type, submission_id=submission_id, actor=actor,
                         details=dict(details or {}), created_at=at or utcnow()))


def ready_to_issue(session: Session, credential_id: str | None = None) -> list[str]:
    """Ids of submissions that may be issued and have not been marked issued, oldest decision first.

    Usable inside the caller's own transaction (issuance). Only ``passed`` (automatic) and ``approved``
    (assessor) submissions are ever flagged; ``grader.queue`` is the only code that sets the flag.
    """
    query = (select(SubmissionRow.id)
             .where(SubmissionRow.ready_to_issue.is_(True), SubmissionRow.issued_at.is_(None),
                    SubmissionRow.status.in_([s.value for s in ISSUABLE_STATUSES]))
             .order_by(SubmissionRow.status_changed_at, SubmissionRow.id))
    if credential_id is not None:
        query = query.where(SubmissionRow.credential_id == credential_id)
    return list(session.scalars(query))
