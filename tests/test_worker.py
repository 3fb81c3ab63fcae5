"""Grading workers (``stackwise worker``, :mod:`grader.worker`): many workers on one queue grade each submission
exactly once, a worker killed mid-grade loses its lease and another grades the submission once, the web app and
the bot only enqueue when ``STACKWISE_GRADING=workers``, and SIGTERM stops a worker after the one in hand.

Real SQLite file databases shared by threads and processes, the real grader service with the shipped
(model-free) grading engine, the real CLI in a subprocess; feedback writing (the model) is off. The PostgreSQL
variant runs on the throwaway server of ``tests.pg_server`` (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from grader.models import FINAL_STATUSES, Assessor, Status, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from grader.store import GradeRow
from grader.worker import GradingWorker
from storage import session_factory
from tests.pg_server import _dispose, new_database

CREDENTIAL = "data-strategy"
EVIDENCE = ("Data strategy report. I interviewed six teams, ranked twelve use cases by value and feasibility, "
            "and chose three for the first year: churn prediction, invoice matching and demand forecasting. "
            "For each I wrote the data sources, owners, quality issues and a success measure.")
ALICE = Assessor(username="alice", display_name="Alice Assessor")
GRADED = {Status.passed, Status.failed, Status.review}


@pytest.fixture(scope="module")
def catalogue():
    from knowledge import load_catalogue
    from stackwise.config import BUNDLED_CATALOGUE

    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def scorer():
    from stackwise.config import get_settings
    from stackwise.wiring import make_scorer

    # the shipped engine: embeddings and the fitted combiner, no LLM (the injection judge would ask the model)
    return make_scorer(get_settings().model_copy(update={"grader_injection_judge": False}))


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'grader.db'}"


def service_on(db_url: str, catalogue, scorer, **kwargs) -> GraderService:
    """What one worker process builds: its own queue on the shared database and its own grading identity."""
    return GraderService(catalogue, GraderQueue(db_url, rubrics=rubrics_from_catalogue(catalogue)),
                         lambda: scorer, **kwargs)


def submission(n: int) -> SubmissionIn:
    return SubmissionIn(credential_id=CREDENTIAL, learner_id=f"learner-{n}", learner_name="Ada Lovelace",
                        files=[("report.txt", f"{EVIDENCE} (draft {n})".encode(), "text/plain")])


def enqueue(db_url: str, count: int) -> list[str]:
    queue = GraderQueue(db_url)
    return [queue.create_submission(submission(n)).id for n in range(count)]


def grade_rows(db_url: str, sid: str) -> int:
    with session_factory(db_url)() as session:
        return session.scalar(select(func.count()).select_from(GradeRow).where(GradeRow.submission_id == sid))


def events(queue: GraderQueue, sid: str) -> list[str]:
    return [e.event_type for e in queue.audit_log(sid)]


def worker_env(tmp_path, db_url: str) -> dict[str, str]:
    from stackwise.config import get_settings

    return {**os.environ, "STACKWISE_HOME": str(tmp_path / "home"), "STACKWISE_DATABASE_URL": db_url,
            "STACKWISE_MODEL_DIR": str(get_settings().models_path), "STACKWISE_GRADER_FEEDBACK": "false",
            "STACKWISE_GRADER_INJECTION_JUDGE": "false", "STACKWISE_GRADING": "workers"}


# ---- any number of workers, each grade recorded once ----------------------------------------------------------

def race(db_url: str, catalogue, scorer, workers: int, count: int) -> None:
    sids = enqueue(db_url, count)
    services = [service_on(db_url, catalogue, scorer) for _ in range(workers)]
    start = threading.Barrier(workers)
    stats = {}

    def run(service: GraderService) -> None:
        start.wait()
        stats[service.worker] = GradingWorker(service, poll_seconds=0.1).run(once=True)

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(s.graded for s in stats.values()) == count and not any(s.lost or s.errors for s in stats.values())
    queue = GraderQueue(db_url)
    holders = set()
    for sid in sids:
        view = queue.get_submission(sid, assessor=ALICE)
        assert view.status in GRADED, view.error_message
        assert grade_rows(db_url, sid) == 1
        log = queue.audit_log(sid)
        assert [e.event_type for e in log] == ["received", "grading_started", "evidence_extracted", "graded"]
        holders.add(log[1].details["worker"])
    assert holders <= {s.worker for s in services}
    assert queue.claim_next("late-worker") is None  # nothing left to claim


def test_two_workers_racing_on_one_queue_grade_each_submission_exactly_once(db_url, catalogue, scorer):
    race(db_url, catalogue, scorer, workers=2, count=8)


def test_workers_on_postgresql_claim_with_skip_locked(postgres_server, catalogue, scorer):
    url = new_database(postgres_server)
    try:
        race(url, catalogue, scorer, workers=3, count=6)
    finally:
        _dispose(url)


# ---- a worker killed mid-grade ---------------------------------------------------------------------------------

def test_a_worker_killed_mid_grade_loses_its_lease_and_another_grades_it_once(db_url, catalogue, scorer):
    (sid,) = enqueue(db_url, 1)
    script = textwrap.dedent(f"""
        import time
        from knowledge import load_catalogue
        from stackwise.config import BUNDLED_CATALOGUE
        from grader.queue import GraderQueue
        from grader.service import GraderService
        from grader.worker import GradingWorker

        class Stuck:  # a grading that never ends: the process is killed below
            def score(self, credential, evidence):
                print("grading", flush=True)
                time.sleep(600)

        service = GraderService(load_catalogue(BUNDLED_CATALOGUE), GraderQueue({db_url!r}), Stuck, lease_seconds=1)
        service.worker = "doomed-worker"
        GradingWorker(service).run(once=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "grading"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    queue = GraderQueue(db_url)
    detail = queue.get_submission(sid, assessor=ALICE)
    assert detail.status is Status.grading and detail.claimed_by == "doomed-worker"
    survivor = service_on(db_url, catalogue, scorer)
    assert survivor.queue.claim_next("impatient-worker") is None  # a live lease is not taken
    while datetime.now(UTC) <= queue.get_submission(sid, assessor=ALICE).lease_expires_at:
        time.sleep(0.05)  # nobody renews the dead worker's lease
    stats = GradingWorker(survivor).run(once=True)
    assert stats.graded == 1
    assert queue.get_submission(sid, assessor=ALICE).status in GRADED
    assert grade_rows(db_url, sid) == 1
    log = queue.audit_log(sid)
    assert [e.event_type for e in log] == ["received", "grading_started", "evidence_extracted",
                                           "grading_lease_expired", "grading_started", "evidence_extracted",
                                           "graded"]
    assert log[1].details["worker"] == "doomed-worker" and log[3].details["worker"] == "doomed-worker"
    assert log[4].details["worker"] == survivor.worker


# ---- enqueue-only: the web app and the bot store, the workers grade ------------------------------------------

def test_with_workers_configured_receive_only_enqueues_and_a_worker_grades_it(tmp_path, db_url, catalogue, scorer):
    from stackwise.config import Settings
    from stackwise.wiring import grader_service

    wired = grader_service(Settings(home=tmp_path / "home", database_url=db_url, grading="workers"))
    assert wired.enqueue_only
    assert not grader_service(Settings(home=tmp_path / "home", database_url=db_url)).enqueue_only

    web = service_on(db_url, catalogue, scorer, enqueue_only=True)
    view, future = web.submit_in_background(submission(1))
    assert future is None and view.status is Status.received
    assert web.resume_pending() == []  # no sweep in the web process either
    assert not web.grading_here(view.id)
    web.close()
    assert web.queue.get_submission(view.id, learner_id="learner-1").status is Status.received
    assert events(web.queue, view.id) == ["received"]

    stats = GradingWorker(service_on(db_url, catalogue, scorer)).run(once=True)
    assert stats.graded == 1
    seen = web.queue.get_submission(view.id, learner_id="learner-1")  # what the learner's page reads
    assert seen.status in GRADED
    if seen.status in FINAL_STATUSES:
        assert seen.total_points is not None and seen.max_points
    assert grade_rows(db_url, view.id) == 1


# ---- SIGTERM: the worker finishes the one in hand and stops ---------------------------------------------------

def test_sigterm_stops_the_worker_cleanly_after_the_submission_in_hand(tmp_path, db_url):
    sids = enqueue(db_url, 4)
    proc = subprocess.Popen([sys.executable, "-m", "stackwise.cli", "worker", "--poll", "0.2", "--id", "w-term"],
                            env=worker_env(tmp_path, db_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for line in proc.stderr:
            if "claimed submission" in line:
                proc.send_signal(signal.SIGTERM)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "w-term" in out and "graded" in out
    queue = GraderQueue(db_url)
    statuses = [queue.get_submission(s, assessor=ALICE).status for s in sids]
    assert Status.grading not in statuses  # nothing left under a lease
    assert statuses[0] in GRADED and grade_rows(db_url, sids[0]) == 1
    assert Status.received in statuses  # it stopped instead of taking the rest
    assert "stopped" in err
