"""The grader's service layer: submission → extraction → grading → stored decision.

Adapters (CLI, Gradio, Telegram) call this; it owns the order of steps and never loses input:
whatever goes wrong after the submission is stored is recorded on it as an error.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.evidence import EvidenceError, extract_file, find_links
from grader.grading import GradingReport, credential_or_error, grade_evidence
from grader.models import CriterionGrade, ExtractedFile, GradeResult, SubmissionIn, SubmissionView
from grader.queue import GraderQueue
from grader.scoring import RubricScorer
from knowledge.schema import Catalogue


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
    )


class GraderService:
    def __init__(self, catalogue: Catalogue, queue: GraderQueue, scorer_factory: Callable[[], RubricScorer]):
        self.catalogue = catalogue
        self.queue = queue
        self._scorer_factory = scorer_factory
        self._scorer: RubricScorer | None = None

    @property
    def scorer(self) -> RubricScorer:
        if self._scorer is None:
            self._scorer = self._scorer_factory()
        return self._scorer

    def grade_files(self, credential_id: str, files: list[tuple[str, bytes]], reflection: str | None = None,
                    learner_names: list[str] = ()) -> GradingReport:
        """Grade evidence without storing it (``stackwise grade``). Raises EvidenceError / UnknownCredential."""
        credential_or_error(self.catalogue, credential_id)
        texts = [extract_file(name, data).text for name, data in files]
        return grade_evidence(self.catalogue, credential_id, texts, self.scorer, reflection=reflection,
                              learner_names=list(learner_names))

    def submit(self, submission: SubmissionIn) -> SubmissionView:
        """Store the submission, then grade it; the stored view carries the decision or the error."""
        credential_or_error(self.catalogue, submission.credential_id)
        view = self.queue.create_submission(submission)
        if view.status.value != "received":
            return view  # an idempotent repeat, or stored straight as an error
        job = self.queue.start_grading(view.id)
        extracted, texts, problems = [], [], []
        for position, stored in enumerate(job.files):
            try:
                text = extract_file(stored.filename, stored.content or b"").text
                extracted.append(ExtractedFile(position=position, text=text))
                texts.append(text)
            except EvidenceError as exc:
                extracted.append(ExtractedFile(position=position, error=str(exc)))
                problems.append(str(exc))
        if extracted:
            self.queue.record_extraction(view.id, extracted)
        links = job.links or [link for t in texts for link in find_links(t)]
        if links:
            texts.append("Links provided: " + " ".join(links))
        if problems and not texts:
            return self.queue.record_error(view.id, "; ".join(problems))
        try:
            report = grade_evidence(
                self.catalogue, job.credential_id, texts, self.scorer, reflection=job.reflection or None,
                learner_names=[job.learner_name] if job.learner_name else [],
                learner_identifiers=[i for i in (submission.learner_id, job.learner_email) if i],
            )
        except EvidenceError as exc:
            return self.queue.record_error(view.id, "; ".join([*problems, str(exc)]))
        result = to_grade_result(report)
        if problems:
            result = result.model_copy(update={"decision": "review",
                                               "reasons": [*result.reasons, "unreadable_file"]})
        return self.queue.record_grade(view.id, result, model_input=report.evidence_for_model)
