"""The bundled model on an OpenAI-compatible server for the tests: the one ``.ci/run`` started
(``STACKWISE_TEST_MODEL_URL`` and its key, from :mod:`stackwise.loopback`), else llama-cpp-python's server of this
session's own on 127.0.0.1, started on first use. Model tests run under ``flock /tmp/stackwise-model.lock``."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from stackwise.loopback import ENV, ServerError, bundled_model, llama_server


@dataclass(frozen=True)
class ModelServer:
    url: str  # http://127.0.0.1:<port>/v1
    api_key: str
    alias: str


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    if given := os.environ.get(ENV["model"]):
        yield ModelServer(given, os.environ.get(ENV["model_key"], ""), os.environ.get(ENV["model_alias"], ""))
        return
    key = "sk-test-" + secrets.token_hex(8)
    started = time.perf_counter()
    try:
        path, name = bundled_model()
        with llama_server(path, alias=name, api_key=key) as url:
            print(f"\n[model server] llama_cpp.server up at {url} in {time.perf_counter() - started:.1f} s")
            yield ModelServer(url, key, name)
    except ServerError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def assistant_over_http(shared_settings, model_server):
    """The same assistant with its model on the OpenAI-compatible server (the ``http`` runtime): CI's loopback
    server, else the session's own."""
    from stackwise.wiring import assistant_service

    return assistant_service(shared_settings.model_copy(update={
        "runtime": "http", "model_url": model_server.url, "model_api_key": SecretStr(model_server.api_key)}))
