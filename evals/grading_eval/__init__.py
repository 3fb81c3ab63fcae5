"""Grading evaluation for course teams: how often the grader agrees with human assessors, and what routing
uncertain items to an assessor buys (``stackwise eval grading``).

Public API::

    evaluate(dataset, options, settings=None, out=None, model=None, progress=True) -> (GradingEvalResult, files)
    load_dataset(name_or_path, datasets_dir=..., labels=None) -> GradingDataset   # BUILTIN names or JSONL/CSV
    DatasetError, EvalOptions, GradingEvalResult, BUILTIN

Modules: ``datasets`` (loaders and the generic format, see FORMAT.md), ``metrics`` (pure functions),
``cache`` (resumable per-item results), ``runner`` (calibration plan, scoring, systems, routing),
``report`` (HTML, JSON). The scorers themselves live in :mod:`grader.short_answer` and :mod:`grader.scoring`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.grading_eval.datasets import BUILTIN, DatasetError, GradingDataset, GradingItem, load_dataset
from evals.grading_eval.results import EvalOptions, GradingEvalResult
from evals.grading_eval.runner import Plan

if TYPE_CHECKING:
    from stackwise.config import Settings

__all__ = ["BUILTIN", "DatasetError", "EvalOptions", "GradingDataset", "GradingEvalResult", "GradingItem",
           "default_out_dir", "evaluate", "load_dataset"]


def cache_dir(settings: Settings) -> Path:
    return settings.home / "evals" / "grading-cache"


def default_out_dir(settings: Settings, dataset: str, split: str | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dataset}-{split or 'all'}")
    return settings.home / "evals" / "grading" / f"{safe}-{stamp}"


def _make_scorer(dataset: GradingDataset, options: EvalOptions, settings: Settings, model: Any,
                 embedder_factory: Callable[[], Any] | None):
    from evals.grading_eval.scorers import RubricItemScorer, ShortAnswerItemScorer
    from grader.short_answer import ExamplePool, ShortAnswerScorer, minilm_embedder
    from llm import load_model
    from stackwise.wiring import model_config

    def make(plan: Plan):
        llm = model if model is not None else load_model(model_config(settings))
        if dataset.kind == "rubric":
            from grader.scoring import RubricScorer
            from knowledge import load_catalogue

            return RubricItemScorer(RubricScorer(llm), load_catalogue(settings.catalogue))
        embedder = (embedder_factory or minilm_embedder)() if options.similarity == "embedding" else None
        pool = ExamplePool([i.graded() for i in plan.pool], options.similarity, embedder) if plan.pool else None
        scorer = ShortAnswerScorer(llm, dataset.scale, pool, shots_per_label=options.shots_per_label, embedder=embedder)
        return ShortAnswerItemScorer(scorer)

    return make


def _make_matcher(dataset: GradingDataset, options: EvalOptions, embedder_factory: Callable[[], Any] | None):
    """The answer matcher's factory (None when switched off); the embedder is built once and shared by its fits."""
    from grader.answer_matcher import AnswerMatcher
    from grader.short_answer import minilm_embedder

    if options.matcher == "off" or dataset.kind == "rubric":
        return None
    embedder = None
    if options.matcher == "embedding":
        load = functools.cache(embedder_factory or minilm_embedder)  # on first use: no pool, no model load

        def embedder(texts: list[str]) -> list[list[float]]:
            return load()(texts)
    labels = list(dataset.scale.labels)
    return lambda: AnswerMatcher(labels, embedder)


def evaluate(dataset: str, options: EvalOptions, settings: Settings | None = None, out: Path | None = None, *,
             model: Any = None, labels: list[str] | None = None, progress: bool = True,
             embedder_factory: Callable[[], Any] | None = None) -> tuple[GradingEvalResult, list[Path]]:
    """Load ``dataset`` (a built-in name or a JSONL/CSV path), evaluate the grader on it and write the report.

    ``model``: a loaded model (default: the configured one, loaded on first need); ``embedder_factory``: sentence
    embeddings to use instead of the local MiniLM model. Returns the result and the
    files written into ``out`` (default: a new folder under ``<home>/evals/grading``). Raises
    :class:`DatasetError` for unusable data and ``ValueError`` for inconsistent options.
    """
    from evals.grading_eval import report, runner
    from stackwise.config import get_settings

    settings = settings or get_settings()
    ds = load_dataset(dataset, datasets_dir=settings.datasets_path, catalogue=settings.catalogue, labels=labels)
    ds.resolve_split(options.split)  # fail early on an unknown split
    make = _make_scorer(ds, options, settings, model, embedder_factory)
    result = runner.run(ds, make, options, cache_dir=cache_dir(settings), progress=progress,
                        description=BUILTIN.get(ds.name, f"your dataset {ds.source}"),
                        make_matcher=_make_matcher(ds, options, embedder_factory))
    target = out or default_out_dir(settings, ds.name, result.split)
    return result, report.write(result, target, ds.licence)
