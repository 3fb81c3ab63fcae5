"""Database wiring shared by every domain: one SQLAlchemy engine per URL, tables created on open.

SQLite (the default) runs in WAL mode with a busy timeout so concurrent writers wait rather than
fail; any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) works the same way.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    """Declarative base for every Stackwise table."""


_create_lock = threading.Lock()


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA secure_delete=ON")  # deleted data ("Forget me") is overwritten, not left behind
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    with _create_lock:
        Base.metadata.create_all(engine)
    return engine


def session_factory(url: str) -> sessionmaker:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def make_append_only(model: type[Base], error: type[Exception], what: str, trigger_prefix: str) -> None:
    """Refuse every UPDATE and DELETE of ``model``'s rows: through the ORM (per row and in bulk, raising
    ``error``) and in the database itself (triggers on SQLite and Postgres, for writes that bypass the ORM).

    ``what`` names the log in messages; ``trigger_prefix`` names the triggers (``<prefix>_no_update``, ...).
    """
    from sqlalchemy.orm import Session
    from sqlalchemy.schema import DDL

    table = model.__table__
    name = table.name

    def refuse_row_change(_mapper, _connection, target) -> None:  # noqa: ANN001
        raise error(f"{what} is append-only (entry {target.id})")

    event.listen(model, "before_update", refuse_row_change)
    event.listen(model, "before_delete", refuse_row_change)

    @event.listens_for(Session, "do_orm_execute")
    def _refuse_bulk_change(state) -> None:  # noqa: ANN001
        target = getattr(state.statement, "table", None)
        if (state.is_update or state.is_delete) and getattr(target, "name", None) == name:
            raise error(f"{what} is append-only")

    for op in ("UPDATE", "DELETE"):
        event.listen(table, "after_create", DDL(
            f"CREATE TRIGGER IF NOT EXISTS {trigger_prefix}_no_{op.lower()} BEFORE {op} ON {name} "
            f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
        ).execute_if(dialect="sqlite"))
    event.listen(table, "after_create", DDL(
        f"CREATE OR REPLACE FUNCTION {trigger_prefix}_append_only() RETURNS trigger AS $fn$ "
        f"BEGIN RAISE EXCEPTION '{name} is append-only'; END; $fn$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"))
    event.listen(table, "after_create", DDL(
        f"CREATE TRIGGER {trigger_prefix}_no_change BEFORE UPDATE OR DELETE ON {name} "
        f"FOR EACH ROW EXECUTE FUNCTION {trigger_prefix}_append_only()"
    ).execute_if(dialect="postgresql"))


_ensured: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


def ensure_tables(engine: Engine, tables: list) -> None:
    """Create ``tables`` on ``engine`` if missing, once per process (the engine may have been opened
    before the module defining them was imported)."""
    names = {t.name for t in tables}
    with _create_lock:
        done = _ensured.setdefault(engine, set())
        if not names <= done:
            Base.metadata.create_all(engine, tables=tables)
            done.update(names)
