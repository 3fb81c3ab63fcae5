"""Nothing stuck: grading leases with heartbeat, recovery of a submission left ``grading`` by a dead process,
exactly one grade per submission under races, and an assessor's retry of an errored submission (CLI and web).

Real SQLite, the real grader service with the shipped (model-free) grading engine, real subprocesses; no
mocks. Feedback writing (the model) is off here; the model's priority is tested in ``test_model_priority``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from grader.accounts import ASSESSORS_FILE_ENV, hash_password
from grader.models import InvalidTransition, NotLeaseHolder, Status, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GRADING_FAILED, GraderService
from grader.store import GradeRow
from storage import session_factory
from tests.test_grader_store import Clock

CREDENTIAL = "data-strategy"
EVIDENCE = ("Data strategy report. I interviewed six teams, ranked twelve use cases by value and feasibility, "
            "and chose three for the first year: churn prediction, invoice matching and demand forecasting. "
            "For each I wrote the data sources, owners, quality issues and a success measure. I set up a data "
            "council with a monthly review and a simple catalogue of datasets with owners and access rules.")
PASSWORD = "alice-secret-1"


@pytest.fixture(scope="module")
def catalogue():
    from knowledge import load_catalogue
    from stackwise.config import BUNDLED_CATALOGUE

    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def scorer():
    from stackwise.config import get_settings
    from stackwise.wiring import make_scorer

    return make_scorer(get_settings())  # the shipped engine: embeddings and the fitted combiner, no LLM


def service_on(db_url: str, catalogue, scorer, clock=None, **kwargs) -> GraderService:
    """A fresh grader process's service on ``db_url`` (what a restart builds)."""
    queue = GraderQueue(db_url, rubrics=rubrics_from_catalogue(catalogue), **({"clock": clock} if clock else {}))
    return GraderService(catalogue, queue, lambda: scorer, **kwargs)


def submission(learner: str = "learner-1") -> SubmissionIn:
    return SubmissionIn(credential_id=CREDENTIAL, learner_id=learner, learner_name="Ada Lovelace",
                        files=[("report.txt", EVIDENCE.encode(), "text/plain")],
                        reflection="I learned to weigh feasibility against value.")


def grades(db_url: str, sid: str) -> int:
    with session_factory(db_url)() as session:
        return session.scalar(select(func.count()).select_from(GradeRow).where(GradeRow.submission_id == sid))


def events(queue: GraderQueue, sid: str) -> list[str]:
    return [e.event_type for e in queue.audit_log(sid)]


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'grader.db'}"


# ---- kill mid-grade -> resumed after restart, graded once ------------------------------------------------

def test_a_grader_process_killed_mid_grade_is_graded_again_after_restart_exactly_once(db_url, catalogue, scorer):
    sid = GraderQueue(db_url).create_submission(submission()).id
    script = textwrap.dedent(f"""
        import sys, time
        from grader.queue import GraderQueue
        GraderQueue({db_url!r}).start_grading({sid!r}, worker="doomed-process", lease_seconds=1)
        print("claimed", flush=True)
        time.sleep(600)  # grading "forever": killed below
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "claimed"
    finally:
        proc.kill()
        proc.wait(60)
    queue = GraderQueue(db_url)
    detail = queue.get_submission(sid, assessor=_alice())
    assert detail.status is Status.grading and detail.claimed_by == "doomed-process"
    while datetime.now(UTC) <= detail.lease_expires_at:  # nobody renews the dead process's lease
        time.sleep(0.05)

    restarted = service_on(db_url, catalogue, scorer)
    assert restarted.resume_pending(keep_sweeping=False) == [sid]
    restarted.close()  # waits for the grading thread
    view = queue.get_submission(sid, learner_id="learner-1")
    assert view.status in (Status.passed, Status.failed, Status.review), view.error_message
    assert grades(db_url, sid) == 1
    log = queue.audit_log(sid)
    assert [e.event_type for e in log] == ["received", "grading_started", "grading_lease_expired",
                                           "grading_started", "evidence_extracted", "graded"]
    assert log[2].details["worker"] == "doomed-process" and log[2].details["to"] == "received"
    assert log[3].details["worker"] == restarted.worker
    # a second restart finds nothing to do
    again = service_on(db_url, catalogue, scorer)
    assert again.resume_pending(keep_sweeping=False) == []
    assert grades(db_url, sid) == 1


def test_a_live_lease_is_not_taken_and_the_heartbeat_keeps_it(db_url):
    clock = Clock()
    queue = GraderQueue(db_url, clock=clock)
    sid = queue.create_submission(submission()).id
    queue.start_grading(sid, worker="busy", lease_seconds=60)
    clock.advance(50)
    assert queue.recover_stale_grading() == []  # still within the lease
    assert queue.renew_grading_lease(sid, "busy", 60)  # the heartbeat
    clock.advance(50)
    assert queue.recover_stale_grading() == []  # renewed: 60 s from the beat
    assert not queue.renew_grading_lease(sid, "someone-else", 60)
    clock.advance(61)
    assert queue.recover_stale_grading() == [sid]
    assert not queue.renew_grading_lease(sid, "busy", 60)  # lost: the heartbeat says so
    assert queue.get_submission(sid, learner_id="learner-1").status is Status.received


def test_the_grading_thread_renews_its_lease_while_it_works(db_url, catalogue, scorer):
    service = service_on(db_url, catalogue, scorer, lease_seconds=0.3)
    sid = service.receive(submission()).id
    job = service.queue.start_grading(sid, worker=service.worker, lease_seconds=0.3)
    assert job.submission_id == sid
    first = service.queue.get_submission(sid, assessor=_alice()).lease_expires_at
    with service._leased(sid):  # what grade() runs its work under
        time.sleep(1.0)  # three lease lengths: without renewals the lease would have expired
        assert service.queue.recover_stale_grading() == []
        renewed = service.queue.get_submission(sid, assessor=_alice()).lease_expires_at
    assert renewed > first


def test_a_worker_that_lost_its_lease_cannot_record_a_grade(db_url, catalogue, scorer):
    clock = Clock()
    queue = GraderQueue(db_url, clock=clock, rubrics=rubrics_from_catalogue(catalogue))
    sid = queue.create_submission(submission()).id
    queue.start_grading(sid, worker="slow", lease_seconds=10)
    clock.advance(11)
    assert queue.recover_stale_grading() == [sid]
    fresh = GraderService(catalogue, queue, lambda: scorer)
    graded = fresh.grade(sid)
    assert graded.status in (Status.passed, Status.failed, Status.review)
    from tests.test_grader_store import grade_result

    with pytest.raises(InvalidTransition):  # the slow worker comes back: graded already
        queue.record_grade(sid, grade_result(credential=CREDENTIAL), worker="slow")
    # and while the fresh worker holds it, the old one is refused by name
    sid2 = queue.create_submission(submission("learner-2")).id
    queue.start_grading(sid2, worker="slow", lease_seconds=10)
    clock.advance(11)
    queue.recover_stale_grading()
    queue.start_grading(sid2, worker="fresh", lease_seconds=10)
    with pytest.raises(NotLeaseHolder, match="no longer holds"):
        queue.record_grade(sid2, grade_result(credential=CREDENTIAL), worker="slow")
    with pytest.raises(NotLeaseHolder):
        queue.record_error(sid2, "boom", worker="slow")
    assert grades(db_url, sid) == 1 and grades(db_url, sid2) == 0


# ---- two claimers race -> one wins --------------------------------------------------------------------

def test_of_many_processes_claiming_one_submission_exactly_one_wins(db_url):
    sid = GraderQueue(db_url).create_submission(submission()).id
    script = textwrap.dedent(f"""
        import sys
        from grader.queue import GraderQueue, InvalidTransition
        queue = GraderQueue({db_url!r})
        sys.stdin.readline()  # start together
        try:
            queue.start_grading({sid!r}, worker=sys.argv[1])
            print("won")
        except InvalidTransition:
            print("lost")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"worker-{i}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for i in range(6)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    winner = f"worker-{outcomes.index('won')}"
    queue = GraderQueue(db_url)
    assert queue.get_submission(sid, assessor=_alice()).claimed_by == winner
    assert events(queue, sid).count("grading_started") == 1


def test_two_services_sweeping_together_grade_each_submission_once(db_url, catalogue, scorer):
    clock = Clock()
    seed = GraderQueue(db_url, clock=clock)
    sids = [seed.create_submission(submission(f"learner-{i}")).id for i in range(4)]
    for sid in sids[:2]:  # two left grading by a dead process
        seed.start_grading(sid, worker="dead", lease_seconds=5)
    clock.advance(6)
    services = [service_on(db_url, catalogue, scorer, clock=clock) for _ in range(2)]
    barrier = threading.Barrier(2)

    def sweep(service: GraderService) -> None:
        barrier.wait()
        service.resume_pending(keep_sweeping=False)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in services:
        s.close()
    for sid in sids:
        assert grades(db_url, sid) == 1, events(seed, sid)
        assert events(seed, sid).count("graded") == 1
        assert seed.get_submission(sid, learner_id=seed.get_submission(sid, assessor=_alice()).learner_id
                                   ).status in (Status.passed, Status.failed, Status.review)


# ---- retry from error: CLI and web ----------------------------------------------------------------------

def _alice():
    from grader.models import Assessor

    return Assessor(username="alice", display_name="Alice Assessor")


def _errored(queue: GraderQueue, learner: str) -> str:
    """A submission whose grading stopped unexpectedly, recorded exactly as the grading thread records it."""
    sid = queue.create_submission(submission(learner)).id
    queue.start_grading(sid, worker="crashed")
    queue.record_error(sid, GRADING_FAILED, worker="crashed")
    return sid


@pytest.fixture
def accounts_file(tmp_path, monkeypatch):
    path = tmp_path / "assessors.toml"
    path.write_text(f'[[assessors]]\nusername = "alice"\ndisplay_name = "Alice Assessor"\n'
                    f'password_hash = "{hash_password(PASSWORD, rounds=4)}"\n', encoding="utf-8")
    monkeypatch.setenv(ASSESSORS_FILE_ENV, str(path))
    return path


def test_the_learner_is_told_an_assessor_can_retry_and_only_errors_can_be_retried(db_url):
    queue = GraderQueue(db_url)
    sid = _errored(queue, "learner-1")
    view = queue.get_submission(sid, learner_id="learner-1")
    assert view.status is Status.error and "the assessors, who can grade it again" in view.error_message
    assert [v.id for v in queue.errored_submissions()] == [sid]
    received = queue.create_submission(submission("learner-2")).id
    with pytest.raises(InvalidTransition):
        queue.retry(received, "alice")


def test_retry_from_the_cli_grades_again_and_audits_the_assessor(settings, monkeypatch, accounts_file):
    from stackwise.cli import app

    monkeypatch.setenv("STACKWISE_GRADER_FEEDBACK", "0")  # the model is not needed for this
    from stackwise.config import get_settings
    from stackwise.wiring import _grader

    get_settings.cache_clear()
    _grader.cache_clear()
    queue = GraderQueue(settings.db_url)
    sid, queued = _errored(queue, "learner-1"), _errored(queue, "learner-2")
    runner = CliRunner()
    listing = runner.invoke(app, ["review", "retry"])
    assert listing.exit_code == 0 and sid in listing.output and queued in listing.output
    no_login = runner.invoke(app, ["review", "retry", sid])
    assert no_login.exit_code != 0 and "--username" in no_login.output
    wrong = runner.invoke(app, ["review", "retry", sid, "--username", "alice", "--password", "nope"])
    assert wrong.exit_code != 0 and "wrong password" in wrong.output
    assert queue.get_submission(sid, learner_id="learner-1").status is Status.error

    done = runner.invoke(app, ["review", "retry", sid, "--username", "alice", "--password", PASSWORD])
    assert done.exit_code == 0, done.output
    status = queue.get_submission(sid, learner_id="learner-1").status
    assert status in (Status.passed, Status.failed, Status.review) and status.value in done.output
    retry = [e for e in queue.audit_log(sid) if e.event_type == "retry_requested"]
    assert len(retry) == 1 and retry[0].actor == "alice" and retry[0].details["previous_error"] == GRADING_FAILED
    assert grades(settings.db_url, sid) == 1

    later = runner.invoke(app, ["review", "retry", queued, "--username", "alice", "--password", PASSWORD,
                                "--queue-only"])
    assert later.exit_code == 0 and "received" in later.output
    assert queue.pending_submissions() == [queued]  # the running server's sweep grades it
    again = runner.invoke(app, ["review", "retry", sid, "--username", "alice", "--password", PASSWORD])
    assert again.exit_code != 0 and "cannot become" in again.output and "Traceback" not in again.output
    _grader.cache_clear()
    get_settings.cache_clear()


def test_retry_from_the_assessor_tab_grades_again_and_audits_the_assessor(db_url, catalogue, scorer,
                                                                         accounts_file):
    from stackwise.web.grader_handlers import GraderWeb

    service = service_on(db_url, catalogue, scorer)
    sid = _errored(service.queue, "learner-1")
    web = GraderWeb(service)
    assert web.errored(None)["choices"] == []  # nothing for a visitor who is not logged in
    refused = web.retry("forged", sid)
    assert refused[0] is None and service.queue.get_submission(sid, learner_id="learner-1").status is Status.error
    session, *_ = web.login("alice", PASSWORD, "age", "")
    assert [value for _label, value in web.errored(session)["choices"]] == [sid]
    state, message, *_rest, picker = web.retry(session, sid)
    assert state is session and "back in the grading queue" in message
    assert picker["choices"] == []
    service.close()
    view = service.queue.get_submission(sid, learner_id="learner-1")
    assert view.status in (Status.passed, Status.failed, Status.review), view.error_message
    retry = [e for e in service.queue.audit_log(sid) if e.event_type == "retry_requested"]
    assert len(retry) == 1 and retry[0].actor == "alice"
    assert grades(db_url, sid) == 1
    _state, message, *_ = web.retry(session, sid)  # not in error any more: a clear message, no traceback
    assert message.startswith("Cannot retry:")


def test_a_submission_withdrawn_by_forget_me_cannot_be_retried(db_url):
    """"Forget me" withdraws open submissions (to ``error``) and deletes their evidence: an assessor's retry
    would grade nothing, so it is refused, and the retry list does not offer it."""
    from grader.erasure import erase_learner

    queue = GraderQueue(db_url)
    waiting = queue.create_submission(submission("learner-9")).id
    failed = _errored(queue, "learner-8")
    erased = erase_learner(queue, "learner-9")
    assert erased is not None
    assert queue._view(waiting).status is Status.error  # the learner id is erased: read it as the store does
    assert [v.id for v in queue.errored_submissions()] == [failed]
    with pytest.raises(InvalidTransition, match="withdrew"):
        queue.retry(waiting, "alice")
    assert queue._view(waiting).status is Status.error  # the learner id is erased: read it as the store does
