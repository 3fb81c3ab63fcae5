"""The grader's service layer: submission → extraction → grading → stored decision.

Adapters (CLI, Gradio, Telegram) call this; it owns the order of steps and never loses input:
whatever goes wrong after the submission is stored is recorded on it as an error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from grader.evidence import DEFAULT_LIMITS, EvidenceError, IntakeLimits, combine, extract_file, find_links
from grader.feedback import FeedbackWriter
from grader.grading import GradingReport, credential_or_error, grade_evidence
from grader.models import (
    CriterionFeedback,
    CriterionGrade,
    ExtractedFile,
    GradeResult,
    GradingJob,
    SubmissionIn,
    SubmissionView,
)
from grader.queue import DEFAULT_GRADING_LEASE_SECONDS, GraderQueue, InvalidTransition, NotLeaseHolder
from grader.scoring import Refittable, Scorer
from knowledge.schema import Catalogue
from llm import model_label
from llm.priority import background_priority

logger = logging.getLogger(__name__)

GRADING_FAILED = "grading failed unexpectedly; it is listed for the assessors, who can grade it again"
SWEEP_SECONDS = 60.0


class _Heartbeat:
    """Renews one submission's grading lease every third of its length until stopped (a daemon thread)."""

    def __init__(self, queue: GraderQueue, submission_id: str, worker: str, lease_seconds: float):
        self._queue, self._sid, self._worker, self._lease = queue, submission_id, worker, lease_seconds
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"stackwise-lease-{submission_id[:8]}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease / 3):
            try:
                if not self._queue.renew_grading_lease(self._sid, self._worker, self._lease):
                    self.lost = True
                    logger.warning("grader %s lost its lease on submission %s", self._worker, self._sid)
                    return
            except Exception:  # a busy database: try again at the next beat (the lease outlives two misses)
                logger.exception("renewing the grading lease on %s failed", self._sid)


def to_grade_result(report: GradingReport) -> GradeResult:
    return GradeResult(
        credential_id=report.credential_id,
        criteria=[CriterionGrade(criterion_id=c.criterion_id, level_id=c.level_id, distribution=c.distribution,
                                 confidence=min(1.0, max(0.0, c.confidence)), rationale=c.rationale, quotes=c.quotes)
                  for c in report.score.criteria],
        total_points=report.outcome.total_points,
        max_points=report.outcome.max_points,
        decision=report.outcome.decision,
        reasons=report.outcome.reasons,
        model=report.score.model,
        prompt_version=report.score.prompt_id,
        seconds=report.score.seconds,
        engine_version=report.score.engine_version,
        p_pass=None if report.score.p_pass is None else min(1.0, max(0.0, report.score.p_pass)),
        decision_threshold=report.score.decision_threshold,
        readings=report.score.readings or {},
    )


class GraderService:
    def __init__(self, catalogue: Catalogue, queue: GraderQueue, scorer_factory: Callable[[], Scorer],
                 feedback_factory: Callable[[], FeedbackWriter] | None = None,
                 refit: Callable[[], Any] | None = None, refit_after: int = 0,
                 fitted_on: Callable[[], int] | None = None, intake_limits: IntakeLimits | None = None,
                 lease_seconds: float = DEFAULT_GRADING_LEASE_SECONDS, sweep_seconds: float = SWEEP_SECONDS,
                 enqueue_only: bool = False):
        self.catalogue = catalogue
        self.intake_limits = intake_limits or DEFAULT_LIMITS  # what reading one evidence file may cost
        self.queue = queue
        self._scorer_factory = scorer_factory
        self._scorer: Scorer | None = None
        self._feedback_factory = feedback_factory
        self._feedback: FeedbackWriter | None = None
        self._refit, self._refit_after = refit, refit_after
        self._fitted_on_source = fitted_on  # how many decisions the combiner in use was fitted on (read on use)
        self._fitted_on: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # this process's grading identity: the lease on a submission being graded names it
        self.worker = f"grader@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.sweep_seconds = sweep_seconds
        self._queued: set[str] = set()  # submitted to this process's grading thread, not finished yet
        self._sweeper: threading.Thread | None = None
        self._closed = threading.Event()
        # grading workers (``stackwise worker``, :mod:`grader.worker`) grade; this process only stores
        self.enqueue_only = enqueue_only

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = self._scorer_factory()
        return self._scorer

    def grade_files(self, credential_id: str, files: list[tuple[str, bytes]], reflection: str | None = None,
                    learner_names: list[str] = ()) -> GradingReport:
        """Grade evidence without storing it (``stackwise grade``). Raises EvidenceError / UnknownCredential."""
        credential_or_error(self.catalogue, credential_id)
        texts = [extract_file(name, data, self.intake_limits).text for name, data in files]
        return grade_evidence(self.catalogue, credential_id, texts, self.scorer, reflection=reflection,
                              learner_names=list(learner_names))

    def receive(self, submission: SubmissionIn) -> SubmissionView:
        """Store the submission (``received``, or ``error`` straight away for empty/oversized evidence).

        Raises :class:`UnknownCredential` before anything is stored when the credential does not exist.
        """
        credential_or_error(self.catalogue, submission.credential_id)
        return self.queue.create_submission(submission)

    def submit(self, submission: SubmissionIn) -> SubmissionView:
        """Store the submission, then grade it; the stored view carries the decision or the error."""
        view = self.receive(submission)
        if view.status.value != "received":
            return view  # an idempotent repeat, or stored straight as an error
        return self.grade(view.id)

    def submit_in_background(self, submission: SubmissionIn) -> tuple[SubmissionView, Future[SubmissionView] | None]:
        """Store now, grade on the service's single grading thread (the model is used by one caller at a time).

        Returns the stored view (``received``) at once and the future of the graded view (None when nothing
        is left to grade, or when ``enqueue_only``: a grading worker grades it). Adapters show "received / being
        graded" and poll the queue for the result.
        """
        view = self.receive(submission)
        if view.status.value != "received":
            return view, None
        return view, self._enqueue(view.id)

    def resume_pending(self, *, keep_sweeping: bool = True) -> list[str]:
        """Grade, in the background, submissions a stopped process left behind: ``received`` ones, and
        ``grading`` ones whose grading lease expired (the process died mid-grade; they go back to
        ``received`` first). Returns their ids. With ``keep_sweeping`` a daemon thread does the same every
        ``sweep_seconds`` (a submission another process abandons, or one an assessor retried from the CLI).
        With ``enqueue_only`` nothing is graded here (the grading workers do it): returns ``[]``."""
        if self.enqueue_only:
            return []
        self.queue.recover_stale_grading()
        pending = self.queue.pending_submissions()
        for submission_id in pending:
            self._enqueue(submission_id)
        if keep_sweeping:
            self._start_sweeper()
        return pending

    def retry(self, submission_id: str, actor: str, *, now: bool = False) -> SubmissionView:
        """An assessor's retry of an ``error`` submission (audited with ``actor``): back to ``received``, then
        graded on the grading thread (or here and now with ``now``, for the CLI). Raises
        :class:`InvalidTransition` when the submission is not in ``error``."""
        view = self.queue.retry(submission_id, actor)
        if now:
            return self._grade_logged(submission_id)
        self._enqueue(submission_id)
        return view

    def grading_here(self, submission_id: str) -> bool:
        """Whether this process's grading thread has the submission queued or is grading it (feedback included):
        its outcome is not complete yet, whatever the queue already says."""
        with self._lock:
            return submission_id in self._queued

    def close(self) -> None:
        """Stop the sweeper and let the grading thread finish what it has (no new work is started)."""
        self._closed.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _start_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is not None or self.sweep_seconds <= 0:
                return
            self._sweeper = threading.Thread(target=self._sweep, name="stackwise-grader-sweep", daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        while not self._closed.wait(self.sweep_seconds):
            try:
                self.resume_pending(keep_sweeping=False)
            except Exception:  # a database hiccup: the next sweep tries again
                logger.exception("sweeping for submissions to grade failed")

    def _enqueue(self, submission_id: str) -> Future[SubmissionView] | None:
        """Submit to the grading thread unless this process already has it queued (or only enqueues: the
        grading workers take it from the database)."""
        if self.enqueue_only:
            return None
        with self._lock:
            if submission_id in self._queued:
                return None
            self._queued.add(submission_id)
        return self._worker().submit(self._grade_queued, submission_id)

    def _grade_queued(self, submission_id: str) -> SubmissionView:
        try:
            return self._grade_logged(submission_id)
        finally:
            with self._lock:
                self._queued.discard(submission_id)

    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stackwise-grader")
            return self._executor

    def _grade_logged(self, submission_id: str) -> SubmissionView:
        try:
            return self.grade(submission_id, feedback_now=True)
        except (InvalidTransition, NotLeaseHolder) as exc:  # another worker has it, or it was graded already
            logger.info("not grading submission %s here: %s", submission_id, exc)
            return self.queue._view(submission_id)
        except Exception:  # the submission stays stored; record why grading stopped
            logger.exception("grading submission %s failed", submission_id)
            try:
                return self.queue.record_error(submission_id, GRADING_FAILED, worker=self.worker)
            except (InvalidTransition, NotLeaseHolder):
                return self.queue._view(submission_id)

    def grade(self, submission_id: str, *, feedback_now: bool = False) -> SubmissionView:
        """Grade a stored ``received`` (or ``error``) submission under this process's grading lease and record
        the decision (or the reason it could not be graded). Model calls run at background priority, so a
        learner's chat is answered first (:mod:`llm.priority`).

        Raises :class:`InvalidTransition` when another worker has it or it is graded, :class:`NotLeaseHolder`
        when this worker's lease expired meanwhile and the submission was taken up again (nothing recorded)."""
        job = self.queue.start_grading(submission_id, worker=self.worker, lease_seconds=self.lease_seconds)
        return self.grade_claimed(job, feedback_now=feedback_now)

    def grade_claimed(self, job: GradingJob, *, feedback_now: bool = True) -> SubmissionView:
        """Grade a job this process already holds the grading lease on (:meth:`grade`, or a grading worker's
        :meth:`~grader.queue.GraderQueue.claim_next`), renewing the lease while it works, and record the
        decision. Raises :class:`NotLeaseHolder` when the lease was lost meanwhile (nothing recorded)."""
        submission_id = job.submission_id
        with self._leased(submission_id), background_priority():
            view, report = self._grade_job(job)
        if report is None:
            return view
        if not feedback_now:  # after the decision, never before it; on the grading thread
            self._worker().submit(self._feedback_logged, submission_id, report)
            return view
        # on the grading thread already: the decision is stored (the web shows it at once); whoever waits for
        # this view (the Telegram bot) gets it with the feedback
        self._feedback_logged(submission_id, report)
        return self.queue.get_submission(submission_id, learner_id=view.learner_id)

    @contextmanager
    def _leased(self, submission_id: str) -> Iterator[None]:
        with _Heartbeat(self.queue, submission_id, self.worker, self.lease_seconds):
            yield

    def _grade_job(self, job: Any) -> tuple[SubmissionView, GradingReport | None]:
        """Extract, score and record one claimed job; the report comes back when feedback is to be written."""
        submission_id, learner_id, worker = job.submission_id, job.learner_id, self.worker
        extracted, texts, problems = [], [], []
        for position, stored in enumerate(job.files):
            try:
                text = extract_file(stored.filename, stored.content or b"", self.intake_limits).text
                extracted.append(ExtractedFile(position=position, text=text))
                texts.append(text)
            except EvidenceError as exc:
                extracted.append(ExtractedFile(position=position, error=str(exc)))
                problems.append(str(exc))
        if extracted:
            self.queue.record_extraction(submission_id, extracted, worker=worker)
        links = job.links or [link for t in texts for link in find_links(t)]
        if links:
            texts.append("Links provided: " + " ".join(links))
        if problems and not texts:
            return self.queue.record_error(submission_id, "; ".join(problems), worker=worker), None
        try:
            combine(texts, job.reflection or None)  # unusable evidence is recorded before the model is touched
            report = grade_evidence(
                self.catalogue, job.credential_id, texts, self.scorer, reflection=job.reflection or None,
                learner_names=[job.learner_name] if job.learner_name else [],
                learner_identifiers=[i for i in (learner_id, job.learner_email) if i],
                other_submissions=self.queue.evidence_of_others(job.credential_id, learner_id),
            )
        except EvidenceError as exc:
            return self.queue.record_error(submission_id, "; ".join([*problems, str(exc)]), worker=worker), None
        result = to_grade_result(report)
        if problems:
            result = result.model_copy(update={"decision": "review",
                                               "reasons": [*result.reasons, "unreadable_file"]})
        view = self.queue.record_grade(submission_id, result, model_input=report.evidence_for_model, worker=worker)
        if self._feedback_factory is None or not result.engine_version:
            return view, None
        return view, report

    def after_decision(self) -> bool:
        """Called after an assessor decision: refit the engine in the background once ``refit_after`` new
        decisions have come in since the last fit. Returns whether a refit was started."""
        if self._refit is None or self._refit_after <= 0:
            return False
        if self._fitted_on is None:
            self._fitted_on = self._fitted_on_source() if self._fitted_on_source is not None else 0
        count = len(self.queue.assessor_decisions())
        if count - self._fitted_on < self._refit_after:
            return False
        self._fitted_on = count
        self._worker().submit(self._refit_logged)
        return True

    def _refit_logged(self) -> None:
        try:
            combiner = self._refit()
            scorer = self._scorer
            if combiner is not None and isinstance(scorer, Refittable):
                scorer.combiner = combiner  # the next grade uses the refitted engine
        except Exception:
            logger.exception("refitting the grading engine failed; the previous fit stays in use")

    @property
    def has_feedback(self) -> bool:
        return self._feedback_factory is not None

    def write_feedback(self, report: GradingReport) -> tuple[list[CriterionFeedback], float]:
        """The model-written reason and next step per criterion of a grade (see :mod:`grader.feedback`)."""
        if self._feedback is None:
            if self._feedback_factory is None:
                raise RuntimeError("this grader has no feedback writer")
            self._feedback = self._feedback_factory()
        credential = self.catalogue.credentials[report.credential_id]
        levels = {c.criterion_id: c.level_id for c in report.score.criteria}
        quotes = {c.criterion_id: c.quotes for c in report.score.criteria}
        return self._feedback.write(credential, report.evidence_for_model, levels, quotes)

    def _feedback_logged(self, submission_id: str, report: GradingReport) -> None:
        try:
            with background_priority():
                feedback, seconds = self.write_feedback(report)
            self.queue.record_feedback(submission_id, feedback, seconds,
                                       model=model_label(self._feedback.model) if self._feedback else None)
        except Exception:  # feedback is an extra: the decision stands without it
            logger.exception("writing feedback for submission %s failed", submission_id)
