"""The grader's typed errors: one root, :class:`GraderError`, that every grader exception derives from.

Channels catch ``GraderError`` (or a subclass) and show its message: each is written for the person at the
other end. Some also keep the built-in base they always had (``ValueError``, ``LookupError``), so existing
``except ValueError`` / ``except LookupError`` handlers see them as before.

- submissions and the review queue: :class:`SubmissionNotFound`, :class:`InvalidTransition`,
  :class:`IdempotencyConflict`, :class:`ClaimConflict`, :class:`NotLeaseHolder`, :class:`LeaseExpired`,
  :class:`InvalidOverride`, :class:`RubricRequired`, :class:`JustificationRequired`
- the catalogue: :class:`UnknownCredential`
- evidence intake: :class:`EvidenceError` and its coded kinds (:data:`ERRORS_BY_CODE`)
- the rubric engine: :class:`EngineError`
- accounts: :class:`AssessorsFileInvalid`
- the audit log's ``AuditLogImmutable`` stays beside its table (``grader.store``), where the append-only guard is
"""

from __future__ import annotations

from datetime import datetime


class GraderError(Exception):
    """Base of every grader error; the message is meant for the person at the other end."""


# ---- submissions and the review queue


class SubmissionNotFound(GraderError, LookupError):
    def __init__(self, submission_id: str):
        super().__init__(f"no submission {submission_id!r}")
        self.submission_id = submission_id


class InvalidTransition(GraderError):
    def __init__(self, submission_id: str, current: str, wanted: str, detail: str = ""):
        message = f"submission {submission_id!r} is {current!r}; it cannot become {wanted!r}"
        super().__init__(message + (f" ({detail})" if detail else ""))
        self.submission_id, self.current, self.wanted = submission_id, current, wanted


class IdempotencyConflict(GraderError):
    """The idempotency key was already used by this learner for a different credential."""


class ClaimConflict(GraderError):
    def __init__(self, submission_id: str, holder: str, expires_at: datetime):
        super().__init__(f"submission {submission_id!r} is claimed by {holder!r} until {expires_at:%Y-%m-%d %H:%M} UTC")
        self.submission_id, self.holder, self.expires_at = submission_id, holder, expires_at


class NotLeaseHolder(GraderError):
    """The assessor does not hold the lease on this submission (never claimed, or someone else's)."""


class LeaseExpired(NotLeaseHolder):
    """The assessor's lease ran out; claim again (if nobody else has) before deciding."""


class InvalidOverride(GraderError):
    """An override names an unknown criterion or level, or changes a level without a comment."""


class RubricRequired(GraderError):
    """Totals must be recomputed but no rubric (or re-scoring callable) was given or found."""


class JustificationRequired(GraderError):
    """The decision contradicts the rubric's result; the assessor must say why in the comment."""


# ---- the catalogue


class UnknownCredential(GraderError, LookupError):
    def __init__(self, credential_id: str, known: list[str]):
        super().__init__(f"unknown credential {credential_id!r}; known credentials: {', '.join(known)}")


# ---- evidence intake


class EvidenceError(GraderError, ValueError):
    """Evidence that cannot be graded; ``code`` names the problem, the message explains it to a learner."""

    code = "invalid"

    def __init__(self, message: str, filename: str | None = None):
        self.filename = filename
        self.reason = message
        super().__init__(f"{filename}: {message}" if filename else message)


class UnsupportedType(EvidenceError):
    code = "unsupported_type"


class TooLarge(EvidenceError):
    code = "too_large"


class EmptyEvidence(EvidenceError):
    code = "empty"


class Unreadable(EvidenceError):
    code = "unreadable"


class ScannedImageOnly(EvidenceError):
    code = "scanned_image_only"


class ExtractionTimeout(EvidenceError):
    """Parsing the file ran past ``IntakeLimits.timeout_s``; the parsing process was killed."""

    code = "timeout"


class ExtractionMemory(EvidenceError):
    """Parsing the file needed more than ``IntakeLimits.memory_bytes``."""

    code = "out_of_memory"


ERRORS_BY_CODE: dict[str, type[EvidenceError]] = {cls.code: cls for cls in (
    EvidenceError, UnsupportedType, TooLarge, EmptyEvidence, Unreadable, ScannedImageOnly, ExtractionTimeout,
    ExtractionMemory)}


# ---- the rubric engine


class EngineError(GraderError, ValueError):
    """The engine cannot grade or fit with what it was given (the message says why)."""


# ---- accounts


class AssessorsFileInvalid(GraderError):
    """The assessors file is missing, unreadable or malformed; the message says where."""
