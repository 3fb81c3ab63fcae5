"""The rubric engine eval's report: ``summary.json`` and a self-contained ``report.html`` (Jinja2, autoescaped:
``evals/templates/rubric_report.html.j2``)."""

from __future__ import annotations

from pathlib import Path

from evals.reporting import render
from evals.rubric_eval.runner import RubricEvalResult


def write(result: RubricEvalResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.json"
    summary.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    html = out / "report.html"
    html.write_text(render("rubric_report.html.j2", r=result), encoding="utf-8")
    return [html, summary]
