"""Schema migrations (Alembic) for every Stackwise table; ``stackwise db upgrade`` and start-up call :func:`upgrade`.

Lives in the composition root because it needs every domain's tables (storage knows no domain).

The rule, applied under a lock (``pg_advisory_xact_lock`` on PostgreSQL) so two processes starting at once
do it once:

- a database with an ``alembic_version`` table is upgraded to the newest revision;
- an empty database gets every table from the models (``create_all``, as before) and is stamped at the newest
  revision (tests/test_migrations.py checks that the revisions build exactly that schema);
- a database made by ``create_all`` before migrations existed (Stackwise tables, no ``alembic_version``) is
  stamped at the newest revision whose tables it already has all of, then upgraded from there.

Revisions only add; none drops a learner's data.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, inspect, text

BASELINE = "0001"
HEAD = "0002"
# the tables each revision adds
TABLES_OF = {
    "0001": {"grader_submissions", "grader_files", "grader_grades", "grader_criterion_grades", "grader_decisions",
             "grader_reviews", "grader_audit_log", "grader_engine_records", "issuance_credentials",
             "issuance_audit_log", "assistant_turns", "learner_profiles", "assistant_subjects"},
    "0002": {"issuance_credential_visibility", "notify_channels", "notify_deliveries"},
}
_MODELS = ("grader.store", "issuance.store", "assistant.memory", "stackwise.notify")
_LOCK_KEY = 7_316_016  # any constant: the advisory lock that serialises migrations on PostgreSQL


def target_metadata() -> MetaData:
    """The metadata of every table (importing the modules that define them)."""
    for module in _MODELS:
        importlib.import_module(module)
    from storage import Base

    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(str(resources.files("stackwise.migrations")))))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database at ``url`` to ``revision`` by the rule above; returns (revision before, after)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        if engine.dialect.name == "sqlite":  # as storage.engine opens it: WAL (persistent), one fsync per commit
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            before = current_revision(connection)
            if before is None and revision == "head":
                tables = set(inspect(connection).get_table_names())
                if not tables & set().union(*TABLES_OF.values()):  # empty: the models' tables, stamped
                    target_metadata().create_all(connection)
                    command.stamp(config, "head")
                    return None, current_revision(connection)
            command.upgrade(config, revision)
            return before, current_revision(connection)
    finally:
        engine.dispose()
