"""``stackwise ask`` and ``stackwise plan``: the assistant domain."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stackwise.cli.common import (
    app,
    assistant_or_fail,
    fail,
)


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="the learner's question")],
    holding: Annotated[str | None, typer.Option(help="credentials you hold, comma-separated: ids, titles, the "
                                                "provider's codes or CTDL ctids")] = None,
    learner: Annotated[str, typer.Option(help="learner id (conversation memory is per learner)")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Ask the assistant; prints the answer, its citations and the planner result if one was used."""
    from assistant.api import AssistantError

    service = assistant_or_fail()
    try:
        held = service.parse_holding(holding)
        if as_json:
            answer = service.ask(learner, question, held)
            typer.echo(answer.model_dump_json(indent=2))
            return
        answer = None
        streamed = ""
        for event in service.stream(learner, question, held):
            if event.type == "token":
                streamed += event.text
                typer.echo(event.text, nl=False)
            else:
                answer = event.answer
    except AssistantError as exc:
        fail(str(exc))
    typer.echo("")
    if answer is not None and answer.text.strip() not in streamed:
        typer.echo(answer.text)  # the streamed text was replaced (a refusal, or a translation that lost a figure)
    if answer and answer.citations:
        label = "Nearest entries" if answer.refused else "Sources"
        typer.echo(f"{label}: " + "; ".join(c.label for c in answer.citations))


@app.command("plan")
def plan_cmd(
    target: Annotated[str, typer.Option("--target", help="pathway id")],
    holding: Annotated[str, typer.Option(help="credential ids you hold, comma-separated")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Exact pathway planning: what is still needed, the cheapest route in study order, credit recognised."""
    from assistant.api import AssistantError, PlannerError

    service = assistant_or_fail()
    try:
        held = service.parse_holding(holding)
        result = service.plan(held, target)
        answer = service.plan_answer(held, target)
    except (AssistantError, PlannerError) as exc:
        fail(str(exc))
    typer.echo(json.dumps(result, indent=2) if as_json else answer.text)
