"""Boundary models of the grader domain.

Everything that crosses the grader's public face (:mod:`grader.api`) is one of these pydantic models:
adapters (CLI, Gradio, Telegram) build :class:`SubmissionIn`, the scorer builds :class:`GradeResult`,
and every read returns a view model, never an ORM row. The typed errors live in :mod:`grader.errors`
(the queue's are re-exported here, their earlier home).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from grader.errors import (  # noqa: F401  (re-exported: the errors' old home; grader.errors is theirs now)
    ClaimConflict,
    GraderError,
    IdempotencyConflict,
    InvalidOverride,
    InvalidTransition,
    JustificationRequired,
    LeaseExpired,
    NotLeaseHolder,
    RubricRequired,
    SubmissionNotFound,
)
from grader.evidence import MAX_TOTAL_CHARS

# --------------------------------------------------------------------------------------------------
# Vocabulary


#: the error message of a submission withdrawn by *forget me* (``grader.erasure``); its row stays as a skeleton
WITHDRAWN = "withdrawn: the learner asked for their data to be deleted"


class Status(StrEnum):
    """Submission lifecycle states.

    ``received`` → ``grading`` → ``passed`` | ``failed`` | ``review`` (or ``error``); a submission in
    ``review`` is decided by an assessor holding its lease: ``approved`` | ``rejected`` |
    ``resubmission_requested``. Only ``passed`` and ``approved`` are ever ready to issue.
    """

    received = "received"
    grading = "grading"
    passed = "passed"
    failed = "failed"
    review = "review"
    approved = "approved"
    rejected = "rejected"
    resubmission_requested = "resubmission_requested"
    error = "error"


FINAL_STATUSES = frozenset({Status.passed, Status.failed, Status.approved, Status.rejected,
                            Status.resubmission_requested})
ISSUABLE_STATUSES = frozenset({Status.passed, Status.approved})

Decision = Literal["approve", "reject", "resubmit"]
AIDecision = Literal["pass", "fail", "review"]

# Review reasons, most urgent first; ``list_queue(sort="reason")`` orders by this list, unknown reasons last.
REASON_PRIORITY: tuple[str, ...] = (
    "prompt_injection",
    "machine_generated",
    "near_duplicate",
    "quote_not_found",
    "near_threshold",
    "low_confidence",
    "appeal",
)  # a code with arguments ("low_confidence:a,b") ranks by its name (grader.reasons.reason_name)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]

MAX_LINKS = 20
MAX_LINK_CHARS = 2_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://\S+$")

# --------------------------------------------------------------------------------------------------
# Inputs


class SubmissionIn(_Model):
    """A learner's evidence for one credential. ``files`` are ``(filename, bytes, media_type)``.

    ``idempotency_key``: the same key from the same learner never creates a second submission
    (a key is generated when absent, so leave it empty only when duplicates cannot arise).
    """

    credential_id: NonEmpty
    learner_id: NonEmpty
    learner_name: str = ""
    learner_email: str | None = None
    files: list[tuple[str, bytes, str]] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    reflection: str = ""
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @field_validator("files")
    @classmethod
    def _filenames(cls, files: list[tuple[str, bytes, str]]) -> list[tuple[str, bytes, str]]:
        for name, _content, media_type in files:
            if not name.strip():
                raise ValueError("every file needs a filename")
            if len(name) > 255 or len(media_type) > 200:
                raise ValueError(f"filename or media type too long: {name[:60]!r}")
        return files

    @field_validator("links")
    @classmethod
    def _links(cls, links: list[str]) -> list[str]:
        """Links are recorded, never opened: each an http(s) URL of at most MAX_LINK_CHARS, at most MAX_LINKS."""
        bad = [t for t in links if not _URL.match(t) or len(t) > MAX_LINK_CHARS]
        if bad:
            raise PydanticCustomError("link", "links must start with http:// or https:// (not {link})",
                                      {"link": bad[0][:80]})
        if len(links) > MAX_LINKS:
            raise PydanticCustomError("links", "please give at most {n} links", {"n": MAX_LINKS})
        return links

    @field_validator("reflection")
    @classmethod
    def _reflection(cls, reflection: str) -> str:
        if len(reflection) > MAX_TOTAL_CHARS:  # the whole evidence's text budget; the reflection alone is one part
            raise PydanticCustomError("reflection", f"the reflective statement has {len(reflection):,} characters; "
                                      f"the limit is {MAX_TOTAL_CHARS:,}")
        return reflection

    @field_validator("learner_email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is not None and (len(email) > 200 or not _EMAIL.match(email)):
            raise PydanticCustomError("email", "that email address does not look right (leave it empty if you like)")
        return email


class CriterionGrade(_Model):
    """The model's grade for one rubric criterion."""

    criterion_id: str
    level_id: str
    distribution: dict[str, float] = Field(default_factory=dict, description="level_id -> probability")
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    rationale: str = ""
    quotes: list[str] = Field(default_factory=list)


class GradeResult(_Model):
    """What the scorer concluded for a submission (filled by ``grader.scoring``)."""

    credential_id: str
    criteria: list[CriterionGrade]
    total_points: float
    max_points: float
    decision: AIDecision
    reasons: list[str] = Field(default_factory=list)
    model: str
    prompt_version: str
    seconds: float = 0.0
    engine_version: str | None = None  # the fitted combiner that graded (None: a legacy scorer)
    p_pass: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    decision_threshold: float | None = None
    readings: dict[str, dict] = Field(default_factory=dict, description="criterion id -> engine reading")


class CriterionFeedback(_Model):
    """The model-written reason for a criterion's level and what the next level asks for."""

    criterion_id: str
    rationale: str
    quotes: list[str] = Field(default_factory=list, description="verbatim from the evidence")
    next_step: str = ""


class ExtractedFile(_Model):
    """Text extracted from the file at ``position`` (0-based, in upload order), or why it failed."""

    position: Annotated[int, Field(ge=0)]
    text: str | None = None
    error: str | None = None


class Assessor(_Model):
    """An authenticated human assessor (see ``grader.accounts.authenticate``)."""

    username: NonEmpty
    display_name: str = ""


class Totals(_Model):
    """The result of re-scoring a set of criterion levels against a rubric."""

    total_points: float
    max_points: float
    passed: bool


# --------------------------------------------------------------------------------------------------
# Views (outputs)


class CriterionOutcome(_Model):
    """Final level of one criterion: the AI's, or the assessor's when they overrode it."""

    criterion_id: str
    level_id: str
    ai_level_id: str | None = None
    source: Literal["ai", "assessor"] = "ai"
    comment: str = ""
    next_step: str = ""  # what the next level asks for, tied to the evidence (model feedback; empty at the top)


class SubmissionView(_Model):
    """What a learner may see about their own submission (no evidence, no other learner)."""

    id: str
    credential_id: str
    learner_id: str
    status: Status
    ready_to_issue: bool
    created_at: datetime
    updated_at: datetime
    previous_submission_id: str | None = None
    error_message: str | None = None
    total_points: float | None = None
    max_points: float | None = None
    decided_by: Literal["ai", "assessor"] | None = None
    comment: str = ""
    criteria: list[CriterionOutcome] = Field(default_factory=list)
    filenames: list[str] = Field(default_factory=list)


class StoredFile(_Model):
    position: int
    filename: str
    media_type: str
    size: int
    sha256: str
    content: bytes | None = None
    extracted_text: str | None = None
    extraction_error: str | None = None


class StoredGrade(GradeResult):
    """A recorded AI grade, with what the model actually saw (the pseudonymised text)."""

    id: int
    model_input: str | None = None
    created_at: datetime
    feedback: list[CriterionFeedback] = Field(default_factory=list)


class ReviewDecision(_Model):
    """An assessor's decision on a submission, with the per-criterion outcome and recomputed totals."""

    submission_id: str
    assessor: str
    decision: Decision
    comment: str = ""
    criteria: list[CriterionOutcome] = Field(default_factory=list)
    total_points: float | None = None
    max_points: float | None = None
    rubric_passed: bool | None = None
    status: Status
    decided_at: datetime


class SubmissionDetail(SubmissionView):
    """The assessor's view: evidence, identity, grades and reviews."""

    learner_name: str = ""
    learner_email: str | None = None
    links: list[str] = Field(default_factory=list)
    reflection: str = ""
    files: list[StoredFile] = Field(default_factory=list)
    grades: list[StoredGrade] = Field(default_factory=list)
    reviews: list[ReviewDecision] = Field(default_factory=list)
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None


class GradingJob(_Model):
    """Everything the grading pipeline needs for one submission (system use, not a learner view)."""

    submission_id: str
    credential_id: str
    learner_id: str
    learner_name: str
    learner_email: str | None
    files: list[StoredFile]
    links: list[str]
    reflection: str
    previous_submission_id: str | None = None


class DecidedSubmission(_Model):
    """An assessor's decision as a graded example: final level id per criterion and what the model read."""

    submission_id: str
    credential_id: str
    assessor: str
    decision: Decision
    levels: dict[str, str]
    evidence: str
    readings: dict[str, dict] = Field(default_factory=dict)
    engine_version: str | None = None
    decided_at: datetime


class QueueItem(_Model):
    """One submission waiting for (or under) human review. Carries no learner identity."""

    submission_id: str
    credential_id: str
    reasons: list[str]
    waiting_since: datetime
    age_seconds: float
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    ai_total_points: float | None = None
    ai_max_points: float | None = None
    ai_decision: AIDecision | None = None
    model: str | None = None
    prompt_version: str | None = None


class Lease(_Model):
    submission_id: str
    assessor: str
    expires_at: datetime


class AgreementStat(_Model):
    """How often assessors kept the AI's level for one criterion."""

    criterion_id: str
    reviewed: int
    kept: int
    rate: float
    changes: dict[str, int] = Field(default_factory=dict, description="'ai_level->final_level' -> count")


class AuditEntry(_Model):
    id: int
    event_type: str
    submission_id: str | None
    actor: str
    details: dict
    created_at: datetime


class ReadyToIssue(_Model):
    """The one event issuance consumes: a submission became issuable (auto-pass or assessor approval)."""

    submission_id: str
    credential_id: str
    learner_id: str
    learner_name: str
    learner_email: str | None
    source: Literal["auto_pass", "assessor"]
    actor: str
    at: datetime
