"""What a grading evaluation produces: the options, per-system metrics, routing, per-question rows, per-item
records and the whole result (pydantic, written to ``summary.json`` and ``items.jsonl``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from evals.grading_eval import metrics as M


class EvalOptions(BaseModel):
    split: str | None = None
    limit: int | None = Field(default=None, ge=1)
    calibration_split: str | None = None
    calibration_limit: int = Field(default=300, ge=2)
    shots_per_label: int = Field(default=0, ge=0)  # graded examples in the prompt: no gain measured, 3x the time
    similarity: Literal["lexical", "embedding"] = "lexical"  # MiniLM measured no better on SciEntsBank UA, ~10x slower
    matcher: Literal["lexical", "embedding", "off"] = "lexical"  # grader.answer_matcher, fitted on the pool
    target_accuracy: float = Field(default=0.95, gt=0, le=1)
    seed: int = 0
    use_cache: bool = True



class SystemMetrics(BaseModel):
    name: str
    kind: Literal["model", "baseline"]
    description: str
    n: int
    accuracy: float
    macro_f1: float
    kappa: float | None
    qwk: float | None  # ordinal scales only
    auroc: float | None  # two-label scales only: P(higher label) against gold
    ece: float
    brier: float
    log_loss: float
    per_label_f1: dict[str, float]
    confusion: list[list[int]]  # rows gold, columns predicted, in the scale's order
    predicted_share: dict[str, float]


class Routing(BaseModel):
    system: str
    target_accuracy: float
    threshold: float | None  # None: no threshold reached the target on the calibration items
    chosen_on: str
    calibration: M.CoveragePoint
    test: M.CoveragePoint
    accuracy_at_60_coverage: float | None  # on the evaluated items, ranking by confidence (no threshold)
    coverage_at_target_oracle: float  # the most coverage an oracle threshold on the evaluated items gets
    aurc: float
    curve_test: list[M.CoveragePoint]
    curve_calibration: list[M.CoveragePoint]


class QuestionRow(BaseModel):
    question_id: str
    question: str
    n: int
    gold: dict[str, int]
    accuracy: float
    macro_f1: float
    mean_confidence: float
    auto_share: float  # share above the routing threshold
    auto_accuracy: float | None


class ItemRecord(BaseModel):
    id: str
    question_id: str
    gold: str
    predicted: str
    confidence: float
    auto: bool
    probabilities: dict[str, float]
    model: dict[str, float]
    response: str
    seconds: float


class GradingEvalResult(BaseModel):
    dataset: str
    description: str
    source: str
    split: str | None
    items: int
    labels: list[str]
    ordinal: bool
    gold_distribution: dict[str, int]
    model: str
    prompt_id: str
    scorer_config: dict[str, Any]
    options: EvalOptions
    calibration_mode: str
    regime: str
    calibration_items: int
    pool_items: int
    fitted_temperature: float | None
    primary: str
    systems: list[SystemMetrics]
    routing: Routing
    reliability: list[M.ReliabilityBin]
    reliability_raw: list[M.ReliabilityBin]
    per_question: list[QuestionRow]
    scored: int
    from_cache: int
    seconds: float
    seconds_per_item: float | None  # mean model time per newly scored item
    cache_file: str | None
    started: str
    caveats: list[str]
    licence_note: str
    calibrator: dict[str, Any] | None = None  # the primary system's fitted calibrator (Calibrator.from_dict)
    records: list[ItemRecord] = Field(default_factory=list, exclude=True)

    def system(self, name: str) -> SystemMetrics:
        return next(s for s in self.systems if s.name == name)
