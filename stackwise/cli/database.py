"""``stackwise db upgrade`` and ``stackwise db revision``: the schema (Alembic, :mod:`stackwise.migrations`)."""

from __future__ import annotations

from typing import Annotated

import typer

from stackwise.cli.common import app, fail
from stackwise.config import get_settings

db_app = typer.Typer(no_args_is_help=True, help="Upgrade the database schema (keeps every row).")
app.add_typer(db_app, name="db")


def _url(url: str | None) -> str:
    return url or get_settings().db_url


@db_app.command("upgrade")
def db_upgrade(
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: STACKWISE_DATABASE_URL)")] = None,
) -> None:
    """Bring the database to the newest schema (keeps every row; the rule: stackwise/migrations)."""
    from sqlalchemy.exc import SQLAlchemyError

    from stackwise.migrations import upgrade

    target = _url(url)
    try:
        before, after = upgrade(target)
    except (SQLAlchemyError, RuntimeError) as exc:
        fail(f"cannot upgrade the database: {str(exc).splitlines()[0]}")
    typer.echo(f"database at revision {after} (was {before or 'empty or unversioned'})")


@db_app.command("revision")
def db_revision(
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: STACKWISE_DATABASE_URL)")] = None,
) -> None:
    """Print the database's schema revision (none: not yet migrated)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from stackwise.migrations import HEAD, current_revision

    engine = create_engine(_url(url))
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    typer.echo(f"{current or 'none'} (newest: {HEAD})")
