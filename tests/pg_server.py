"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temporary directory, ``pg_ctl start`` on
127.0.0.1 at a free port with trust authentication, stopped and deleted at the end of the session.

- ``postgres_server`` (session): the server's base URL (``postgresql+psycopg://stackwise@127.0.0.1:<port>``);
- ``postgres_url`` (function): a fresh, empty database on it for one test (a schema of its own, set as the
  connection's ``search_path``), as a SQLAlchemy URL;
- ``database_url`` (function, parametrised ``sqlite`` / ``postgresql``): the same test on both backends.

The binaries are found on ``PATH`` or in Debian's ``/usr/lib/postgresql/<version>/bin``; when they are missing
the test fails (never skips) with the command that installs them. ``initdb`` refuses to run as root, so as root
the cluster is created and run as the ``postgres`` user (Debian's package creates it) with ``runuser``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL_HINT = ("install PostgreSQL: `sudo apt-get install -y postgresql` (Debian/Ubuntu), "
                "or run scripts/install.sh as root")
USER = "stackwise"
_counter = itertools.count()


def _binary_dir() -> Path:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: "
                + INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> list[str]:
    """The command prefix that runs the server's binaries as a non-root user."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(f"running as root and there is no `postgres` user for initdb to run as: {INSTALL_HINT}")
    if runuser is None:
        pytest.fail("running as root and `runuser` is missing (util-linux): initdb refuses root")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    import psycopg  # a declared dependency: a broken install fails here, not in the first test

    bindir = _binary_dir()
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="stackwise-pg-"))
    data, sockets = root / "data", root / "sockets"
    data.mkdir()
    sockets.mkdir()
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], "initdb")
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=300 -c full_page_writes=off"
    _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
          "-w", "-t", "60", "start"], "pg_ctl start")
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{USER}"')  # the tests' schemas live in it (new_database)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def new_database(server: str) -> str:
    """An empty database for one test on ``server``, as a SQLAlchemy URL: a fresh schema of one shared database,
    made the connection's ``search_path`` (much cheaper than ``CREATE DATABASE`` per test)."""
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    host, port = server.rsplit("@", 1)[1].split(":")
    with psycopg.connect(host=host, port=int(port), user=USER, dbname=USER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{server}/{USER}?options=-csearch_path%3D{name}"


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
    """One test, two backends: a SQLite file, then a fresh database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stackwise.db'}"
        return
    url = new_database(request.getfixturevalue("postgres_server"))
    yield url
    _dispose(url)
