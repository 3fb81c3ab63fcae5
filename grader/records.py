"""The queue's records: one database, the compare-and-set every change goes through, and the reads.

:class:`QueueRecords` is the base of :class:`grader.api.GraderQueue`: it opens the database, holds the
instance's *ready to issue* listeners (injected by the wiring: ``listeners=`` or :meth:`QueueRecords.subscribe`,
no module-level registry), writes every change as a version compare-and-set (:meth:`QueueRecords._cas`,
:meth:`QueueRecords._transition`: one transaction, one audit entry) and builds the view models the reads
return. The state machine lives in :mod:`grader.submissions`, leases and decisions in :mod:`grader.review`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from grader import store
from grader.errors import (
    GraderError,
    InvalidTransition,
    SubmissionNotFound,
)
from grader.events import Listeners
from grader.models import (
    FINAL_STATUSES,
    WITHDRAWN,
    Assessor,
    AuditEntry,
    CriterionFeedback,
    CriterionOutcome,
    ReadyToIssue,
    ReviewDecision,
    Status,
    StoredFile,
    StoredGrade,
    SubmissionDetail,
    SubmissionView,
)
from grader.rubrics import Rescorer, RubricLike
from grader.store import (
    TRANSITIONS,
    AuditRow,
    CriterionGradeRow,
    DecisionRow,
    EngineRecordRow,
    FileRow,
    GradeRow,
    ReviewRow,
    SubmissionRow,
    append_audit,
    ensure_tables,
    utcnow,
)
from storage import engine_for, session_factory

DEFAULT_LEASE_SECONDS = 30 * 60
DEFAULT_GRADING_LEASE_SECONDS = 90  # the grading thread renews it every third of that
MAX_LEASE_SECONDS = 8 * 60 * 60
_CAS_ATTEMPTS = 8
_T = SubmissionRow.__table__

ReadyListener = Callable[[ReadyToIssue], None]


class QueueRecords:
    """The database, the instance's listeners, compare-and-set writes and the reads (see module docstring).

    ``rubrics`` resolves a credential id to its rubric (or a :data:`~grader.rubrics.Rescorer`) so assessor
    decisions can recompute totals; ``clock`` returns aware UTC datetimes (injectable for tests);
    ``listeners`` hear every commit that makes a submission issuable (more with :meth:`subscribe`).
    """

    def __init__(self, database_url: str, *, rubrics: Callable[[str], RubricLike | Rescorer | None] | None = None,
                 clock: Callable[[], datetime] = utcnow, max_file_bytes: int = store.MAX_STORED_FILE_BYTES,
                 listeners: Iterable[ReadyListener] = ()):
        ensure_tables(engine_for(database_url))
        self.database_url = database_url  # where a channel keeps what it has told learners (same database)
        self._sessions = session_factory(database_url)
        self._rubrics = rubrics
        self._clock = clock
        self.max_file_bytes = max_file_bytes
        self._ready = Listeners[ReadyToIssue]("ready-to-issue", listeners)

    # ---- the issuance event --------------------------------------------------------------------

    def subscribe(self, callback: ReadyListener) -> Callable[[], None]:
        """Call ``callback`` after every commit of *this* queue that makes a submission issuable; returns an
        unsubscribe function.

        Callbacks run in the committing thread; their exceptions are logged, never propagated (the
        submission stays in :meth:`ready_to_issue`, so issuance can catch up by polling).
        """
        return self._ready.subscribe(callback)

    def _announce(self, row: Row, source: Literal["auto_pass", "assessor"], actor: str, at: datetime) -> None:
        self._ready.emit(ReadyToIssue(submission_id=row.id, credential_id=row.credential_id,
                                      learner_id=row.learner_id, learner_name=row.learner_name,
                                      learner_email=row.learner_email, source=source, actor=actor, at=at),
                         row.id)

    # ---- reads ---------------------------------------------------------------------------------

    def pending_submissions(self) -> list[str]:
        """Ids of submissions stored but not yet graded (``received``), oldest first."""
        with self._sessions() as session:
            return list(session.scalars(select(SubmissionRow.id).where(SubmissionRow.status == Status.received.value)
                                        .order_by(SubmissionRow.created_at, SubmissionRow.id)))

    def outcomes_since(self, since: datetime | None = None, *, learner_prefix: str = "",
                       submission_ids: Collection[str] | None = None) -> list[tuple[str, str, Status, datetime]]:
        """``(submission id, learner id, status, when it took that status)`` of every submission graded or decided
        (any status but ``received``/``grading``; not the ones withdrawn by *forget me*) whose status changed at
        or after ``since``, oldest first; only learners whose id starts with ``learner_prefix``, and only
        ``submission_ids`` when given. What a channel polls to tell learners every outcome, whichever process
        recorded it."""
        query = (select(SubmissionRow.id, SubmissionRow.learner_id, SubmissionRow.status,
                        SubmissionRow.status_changed_at)
                 .where(SubmissionRow.status.not_in([Status.received.value, Status.grading.value]),
                        SubmissionRow.error_message.is_distinct_from(WITHDRAWN))
                 .order_by(SubmissionRow.status_changed_at, SubmissionRow.id))
        if since is not None:
            query = query.where(SubmissionRow.status_changed_at >= since)
        if learner_prefix:
            query = query.where(SubmissionRow.learner_id.startswith(learner_prefix, autoescape=True))
        if submission_ids is not None:
            query = query.where(SubmissionRow.id.in_(list(submission_ids)))
        with self._sessions() as session:
            return [(sid, learner, Status(status), at) for sid, learner, status, at in session.execute(query)]

    def evidence_of_others(self, credential_id: str, learner_id: str, limit: int = 500) -> dict[str, str]:
        """Submission id -> the text the model saw, for the latest graded submissions of *other* learners
        for this credential (the near-duplicate check compares new evidence against these)."""
        with self._sessions() as session:
            rows = session.execute(
                select(GradeRow.submission_id, GradeRow.model_input)
                .join(SubmissionRow, SubmissionRow.id == GradeRow.submission_id)
                .where(SubmissionRow.credential_id == credential_id, SubmissionRow.learner_id != learner_id,
                       GradeRow.model_input.is_not(None))
                .order_by(GradeRow.id.desc()).limit(limit)
            ).all()
        return {sid: text for sid, text in rows}

    def get_submission(self, submission_id: str, *, learner_id: str | None = None, assessor: Assessor | None = None,
                       include_content: bool = False) -> SubmissionView | SubmissionDetail:
        """A learner's view of their own submission (``learner_id``), or the full detail for an ``assessor``.

        A learner asking for someone else's submission gets :class:`SubmissionNotFound`, the same as for a
        submission that does not exist. ``include_content`` adds the file bytes to the assessor's detail.
        """
        if (learner_id is None) == (assessor is None):
            raise ValueError("give exactly one of learner_id or assessor")
        if assessor is None:
            view = self._view(submission_id)
            if view.learner_id != learner_id:
                raise SubmissionNotFound(submission_id)
            return view
        return self._detail(submission_id, include_content)

    def submissions_for_learner(self, learner_id: str) -> list[SubmissionView]:
        """This learner's submissions (newest first) with their status; nobody else's."""
        with self._sessions() as session:
            ids = session.scalars(select(SubmissionRow.id).where(SubmissionRow.learner_id == learner_id)
                                  .order_by(SubmissionRow.created_at.desc(), SubmissionRow.id)).all()
            return [self._view(sid, session) for sid in ids]

    def errored_submissions(self, limit: int = 200) -> list[SubmissionView]:
        """Submissions in ``error`` (grading could not finish), newest first: what an assessor may retry."""
        with self._sessions() as session:
            ids = session.scalars(select(SubmissionRow.id).where(SubmissionRow.status == Status.error.value,
                                                                  SubmissionRow.error_message.is_distinct_from(WITHDRAWN))
                                  .order_by(SubmissionRow.status_changed_at.desc(), SubmissionRow.id)
                                  .limit(limit)).all()
            return [self._view(sid, session) for sid in ids]

    def audit_log(self, submission_id: str | None = None, *, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first (for one submission, or all). Read-only: there is no update or delete."""
        query = select(AuditRow).order_by(AuditRow.id)
        if submission_id is not None:
            query = query.where(AuditRow.submission_id == submission_id)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [AuditEntry(id=a.id, event_type=a.event_type, submission_id=a.submission_id, actor=a.actor,
                               details=dict(a.details or {}), created_at=a.created_at)
                    for a in session.scalars(query)]

    # ---- compare-and-set -----------------------------------------------------------------------

    def _cas(self, session: Session, submission_id: str, check: Callable[[Row], dict],
             where: Sequence[Any] = ()) -> Row:
        """Read the row, let ``check`` validate it (raising a typed error) and return new values, then write
        them only if nobody changed the row meanwhile (version compare-and-set); retry on a lost race.
        Returns the row as it was before the change."""
        for _ in range(_CAS_ATTEMPTS):
            row = session.execute(select(_T).where(_T.c.id == submission_id)).one_or_none()
            if row is None:
                raise SubmissionNotFound(submission_id)
            values = check(row)
            result = session.execute(
                update(_T).where(_T.c.id == submission_id, _T.c.version == row.version, *where)
                .values(version=row.version + 1, updated_at=self._clock(), **values))
            if result.rowcount == 1:
                return row
        raise GraderError(f"submission {submission_id!r} kept changing under us; try again")

    def _transition(self, session: Session, submission_id: str, target: Status, actor: str, event_type: str, *,
                    sources: set[Status] | None = None, guard: Callable[[Row], None] | None = None,
                    values: dict | None = None, details: dict | None = None, where: Sequence[Any] = ()) -> Row:
        now = self._clock()

        def check(row: Row) -> dict:
            current = Status(row.status)
            if target not in TRANSITIONS[current] or (sources is not None and current not in sources):
                raise InvalidTransition(submission_id, current.value, target.value)
            if guard is not None:
                guard(row)
            return {"status": target.value, "status_changed_at": now, "claimed_by": None,
                    "lease_expires_at": None, **(values or {})}

        row = self._cas(session, submission_id, check, where=where)
        append_audit(session, event_type, submission_id, actor,
                     {"from": row.status, "to": target.value, **(details or {})}, at=now)
        return row

    # ---- views ---------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, submission_id: str) -> SubmissionRow:
        row = session.get(SubmissionRow, submission_id, populate_existing=True)
        if row is None:
            raise SubmissionNotFound(submission_id)
        return row

    @staticmethod
    def _files(session: Session, submission_id: str, include_content: bool) -> list[StoredFile]:
        rows = session.scalars(select(FileRow).where(FileRow.submission_id == submission_id)
                               .order_by(FileRow.position))
        return [StoredFile(position=f.position, filename=f.filename, media_type=f.media_type, size=f.size,
                           sha256=f.sha256, content=f.content if include_content else None,
                           extracted_text=f.extracted_text, extraction_error=f.extraction_error) for f in rows]

    def _view(self, submission_id: str, session: Session | None = None) -> SubmissionView:
        if session is None:
            with self._sessions() as own:
                return self._view(submission_id, own)
        row = self._row(session, submission_id)
        view = SubmissionView(
            id=row.id, credential_id=row.credential_id, learner_id=row.learner_id, status=Status(row.status),
            ready_to_issue=row.ready_to_issue, created_at=row.created_at, updated_at=row.updated_at,
            previous_submission_id=row.previous_submission_id, error_message=row.error_message,
            filenames=[f.filename for f in self._files(session, submission_id, False)])
        if row.status not in FINAL_STATUSES:
            return view  # the AI's provisional grade is not shown while a human may still change it
        decision = session.scalars(select(DecisionRow).where(DecisionRow.submission_id == submission_id)
                                   .order_by(DecisionRow.id.desc()).limit(1)).first()
        if decision is not None:
            view.decided_by, view.comment = "assessor", decision.comment
            view.total_points, view.max_points = decision.total_points, decision.max_points
            view.criteria = [CriterionOutcome(criterion_id=r.criterion_id, level_id=r.final_level_id,
                                              ai_level_id=r.ai_level_id, source="ai" if r.kept else "assessor",
                                              comment=r.comment)
                             for r in session.scalars(select(ReviewRow).where(ReviewRow.decision_id == decision.id)
                                                      .order_by(ReviewRow.id))]
            return view
        grade = session.scalars(select(GradeRow).where(GradeRow.submission_id == submission_id)
                                .order_by(GradeRow.id.desc()).limit(1)).first()
        if grade is not None:
            view.decided_by = "ai"
            view.total_points, view.max_points = grade.total_points, grade.max_points
            record = session.get(EngineRecordRow, grade.id)
            feedback = (record.feedback or {}) if record is not None else {}
            view.criteria = [CriterionOutcome(criterion_id=c.criterion_id, level_id=c.level_id,
                                              ai_level_id=c.level_id, source="ai",
                                              comment=feedback.get(c.criterion_id, {}).get("rationale") or c.rationale,
                                              next_step=feedback.get(c.criterion_id, {}).get("next_step", ""))
                             for c in session.scalars(select(CriterionGradeRow)
                                                      .where(CriterionGradeRow.grade_id == grade.id)
                                                      .order_by(CriterionGradeRow.position))]
        return view

    def _detail(self, submission_id: str, include_content: bool) -> SubmissionDetail:
        with self._sessions() as session:
            view = self._view(submission_id, session)
            row = self._row(session, submission_id)
            grades = []
            for g in session.scalars(select(GradeRow).where(GradeRow.submission_id == submission_id)
                                     .order_by(GradeRow.id)):
                criteria = session.scalars(select(CriterionGradeRow).where(CriterionGradeRow.grade_id == g.id)
                                           .order_by(CriterionGradeRow.position))
                record = session.get(EngineRecordRow, g.id)
                grades.append(StoredGrade(
                    engine_version=record.engine_version if record else None,
                    p_pass=record.p_pass if record else None,
                    decision_threshold=record.decision_threshold if record else None,
                    feedback=[CriterionFeedback(criterion_id=cid, **fb) for cid, fb in
                              ((record.feedback or {}) if record else {}).items()],
                    id=g.id, credential_id=g.credential_id, model=g.model, prompt_version=g.prompt_version,
                    total_points=g.total_points, max_points=g.max_points, decision=g.decision,
                    reasons=list(g.reasons or []), seconds=g.seconds, model_input=g.model_input,
                    created_at=g.created_at,
                    criteria=[{"criterion_id": c.criterion_id, "level_id": c.level_id,
                               "distribution": dict(c.distribution or {}), "confidence": c.confidence,
                               "rationale": c.rationale, "quotes": list(c.quotes or [])} for c in criteria]))
            reviews = []
            for d in session.scalars(select(DecisionRow).where(DecisionRow.submission_id == submission_id)
                                     .order_by(DecisionRow.id)):
                reviews.append(ReviewDecision(
                    submission_id=submission_id, assessor=d.assessor, decision=d.decision, comment=d.comment,
                    total_points=d.total_points, max_points=d.max_points, rubric_passed=d.rubric_passed,
                    status=Status(d.status), decided_at=d.created_at,
                    criteria=[CriterionOutcome(criterion_id=r.criterion_id, level_id=r.final_level_id,
                                               ai_level_id=r.ai_level_id, source="ai" if r.kept else "assessor",
                                               comment=r.comment)
                              for r in session.scalars(select(ReviewRow).where(ReviewRow.decision_id == d.id)
                                                       .order_by(ReviewRow.id))]))
            return SubmissionDetail(
                **view.model_dump(), learner_name=row.learner_name, learner_email=row.learner_email,
                links=list(row.links or []), reflection=row.reflection,
                files=self._files(session, submission_id, include_content), grades=grades, reviews=reviews,
                claimed_by=row.claimed_by, lease_expires_at=row.lease_expires_at)
