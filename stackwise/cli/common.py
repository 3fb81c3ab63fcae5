"""The root ``stackwise`` Typer app, its command groups, and what every command module shares."""

from __future__ import annotations

from pathlib import Path

import typer

from stackwise.config import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Stackwise: stackable micro-credentials, offline.")
catalogue_app = typer.Typer(no_args_is_help=True, help="Validate and import catalogues.")
model_app = typer.Typer(no_args_is_help=True, help="The bundled open-weights model.")
app.add_typer(catalogue_app, name="catalogue")
eval_app = typer.Typer(no_args_is_help=True, help="Offline evaluations and benchmarks.")
review_app = typer.Typer(no_args_is_help=True, help="The assessors' review queue.")
app.add_typer(review_app, name="review")
grader_app = typer.Typer(no_args_is_help=True, help="The grading engine: fit it on graded evidence.")
app.add_typer(grader_app, name="grader")
app.add_typer(model_app, name="model")
app.add_typer(eval_app, name="eval")


class UserError(Exception):
    """An error whose message is for the user; shown without a traceback."""


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def catalogue_path(path: Path | None) -> Path:
    return path if path is not None else get_settings().catalogue


def load_or_fail(path: Path):
    from knowledge.api import CatalogueInvalid, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"catalogue {path} is invalid ({len(exc.problems)} problem(s)); run `stackwise catalogue validate`", 1)


def assistant_or_fail():
    from llm import ModelAssemblyError
    from stackwise.wiring import SetupError, assistant_service

    try:
        return assistant_service()
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


def grader_or_fail():
    from llm import ModelAssemblyError
    from stackwise.wiring import SetupError, grader_service

    try:
        return grader_service()
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


def issuance_or_fail():
    from stackwise.wiring import SetupError, issuance_service

    try:
        return issuance_service()
    except SetupError as exc:
        fail(str(exc))
