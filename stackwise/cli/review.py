"""``stackwise review list|show|claim|decide|retry|export``: the assessors' review queue (grader domain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackwise.cli.common import (
    fail,
    grader_or_fail,
    review_app,
)


def _assessor(username: str, password: str | None):
    import os

    from grader.api import authenticate

    secret = password or os.environ.get("STACKWISE_ASSESSOR_PASSWORD")
    if not secret:
        fail("give --password or set STACKWISE_ASSESSOR_PASSWORD")
    account = authenticate(username, secret)
    if account is None:
        fail("unknown assessor or wrong password (accounts come from STACKWISE_ASSESSORS_FILE)")
    return account


@review_app.command("list")
def review_list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Submissions waiting for an assessor, oldest first."""
    items = grader_or_fail().queue.list_queue()
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    if not items:
        typer.echo("the review queue is empty")
    for item in items:
        typer.echo(" ".join(f"{k}={v}" for k, v in item.model_dump(mode="json").items() if v not in (None, [], "")))


@review_app.command("show")
def review_show_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
) -> None:
    """A submission's evidence and AI grade, for an assessor."""
    from grader.api import GraderError

    assessor = _assessor(username, password)
    try:
        detail = grader_or_fail().queue.get_submission(submission, assessor=assessor)
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(detail.model_dump_json(indent=2))


@review_app.command("claim")
def review_claim_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    minutes: Annotated[int, typer.Option(min=1, max=480, help="lease length")] = 30,
) -> None:
    """Claim a submission for review (a lease: nobody else can decide it meanwhile)."""
    from grader.api import GraderError

    assessor = _assessor(username, password)
    try:
        lease = grader_or_fail().queue.claim(submission, assessor, lease_seconds=minutes * 60)
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(lease.model_dump_json())


@review_app.command("decide")
def review_decide_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    decision: Annotated[str, typer.Option(help="approve, reject or resubmit")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    override: Annotated[list[str] | None, typer.Option(help="CRITERION=LEVEL:comment (repeatable)")] = None,
    comment: Annotated[str, typer.Option(help="comment for the learner")] = "",
) -> None:
    """Decide a claimed submission; overrides change criterion levels (with a comment each)."""
    from grader.api import GraderError

    if decision not in {"approve", "reject", "resubmit"}:
        fail("--decision must be approve, reject or resubmit")
    overrides = {}
    for item in override or []:
        crit, sep, rest = item.partition("=")
        level, _, note = rest.partition(":")
        if not sep or not level:
            fail(f"bad --override {item!r}; use CRITERION=LEVEL:comment")
        overrides[crit] = (level, note)
    assessor = _assessor(username, password)
    service = grader_or_fail()
    try:
        view = service.queue.get_submission(submission, assessor=assessor)
        rubric = service.catalogue.credentials[view.credential_id].rubric
        result = service.queue.decide(submission, assessor, decision, overrides, comment, rubric=rubric)
        service.after_decision()
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(result.model_dump_json(indent=2))


@review_app.command("retry")
def review_retry_cmd(
    submission: Annotated[str | None, typer.Argument(help="submission id (leave out to list those in error)")] = None,
    username: Annotated[str | None, typer.Option(help="assessor username")] = None,
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    grade: Annotated[bool, typer.Option("--grade/--queue-only",
                                        help="grade it here and now, or leave it to the running server")] = True,
) -> None:
    """Grade again a submission whose grading stopped with an error (audited with your name); without an id,
    list the submissions in error."""
    from grader.api import GraderError

    service = grader_or_fail()
    if submission is None:
        errored = service.queue.errored_submissions()
        if not errored:
            typer.echo("no submission is in error")
        for view in errored:
            typer.echo(f"{view.id}  {view.credential_id}  {view.updated_at:%Y-%m-%d %H:%M}  {view.error_message}")
        return
    if username is None:
        fail("give --username (and --password or STACKWISE_ASSESSOR_PASSWORD)")
    assessor = _assessor(username, password)
    try:
        # --queue-only: only the state changes here; the running server's sweep grades it (this process exits)
        view = (service.retry(submission, assessor.username, now=True) if grade
                else service.queue.retry(submission, assessor.username))
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"submission {view.id}: {view.status.value}"
               + (f" — {view.error_message}" if view.error_message else "")
               + ("" if grade else " (the running server grades it within a minute)"))


@review_app.command("export")
def review_export_cmd(
    out: Annotated[Path, typer.Option(help="JSONL file to write")],
    credential: Annotated[str | None, typer.Option(help="only this credential")] = None,
) -> None:
    """Write every assessor decision (final level per criterion, the pseudonymised evidence) as JSONL, the
    format 'stackwise eval grading --dataset FILE --catalogue DIR' reads (see FORMAT.md)."""
    from grader.api import export_rows

    rows = export_rows(grader_or_fail().queue.assessor_decisions(credential))
    try:
        with out.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {len(rows)} decided submissions to {out}")
