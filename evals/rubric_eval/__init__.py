"""The rubric engine's evaluation (``stackwise eval grading --dataset demo-evidence|ellipse|EXPORT.jsonl``).

Public API::

    load(name_or_path, settings) -> RubricDataset
    make_reader(questions, settings, model=None) -> (EvidenceReader, config)
    evaluate(dataset, settings, questions="checks", out=None, ...) -> (RubricEvalResult, files)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.rubric_eval.datasets import (
    RubricDataset,
    RubricDatasetError,
    load_demo_evidence,
    load_ellipse,
    load_export,
    load_short_answers,
)
from evals.rubric_eval.runner import RubricEvalResult, render_text, run

if TYPE_CHECKING:
    from stackwise.config import Settings

BUILTIN = {"demo-evidence": "the demo catalogue's labelled portfolio evidence (train/test split fixed in the files)",
           "ellipse": "ELLIPSE essays, six analytic criteria, two raters, split across writing prompts"}
SHORT_ANSWER = {"engine:scientsbank-2way", "engine:beetle-2way", "engine:saf"}  # short answers through the engine
__all__ = ["BUILTIN", "RubricDataset", "RubricDatasetError", "RubricEvalResult", "evaluate", "load", "make_reader",
           "render_text"]


def is_rubric_dataset(name_or_path: str) -> bool:
    if name_or_path in BUILTIN or name_or_path in SHORT_ANSWER:
        return True
    return name_or_path.endswith(".jsonl") and _looks_like_export(Path(name_or_path))


def _looks_like_export(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline() or "{}")
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(first, dict) and "credential" in first and "levels" in first


def load(name_or_path: str, settings: Settings, catalogue_path: Path | None = None,
         split: str | None = None) -> RubricDataset:
    from knowledge import load_catalogue

    if name_or_path in SHORT_ANSWER:
        return load_short_answers(name_or_path.removeprefix("engine:"), split or "ua", settings.datasets_path)
    if name_or_path == "ellipse":
        return load_ellipse(settings.datasets_path)
    catalogue = load_catalogue(catalogue_path or settings.catalogue)
    if name_or_path == "demo-evidence":
        return load_demo_evidence(catalogue)
    return load_export(Path(name_or_path).expanduser(), catalogue)


def make_reader(questions: str, settings: Settings, model: Any = None):
    """The evidence reader for an eval: ``questions`` ``none`` (model-free), ``checks``, ``letters`` or ``both``."""
    from grader.checks import CheckReader
    from grader.engine import EvidenceReader
    from grader.short_answer import minilm_embedder

    if questions == "none":
        return EvidenceReader(minilm_embedder()), {"model": "none", "prompt": "-", "questions": "none"}
    from llm import load_model
    from stackwise.wiring import model_config

    checks = CheckReader(model if model is not None else load_model(model_config(settings)), questions)  # type: ignore[arg-type]
    return EvidenceReader(minilm_embedder(), checks), checks.config


def shipped_variant() -> str | None:
    """The variant whose feature groups the shipped combiner reads (the figures that describe the product)."""
    from evals.rubric_eval.runner import VARIANTS
    from grader.engine import EngineError
    from grader.engine_scorer import load_combiner

    try:
        groups = set(load_combiner().groups)
    except EngineError:
        return None
    return next((name for name, g in VARIANTS.items() if set(g) == groups), None)


def cache_root(settings: Settings) -> Path:
    return settings.home / "evals" / "rubric-cache"


def evaluate(name_or_path: str, settings: Settings, *, questions: str = "checks", out: Path | None = None,
             catalogue_path: Path | None = None, model: Any = None, progress: bool = True,
             split: str | None = None, **options: Any) -> tuple[RubricEvalResult, list[Path]]:
    dataset = load(name_or_path, settings, catalogue_path, split)
    reader, config = make_reader(questions, settings, model)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=0, desc=f"reading {dataset.name}", unit="item")

        def advance(n: int, total: int) -> None:
            bar.total = total
            bar.n = n
            bar.refresh()
    result = run(dataset, reader, config, cache_root(settings), progress=advance if bar else None,
                 primary=shipped_variant(), **options)
    if bar:
        bar.close()
    files: list[Path] = []
    if out is not None:
        from evals.rubric_eval.report import write

        files = write(result, out)
    return result, files
