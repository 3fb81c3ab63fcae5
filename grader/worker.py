"""A grading worker: takes submissions from the database, one at a time, and grades them under a lease.

Any number of workers (processes, on any number of machines) share one queue. Each claim is
:meth:`grader.queue.GraderQueue.claim_next` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the compare-and-set on
SQLite), the lease is renewed while the worker grades (:meth:`grader.service.GraderService.grade_claimed`), and
only the lease holder records the grade: a worker that dies mid-grade leaves a lease that expires, and the next
claim puts that submission back and grades it once. :meth:`GradingWorker.stop` (the CLI wires SIGTERM/SIGINT to
it) lets the submission in hand finish, then returns.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass

from grader.errors import InvalidTransition, NotLeaseHolder
from grader.service import GRADING_FAILED, GraderService

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 2.0


@dataclass
class WorkerStats:
    """What one worker did: submissions graded (a decision recorded), errored, and lost (lease taken over)."""

    graded: int = 0
    errors: int = 0
    lost: int = 0


class GradingWorker:
    """Claims and grades submissions from ``service.queue`` until stopped (or until the queue is empty, ``once``).

    ``service`` grades (its scorer, feedback writer and lease length); its ``worker`` names the lease holder.
    """

    def __init__(self, service: GraderService, *, poll_seconds: float = DEFAULT_POLL_SECONDS):
        if poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
        self.service = service
        self.poll_seconds = poll_seconds
        self.stats = WorkerStats()
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return self.service.worker

    def stop(self) -> None:
        """Ask the loop to return after the submission in hand (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, once: bool = False) -> WorkerStats:
        """Grade until :meth:`stop` (waiting ``poll_seconds`` when the queue is empty); with ``once``, return when
        nothing is left to claim."""
        logger.info("grading worker %s started (polling every %gs)", self.name, self.poll_seconds)
        while not self._stop.is_set():
            try:
                worked = self.run_one()
            except Exception:  # the database went away for a moment: wait, then claim again
                logger.exception("worker %s could not claim a submission", self.name)
                worked = False
            if not worked:
                if once:
                    break
                self._stop.wait(self.poll_seconds)
        logger.info("grading worker %s stopped: %d graded, %d errors, %d lost", self.name, self.stats.graded,
                    self.stats.errors, self.stats.lost)
        return self.stats

    def run_one(self) -> bool:
        """Claim the oldest waiting submission and grade it; False when there was none."""
        job = self.service.queue.claim_next(self.name, lease_seconds=self.service.lease_seconds)
        if job is None:
            return False
        sid = job.submission_id
        logger.info("worker %s claimed submission %s (%s)", self.name, sid, job.credential_id)
        try:
            view = self.service.grade_claimed(job, feedback_now=True)
        except (InvalidTransition, NotLeaseHolder) as exc:  # the lease expired and another worker has it
            self.stats.lost += 1
            logger.warning("worker %s lost submission %s: %s", self.name, sid, exc)
            return True
        except Exception:  # stays stored; recorded as an error for the assessors (who can retry it)
            logger.exception("worker %s: grading submission %s failed", self.name, sid)
            self.stats.errors += 1
            with contextlib.suppress(InvalidTransition, NotLeaseHolder):
                self.service.queue.record_error(sid, GRADING_FAILED, worker=self.name)
            return True
        if view.status.value == "error":
            self.stats.errors += 1
        else:
            self.stats.graded += 1
        logger.info("worker %s graded submission %s: %s", self.name, sid, view.status.value)
        return True
