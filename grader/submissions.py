"""Submissions: the state machine from ``received`` to an AI grade, under the grading lease.

The lifecycle (each change a compare-and-set of :class:`grader.records.QueueRecords`, one audit entry)::

    received -> grading -> passed | failed | review        (or -> error; error -> grading retries)
    failed   -> review                                      (appeal)

A grade is recorded once: the grading worker holds a lease (``claimed_by``, ``lease_expires_at``) taken in the
same compare-and-set as ``received -> grading``, renews it while it works, and only the holder may record the
grade; an expired lease sends the submission back to ``received``. ``passed`` is issuable
(:meth:`Submissions.ready_to_issue`, and the queue's listeners hear it after commit).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

from grader import store
from grader.errors import (
    ClaimConflict,
    GraderError,
    IdempotencyConflict,
    InvalidTransition,
    NotLeaseHolder,
    SubmissionNotFound,
)
from grader.models import (
    WITHDRAWN,
    ExtractedFile,
    GradeResult,
    GradingJob,
    Status,
    SubmissionIn,
    SubmissionView,
)
from grader.records import _CAS_ATTEMPTS, _T, DEFAULT_GRADING_LEASE_SECONDS, MAX_LEASE_SECONDS, QueueRecords
from grader.store import (
    CriterionGradeRow,
    EngineRecordRow,
    FileRow,
    GradeRow,
    SubmissionRow,
    append_audit,
    new_id,
)

log = logging.getLogger(__name__)


def _check_worker(submission_id: str, row: Row, worker: str | None) -> None:
    """With ``worker``: a ``grading`` row must be under that worker's grading lease."""
    if worker is not None and row.status == Status.grading and row.claimed_by != worker:
        raise NotLeaseHolder(f"grader {worker!r} no longer holds submission {submission_id!r} "
                             f"(now {row.claimed_by or 'back in the queue'}); its grade is not recorded")


def _held_by(worker: str | None) -> tuple[Any, ...]:
    """The compare-and-set condition that goes with :func:`_check_worker`."""
    return () if worker is None else (
        (_T.c.status != Status.grading.value) | (_T.c.claimed_by == worker),)


class Submissions(QueueRecords):
    """Creating submissions and moving them through grading (see module docstring)."""

    def create_submission(self, submission: SubmissionIn, *, resubmission_of: str | None = None) -> SubmissionView:
        """Store a submission (status ``received``) with its files, or return the existing one with the same
        idempotency key from the same learner.

        A new submission is linked to ``resubmission_of`` - or, when not given, to this learner's latest
        ``resubmission_requested`` submission for the same credential. Evidence with no content at all, or
        a file over ``max_file_bytes`` (kept as name, size and sha256), is stored and moved to ``error``
        right away, so nothing is lost. Raises :class:`IdempotencyConflict` if the key was used for another
        credential, :class:`InvalidTransition` if ``resubmission_of`` is not awaiting a resubmission.
        """
        key = submission.idempotency_key or new_id()
        existing = self._by_key(submission.learner_id, key)
        if existing is not None:
            return self._same_or_conflict(existing, submission)
        now = self._clock()
        sid = new_id()
        previous = self._previous_for(submission, resubmission_of)
        files, problems = [], []
        for position, (filename, content, media_type) in enumerate(submission.files):
            too_large = len(content) > self.max_file_bytes
            error = f"file too large: {len(content)} bytes (limit {self.max_file_bytes})" if too_large else None
            if too_large:
                problems.append(f"{filename}: {error}")
            elif not content:
                problems.append(f"{filename}: file is empty")
            files.append(FileRow(submission_id=sid, position=position, filename=filename, media_type=media_type,
                                 size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                                 content=None if too_large else content, extraction_error=error))
        if not submission.files and not submission.links and not submission.reflection.strip():
            problems.append("no evidence: no files, links or reflection")
        try:
            with self._sessions.begin() as session:
                session.add(SubmissionRow(
                    id=sid, idempotency_key=key, credential_id=submission.credential_id,
                    learner_id=submission.learner_id, learner_name=submission.learner_name,
                    learner_email=submission.learner_email, links=list(submission.links),
                    reflection=submission.reflection, status=Status.received.value, status_changed_at=now,
                    ready_to_issue=False, previous_submission_id=previous, review_reasons=[], version=1,
                    created_at=now, updated_at=now,
                ))
                session.flush()  # the insert comes first: a duplicate key fails here, before the files
                session.add_all(files)
                append_audit(session, "received", sid, submission.learner_id, {
                    "to": Status.received.value, "credential_id": submission.credential_id,
                    "idempotency_key": key, "previous_submission_id": previous,
                    "files": [{"filename": f.filename, "size": f.size, "sha256": f.sha256} for f in files],
                    "links": len(submission.links),
                }, at=now)
                if problems:
                    message = "; ".join(problems)
                    session.execute(update(_T).where(_T.c.id == sid).values(
                        status=Status.error.value, error_message=message, version=2))
                    append_audit(session, "error", sid, "system",
                                 {"from": Status.received.value, "to": Status.error.value, "message": message}, at=now)
        except IntegrityError:
            existing = self._by_key(submission.learner_id, key)
            if existing is not None:  # a concurrent request with the same key won
                return self._same_or_conflict(existing, submission)
            if previous is not None:
                raise InvalidTransition(previous, Status.resubmission_requested.value, "resubmitted",
                                        "a resubmission already exists") from None
            raise
        return self._view(sid)

    def start_grading(self, submission_id: str, *, actor: str = "grader", worker: str | None = None,
                      lease_seconds: float = DEFAULT_GRADING_LEASE_SECONDS) -> GradingJob:
        """Move ``received`` (or ``error``, to retry) to ``grading`` under a grading lease and return what the
        scorer needs.

        The lease (``worker``, default ``actor``, until now + ``lease_seconds``) is taken in the same
        compare-and-set as the status change, so of two processes exactly one wins; the others get
        :class:`InvalidTransition`. The worker renews it with :meth:`renew_grading_lease` while it works;
        once it expires, :meth:`recover_stale_grading` puts the submission back to ``received``.
        """
        if not 0 < lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(f"lease_seconds must be in (0, {MAX_LEASE_SECONDS}], got {lease_seconds}")
        with self._sessions.begin() as session:
            self._take_lease(session, submission_id, actor, worker or actor, lease_seconds,
                             {Status.received, Status.error})
        return self._job(submission_id)

    def claim_next(self, worker: str, *, lease_seconds: float = DEFAULT_GRADING_LEASE_SECONDS) -> GradingJob | None:
        """A grading worker's claim: the oldest ``received`` submission (``grading`` ones whose lease expired are
        put back to ``received`` first, :meth:`recover_stale_grading`) moved to ``grading`` under ``worker``'s
        lease, or None when nothing waits. Any number of workers may call it at once; each submission goes to one.

        On PostgreSQL the row is picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` (workers never wait on one
        another's pick); elsewhere (SQLite) the oldest candidates are tried in turn with the compare-and-set of
        :meth:`start_grading`, and a lost race moves on to the next.
        """
        if not 0 < lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(f"lease_seconds must be in (0, {MAX_LEASE_SECONDS}], got {lease_seconds}")
        self.recover_stale_grading()
        oldest = (select(_T.c.id).where(_T.c.status == Status.received.value)
                  .order_by(_T.c.created_at, _T.c.id))
        if self._sessions.kw["bind"].dialect.name == "postgresql":
            with self._sessions.begin() as session:
                sid = session.scalars(oldest.limit(1).with_for_update(skip_locked=True)).first()
                if sid is None:
                    return None
                self._take_lease(session, sid, "grader", worker, lease_seconds, {Status.received})
            return self._job(sid)
        for _ in range(_CAS_ATTEMPTS):
            with self._sessions() as session:
                candidates = list(session.scalars(oldest.limit(_CAS_ATTEMPTS)))
            if not candidates:
                return None
            for sid in candidates:
                try:
                    with self._sessions.begin() as session:
                        self._take_lease(session, sid, "grader", worker, lease_seconds, {Status.received})
                except GraderError:  # InvalidTransition: another worker took it first (or it is gone)
                    continue
                return self._job(sid)
        return None

    def _take_lease(self, session: Any, submission_id: str, actor: str, holder: str, lease_seconds: float,
                    sources: set[Status]) -> None:
        """``sources -> grading`` under ``holder``'s lease (one compare-and-set, one ``grading_started`` entry)."""
        expires = self._clock() + timedelta(seconds=lease_seconds)
        self._transition(session, submission_id, Status.grading, actor, "grading_started", sources=sources,
                         values={"error_message": None, "claimed_by": holder, "lease_expires_at": expires},
                         details={"worker": holder, "lease_expires_at": expires.isoformat()},
                         where=(_T.c.status.in_([s.value for s in sources]),))

    def _job(self, submission_id: str) -> GradingJob:
        with self._sessions() as session:
            row = self._row(session, submission_id)
            return GradingJob(submission_id=row.id, credential_id=row.credential_id, learner_id=row.learner_id,
                              learner_name=row.learner_name,
                              learner_email=row.learner_email, files=self._files(session, submission_id, True),
                              links=list(row.links or []), reflection=row.reflection,
                              previous_submission_id=row.previous_submission_id)

    def renew_grading_lease(self, submission_id: str, worker: str,
                            lease_seconds: float = DEFAULT_GRADING_LEASE_SECONDS) -> bool:
        """The grading worker's heartbeat: extend its lease on a ``grading`` submission. Returns False when the
        worker no longer holds it (graded, or the lease expired and the submission went back to the queue).
        Heartbeats change no status and write no audit entry."""
        now = self._clock()
        with self._sessions.begin() as session:
            result = session.execute(
                update(_T).where(_T.c.id == submission_id, _T.c.status == Status.grading.value,
                                 _T.c.claimed_by == worker, _T.c.lease_expires_at > now)
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds), version=_T.c.version + 1,
                        updated_at=now))
            return result.rowcount == 1

    def recover_stale_grading(self) -> list[str]:
        """Put ``grading`` submissions whose grading lease expired (or that have none: left by a process that
        stopped before leases existed) back to ``received``, so they are graded again. Returns their ids.

        Each return is a compare-and-set on the expired lease, so a worker that renewed in the meantime keeps
        its submission, and a worker that lost it cannot record a grade any more (:meth:`record_grade` with
        ``worker`` checks the lease): every submission's grade is recorded once.
        """
        now = self._clock()
        stale = (_T.c.lease_expires_at.is_(None)) | (_T.c.lease_expires_at <= now)
        with self._sessions() as session:
            rows = session.execute(select(_T.c.id, _T.c.claimed_by, _T.c.lease_expires_at).where(
                _T.c.status == Status.grading.value, stale).order_by(_T.c.created_at, _T.c.id)).all()
        recovered = []
        for sid, worker, expired in rows:
            try:
                with self._sessions.begin() as session:
                    def guard(row: Row, sid: str = sid) -> None:
                        if row.lease_expires_at is not None and row.lease_expires_at > now:
                            raise ClaimConflict(sid, row.claimed_by, row.lease_expires_at)

                    self._transition(session, sid, Status.received, "system", "grading_lease_expired",
                                     sources={Status.grading}, guard=guard,
                                     where=(_T.c.status == Status.grading.value, stale),
                                     details={"worker": worker,
                                              "lease_expired_at": expired.isoformat() if expired else None})
            except (InvalidTransition, ClaimConflict):
                continue  # graded or renewed meanwhile
            recovered.append(sid)
            log.warning("submission %s was left grading (lease expired); back in the queue", sid)
        return recovered

    def retry(self, submission_id: str, actor: str) -> SubmissionView:
        """Send an ``error`` submission back to ``received`` to be graded again (an assessor's retry, audited
        with ``actor``). Raises :class:`InvalidTransition` for any other status."""
        with self._sessions.begin() as session:
            row = session.execute(select(_T.c.error_message).where(_T.c.id == submission_id)).one_or_none()
            if row is not None and row.error_message == WITHDRAWN:
                raise InvalidTransition(submission_id, Status.error.value, Status.received.value,
                                        "the learner withdrew it and its evidence was deleted")
            self._transition(session, submission_id, Status.received, actor, "retry_requested",
                             sources={Status.error}, values={"error_message": None},
                             details={"previous_error": row.error_message if row is not None else None})
        return self._view(submission_id)

    def record_extraction(self, submission_id: str, files: Sequence[ExtractedFile], *,
                          actor: str = "grader", worker: str | None = None) -> None:
        """Store extracted text (or the extraction error) per file position, while ``received``/``grading``
        (with ``worker``: only under that worker's grading lease)."""
        positions = {f.position for f in files}
        with self._sessions.begin() as session:
            def check(row: Row) -> dict:
                if row.status not in (Status.received, Status.grading):
                    raise InvalidTransition(submission_id, row.status, row.status, "evidence is fixed after grading")
                _check_worker(submission_id, row, worker)
                return {}

            self._cas(session, submission_id, check, where=_held_by(worker))
            stored = {f.position: f for f in session.scalars(
                select(FileRow).where(FileRow.submission_id == submission_id))}
            unknown = sorted(positions - set(stored))
            if unknown:
                raise GraderError(f"submission {submission_id!r} has no file at positions {unknown}")
            for extracted in files:
                stored[extracted.position].extracted_text = extracted.text
                stored[extracted.position].extraction_error = extracted.error
            append_audit(session, "evidence_extracted", submission_id, actor, {
                "positions": sorted(positions),
                "errors": {str(f.position): f.error for f in files if f.error},
            }, at=self._clock())

    def record_grade(self, submission_id: str, result: GradeResult, *, model_input: str | None = None,
                     actor: str = "grader", worker: str | None = None) -> SubmissionView:
        """Store the AI grade of a ``grading`` submission and move it to ``passed`` (issuable), ``failed``
        or ``review`` (with ``result.reasons``). ``model_input`` is the pseudonymised text the model saw.

        With ``worker``, only the holder of the grading lease may record it (:class:`NotLeaseHolder`
        otherwise): a worker whose lease expired and whose submission was taken up again records nothing."""
        target = {"pass": Status.passed, "fail": Status.failed, "review": Status.review}[result.decision]
        now = self._clock()
        with self._sessions.begin() as session:
            def guard(row: Row) -> None:
                if row.status == Status.grading and row.credential_id != result.credential_id:
                    raise GraderError(f"grade is for credential {result.credential_id!r}, "
                                      f"submission {submission_id!r} is for {row.credential_id!r}")
                _check_worker(submission_id, row, worker)

            reasons = list(result.reasons) or (["unspecified"] if target is Status.review else [])
            row = self._transition(session, submission_id, target, actor, "graded", sources={Status.grading},
                                   guard=guard, where=_held_by(worker),
                                   values={"ready_to_issue": target is Status.passed, "review_reasons": reasons},
                                   details={"model": result.model, "prompt_version": result.prompt_version,
                                            "decision": result.decision, "reasons": reasons,
                                            "total_points": result.total_points, "max_points": result.max_points})
            grade = GradeRow(submission_id=submission_id, credential_id=result.credential_id, model=result.model,
                             prompt_version=result.prompt_version, total_points=result.total_points,
                             max_points=result.max_points, decision=result.decision, reasons=reasons,
                             seconds=result.seconds, model_input=model_input, created_at=now)
            session.add(grade)
            session.flush()
            session.add_all(CriterionGradeRow(
                grade_id=grade.id, position=i, criterion_id=c.criterion_id, level_id=c.level_id,
                distribution=dict(c.distribution), confidence=c.confidence, rationale=c.rationale,
                quotes=list(c.quotes)) for i, c in enumerate(result.criteria))
            if result.engine_version:
                session.add(EngineRecordRow(grade_id=grade.id, engine_version=result.engine_version,
                                            p_pass=result.p_pass, decision_threshold=result.decision_threshold,
                                            readings=dict(result.readings), feedback={}))
        if target is Status.passed:
            self._announce(row, "auto_pass", actor, now)
        return self._view(submission_id)

    def record_error(self, submission_id: str, message: str, *, actor: str = "grader",
                     worker: str | None = None) -> SubmissionView:
        """Move ``received``/``grading`` to ``error`` keeping ``message`` (unreadable, empty, too large, ...).
        With ``worker``, only the holder of the grading lease may (see :meth:`record_grade`)."""
        with self._sessions.begin() as session:
            self._transition(session, submission_id, Status.error, actor, "error",
                             guard=lambda row: _check_worker(submission_id, row, worker), where=_held_by(worker),
                             values={"error_message": message}, details={"message": message})
        return self._view(submission_id)

    def request_review(self, submission_id: str, actor: str, reason: str = "appeal") -> SubmissionView:
        """Send a ``failed`` submission to human review (e.g. the learner appeals)."""
        with self._sessions.begin() as session:
            self._transition(session, submission_id, Status.review, actor, "review_requested",
                             sources={Status.failed}, values={"review_reasons": [reason]}, details={"reason": reason})
        return self._view(submission_id)

    # ---- issuance ------------------------------------------------------------------------------

    def ready_to_issue(self, credential_id: str | None = None) -> list[str]:
        """Ids of ``passed``/``approved`` submissions not yet marked issued (:func:`grader.store.ready_to_issue`)."""
        with self._sessions() as session:
            return store.ready_to_issue(session, credential_id)

    def mark_issued(self, submission_id: str, actor: str = "issuance", details: dict | None = None) -> None:
        """Record that the credential was issued, so the submission leaves :meth:`ready_to_issue`."""
        now = self._clock()
        with self._sessions.begin() as session:
            def check(row: Row) -> dict:
                if not row.ready_to_issue or row.issued_at is not None:
                    raise InvalidTransition(submission_id, row.status, "issued",
                                            "already issued" if row.issued_at else "not ready to issue")
                return {"issued_at": now}

            self._cas(session, submission_id, check)
            append_audit(session, "issued", submission_id, actor, dict(details or {}), at=now)

    # ---- internals -----------------------------------------------------------------------------

    def _by_key(self, learner_id: str, key: str) -> SubmissionRow | None:
        with self._sessions() as session:
            return session.scalars(select(SubmissionRow).where(SubmissionRow.learner_id == learner_id,
                                                               SubmissionRow.idempotency_key == key)).first()

    def _same_or_conflict(self, existing: SubmissionRow, submission: SubmissionIn) -> SubmissionView:
        if existing.credential_id != submission.credential_id:
            raise IdempotencyConflict(f"idempotency key {existing.idempotency_key!r} was already used for "
                                      f"credential {existing.credential_id!r}")
        return self._view(existing.id)

    def _previous_for(self, submission: SubmissionIn, resubmission_of: str | None) -> str | None:
        with self._sessions() as session:
            if resubmission_of is None:
                followed = select(SubmissionRow.previous_submission_id).where(
                    SubmissionRow.previous_submission_id.is_not(None))
                return session.scalars(
                    select(SubmissionRow.id).where(
                        SubmissionRow.learner_id == submission.learner_id,
                        SubmissionRow.credential_id == submission.credential_id,
                        SubmissionRow.status == Status.resubmission_requested.value,
                        SubmissionRow.id.not_in(followed))
                    .order_by(SubmissionRow.status_changed_at.desc()).limit(1)).first()
            previous = session.get(SubmissionRow, resubmission_of)
            if previous is None or previous.learner_id != submission.learner_id:
                raise SubmissionNotFound(resubmission_of)
            if previous.status != Status.resubmission_requested:
                raise InvalidTransition(resubmission_of, previous.status, "resubmitted",
                                        "only a submission awaiting resubmission can be followed up")
            if previous.credential_id != submission.credential_id:
                raise InvalidTransition(resubmission_of, previous.status, "resubmitted",
                                        f"the resubmission must be for {previous.credential_id!r}")
            return resubmission_of
