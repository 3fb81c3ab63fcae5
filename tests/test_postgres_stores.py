"""The stores' flows that other test files run on SQLite only, here on SQLite and on a real PostgreSQL server
(tests/pg_server.py): the grading lease (compare-and-set, renewal, expiry and take-over), the assistant's
conversation memory (JSON columns, forgetting), the channels' delivery log (unique keys), and the database's own
refusal to change an audit log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from assistant.memory import ConversationMemory, Subject
from grader.errors import InvalidTransition, NotLeaseHolder
from stackwise.notify import DeliveryLog
from storage import engine_for
from tests.test_grader_store import Clock, grade_result, new_queue, submission_in


def test_of_workers_racing_for_one_submission_exactly_one_takes_the_grading_lease(database_url: str) -> None:
    clock = Clock()
    queue = new_queue(database_url, clock)
    sid = queue.create_submission(submission_in()).id
    barrier = threading.Barrier(6)

    def attempt(worker: str) -> str:
        barrier.wait()
        try:
            queue.start_grading(sid, worker=worker, lease_seconds=60)
            return worker
        except InvalidTransition:
            return "lost"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, [f"worker-{i}" for i in range(6)]))
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1
    assert [e.event_type for e in queue.audit_log(sid)].count("grading_started") == 1


def test_an_expired_grading_lease_goes_back_to_the_queue_and_the_late_worker_records_nothing(
        database_url: str) -> None:
    clock = Clock()
    queue = new_queue(database_url, clock)
    sid = queue.create_submission(submission_in()).id
    queue.start_grading(sid, worker="slow", lease_seconds=30)
    assert queue.renew_grading_lease(sid, "slow", lease_seconds=30)
    assert not queue.renew_grading_lease(sid, "someone-else")
    assert queue.recover_stale_grading() == []  # renewed, still held
    clock.advance(31)
    assert not queue.renew_grading_lease(sid, "slow")
    assert queue.recover_stale_grading() == [sid]
    queue.start_grading(sid, worker="fresh", lease_seconds=30)
    with pytest.raises(NotLeaseHolder):
        queue.record_grade(sid, grade_result(), worker="slow")
    view = queue.record_grade(sid, grade_result(), worker="fresh")
    assert view.status.value == "review"
    events = [e.event_type for e in queue.audit_log(sid)]
    assert events.count("grading_lease_expired") == 1 and events.count("graded") == 1


def test_conversation_memory_keeps_turns_profiles_and_subjects_and_forgets_them(database_url: str) -> None:
    memory = ConversationMemory(database_url, window=3, max_stored=4)
    for i in range(5):
        memory.add_exchange("ada", f"q{i} é ✓", f"a{i}", [f"cred-{i}"])
    assert [t.content for t in memory.history("ada", limit=10)] == ["q3 é ✓", "a3", "q4 é ✓", "a4"]
    assert memory.recent_entities("ada")[:1] == ["cred-4"]
    memory.set_holding("ada", ["data-strategy", "ml-basics"])
    memory.set_subject("ada", Subject(kind="route", tool="plan", ids=["a", "b"], objective="price"))
    reopened = ConversationMemory(database_url)  # another process on the same database
    assert reopened.holding("ada") == ["data-strategy", "ml-basics"]
    assert reopened.subject("ada") == Subject(kind="route", tool="plan", ids=["a", "b"], objective="price")
    assert reopened.stored("ada") == (4, 2)
    assert reopened.forget("ada") > 0
    assert memory.history("ada") == [] and memory.holding("ada") == [] and memory.subject("ada") is None


def test_the_delivery_log_records_each_key_once(database_url: str) -> None:
    log = DeliveryLog(database_url)
    started = log.started("telegram")
    assert started.tzinfo is not None and DeliveryLog(database_url).started("telegram") == started
    assert log.record("telegram", "outcome:1") and not log.record("telegram", "outcome:1")
    assert log.record("email", "outcome:1")
    assert log.recorded("telegram", ["outcome:1", "outcome:2"]) == {"outcome:1"}


def test_the_database_itself_refuses_to_change_the_grader_audit_log(database_url: str) -> None:
    queue = new_queue(database_url, Clock())
    queue.create_submission(submission_in())
    engine = engine_for(database_url)
    for statement in ("UPDATE grader_audit_log SET actor = 'mallory'", "DELETE FROM grader_audit_log"):
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM grader_audit_log")).scalars().all() == ["learner-1"]
