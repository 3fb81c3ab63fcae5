"""How long a submission in review may still wait for an assessor: an estimate from the queue and recent decisions.

:func:`estimate_wait` is pure. Its inputs come from the queue (:meth:`grader.review.ReviewQueue.review_times`:
for each recent decision, how long the submission was in review and how long the assessor held it) and from the
submission's place in the queue (reviewed oldest first). The estimate is the larger of

- the median time recent submissions spent in review, less the time this one has already waited, and
- the submissions up to and including this one, times the median time an assessor held one before deciding,

so a long queue is never hidden by a short typical wait, nor a slow desk by a short queue. With no decision in
the database there is no estimate (``None``): a guess would mislead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

RECENT_DECISIONS = 20  # how many of the latest decisions the estimate reads


@dataclass(frozen=True)
class ReviewTime:
    """One past decision: seconds from entering review to the decision, and from the assessor's claim to it."""

    in_review_seconds: float
    handling_seconds: float | None = None  # None when no claim was recorded before the decision


@dataclass(frozen=True)
class WaitEstimate:
    seconds: float
    ahead: int  # submissions before this one in the queue
    decisions: int  # how many past decisions the estimate is based on


def estimate_wait(ahead: int, waited_seconds: float, history: Sequence[ReviewTime]) -> WaitEstimate | None:
    """The remaining wait of a submission with ``ahead`` submissions before it that has already waited
    ``waited_seconds``; ``None`` without history."""
    if not history:
        return None
    ahead = max(0, int(ahead))
    in_review = median(max(0.0, h.in_review_seconds) for h in history)
    handled = [max(0.0, h.handling_seconds) for h in history if h.handling_seconds is not None]
    by_queue = (ahead + 1) * median(handled) if handled else 0.0
    remaining = max(in_review - max(0.0, waited_seconds), by_queue, 0.0)
    return WaitEstimate(seconds=remaining, ahead=ahead, decisions=len(history))


def human_duration(seconds: float) -> str:
    """``about 5 minutes`` / ``about 3 hours`` / ``about 2 days`` (``under a minute`` below 60 s)."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"about {minutes} minute{'' if minutes == 1 else 's'}"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"about {hours} hours"
    return f"about {round(seconds / 86400)} days"


def describe_wait(estimate: WaitEstimate | None) -> str:
    """The estimate as one sentence for the learner ("no estimate yet" without history)."""
    if estimate is None:
        return "Estimated wait: no estimate yet (no assessor decisions to go by)."
    ahead = ("no submission is ahead of yours" if estimate.ahead == 0 else
             f"{estimate.ahead} submission{' is' if estimate.ahead == 1 else 's are'} ahead of yours")
    basis = f"the last {estimate.decisions} assessor decision{'' if estimate.decisions == 1 else 's'}"
    return f"Estimated wait: {human_duration(estimate.seconds)} ({ahead}; based on {basis})."
