"""Erasing a learner from the grader's store ("Forget me").

What goes: every evidence file (bytes and extracted text), the reflective statement, links, name and email of
each of the learner's submissions, the text the model saw, the model's rationales, quotes and feedback, and the
assessors' comments on them. A submission still waiting for grading or review is withdrawn (moved to
``error``), so nothing grades or decides on evidence that no longer exists.

What stays, unlinked from the learner (the submission's ``learner_id`` becomes a random ``erased-…`` id): the
submission's skeleton (credential, status, dates, levels and points, assessors' decisions, the engine's numeric
readings), because the append-only audit log refers to it, an issued credential must stay revocable, and the
assessor decisions calibrate the grader. The audit log itself is append-only and is not changed (it holds file
names, sizes and hashes, never contents); an ``erased`` entry records the erasure.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import delete, func, select, update

from grader.models import WITHDRAWN, Status
from grader.store import (
    CriterionGradeRow,
    DecisionRow,
    EngineRecordRow,
    FileRow,
    GradeRow,
    ReviewRow,
    SubmissionRow,
    append_audit,
    utcnow,
)

if TYPE_CHECKING:
    from grader.queue import GraderQueue

_OPEN = (Status.received.value, Status.grading.value, Status.review.value)


class GraderErasure(BaseModel):
    """What erasing one learner removed from the grader's store."""

    submissions: int = 0  # submissions whose evidence and personal data were deleted
    files: int = 0  # evidence files deleted
    file_bytes: int = 0
    withdrawn: int = 0  # of the submissions, those that were still waiting for grading or review


def learner_data(queue: GraderQueue, learner_id: str) -> GraderErasure:
    """What :func:`erase_learner` would delete now (nothing is changed)."""
    with queue._sessions() as session:
        ids = list(session.scalars(select(SubmissionRow.id).where(SubmissionRow.learner_id == learner_id)))
        files, size = session.execute(select(func.count(FileRow.id), func.coalesce(func.sum(FileRow.size), 0))
                                      .where(FileRow.submission_id.in_(ids))).one() if ids else (0, 0)
        open_ = session.scalar(select(func.count()).select_from(SubmissionRow)
                               .where(SubmissionRow.learner_id == learner_id, SubmissionRow.status.in_(_OPEN)))
    return GraderErasure(submissions=len(ids), files=int(files), file_bytes=int(size), withdrawn=int(open_ or 0))


def erase_learner(queue: GraderQueue, learner_id: str, *, actor: str = "learner") -> GraderErasure:
    """Delete the learner's evidence and personal data (see the module docstring), in one transaction.

    A passed submission not yet issued is no longer issued (its credential would name nobody)."""
    pseudonym = "erased-" + secrets.token_hex(10)
    now = utcnow()
    with queue._sessions.begin() as session:
        rows = session.execute(select(SubmissionRow.id, SubmissionRow.status)
                               .where(SubmissionRow.learner_id == learner_id)).all()
        ids = [sid for sid, _ in rows]
        if not ids:
            return GraderErasure()
        files, size = session.execute(select(func.count(FileRow.id), func.coalesce(func.sum(FileRow.size), 0))
                                      .where(FileRow.submission_id.in_(ids))).one()
        session.execute(delete(FileRow).where(FileRow.submission_id.in_(ids)))
        grade_ids = list(session.scalars(select(GradeRow.id).where(GradeRow.submission_id.in_(ids))))
        session.execute(update(GradeRow).where(GradeRow.submission_id.in_(ids)).values(model_input=None))
        if grade_ids:
            session.execute(update(CriterionGradeRow).where(CriterionGradeRow.grade_id.in_(grade_ids))
                            .values(rationale="", quotes=[]))
            session.execute(update(EngineRecordRow).where(EngineRecordRow.grade_id.in_(grade_ids))
                            .values(feedback={}))
        session.execute(update(DecisionRow).where(DecisionRow.submission_id.in_(ids)).values(comment=""))
        session.execute(update(ReviewRow).where(ReviewRow.submission_id.in_(ids)).values(comment=""))
        withdrawn = [sid for sid, status in rows if status in _OPEN]
        session.execute(update(SubmissionRow).where(SubmissionRow.id.in_(ids)).values(
            learner_id=pseudonym, learner_name="", learner_email=None, reflection="", links=[],
            claimed_by=None, lease_expires_at=None, updated_at=now, version=SubmissionRow.version + 1))
        session.execute(update(SubmissionRow).where(SubmissionRow.id.in_(ids), SubmissionRow.issued_at.is_(None))
                        .values(ready_to_issue=False))
        if withdrawn:
            session.execute(update(SubmissionRow).where(SubmissionRow.id.in_(withdrawn)).values(
                status=Status.error.value, status_changed_at=now, error_message=WITHDRAWN))
        for sid, status in rows:
            append_audit(session, "erased", sid, actor, {
                "files_deleted": True, "learner": pseudonym,
                **({"from": status, "to": Status.error.value} if sid in withdrawn else {})}, at=now)
    return GraderErasure(submissions=len(ids), files=int(files), file_bytes=int(size), withdrawn=len(withdrawn))
