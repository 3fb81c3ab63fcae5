"""``stackwise issue``, ``stackwise verify`` and ``stackwise revoke``: the issuance domain."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from stackwise.cli.common import (
    app,
    fail,
    issuance_or_fail,
)
from stackwise.config import get_settings


@app.command("issue")
def issue_cmd(
    submission: Annotated[str, typer.Argument(help="submission id (passed, or approved by an assessor)")],
    out: Annotated[Path | None, typer.Option(help="write the signed credential (JSON) to this file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the signed credential")] = False,
) -> None:
    """Issue the signed Open Badges 3.0 credential for a passed or approved submission (again: the same one)."""
    from issuance.api import IssuanceError

    service = issuance_or_fail()
    before = service.for_submission(submission)
    try:
        issued = service.issue(submission, actor="cli")
    except IssuanceError as exc:
        fail(str(exc))
    if out is not None:
        out.write_text(json.dumps(issued.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(issued.document, indent=2, ensure_ascii=False))
        return
    what = "already issued" if before is not None else "issued"
    typer.echo(f"{what}: {issued.id} ({issued.title}) for submission {issued.submission_id} on "
               f"{issued.issued_at:%Y-%m-%d %H:%M} UTC"
               + (f", valid until {issued.valid_until:%Y-%m-%d}" if issued.valid_until else "")
               + (f"; REVOKED: {issued.revocation_reason}" if issued.revoked else ""))
    typer.echo(f"  {service.config.credential_url(issued.uuid)}" + (f"  (written to {out})" if out else ""))


#: exit code of `stackwise verify` per verdict (2: the credential could not be read at all)
VERIFY_EXIT = {"trusted": 0, "invalid": 1, "untrusted": 3, "cannot_check": 4}


@app.command("verify")
def verify_cmd(
    target: Annotated[str, typer.Argument(help="credential file (.json, baked .svg/.png) or this app's URL of it")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Verify a credential: schema, proof, revocation status, validity window and whether the issuer is trusted.

    Exit code: 0 valid, from a trusted issuer; 1 not valid; 3 valid signature, issuer not trusted; 4 cannot
    check (a key or status list out of reach); 2 the file cannot be read. Nothing is fetched from the network
    except this app's own URLs. Trusted: this instance's issuers and those in STACKWISE_TRUSTED_ISSUERS.
    """
    service = issuance_or_fail()
    from issuance.api import CredentialSourceError, read_credential

    try:
        document = read_credential(target, service, get_settings().public_url)
    except CredentialSourceError as exc:
        fail(str(exc))
    report = service.verify(document)
    typer.echo(report.model_dump_json(indent=2) if as_json else report.summary())
    raise typer.Exit(VERIFY_EXIT[report.verdict.value])


def _revoking_password(password_file: Path | None) -> str:
    """The password from --password-file, STACKWISE_PASSWORD (or STACKWISE_ASSESSOR_PASSWORD), or a prompt."""
    import getpass
    import os

    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the password file {password_file}: {getattr(exc, 'strerror', None) or exc}")
        return lines[0] if lines else ""
    for name in ("STACKWISE_PASSWORD", "STACKWISE_ASSESSOR_PASSWORD"):
        if os.environ.get(name):
            return os.environ[name]
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    fail("a password is needed: give --password-file, set STACKWISE_PASSWORD, or run in a terminal to be asked")


@app.command("revoke")
def revoke_cmd(
    credential: Annotated[str, typer.Argument(help="credential id (urn:uuid:…, the UUID, or its URL)")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    user: Annotated[str, typer.Option("--user", help="your issuer-admin account (STACKWISE_ASSESSORS_FILE)")],
    password_file: Annotated[Path | None, typer.Option(help="file whose first line is the password")] = None,
) -> None:
    """Revoke an issued credential: its status-list bit is set; the reason and the authenticated issuer-admin
    go into the audit log. The password is asked for (or read from --password-file or STACKWISE_PASSWORD)."""
    from grader.api import AssessorsFileInvalid, assessors_file, authenticate_issuer_admin
    from issuance.api import IssuanceError

    if assessors_file() is None:
        fail("revocation needs an issuer-admin account: set STACKWISE_ASSESSORS_FILE (role = \"issuer-admin\")")
    secret = _revoking_password(password_file)
    if not secret:
        fail("an empty password is not accepted")
    try:
        account, is_admin = authenticate_issuer_admin(user, secret)
    except AssessorsFileInvalid as exc:
        fail(str(exc))
    if account is None:
        fail("unknown account or wrong password: nothing was revoked")
    if not is_admin:
        fail(f"{user} is not an issuer-admin (role in STACKWISE_ASSESSORS_FILE): nothing was revoked")
    service = issuance_or_fail()
    try:
        revoked = service.revoke(credential, reason, account.username, via="cli")
    except IssuanceError as exc:
        fail(str(exc))
    typer.echo(f"revoked by {account.username}: {revoked.id} ({revoked.title}); status list {revoked.status_list} "
               f"index {revoked.status_index} is set")
