"""Grading-worker throughput: submissions graded per minute with 1, 2, 4, ... ``stackwise worker`` processes on one
queue, on this machine.

For each worker count: a fresh SQLite database (or ``--database-url``, shared: fresh learner ids keep runs apart) gets
``--submissions`` demo submissions (the evidence set's test split, cycled); that many ``stackwise worker``
processes are started on an empty queue first and waited for (their start-up, loading the engine, is not
counted), then the submissions are enqueued and timed until every one is graded; the workers are stopped with
SIGTERM. Each worker gets ``cores / workers`` threads (``OMP_NUM_THREADS``, ``STACKWISE_N_THREADS``).
Printed: wall seconds, submissions per minute, how the grades split between workers, and that each submission
got exactly one grade. Nothing asserts on timing.

By default feedback and the injection judge are off, so the grade is the shipped engine alone (embeddings and
the fitted combiner: no LLM) and the figure is the queue's and the engine's. ``--feedback`` turns model feedback
on (each worker then loads the model, or reaches ``STACKWISE_MODEL_URL``). ``--model-server`` starts one
llama.cpp OpenAI-compatible server on the bundled model (:mod:`stackwise.loopback`, all cores) and points every
worker at it, feedback and judge on: the throughput of N workers against one model server. ``--postgres`` puts
the queue on a throwaway PostgreSQL server instead of SQLite. Run the model ones alone on the machine::

    python -m evals.worker_bench --workers 1 2 4 --submissions 24
    flock /tmp/stackwise-model.lock python -m evals.worker_bench --workers 1 2 --submissions 4 --feedback
    flock /tmp/stackwise-model.lock python -m evals.worker_bench --workers 1 2 4 --submissions 8 --model-server \
        --postgres
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from evals.grading_evidence import load_evidence_dir
from grader.api import GraderQueue, Status, SubmissionIn

DONE = {Status.passed, Status.failed, Status.review, Status.error}


def _env(home: Path, db_url: str, feedback: bool, workers: int, server: dict[str, str]) -> dict[str, str]:
    """A worker's environment; ``server`` holds STACKWISE_MODEL_URL and its key when one model server serves all."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))  # the cores split between workers, not oversubscribed
    return {**os.environ, **server, "OMP_NUM_THREADS": threads, "STACKWISE_N_THREADS": threads,
            "STACKWISE_HOME": str(home), "STACKWISE_DATABASE_URL": db_url,
            "STACKWISE_GRADING": "workers", "STACKWISE_GRADER_FEEDBACK": str(feedback).lower(),
            "STACKWISE_GRADER_INJECTION_JUDGE": str(feedback).lower()}


def _start(count: int, env: dict[str, str], tag: str) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-m", "stackwise.cli", "worker", "--poll", "0.1", "--id",
                               f"{tag}-w{i}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(count)]
    for proc in procs:  # ready once the worker has started its loop
        seen = []
        for line in proc.stderr:
            if "grading worker" in line and "started" in line:
                break
            seen.append(line)
        else:
            _stop(procs)
            raise SystemExit(f"a worker exited before starting (code {proc.wait()}):\n{''.join(seen[-15:])}")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep reading: a full pipe would block it
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_one(workers: int, submissions: int, *, db_url: str | None, feedback: bool, warm_up: bool,
            server: dict[str, str] | None = None) -> dict:
    """One worker count: returns its figures (``server``: the model server's environment, see :func:`_env`)."""
    home = Path(tempfile.mkdtemp(prefix="stackwise-worker-bench-"))
    db_url = db_url or f"sqlite:///{home / 'bench.db'}"
    queue = GraderQueue(db_url)
    items = [i for i in load_evidence_dir() if i.split == "test"]
    tag = uuid.uuid4().hex[:6]
    procs = _start(workers, _env(home, db_url, feedback, workers, server or {}), tag)
    try:
        if warm_up:  # the first grade in each process pays for lazy loads: one per worker, not timed
            # other evidence than the timed ones (a copy of another learner's evidence goes to review)
            warm = [queue.create_submission(_submission(items, -1 - n, f"warm-{tag}")).id for n in range(workers)]
            _wait(queue, warm)
        start = time.perf_counter()
        sids = [queue.create_submission(_submission(items, n, tag)).id for n in range(submissions)]
        _wait(queue, sids)
        seconds = time.perf_counter() - start
    finally:
        _stop(procs)
    grades = {sid: sum(e.event_type == "graded" for e in queue.audit_log(sid)) for sid in sids}  # audited grades
    by_worker = Counter(next(e.details["worker"] for e in queue.audit_log(sid) if e.event_type == "grading_started")
                        for sid in sids)
    status = {sid: queue.get_submission(sid, learner_id=_learner(tag, n)).status for n, sid in enumerate(sids)}
    statuses = Counter(s.value for s in status.values())
    return {"workers": workers, "submissions": submissions, "seconds": seconds,
            "per_minute": submissions / seconds * 60, "by_worker": sorted(by_worker.values(), reverse=True),
            "exactly_once": all(grades.get(sid, 0) == (status[sid] is not Status.error) for sid in sids),
            "statuses": dict(statuses)}


def _learner(tag: str, n: int) -> str:
    return f"bench-{tag}-{n}"


def _submission(items: list, n: int, tag: str) -> SubmissionIn:
    item = items[n % len(items)]
    return SubmissionIn(credential_id=item.credential, learner_id=_learner(tag, n),
                        files=[("evidence.md", item.text.encode(), "text/markdown")])


def _wait(queue: GraderQueue, sids: list[str], timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    pending = list(sids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} submission(s) not graded after {timeout:.0f}s")
        pending = [s for s in pending if queue.get_submission(s, assessor=_BENCH).status not in DONE]
        if pending:
            time.sleep(0.05)


def render(rows: list[dict]) -> str:
    lines = [f"grading workers on one queue, {os.cpu_count()} CPU core(s) on this machine (load average "
             f"{os.getloadavg()[0]:.1f} at the end; each worker gets cores / workers threads)",
             f"{'workers':>7} {'graded':>6} {'seconds':>8} {'per min':>8}  split between workers; exactly once"]
    for r in rows:
        lines.append(f"{r['workers']:>7} {r['submissions']:>6} {r['seconds']:>8.1f} {r['per_minute']:>8.1f}  "
                     f"{r['by_worker']}; {'yes' if r['exactly_once'] else 'NO'} {r['statuses']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per worker count")
    parser.add_argument("--feedback", action="store_true", help="model feedback and injection judge on (LLM)")
    parser.add_argument("--model-server", action="store_true",
                        help="start one llama.cpp server on the bundled model for every worker (implies --feedback)")
    parser.add_argument("--postgres", action="store_true", help="the queue on a throwaway PostgreSQL server")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    args = parser.parse_args(argv)
    if args.submissions < 1 or any(w < 1 for w in args.workers):
        parser.error("--workers and --submissions must be positive")
    from stackwise import loopback

    server: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(loopback.postgres_server()) if args.postgres else None
        if args.model_server:
            path, name = loopback.bundled_model()
            key = "sk-bench-" + uuid.uuid4().hex
            url = stack.enter_context(loopback.llama_server(path, alias=name, api_key=key))
            server = {"STACKWISE_MODEL_URL": url, "STACKWISE_MODEL_API_KEY": key}
            args.feedback = True
            print(f"one model server for every worker: {name} at {url}", flush=True)
        rows = []
        for workers in args.workers:
            # a fresh schema per worker count: one run's evidence would be a near-duplicate in the next
            db_url = loopback.new_schema(postgres, f"bench{workers}") if postgres is not None else args.database_url
            rows.append(run_one(workers, args.submissions, db_url=db_url, feedback=args.feedback,
                                warm_up=args.warm_up, server=server))
            print(render(rows[-1:]).splitlines()[-1], flush=True)
        print(render(rows))


def _assessor():
    from grader.api import Assessor

    return Assessor(username="bench", display_name="Worker benchmark")


_BENCH = _assessor()

if __name__ == "__main__":
    main()
