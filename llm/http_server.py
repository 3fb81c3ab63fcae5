"""Start llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on a local GGUF, on
127.0.0.1: for the http runtime's tests, its overhead benchmark and CI. Needs the server's extra packages
(uvicorn, sse-starlette, starlette-context; the ``dev`` extra)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(model_path: Path, *, alias: str, api_key: str | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, wait_s: float = 180.0) -> Iterator[str]:
    """Run the server on ``model_path`` (served as ``alias``); yield its base URL (``http://127.0.0.1:<port>/v1``)
    once ``GET /v1/models`` answers, and stop it on exit. Raises ``RuntimeError`` if it exits or stays silent."""
    port = free_port()
    threads = n_threads or max(1, min(4, os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
           "--n_threads_batch", str(threads)]
    if api_key:
        cmd += ["--api_key", api_key]
    with tempfile.TemporaryFile(mode="w+") as log:  # not a pipe: the server's log must never block it
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
        url = f"http://127.0.0.1:{port}/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            deadline = time.monotonic() + wait_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = " ".join(log.read()[-2000:].split())
                    raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}): {tail}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/models", headers=headers, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not answer {url}/models within {wait_s:.0f} s")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
