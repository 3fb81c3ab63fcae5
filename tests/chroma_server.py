"""A Chroma server for the tests: the one ``.ci/run`` started (``STACKWISE_TEST_CHROMA_URL``, from
:mod:`stackwise.loopback`), else one of this session's own (``chroma run`` on 127.0.0.1, telemetry off).
Tests that share it keep apart by collection name; a test that needs a server to stop starts its own with
:func:`stackwise.loopback.chroma_server`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stackwise.loopback import ENV, ServerError, chroma_server


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if given := os.environ.get(ENV["chroma"]):
        yield given
        return
    try:
        with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))
