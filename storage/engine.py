"""The engine and session factory every store shares: one SQLAlchemy engine per URL, tables created on open.

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
_open: weakref.WeakValueDictionary[str, Engine] = weakref.WeakValueDictionary()


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
    _open[url] = engine
    return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url``'s engine, if one is open (tests dropping a database; shutdown)."""
    engine = _open.get(url)
    if engine is not None:
        engine.dispose()


def session_factory(url: str) -> sessionmaker:
    return sessionmaker(engine_for(url), expire_on_commit=False)


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
