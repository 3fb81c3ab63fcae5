"""Shared test set-up: offline guard, isolated data directories, shared fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from stackwise.config import enforce_offline
from tests.chroma_server import chroma_url  # noqa: F401 (fixtures for every test)
from tests.model_server import assistant_over_http, model_server  # noqa: F401
from tests.pg_server import database_url, postgres_server, postgres_url  # noqa: F401

enforce_offline()

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            local = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            local = host in {"localhost"}
        if not local:
            raise ConnectionRefusedError(f"test tried to reach the network: {address!r} (Stackwise is offline)")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


FULL_ENV = "STACKWISE_TEST_FULL"


def full_run() -> bool:
    """``./test.sh --full`` (``STACKWISE_TEST_FULL=1``): every item of the evaluation sets, not CI's slice."""
    return os.environ.get(FULL_ENV, "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Items marked ``exhaustive`` (the rest of an evaluation set beyond the slice CI runs) are skipped, with
    the command that runs them, unless this is a full run."""
    if full_run():
        return
    skip = pytest.mark.skip(reason=f"beyond CI's slice of its evaluation set: ./test.sh --full runs it ({FULL_ENV}=1)")
    for item in items:
        if item.get_closest_marker("exhaustive") is not None:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    """Any attempt to open a non-loopback connection fails the test that makes it."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with a fresh Chroma dir and database per test; the model cache stays shared."""
    from stackwise.config import Settings, get_settings

    base = get_settings()
    monkeypatch.setenv("STACKWISE_CHROMA_DIR", str(tmp_path / "chroma"))
    monkeypatch.setenv("STACKWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'stackwise.db'}")
    monkeypatch.setenv("STACKWISE_MODEL_DIR", str(base.models_path))
    get_settings.cache_clear()
    yield Settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_settings(tmp_path_factory):
    """Settings for tests that only read the demo catalogue: one index and database for the whole run.

    Tests using it keep apart by using their own learner ids.
    """
    from stackwise.config import Settings, get_settings

    return Settings(home=tmp_path_factory.mktemp("stackwise-home"), model_dir=get_settings().models_path)


@pytest.fixture(scope="session")
def assistant(shared_settings):
    """The real assistant service (demo catalogue, real index, SQLite, lazily loaded model)."""
    from stackwise.wiring import assistant_service

    return assistant_service(shared_settings)

