"""The loopback servers CI starts (:mod:`stackwise.loopback`): the runner hands the command real PostgreSQL and
Chroma servers that answer while it runs and are gone after it, returns the command's exit status, and a server
that dies or stays silent is named with the end of its log."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pytest

from stackwise.loopback import ENV, ServerError, answers, free_port, main, server_process

PROBE = textwrap.dedent("""
    import json, os, sys
    import httpx, psycopg
    pg, chroma = os.environ["{pg}"], os.environ["{chroma}"]
    host, port = pg.rsplit("@", 1)[1].split(":")
    with psycopg.connect(host=host, port=int(port), user="stackwise", dbname="stackwise") as conn:
        one = conn.execute("SELECT 1").fetchone()[0]
    beat = httpx.get(chroma + "/api/v2/heartbeat", timeout=5).status_code
    print(json.dumps({{"pg": pg, "chroma": chroma, "one": one, "beat": beat, "model": os.environ.get("{model}")}}))
    sys.exit(3)
""").format(pg=ENV["postgres"], chroma=ENV["chroma"], model=ENV["model"])


def test_the_runner_hands_the_command_live_servers_and_stops_them_after():
    import json

    done = subprocess.run([sys.executable, "-m", "stackwise.loopback", "--no-model", "--", sys.executable, "-c",
                           PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr  # the command's own exit status
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["one"] == 1 and seen["beat"] == 200 and seen["model"] is None
    assert seen["pg"].startswith("postgresql+psycopg://stackwise@127.0.0.1:")
    assert "[loopback] up in" in done.stdout and "sk-" not in done.stdout  # the model key is never printed
    with pytest.raises(httpx.TransportError):  # stopped once the command ended
        httpx.get(seen["chroma"] + "/api/v2/heartbeat", timeout=2)


def test_the_runner_needs_a_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--no-model", "--no-chroma", "--no-postgres"])
    assert exited.value.code == 2 and "name the command to run after --" in capsys.readouterr().err


def test_a_server_that_exits_is_named_with_its_log():
    command = [sys.executable, "-c", "import sys; print('port already in use', file=sys.stderr); sys.exit(7)"]
    with pytest.raises(ServerError, match=r"demo server exited \(7\): port already in use"), \
            server_process(command, name="demo server", ready=lambda: False, wait_s=60):
        pass


def test_a_server_that_never_answers_is_named_and_stopped():
    port = free_port()
    command = [sys.executable, "-c", "import time; print('starting', flush=True); time.sleep(600)"]
    with pytest.raises(ServerError, match="silent server did not answer within 1 s: starting"), \
            server_process(command, name="silent server", ready=answers(f"http://127.0.0.1:{port}/"), wait_s=1):
        pass


def test_a_ready_server_is_stopped_when_the_block_ends():
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with server_process(command, name="http.server", ready=answers(f"http://127.0.0.1:{port}/"), wait_s=30) as proc:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    assert proc.poll() is not None


def test_a_command_that_cannot_run_is_named(capsys):
    code = main(["--no-model", "--no-chroma", "--no-postgres", "--", "/nonexistent/command"])
    err = capsys.readouterr().err
    assert code == 2 and "error: cannot run '/nonexistent/command': No such file or directory" in err
