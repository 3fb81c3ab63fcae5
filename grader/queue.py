"""The grader queue: submissions, AI grades, the human review queue, and the issuance event.

:class:`GraderQueue` is one object over one database, built from three parts, each in its own module:

- :mod:`grader.records`: the database, compare-and-set writes, the reads and this instance's *ready to issue*
  listeners (``listeners=`` or :meth:`GraderQueue.subscribe`; the wiring connects issuance to the queue it
  built, there is no module-level registry)
- :mod:`grader.submissions`: ``received -> grading -> passed | failed | review | error`` under a grading lease
- :mod:`grader.review`: assessors' leases and decisions (``review -> approved | rejected |
  resubmission_requested``)

Every change is one transaction that writes exactly one audit entry. A submission becomes issuable only through
:meth:`GraderQueue.record_grade` with an AI ``pass`` or :meth:`GraderQueue.decide` with ``approve``; issuance
learns of it through :meth:`GraderQueue.subscribe` (after commit) or by polling :meth:`GraderQueue.ready_to_issue`.
Human decisions always take precedence: once a submission is in review only the lease holder can settle it, and
an AI grade is accepted only while ``grading``. Channels reach all of it through :mod:`grader.api`.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.errors import (
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
from grader.records import DEFAULT_GRADING_LEASE_SECONDS, DEFAULT_LEASE_SECONDS
from grader.review import ReviewQueue
from grader.rubrics import Rescorer, RubricLike, as_rescorer, rubric_scorer, rubrics_from_catalogue
from grader.submissions import Submissions

__all__ = [
    "DEFAULT_GRADING_LEASE_SECONDS", "DEFAULT_LEASE_SECONDS",
    "GraderQueue", "Rescorer", "RubricLike", "as_rescorer", "open_queue",
    "rubric_scorer", "rubrics_from_catalogue",
    # re-exported boundary errors
    "ClaimConflict", "GraderError", "IdempotencyConflict", "InvalidOverride", "InvalidTransition",
    "JustificationRequired", "LeaseExpired", "NotLeaseHolder", "RubricRequired", "SubmissionNotFound",
]


class GraderQueue(Submissions, ReviewQueue):
    """Submissions, grades and the review queue over one database (see module docstring).

    ``GraderQueue(database_url, *, rubrics=None, clock=utcnow, max_file_bytes=..., listeners=())``:
    ``rubrics`` resolves a credential id to its rubric (or a :data:`Rescorer`) so :meth:`decide` can
    recompute totals; ``clock`` returns aware UTC datetimes (injectable for tests); ``listeners`` hear
    *ready to issue* (:meth:`subscribe` adds more).
    """


def open_queue(database_url: str, *, rubrics: Callable[[str], RubricLike | Rescorer | None] | None = None,
               ) -> GraderQueue:
    """The grader queue on the database at ``database_url`` (any SQLAlchemy URL; tables created if missing)."""
    return GraderQueue(database_url, rubrics=rubrics)
