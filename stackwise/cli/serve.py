"""``stackwise serve`` (the web app, :mod:`stackwise.web`) and ``stackwise telegram`` (the bot,
:mod:`stackwise.telegram`)."""

from __future__ import annotations

from typing import Annotated

import typer

from stackwise.cli.common import (
    app,
    assistant_or_fail,
    fail,
    grader_or_fail,
    issuance_or_fail,
)
from stackwise.config import get_settings


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 7860,
    warm: Annotated[bool, typer.Option(help="load the model before accepting questions")] = True,
    telegram: Annotated[bool, typer.Option("--telegram", help="run the Telegram bot instead of the web app")] = False,
) -> None:
    """Start the web app (Gradio: chat, planner, evidence submission, assessor review), or with --telegram the
    Telegram bot. Assessor log-in needs STACKWISE_ASSESSORS_FILE (see `python -m grader.accounts hash`)."""
    if telegram:
        telegram_cmd()
        return
    from stackwise.web.shell import launch

    service, grader, issuance = assistant_or_fail(), grader_or_fail(), issuance_or_fail()
    typer.echo(f"Stackwise web app on http://{host}:{port} (Ctrl+C stops it)")
    launch(service, host=host, port=port, warm=warm, grader=grader, issuance=issuance)


@app.command("telegram")
def telegram_cmd() -> None:
    """Run the Telegram bot (token from STACKWISE_TELEGRAM_TOKEN; needs access to api.telegram.org)."""
    from llm import ModelAssemblyError
    from stackwise.telegram.bot import run_bot
    from stackwise.wiring import SetupError

    try:
        run_bot(get_settings())
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))
