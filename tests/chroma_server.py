"""A throwaway Chroma server (``chroma run``) on 127.0.0.1 for tests and CI, telemetry off, offline.

The ``chroma`` command comes from the virtual environment that runs the tests (the ``chromadb`` package
installs it); when it is missing the caller fails with a message saying so, never skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HEARTBEAT = "/api/v2/heartbeat"
START_TIMEOUT_S = 60


class ChromaServerError(RuntimeError):
    """The Chroma server could not be started."""


def chroma_cli() -> Path:
    """The ``chroma`` command beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("chroma")
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("chroma")) else None)
    if found is None:
        raise ChromaServerError(f"the `chroma` command is missing (looked beside {sys.executable} and on PATH); "
                                "install the project's dependencies (chromadb provides it)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[str]:
    """Run ``chroma run --path <path>`` on 127.0.0.1 until the block ends; yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = path.parent / f"chroma-{port}.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY_ENABLED": "false", "NO_COLOR": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(chroma_cli()), "run", "--path", str(path), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise ChromaServerError(f"`chroma run` exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + HEARTBEAT, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ChromaServerError(f"no heartbeat from {url} within {START_TIMEOUT_S}s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
