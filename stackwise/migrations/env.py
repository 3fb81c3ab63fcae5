"""Alembic's environment: the metadata of every Stackwise table, on the connection :mod:`stackwise.migrations`
hands over (or, from the ``alembic`` command line, on ``sqlalchemy.url`` / ``STACKWISE_DATABASE_URL``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from stackwise.migrations import target_metadata

config = context.config


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=target_metadata(),
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from stackwise.config import get_settings

        url = get_settings().db_url
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
