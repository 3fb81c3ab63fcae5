"""PostgreSQL for the tests: the server ``.ci/run`` started (``STACKWISE_TEST_POSTGRES_URL``, from
:mod:`stackwise.loopback`), else a throwaway cluster of this session's own (``initdb`` + ``pg_ctl`` on 127.0.0.1).

- ``postgres_server`` (session): the server's base URL (``postgresql+psycopg://stackwise@127.0.0.1:<port>``);
- ``postgres_url`` (function): a fresh, empty database on it for one test (a schema of its own, set as the
  connection's ``search_path``), as a SQLAlchemy URL;
- ``database_url`` (function, parametrised ``sqlite`` / ``postgresql``): the same test on both backends.

When the binaries are missing the test fails (never skips) with the command that installs them.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackwise.loopback import ENV, ServerError, new_schema
from stackwise.loopback import postgres_server as start_postgres

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if given := os.environ.get(ENV["postgres"]):
        yield given
        return
    try:
        with start_postgres() as url:
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))


def new_database(server: str) -> str:
    """An empty database for one test on ``server``, as a SQLAlchemy URL (a fresh schema, see
    :func:`stackwise.loopback.new_schema`), named apart from every other test process's."""
    return new_schema(server, f"t{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}")


def _dispose(url: str) -> None:
    """Close the pooled connections the stores opened on ``url`` (the engine cache keeps them otherwise)."""
    from storage.engine import dispose_engine

    dispose_engine(url)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    url = new_database(postgres_server)
    yield url
    _dispose(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One test, two backends: a SQLite file, then a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stackwise.db'}"
        return
    url = new_database(request.getfixturevalue("postgres_server"))
    yield url
    _dispose(url)
