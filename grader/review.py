"""The human review queue: leases held by assessors, their decisions, and what those decisions teach.

::

    review -> (assessor holds a lease) -> approved | rejected | resubmission_requested

Human decisions take precedence: once a submission is in review only the holder of a live lease can settle it
(:meth:`ReviewQueue.decide`); totals are recomputed from the final levels with the rubric
(:mod:`grader.rubrics`), and ``approved`` is issuable (the queue's listeners hear it after commit).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from grader.errors import (
    ClaimConflict,
    InvalidOverride,
    InvalidTransition,
    JustificationRequired,
    LeaseExpired,
    NotLeaseHolder,
    RubricRequired,
)
from grader.models import (
    REASON_PRIORITY,
    AgreementStat,
    Assessor,
    CriterionFeedback,
    CriterionOutcome,
    DecidedSubmission,
    Decision,
    Lease,
    QueueItem,
    ReviewDecision,
    Status,
)
from grader.reasons import reason_name
from grader.records import _T, DEFAULT_LEASE_SECONDS, MAX_LEASE_SECONDS, QueueRecords
from grader.rubrics import Rescorer, RubricLike, as_rescorer
from grader.store import (
    AuditRow,
    CriterionGradeRow,
    DecisionRow,
    EngineRecordRow,
    GradeRow,
    ReviewRow,
    SubmissionRow,
    append_audit,
)
from grader.waiting import RECENT_DECISIONS, ReviewTime


class ReviewQueue(QueueRecords):
    """Listing, claiming, releasing and deciding submissions in ``review`` (see module docstring)."""

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
                named = {*reasons, *(reason_name(r) for r in reasons)}  # "low_confidence:a,b" counts too
                if (reason is not None and reason not in named) or (live and not include_claimed):
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
            ranks = [REASON_PRIORITY.index(reason_name(r)) if reason_name(r) in REASON_PRIORITY
                     else len(REASON_PRIORITY) for r in item.reasons]
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

    def review_times(self, limit: int = RECENT_DECISIONS) -> list[ReviewTime]:
        """The latest ``limit`` assessor decisions, newest first: seconds each submission spent in review (from
        the grade that sent it there, or a later request for review) and seconds from the deciding assessor's
        first claim to the decision (None without a recorded claim). What :func:`grader.waiting.estimate_wait`
        reads; no learner data."""
        out: list[ReviewTime] = []
        with self._sessions() as session:
            decisions = list(session.scalars(select(DecisionRow).order_by(DecisionRow.id.desc())
                                             .limit(max(0, limit))))
            for d in decisions:
                grade = session.get(GradeRow, d.grade_id) if d.grade_id is not None else None
                requested = session.scalar(select(func.max(AuditRow.created_at)).where(
                    AuditRow.submission_id == d.submission_id, AuditRow.event_type == "review_requested",
                    AuditRow.created_at <= d.created_at))
                starts = [t for t in (grade.created_at if grade else None, requested) if t is not None]
                if not starts:
                    continue
                entered = max(starts)
                claimed = session.scalar(select(func.min(AuditRow.created_at)).where(
                    AuditRow.submission_id == d.submission_id, AuditRow.event_type == "claimed",
                    AuditRow.actor == d.assessor, AuditRow.created_at >= entered,
                    AuditRow.created_at <= d.created_at))
                out.append(ReviewTime(in_review_seconds=(d.created_at - entered).total_seconds(),
                                      handling_seconds=(d.created_at - claimed).total_seconds()
                                      if claimed is not None else None))
        return out

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

    def record_feedback(self, submission_id: str, feedback: list[CriterionFeedback], seconds: float,
                        model: str | None = None) -> bool:
        """Attach the model-written feedback to the submission's latest engine grade (False when there is none);
        the audit entry names the model that wrote it (``http:<name>@<host>`` for a model server)."""
        with self._sessions.begin() as session:
            grade_id = session.scalar(select(func.max(GradeRow.id)).where(GradeRow.submission_id == submission_id))
            record = session.get(EngineRecordRow, grade_id) if grade_id is not None else None
            if record is None:
                return False
            record.feedback = {f.criterion_id: f.model_dump(exclude={"criterion_id"}) for f in feedback}
            record.feedback_seconds = seconds
            append_audit(session, "feedback", submission_id, "grader",
                         {"seconds": seconds, **({"model": model} if model else {})})
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

    # ---- internals -----------------------------------------------------------------------------

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
        return as_rescorer(rubric)
