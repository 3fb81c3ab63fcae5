"""Assessor accounts: a TOML or YAML file named by ``STACKWISE_ASSESSORS_FILE`` holding bcrypt hashes only.

TOML::

    [[assessors]]
    username = "alice"
    display_name = "Alice Example"
    password_hash = "$2b$12$..."        # from: python -m grader.accounts hash
    role = "issuer-admin"               # optional: "assessor" (default) or "issuer-admin"

YAML::

    assessors:
      - username: alice
        password_hash: "$2b$12$..."

Roles: every account can work the review queue; ``issuer-admin`` accounts may also revoke credentials
(:func:`authenticate_issuer_admin`, :func:`is_issuer_admin`). Files without ``role`` stay valid (assessor).

Plain passwords are refused (the file must never hold one, and none belongs in the repository). The file
is read on every :func:`authenticate` call, so edits apply without a restart.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import AssessorsFileInvalid
from grader.models import Assessor

ASSESSORS_FILE_ENV = "STACKWISE_ASSESSORS_FILE"
BCRYPT_MAX_BYTES = 72
ASSESSOR = "assessor"
ISSUER_ADMIN = "issuer-admin"
Role = Literal["assessor", "issuer-admin"]
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")


class AssessorAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")
    password_hash: str
    display_name: str = ""
    role: Role = ASSESSOR

    @field_validator("password_hash")
    @classmethod
    def _is_bcrypt(cls, value: str) -> str:
        if not _BCRYPT_HASH.match(value):
            raise ValueError("password_hash must be a bcrypt hash ($2b$...); make one with "
                             "`python -m grader.accounts hash`")
        return value

    def assessor(self) -> Assessor:
        return Assessor(username=self.username, display_name=self.display_name or self.username)


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash of ``password`` for the assessors file. bcrypt reads at most 72 bytes, so longer
    passwords are refused rather than silently truncated."""
    raw = password.encode("utf-8")
    if not raw:
        raise ValueError("empty password")
    if len(raw) > BCRYPT_MAX_BYTES:
        raise ValueError(f"password longer than {BCRYPT_MAX_BYTES} bytes (bcrypt's limit)")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode("ascii")


def assessors_file() -> Path | None:
    value = os.environ.get(ASSESSORS_FILE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def assessors_configured() -> bool:
    """Can anyone log in as an assessor now? (an assessors file that names at least one valid account)"""
    if assessors_file() is None:
        return False
    try:
        return bool(load_assessors())
    except AssessorsFileInvalid:
        return False


def load_assessors(path: Path | str | None = None) -> dict[str, AssessorAccount]:
    """Accounts by username from ``path`` (default: ``$STACKWISE_ASSESSORS_FILE``; none configured = none)."""
    path = Path(path) if path is not None else assessors_file()
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssessorsFileInvalid(f"cannot read assessors file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise AssessorsFileInvalid(f"assessors file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: "
                                   f"{exc}") from exc
    entries = (data or {}).get("assessors", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise AssessorsFileInvalid(f"assessors file {path} must have a list named 'assessors'")
    accounts: dict[str, AssessorAccount] = {}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and "password" in entry:
            raise AssessorsFileInvalid(f"{path}: entry {i + 1} has a plain 'password'; store only 'password_hash'")
        try:
            account = AssessorAccount.model_validate(entry)
        except ValidationError as exc:
            raise AssessorsFileInvalid(f"{path}: entry {i + 1} is invalid: {exc.errors()[0]['msg']}") from exc
        if account.username in accounts:
            raise AssessorsFileInvalid(f"{path}: username {account.username!r} appears twice")
        accounts[account.username] = account
    return accounts


@lru_cache(maxsize=8)
def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(cost))


def authenticate(username: str, password: str, *, path: Path | str | None = None) -> Assessor | None:
    """The assessor whose bcrypt hash matches ``password``, else ``None``.

    Unknown usernames and over-long passwords still cost one bcrypt check of the same work factor, so
    timing does not reveal which usernames exist. Raises :class:`AssessorsFileInvalid` for a broken file.
    """
    accounts = load_assessors(path)
    account = accounts.get(username)
    raw = password.encode("utf-8")
    usable = account is not None and 0 < len(raw) <= BCRYPT_MAX_BYTES
    if account is not None:
        stored = account.password_hash.encode("ascii")
    else:
        some = next(iter(accounts.values()), None)
        stored = _dummy_hash(int(_BCRYPT_HASH.match(some.password_hash).group(1)) if some else 12)
    ok = bcrypt.checkpw(raw[:BCRYPT_MAX_BYTES], stored)
    return account.assessor() if ok and usable else None


def is_issuer_admin(username: str, *, path: Path | str | None = None) -> bool:
    """Does the account ``username`` (read from the file now) hold the ``issuer-admin`` role?"""
    account = load_assessors(path).get(username)
    return account is not None and account.role == ISSUER_ADMIN


def authenticate_issuer_admin(username: str, password: str, *,
                              path: Path | str | None = None) -> tuple[Assessor | None, bool]:
    """``(assessor, is_admin)``: the authenticated account (``None`` for a wrong username or password) and
    whether it holds the ``issuer-admin`` role. Raises :class:`AssessorsFileInvalid` for a broken file."""
    assessor = authenticate(username, password, path=path)
    if assessor is None:
        return None, False
    return assessor, is_issuer_admin(username, path=path)


SETUP_STEPS = f"""\
setting up assessor accounts (the web app's Assessor tab shows only the log-in):
  1. python -m grader.accounts hash --username alice     asks for the password, prints an [[assessors]] entry
     (--role issuer-admin: the account may also revoke credentials)
  2. put the entries in a TOML (or YAML) file outside the repository, e.g. /etc/stackwise/assessors.toml:
       [[assessors]]
       username = "alice"
       display_name = "Alice Example"
       password_hash = "$2b$12$..."
  3. start the app with {ASSESSORS_FILE_ENV}=/etc/stackwise/assessors.toml stackwise serve
the file holds bcrypt hashes only (plain passwords are refused) and is re-read at every log-in; without
accounts the server logs a warning at start and learners are told their submission waits for an assessor."""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m grader.accounts hash [--username NAME]``: print an assessors-file entry (password read
    without echo, or from stdin when piped)."""
    parser = argparse.ArgumentParser(prog="python -m grader.accounts", description=__doc__.split("\n")[0],
                                     epilog=SETUP_STEPS, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    hash_cmd = sub.add_parser("hash", help="hash a password for the assessors file")
    hash_cmd.add_argument("--username", default="USERNAME")
    hash_cmd.add_argument("--rounds", type=int, default=12)
    hash_cmd.add_argument("--role", choices=[ASSESSOR, ISSUER_ADMIN], default=ASSESSOR)
    args = parser.parse_args(argv)
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        hashed = hash_password(password, rounds=args.rounds)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    role = f'\nrole = "{args.role}"' if args.role != ASSESSOR else ""
    print(f'[[assessors]]\nusername = "{args.username}"\npassword_hash = "{hashed}"{role}')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
