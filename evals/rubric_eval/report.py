"""The rubric engine eval's report: ``summary.json`` and a self-contained ``report.html`` (Jinja2, autoescaped)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from evals.rubric_eval.runner import RubricEvalResult

_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]))


def write(result: RubricEvalResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.json"
    summary.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    html = out / "report.html"
    html.write_text(_ENV.get_template("report.html.j2").render(r=result), encoding="utf-8")
    return [html, summary]
