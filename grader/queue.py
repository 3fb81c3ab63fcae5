"""The grader's public face: submissions, AI grades, the human review queue, and the issuance event.

Adapters (CLI, Gradio, Telegram) and the scoring pipeline call only this module. The lifecycle is::

    received -> grading -> passed | failed | review        (or -> error; error -> grading retries)
    review   -> (assessor holds a lease) -> approved | rejected | resubmission_requested
    failed   -> review                                      (appeal)

Every change is one transaction that writes exactly one audit entry. A submission becomes issuable
only through :meth:`GraderQueue.record_grade` with an AI ``pass`` or :meth:`GraderQueue.decide` with
``approve``; issuance learns of it through :func:`on_ready_to_issue` (after commit) or by polling
:meth:`GraderQueue.ready_to_issue`. Human decisions always take precedence: once a submission is in
review only the lease holder can settle it, and an AI grade is accepted only while ``grading``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import Row, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader import store
from grader.erasure import WITHDRAWN
from grader.models import (
    FINAL_STATUSES,
    REASON_PRIORITY,
    AgreementStat,
    Assessor,
    AuditEntry,
    ClaimConflict,
    CriterionFeedback,
    CriterionOutcome,
    DecidedSubmission,
    Decision,
    ExtractedFile,
    GraderError,
    GradeResult,
    GradingJob,
    IdempotencyConflict,
    InvalidOverride,
    InvalidTransition,
    JustificationRequired,
    Lease,
    LeaseExpired,
    NotLeaseHolder,
    QueueItem,
    ReadyToIssue,
    ReviewDecision,
    RubricRequired,
    Status,
    StoredFile,
    StoredGrade,
    SubmissionDetail,
    SubmissionIn,
    SubmissionNotFound,
    SubmissionView,
    Totals,
)
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
    new_id,
    utcnow,
)
from storage import engine_for, session_factory

__all__ = [
    "DEFAULT_GRADING_LEASE_SECONDS", "DEFAULT_LEASE_SECONDS",
    "GraderQueue", "Rescorer", "RubricLike", "on_ready_to_issue", "open_queue",
    "rubric_scorer", "rubrics_from_catalogue",
    # re-exported boundary errors
    "ClaimConflict", "GraderError", "IdempotencyConflict", "InvalidOverride", "InvalidTransition",
    "JustificationRequired", "LeaseExpired", "NotLeaseHolder", "RubricRequired", "SubmissionNotFound",
]

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30 * 60
DEFAULT_GRADING_LEASE_SECONDS = 90  # the grading thread renews it every third of that
MAX_LEASE_SECONDS = 8 * 60 * 60
_CAS_ATTEMPTS = 8
_T = SubmissionRow.__table__


def _check_worker(submission_id: str, row: Row, worker: str | None) -> None:
    """With ``worker``: a ``grading`` row must be under that worker's grading lease."""
    if worker is not None and row.status == Status.grading and row.claimed_by != worker:
        raise NotLeaseHolder(f"grader {worker!r} no longer holds submission {submission_id!r} "
                             f"(now {row.claimed_by or 'back in the queue'}); its grade is not recorded")


def _held_by(worker: str | None) -> tuple[Any, ...]:
    """The compare-and-set condition that goes with :func:`_check_worker`."""
    return () if worker is None else (
        (_T.c.status != Status.grading.value) | (_T.c.claimed_by == worker),)


# --------------------------------------------------------------------------------------------------
# Rubrics: how assessor overrides are turned back into totals


class _LevelLike(Protocol):
    id: str
    points: int


class _CriterionLike(Protocol):
    id: str
    levels: Sequence[_LevelLike]


class RubricLike(Protocol):
    """Structural view of ``knowledge.schema.Rubric``."""

    criteria: Sequence[_CriterionLike]
    pass_threshold: int
    min_points_each: int


Rescorer = Callable[[Mapping[str, str]], Totals]
"""Given the final ``{criterion_id: level_id}``, the totals and whether they pass."""


def rubric_scorer(rubric: RubricLike) -> Rescorer:
    """A :data:`Rescorer` for a catalogue rubric: total of level points; passes when the total reaches
    ``pass_threshold`` and every criterion reaches ``min_points_each``."""
    points = {c.id: {lv.id: lv.points for lv in c.levels} for c in rubric.criteria}

    def rescore(levels: Mapping[str, str]) -> Totals:
        missing = sorted(set(points) - set(levels))
        if missing:
            raise InvalidOverride(f"no level for criteria {missing}; give one for each")
        unknown = sorted(set(levels) - set(points))
        if unknown:
            raise InvalidOverride(f"criteria {unknown} are not in the rubric (known: {sorted(points)})")
        earned = {}
        for cid, level_id in levels.items():
            if level_id not in points[cid]:
                raise InvalidOverride(f"criterion {cid!r} has no level {level_id!r} (levels: {list(points[cid])})")
            earned[cid] = points[cid][level_id]
        total = sum(earned.values())
        passed = total >= rubric.pass_threshold and all(p >= rubric.min_points_each for p in earned.values())
        return Totals(total_points=total, max_points=sum(max(lv.values()) for lv in points.values()), passed=passed)

    return rescore


def rubrics_from_catalogue(catalogue: Any) -> Callable[[str], RubricLike | None]:
    """Resolve a credential id to its rubric in a ``knowledge.Catalogue``."""

    def resolve(credential_id: str) -> RubricLike | None:
        credential = catalogue.credentials.get(credential_id)
        return credential.rubric if credential is not None else None

    return resolve


# --------------------------------------------------------------------------------------------------
# The issuance event


_listeners: list[Callable[[ReadyToIssue], None]] = []
_listeners_lock = threading.Lock()


def on_ready_to_issue(callback: Callable[[ReadyToIssue], None]) -> Callable[[], None]:
    """Call ``callback`` after every commit that makes a submission issuable; returns an unsubscribe function.

    Callbacks run in the committing thread; their exceptions are logged, never propagated (the
    submission stays in :meth:`GraderQueue.ready_to_issue`, so issuance can catch up by polling).
    """
    with _listeners_lock:
        _listeners.append(callback)

    def unsubscribe() -> None:
        with _listeners_lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return unsubscribe


def _emit(event: ReadyToIssue) -> None:
    with _listeners_lock:
        callbacks = list(_listeners)
    for callback in callbacks:
        try:
            callback(event)
        except Exception:  # a broken consumer must not undo a committed decision
            log.exception("ready-to-issue listener %r failed for %s", callback, event.submission_id)


# --------------------------------------------------------------------------------------------------
# The service


class GraderQueue:
    """Submissions, grades and the review queue over one database (see module docstring).

    ``rubrics`` resolves a credential id to its rubric (or a :data:`Rescorer`) so :meth:`decide` can
    recompute totals; ``clock`` returns aware UTC datetimes (injectable for tests).
    """

    def __init__(self, database_url: str, *, rubrics: Callable[[str], RubricLike | Rescorer | None] | None = None,
                 clock: Callable[[], datetime] = utcnow, max_file_bytes: int = store.MAX_STORED_FILE_BYTES):
        ensure_tables(engine_for(database_url))
        self._sessions = session_factory(database_url)
        self._rubrics = rubrics
        self._clock = clock
        self.max_file_bytes = max_file_bytes

    # ---- submissions ---------------------------------------------------------------------------

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
        holder = worker or actor
        with self._sessions.begin() as session:
            expires = self._clock() + timedelta(seconds=lease_seconds)
            self._transition(session, submission_id, Status.grading, actor, "grading_started",
                             sources={Status.received, Status.error},
                             values={"error_message": None, "claimed_by": holder, "lease_expires_at": expires},
                             details={"worker": holder, "lease_expires_at": expires.isoformat()},
                             where=(_T.c.status.in_([Status.received.value, Status.error.value]),))
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

    def errored_submissions(self, limit: int = 200) -> list[SubmissionView]:
        """Submissions in ``error`` (grading could not finish), newest first: what an assessor may retry."""
        with self._sessions() as session:
            ids = session.scalars(select(SubmissionRow.id).where(SubmissionRow.status == Status.error.value,
                                                                  SubmissionRow.error_message.is_distinct_from(WITHDRAWN))
                                  .order_by(SubmissionRow.status_changed_at.desc(), SubmissionRow.id)
                                  .limit(limit)).all()
            return [self._view(sid, session) for sid in ids]

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

    # ---- review queue --------------------------------------------------------------------------

    def list_queue(self, *, credential_id: str | None = None, reason: str | None = None,
                   include_claimed: bool = True, sort: Literal["age", "reason"] = "age") -> list[QueueItem]:
        """Submissions in ``review``: oldest first (ties: most urgent reason), or by reason then age.

        ``include_claimed=False`` hides those under a live lease. Items carry no learner identity.
        """
        now = self._clock()
        latest = (select(GradeRow.submission_id, func.max(GradeRow.id).label("grade_id"))
                  .group_by(GradeRow.submission_id).subquery())
        query = (select(SubmissionRow, GradeRow)
                 .join(latest, latest.c.submission_id == SubmissionRow.id, isouter=True)
                 .join(GradeRow, GradeRow.id == latest.c.grade_id, isouter=True)
                 .where(SubmissionRow.status == Status.review.value))
        if credential_id is not None:
            query = query.where(SubmissionRow.credential_id == credential_id)
        items = []
        with self._sessions() as session:
            for sub, grade in session.execute(query):
                reasons = list(sub.review_reasons or [])
                live = sub.claimed_by is not None and sub.lease_expires_at is not None and sub.lease_expires_at > now
                if (reason is not None and reason not in reasons) or (live and not include_claimed):
                    continue
                items.append(QueueItem(
                    submission_id=sub.id, credential_id=sub.credential_id, reasons=reasons,
                    waiting_since=sub.status_changed_at, age_seconds=(now - sub.status_changed_at).total_seconds(),
                    claimed_by=sub.claimed_by if live else None,
                    lease_expires_at=sub.lease_expires_at if live else None,
                    ai_total_points=grade.total_points if grade else None,
                    ai_max_points=grade.max_points if grade else None, ai_decision=grade.decision if grade else None,
                    model=grade.model if grade else None, prompt_version=grade.prompt_version if grade else None))

        def urgency(item: QueueItem) -> int:
            ranks = [REASON_PRIORITY.index(r) if r in REASON_PRIORITY else len(REASON_PRIORITY) for r in item.reasons]
            return min(ranks, default=len(REASON_PRIORITY))

        if sort == "reason":
            items.sort(key=lambda i: (urgency(i), i.waiting_since, i.submission_id))
        else:
            items.sort(key=lambda i: (i.waiting_since, urgency(i), i.submission_id))
        return items

    def claim(self, submission_id: str, assessor: Assessor, lease_seconds: int = DEFAULT_LEASE_SECONDS) -> Lease:
        """Take (or renew) the lease on a submission in ``review``; atomic, so of two assessors exactly one
        wins. An expired lease can be taken over. Raises :class:`ClaimConflict` when someone else holds a
        live lease, :class:`InvalidTransition` when the submission is not in review."""
        if not 0 < lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(f"lease_seconds must be in 1..{MAX_LEASE_SECONDS}, got {lease_seconds}")
        now = self._clock()
        expires = now + timedelta(seconds=lease_seconds)
        who = assessor.username
        with self._sessions.begin() as session:
            def check(row: Row) -> dict:
                if row.status != Status.review:
                    raise InvalidTransition(submission_id, row.status, "claimed", "only submissions in review")
                if row.claimed_by not in (None, who) and row.lease_expires_at > now:
                    raise ClaimConflict(submission_id, row.claimed_by, row.lease_expires_at)
                return {"claimed_by": who, "lease_expires_at": expires}

            # The WHERE repeats the lease condition: even without the version check no live lease is stolen.
            free = (_T.c.claimed_by.is_(None)) | (_T.c.lease_expires_at <= now) | (_T.c.claimed_by == who)
            row = self._cas(session, submission_id, check, where=(free, _T.c.status == Status.review.value))
            takeover = row.claimed_by if row.claimed_by not in (None, who) else None
            append_audit(session, "claimed", submission_id, who, {
                "lease_expires_at": expires.isoformat(), "renewed": row.claimed_by == who,
                "took_over_from": takeover}, at=now)
        return Lease(submission_id=submission_id, assessor=who, expires_at=expires)

    def try_claim(self, submission_id: str, assessor: Assessor,
                  lease_seconds: int = DEFAULT_LEASE_SECONDS) -> Lease | None:
        """Like :meth:`claim`, but returns ``None`` instead of raising :class:`ClaimConflict`."""
        try:
            return self.claim(submission_id, assessor, lease_seconds)
        except ClaimConflict:
            return None

    def release(self, submission_id: str, assessor: Assessor) -> None:
        """Give the lease back (only its holder can; an expired lease nobody took over counts as held)."""
        now = self._clock()
        with self._sessions.begin() as session:
            def check(row: Row) -> dict:
                if row.claimed_by != assessor.username:
                    raise NotLeaseHolder(f"{assessor.username!r} does not hold the lease on {submission_id!r}")
                return {"claimed_by": None, "lease_expires_at": None}

            self._cas(session, submission_id, check)
            append_audit(session, "released", submission_id, assessor.username, {}, at=now)

    def decide(self, submission_id: str, assessor: Assessor, decision: Decision | None,
               overrides: Mapping[str, tuple[str, str]] | None = None, comment: str = "", *,
               rubric: RubricLike | Rescorer | None = None) -> ReviewDecision:
        """Settle a submission in ``review``; only the holder of a live lease may.

        ``overrides`` maps ``criterion_id -> (level_id, comment)``; a changed level needs a comment.
        Totals are recomputed from the final levels with ``rubric`` (or the queue's resolver). With
        ``decision=None`` the rubric decides (approve if it passes, else reject); a decision that
        contradicts the rubric needs a ``comment`` (:class:`JustificationRequired`). ``approve`` ->
        ``approved`` (issuable), ``reject`` -> ``rejected``, ``resubmit`` -> ``resubmission_requested``.
        Writes the decision, one review row per criterion, and one audit entry.
        """
        overrides = dict(overrides or {})
        now = self._clock()
        who = assessor.username
        outcome: dict[str, Any] = {}
        with self._sessions.begin() as session:
            def check(row: Row) -> dict:
                if row.status != Status.review:
                    raise InvalidTransition(submission_id, row.status, "decided", "only submissions in review")
                if row.claimed_by != who:
                    raise NotLeaseHolder(f"{who!r} does not hold the lease on {submission_id!r}"
                                         + ("; claim it first" if row.claimed_by is None else ""))
                if row.lease_expires_at <= now:
                    raise LeaseExpired(f"{who!r}'s lease on {submission_id!r} expired at "
                                       f"{row.lease_expires_at:%Y-%m-%d %H:%M} UTC; claim it again")
                outcome.update(self._outcome(session, row, decision, overrides, comment, rubric))
                target = outcome["status"]
                return {"status": target.value, "status_changed_at": now, "claimed_by": None,
                        "lease_expires_at": None, "ready_to_issue": target is Status.approved}

            row = self._cas(session, submission_id, check)
            record = DecisionRow(submission_id=submission_id, grade_id=outcome["grade_id"], assessor=who,
                                 decision=outcome["decision"], comment=comment, total_points=outcome["total"],
                                 max_points=outcome["max"], rubric_passed=outcome["passed"],
                                 status=outcome["status"].value, created_at=now)
            session.add(record)
            session.flush()
            session.add_all(ReviewRow(decision_id=record.id, submission_id=submission_id,
                                      credential_id=row.credential_id, criterion_id=c.criterion_id,
                                      ai_level_id=c.ai_level_id, final_level_id=c.level_id,
                                      kept=c.ai_level_id == c.level_id, comment=c.comment)
                            for c in outcome["criteria"])
            append_audit(session, "decided", submission_id, who, {
                "from": Status.review.value, "to": outcome["status"].value, "decision": outcome["decision"],
                "comment": comment, "total_points": outcome["total"], "max_points": outcome["max"],
                "rubric_passed": outcome["passed"],
                "overrides": {c.criterion_id: {"from": c.ai_level_id, "to": c.level_id, "comment": c.comment}
                              for c in outcome["criteria"] if c.source == "assessor"},
            }, at=now)
        if outcome["status"] is Status.approved:
            self._announce(row, "assessor", who, now)
        return ReviewDecision(submission_id=submission_id, assessor=who, decision=outcome["decision"],
                              comment=comment, criteria=outcome["criteria"], total_points=outcome["total"],
                              max_points=outcome["max"], rubric_passed=outcome["passed"], status=outcome["status"],
                              decided_at=now)

    def agreement_stats(self, credential_id: str | None = None) -> list[AgreementStat]:
        """Per criterion: how many assessor reviews kept the AI's level, and what they changed it to."""
        query = (select(ReviewRow.criterion_id, ReviewRow.ai_level_id, ReviewRow.final_level_id, func.count())
                 .where(ReviewRow.ai_level_id.is_not(None))
                 .group_by(ReviewRow.criterion_id, ReviewRow.ai_level_id, ReviewRow.final_level_id))
        if credential_id is not None:
            query = query.where(ReviewRow.credential_id == credential_id)
        stats: dict[str, dict[str, Any]] = {}
        with self._sessions() as session:
            for criterion_id, ai_level, final_level, count in session.execute(query):
                stat = stats.setdefault(criterion_id, {"reviewed": 0, "kept": 0, "changes": {}})
                stat["reviewed"] += count
                if ai_level == final_level:
                    stat["kept"] += count
                else:
                    stat["changes"][f"{ai_level}->{final_level}"] = count
        return [AgreementStat(criterion_id=cid, reviewed=s["reviewed"], kept=s["kept"],
                              rate=s["kept"] / s["reviewed"], changes=s["changes"])
                for cid, s in sorted(stats.items())]

    def record_feedback(self, submission_id: str, feedback: list[CriterionFeedback], seconds: float) -> bool:
        """Attach the model-written feedback to the submission's latest engine grade (False when there is none)."""
        with self._sessions.begin() as session:
            grade_id = session.scalar(select(func.max(GradeRow.id)).where(GradeRow.submission_id == submission_id))
            record = session.get(EngineRecordRow, grade_id) if grade_id is not None else None
            if record is None:
                return False
            record.feedback = {f.criterion_id: f.model_dump(exclude={"criterion_id"}) for f in feedback}
            record.feedback_seconds = seconds
            append_audit(session, "feedback", submission_id, "grader", {"seconds": seconds})
        return True

    def assessor_decisions(self, credential_id: str | None = None) -> list[DecidedSubmission]:
        """Every assessor decision with the final level per criterion, the (pseudonymised) evidence the model
        read and the engine's reading of it: the graded examples the combiner is refitted on, and what
        ``stackwise review export`` writes. Oldest first; one entry per decision."""
        query = select(DecisionRow).order_by(DecisionRow.id)
        out: list[DecidedSubmission] = []
        with self._sessions() as session:
            for d in session.scalars(query):
                grade = session.get(GradeRow, d.grade_id) if d.grade_id is not None else None
                if grade is None or (credential_id is not None and grade.credential_id != credential_id):
                    continue
                levels = {r.criterion_id: r.final_level_id for r in session.scalars(
                    select(ReviewRow).where(ReviewRow.decision_id == d.id))}
                if not levels:
                    continue
                record = session.get(EngineRecordRow, grade.id)
                out.append(DecidedSubmission(
                    submission_id=d.submission_id, credential_id=grade.credential_id, assessor=d.assessor,
                    decision=d.decision, levels=levels, evidence=grade.model_input or "",
                    readings=dict(record.readings or {}) if record else {},
                    engine_version=record.engine_version if record else None, decided_at=d.created_at))
        return out

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

    # ---- reads ---------------------------------------------------------------------------------

    def pending_submissions(self) -> list[str]:
        """Ids of submissions stored but not yet graded (``received``), oldest first."""
        with self._sessions() as session:
            return list(session.scalars(select(SubmissionRow.id).where(SubmissionRow.status == Status.received.value)
                                        .order_by(SubmissionRow.created_at, SubmissionRow.id)))

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

    # ---- internals -----------------------------------------------------------------------------

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

    def _outcome(self, session: Session, row: Row, decision: Decision | None,
                 overrides: dict[str, tuple[str, str]], comment: str,
                 rubric: RubricLike | Rescorer | None) -> dict[str, Any]:
        grade = session.scalars(select(GradeRow).where(GradeRow.submission_id == row.id)
                                .order_by(GradeRow.id.desc()).limit(1)).first()
        ai_levels: dict[str, str] = {}
        if grade is not None:
            for c in session.scalars(select(CriterionGradeRow).where(CriterionGradeRow.grade_id == grade.id)
                                     .order_by(CriterionGradeRow.position)):
                ai_levels[c.criterion_id] = c.level_id
        rescore = self._rescorer(row.credential_id, rubric)
        criteria = []
        for cid in [*ai_levels, *(c for c in overrides if c not in ai_levels)]:
            ai_level = ai_levels.get(cid)
            level, note = overrides.get(cid, (ai_level, ""))
            note = (note or "").strip()
            if level != ai_level and not note:
                raise InvalidOverride(f"changing {cid!r} from {ai_level!r} to {level!r} needs a comment")
            criteria.append(CriterionOutcome(criterion_id=cid, level_id=level, ai_level_id=ai_level,
                                             source="assessor" if level != ai_level else "ai", comment=note))
        final_levels = {c.criterion_id: c.level_id for c in criteria}
        changed = any(c.level_id != c.ai_level_id for c in criteria)
        if rescore is not None:
            totals = rescore(final_levels)
            total, maximum, passed = totals.total_points, totals.max_points, totals.passed
        elif changed or decision is None:
            raise RubricRequired(f"no rubric for credential {row.credential_id!r} to recompute the totals")
        else:
            total, maximum, passed = (grade.total_points, grade.max_points, None) if grade else (None, None, None)
        if decision is None:
            decision = "approve" if passed else "reject"
        contradicts = (decision == "approve" and passed is False) or (decision == "reject" and passed is True)
        if contradicts and not comment.strip():
            raise JustificationRequired(f"the rubric says {'pass' if passed else 'fail'} ({total}/{maximum}); "
                                        f"say why you {decision} in the comment")
        status = {"approve": Status.approved, "reject": Status.rejected,
                  "resubmit": Status.resubmission_requested}[decision]
        return {"grade_id": grade.id if grade else None, "criteria": criteria, "total": total, "max": maximum,
                "passed": passed, "decision": decision, "status": status}

    def _rescorer(self, credential_id: str, rubric: RubricLike | Rescorer | None) -> Rescorer | None:
        if rubric is None and self._rubrics is not None:
            rubric = self._rubrics(credential_id)
        if rubric is None:
            return None
        return rubric_scorer(rubric) if hasattr(rubric, "criteria") else rubric  # type: ignore[arg-type, return-value]

    def _announce(self, row: Row, source: Literal["auto_pass", "assessor"], actor: str, at: datetime) -> None:
        _emit(ReadyToIssue(submission_id=row.id, credential_id=row.credential_id, learner_id=row.learner_id,
                           learner_name=row.learner_name, learner_email=row.learner_email, source=source,
                           actor=actor, at=at))

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


def open_queue(database_url: str, *, rubrics: Callable[[str], RubricLike | Rescorer | None] | None = None,
               ) -> GraderQueue:
    """The grader queue on the database at ``database_url`` (any SQLAlchemy URL; tables created if missing)."""
    return GraderQueue(database_url, rubrics=rubrics)
