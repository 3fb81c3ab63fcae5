"""``stackwise worker``: a grading worker process (:mod:`grader.worker`) on the configured database."""

from __future__ import annotations

import logging
import signal
import time
from typing import Annotated

import typer

from stackwise.cli.common import app, fail, grader_or_fail


def _service():
    """The configured grader; workers started together on a fresh database race to create its tables, so a
    "table already exists" from the loser is retried (the tables are there then)."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(3):
        try:
            return grader_or_fail()
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                fail("cannot open the database: " + " ".join(str(exc.orig).split()))
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


@app.command("worker")
def worker_cmd(
    once: Annotated[bool, typer.Option("--once", help="grade what is waiting, then exit")] = False,
    poll: Annotated[float, typer.Option("--poll", help="seconds between looks at an empty queue")] = 2.0,
    worker_id: Annotated[str | None, typer.Option("--id", help="this worker's name in leases and the audit log "
                                                  "(default: grader@host:pid:random)")] = None,
) -> None:
    """Grade submissions from the database until stopped (SIGTERM/Ctrl-C finish the one in hand first).
    Run any number of them; set STACKWISE_GRADING=workers so the web app and the bot only enqueue."""
    from grader.api import GradingWorker

    if poll <= 0:
        fail("--poll must be a positive number of seconds")
    if worker_id is not None and not worker_id.strip():
        fail("--id must not be empty")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = _service()
    if worker_id:
        service.worker = worker_id.strip()
    worker = GradingWorker(service, poll_seconds=poll)

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("%s: finishing the submission in hand, then stopping",
                                         signal.Signals(signum).name)
        worker.stop()
        signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once (the lease then expires)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stats = worker.run(once=once)
    service.close()
    typer.echo(f"worker {worker.name}: {stats.graded} graded, {stats.errors} errors, {stats.lost} lost")
