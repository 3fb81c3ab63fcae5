"""The grader's one public face: what channels (CLI, web, Telegram), the wiring and evals import.

Everything else in ``grader/`` is internal and may move; import from here. Contents:

- **services**: :class:`GraderService` (receive, grade in the background, retry, feedback, refit) over a
  :class:`GraderQueue` (submissions, the review queue, the *ready to issue* event: ``listeners=`` /
  :meth:`GraderQueue.subscribe`, per instance), built by :func:`open_queue` with :func:`rubrics_from_catalogue`;
  :class:`GradingWorker` claims and grades submissions in a ``stackwise worker`` process;
  :func:`to_grade_result` turns a grading report into the stored :class:`GradeResult`; :class:`Listeners` is
  the per-instance event list (issuance uses it for its own *issued* event).
- **scorers** (what the wiring assembles): :class:`EngineScorer` over :class:`EvidenceReader` and
  :class:`CheckReader` (:func:`questions_for` says which questions a fitted combiner reads;
  :func:`load_combiner`, :func:`save_combiner`, :data:`SHIPPED_COMBINER`), :class:`ModelJudge` (the injection
  judge, :data:`WEIGHTS_FILE`), :func:`minilm_embedder`, :class:`FeedbackWriter`, the legacy
  :class:`RubricScorer` (:data:`STRATEGIES`), the :class:`Scorer` and :class:`ChoiceModel` protocols.
- **refitting**: :func:`refit`, :func:`compare_groups`, :func:`from_decisions`, :func:`load_examples`,
  :func:`save_examples`, :func:`exemplar_examples`, :func:`export_rows`, :data:`BASE_EXAMPLES`,
  :data:`CANDIDATE_GROUPS`.
- **pydantic in/out models**: :class:`SubmissionIn` in; :class:`SubmissionView`, :class:`SubmissionDetail`,
  :class:`QueueItem`, :class:`Lease`, :class:`ReviewDecision`, :class:`AgreementStat`, :class:`AuditEntry`,
  :class:`ReadyToIssue`, :class:`GradeResult`, :class:`CriterionGrade`, :class:`CriterionOutcome`,
  :class:`Assessor` out; :class:`Status`, :data:`ISSUABLE_STATUSES`, :data:`Decision`; :class:`IntakeLimits`.
- **evidence intake** (what an upload may be, checked before it is stored): :func:`extract_file`,
  :func:`sniff_media_type`, :func:`check_archive`, :data:`DOCX`, :data:`PDF`, :data:`TEXT_TYPES`,
  :data:`MAX_FILE_BYTES`, :data:`MAX_TOTAL_CHARS`, :data:`MB`, :data:`DEFAULT_LIMITS`.
- **plain words**: :func:`reason_sentence` / :func:`reason_sentences` (review reason codes as sentences naming
  the criteria, :mod:`grader.reasons`), :func:`estimate_wait` / :func:`describe_wait` (a learner's wait for an
  assessor, from :meth:`GraderQueue.review_times`, :mod:`grader.waiting`).
- **accounts**: :func:`authenticate`, :func:`authenticate_issuer_admin`, :func:`is_issuer_admin`,
  :func:`load_assessors`, :func:`assessors_file`.
- **forget me**: :func:`learner_data` (what is held), :func:`erase_learner` (delete it, keep the audit's
  unlinked skeleton; :class:`GraderErasure`).
- **errors**: the root :class:`GraderError` and every subclass (:mod:`grader.errors`).
- **for evals/** (the engine's research surface): grading without storing (:func:`grade_evidence`,
  :func:`rubric_terms`), the engine's parts (criteria specs, readings, the combiner fitting and routing), the
  injection features and the short-answer model.

The combiner, fitting and refitting names (numpy, scipy) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from grader.accounts import (
    assessors_configured,
    assessors_file,
    authenticate,
    authenticate_issuer_admin,
    is_issuer_admin,
    load_assessors,
)
from grader.answer_matcher import AnswerMatcher, cross_fitted
from grader.checks import CheckReader
from grader.choice_model import ChoiceModel
from grader.engine import (
    CriterionSpec,
    EvidenceReader,
    GradedExample,
    LevelSpec,
    Reading,
    complete,
    credential_specs,
    median_level,
    questions_for,
)
from grader.erasure import GraderErasure, erase_learner, learner_data
from grader.errors import (
    ERRORS_BY_CODE,
    AssessorsFileInvalid,
    ClaimConflict,
    EmptyEvidence,
    EngineError,
    EvidenceError,
    ExtractionMemory,
    ExtractionTimeout,
    GraderError,
    IdempotencyConflict,
    InvalidOverride,
    InvalidTransition,
    JustificationRequired,
    LeaseExpired,
    NotLeaseHolder,
    RubricRequired,
    ScannedImageOnly,
    SubmissionNotFound,
    TooLarge,
    UnknownCredential,
    Unreadable,
    UnsupportedType,
)
from grader.events import Listeners
from grader.evidence import (
    DEFAULT_LIMITS,
    DOCX,
    MAX_FILE_BYTES,
    MAX_TOTAL_CHARS,
    MB,
    PDF,
    TEXT_TYPES,
    IntakeLimits,
    check_archive,
    extract_file,
    sniff_media_type,
)
from grader.feedback import FeedbackWriter
from grader.grading import GradingReport, grade_evidence, rubric_terms
from grader.injection import (
    FEATURES,
    WEIGHTS_FILE,
    PassageJudge,
    features,
    group_passages,
    passages,
    scan_injection,
)
from grader.injection_judge import ModelJudge
from grader.models import (
    ISSUABLE_STATUSES,
    AgreementStat,
    Assessor,
    AuditEntry,
    CriterionFeedback,
    CriterionGrade,
    CriterionOutcome,
    DecidedSubmission,
    Decision,
    GradeResult,
    Lease,
    QueueItem,
    ReadyToIssue,
    ReviewDecision,
    Status,
    SubmissionDetail,
    SubmissionIn,
    SubmissionView,
)
from grader.normalise import normalise
from grader.queue import (
    DEFAULT_GRADING_LEASE_SECONDS,
    DEFAULT_LEASE_SECONDS,
    GraderQueue,
    Rescorer,
    RubricLike,
    open_queue,
    rubric_scorer,
    rubrics_from_catalogue,
)
from grader.reasons import reason_name, reason_sentence, reason_sentences
from grader.scoring import STRATEGIES, RubricScorer, Scorer
from grader.service import GraderService, to_grade_result
from grader.short_answer import (
    SCALES,
    Calibrator,
    ExamplePool,
    GradedAnswer,
    LabelScale,
    RawScore,
    ShortAnswerScorer,
    ShortAnswerTask,
    fit_temperature,
    knn_features,
    lexical_features,
    minilm_embedder,
    scale_for,
)
from grader.text_features import text_stats
from grader.waiting import ReviewTime, WaitEstimate, describe_wait, estimate_wait, human_duration
from grader.worker import GradingWorker, WorkerStats

# numpy and scipy come in with these: imported on first use, so a channel that only queues and reviews
# does not pay for them
if TYPE_CHECKING:
    from grader.engine_scorer import SHIPPED_COMBINER, EngineScorer, load_combiner, save_combiner
    from grader.fitting import (
        FOLDS,
        GradedSubmission,
        PassRule,
        RoutingFit,
        choose_routing,
        decision,
        fit_combiner,
        out_of_fold,
        predict,
    )
    from grader.training import (
        BASE_EXAMPLES,
        CANDIDATE_GROUPS,
        compare_groups,
        exemplar_examples,
        exemplar_rows,
        export_rows,
        from_decisions,
        load_examples,
        pool_examples,
        refit,
        save_examples,
    )

_LAZY = {
    "SHIPPED_COMBINER": "grader.engine_scorer",
    "EngineScorer": "grader.engine_scorer",
    "load_combiner": "grader.engine_scorer",
    "save_combiner": "grader.engine_scorer",
    "FOLDS": "grader.fitting",
    "GradedSubmission": "grader.fitting",
    "PassRule": "grader.fitting",
    "RoutingFit": "grader.fitting",
    "choose_routing": "grader.fitting",
    "decision": "grader.fitting",
    "fit_combiner": "grader.fitting",
    "out_of_fold": "grader.fitting",
    "predict": "grader.fitting",
    "BASE_EXAMPLES": "grader.training",
    "CANDIDATE_GROUPS": "grader.training",
    "compare_groups": "grader.training",
    "exemplar_examples": "grader.training",
    "exemplar_rows": "grader.training",
    "export_rows": "grader.training",
    "from_decisions": "grader.training",
    "load_examples": "grader.training",
    "pool_examples": "grader.training",
    "refit": "grader.training",
    "save_examples": "grader.training",
}


__all__ = [
    # services
    "GraderService", "GradingWorker", "WorkerStats", "GraderQueue",
    "open_queue", "rubrics_from_catalogue", "to_grade_result",
    "DEFAULT_GRADING_LEASE_SECONDS", "DEFAULT_LEASE_SECONDS", "Rescorer", "RubricLike", "rubric_scorer", "Listeners",
    # scorers
    "EngineScorer", "EvidenceReader", "CheckReader", "questions_for", "load_combiner", "save_combiner",
    "SHIPPED_COMBINER", "ModelJudge", "WEIGHTS_FILE", "minilm_embedder", "FeedbackWriter", "RubricScorer",
    "STRATEGIES", "Scorer", "ChoiceModel",
    # refitting
    "refit", "compare_groups", "from_decisions", "load_examples", "save_examples", "exemplar_examples",
    "export_rows", "BASE_EXAMPLES", "CANDIDATE_GROUPS",
    # pydantic in/out models
    "SubmissionIn", "SubmissionView", "SubmissionDetail", "QueueItem", "Lease", "ReviewDecision", "AgreementStat",
    "AuditEntry", "ReadyToIssue", "GradeResult", "CriterionGrade", "CriterionOutcome", "CriterionFeedback",
    "DecidedSubmission", "Assessor", "Status", "ISSUABLE_STATUSES", "Decision", "IntakeLimits",
    # evidence intake
    "extract_file", "sniff_media_type", "check_archive", "DOCX", "PDF", "TEXT_TYPES", "MAX_FILE_BYTES",
    "MAX_TOTAL_CHARS", "MB", "DEFAULT_LIMITS",
    # plain words: review reasons as sentences, the learner's waiting-time estimate
    "reason_name", "reason_sentence", "reason_sentences", "ReviewTime", "WaitEstimate", "describe_wait",
    "estimate_wait", "human_duration",
    # accounts
    "authenticate", "authenticate_issuer_admin", "is_issuer_admin", "load_assessors", "assessors_file",
    "assessors_configured",
    # forget me
    "learner_data", "erase_learner", "GraderErasure",
    # errors
    "GraderError", "SubmissionNotFound", "InvalidTransition", "IdempotencyConflict", "ClaimConflict",
    "NotLeaseHolder", "LeaseExpired", "InvalidOverride", "RubricRequired", "JustificationRequired",
    "UnknownCredential", "EvidenceError", "UnsupportedType", "TooLarge", "EmptyEvidence", "Unreadable",
    "ScannedImageOnly", "ExtractionTimeout", "ExtractionMemory", "ERRORS_BY_CODE", "EngineError",
    "AssessorsFileInvalid",
    # for evals/
    "GradingReport", "grade_evidence", "rubric_terms", "normalise", "CriterionSpec", "LevelSpec", "GradedExample",
    "Reading", "complete", "credential_specs", "median_level", "text_stats", "exemplar_rows", "pool_examples",
    "FOLDS", "GradedSubmission", "PassRule", "RoutingFit", "choose_routing", "decision", "fit_combiner",
    "out_of_fold", "predict", "FEATURES", "PassageJudge", "features", "passages", "group_passages", "scan_injection",
    "AnswerMatcher", "cross_fitted", "SCALES", "Calibrator", "ExamplePool", "GradedAnswer", "LabelScale",
    "RawScore", "ShortAnswerScorer", "ShortAnswerTask", "fit_temperature", "knn_features", "lexical_features",
    "scale_for",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
