"""Review queue: listing, lease claims (incl. races and expiry), decisions with overrides, agreement
statistics and the ready-to-issue event. Real SQLite in temporary directories; no mocks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.models import (
    Assessor,
    ClaimConflict,
    InvalidOverride,
    InvalidTransition,
    JustificationRequired,
    LeaseExpired,
    NotLeaseHolder,
    QueueItem,
    ReadyToIssue,
    RubricRequired,
    Status,
    Totals,
)
from grader.queue import GraderQueue, rubric_scorer
from tests.test_grader_store import (
    ALICE,
    BOB,
    CREDENTIAL,
    Clock,
    grade_result,
    make_rubric,
    new_queue,
    submission_in,
    to_review,
)


@pytest.fixture
def db_url(database_url: str) -> str:
    """Every test here runs on SQLite and on a throwaway PostgreSQL server (tests/pg_server.py)."""
    return database_url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(db_url: str, clock: Clock) -> GraderQueue:
    return new_queue(db_url, clock)


def _waiting(queue: GraderQueue, clock: Clock, learner: str, reasons: list[str], wait: float = 60) -> str:
    sid = to_review(queue, learner, reasons=reasons)
    clock.advance(wait)
    return sid


# ---- listing -------------------------------------------------------------------------------------


def test_queue_is_sorted_by_age_then_reason_and_hides_identity(queue: GraderQueue, clock: Clock) -> None:
    old = _waiting(queue, clock, "l1", ["low_confidence"])
    mid = _waiting(queue, clock, "l2", ["near_threshold", "prompt_injection"])
    new = _waiting(queue, clock, "l3", ["machine_generated"])
    passed = queue.create_submission(submission_in("l4")).id
    queue.start_grading(passed)
    queue.record_grade(passed, grade_result(decision="pass", reasons=[]))

    items = queue.list_queue()
    assert [i.submission_id for i in items] == [old, mid, new]
    assert items[0].age_seconds > items[2].age_seconds > 0
    assert items[1].reasons == ["near_threshold", "prompt_injection"] and items[1].ai_total_points == 4
    assert items[0].model == "qwen2.5-coder-1.5b" and items[0].prompt_version == "grader_criterion.v1"
    assert [i.submission_id for i in queue.list_queue(sort="reason")] == [mid, new, old]
    assert [i.submission_id for i in queue.list_queue(reason="machine_generated")] == [new]
    assert queue.list_queue(credential_id="other") == []
    assert not any(name.startswith("learner") for name in QueueItem.model_fields)

    queue.claim(mid, ALICE)
    assert [i.claimed_by for i in queue.list_queue()] == [None, "alice", None]
    assert [i.submission_id for i in queue.list_queue(include_claimed=False)] == [old, new]


def test_failed_submission_can_be_appealed_into_the_queue(queue: GraderQueue) -> None:
    sid = queue.create_submission(submission_in()).id
    queue.start_grading(sid)
    queue.record_grade(sid, grade_result(decision="fail", reasons=[]))
    queue.request_review(sid, "learner-1")
    assert [(i.submission_id, i.reasons) for i in queue.list_queue()] == [(sid, ["appeal"])]


# ---- claims --------------------------------------------------------------------------------------


def test_two_assessors_claiming_at_once_exactly_one_wins(db_url: str, clock: Clock) -> None:
    setup = GraderQueue(db_url, clock=clock)
    submissions = [to_review(setup, f"l{i}") for i in range(5)]
    for sid in submissions:
        barrier = threading.Barrier(2)

        def attempt(who: Assessor, sid: str = sid, barrier: threading.Barrier = barrier) -> str:
            queue = GraderQueue(db_url, clock=clock)  # each assessor its own queue and sessions
            barrier.wait()
            try:
                return queue.claim(sid, who, lease_seconds=1800).assessor
            except ClaimConflict as exc:
                return f"conflict:{exc.holder}"

        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(attempt, [ALICE, BOB]))
        winner = results[0] if not results[0].startswith("conflict") else results[1]
        assert sorted(results) == sorted([winner, f"conflict:{winner}"])
        assert [e.actor for e in setup.audit_log(sid) if e.event_type == "claimed"] == [winner]
        assert setup.get_submission(sid, assessor=ALICE).claimed_by == winner


def test_expired_lease_can_be_taken_over(queue: GraderQueue, clock: Clock) -> None:
    sid = to_review(queue)
    lease = queue.claim(sid, ALICE, lease_seconds=60)
    assert lease.assessor == "alice" and (lease.expires_at - clock.now).total_seconds() == pytest.approx(60, abs=1)
    with pytest.raises(ClaimConflict, match="claimed by 'alice'"):
        queue.claim(sid, BOB)
    assert queue.try_claim(sid, BOB) is None
    clock.advance(61)
    assert queue.claim(sid, BOB).assessor == "bob"
    assert queue.audit_log(sid)[-1].details["took_over_from"] == "alice"
    with pytest.raises(NotLeaseHolder):
        queue.decide(sid, ALICE, "approve")
    with pytest.raises(NotLeaseHolder):
        queue.release(sid, ALICE)
    assert queue.decide(sid, BOB, "approve").status is Status.approved


def test_only_the_lease_holder_decides(queue: GraderQueue, clock: Clock) -> None:
    sid = to_review(queue)
    with pytest.raises(NotLeaseHolder, match="claim it first"):
        queue.decide(sid, ALICE, "approve")
    queue.claim(sid, ALICE, lease_seconds=60)
    with pytest.raises(NotLeaseHolder, match="'bob' does not hold the lease"):
        queue.decide(sid, BOB, "approve")
    clock.advance(120)
    with pytest.raises(LeaseExpired, match="claim it again"):
        queue.decide(sid, ALICE, "approve")
    queue.claim(sid, ALICE)  # renew: nobody took it meanwhile
    queue.decide(sid, ALICE, "reject", comment="copied from the course notes")
    assert queue.get_submission(sid, learner_id="learner-1").status is Status.rejected
    with pytest.raises(InvalidTransition, match="is 'rejected'"):
        queue.claim(sid, BOB)
    with pytest.raises(InvalidTransition):  # the human decision stands: no later AI grade replaces it
        queue.record_grade(sid, grade_result(decision="pass"))


def test_release_frees_the_submission(queue: GraderQueue) -> None:
    sid = to_review(queue)
    queue.claim(sid, ALICE)
    queue.release(sid, ALICE)
    assert queue.claim(sid, BOB).assessor == "bob"
    with pytest.raises(ValueError, match="lease_seconds"):
        queue.claim(sid, BOB, lease_seconds=0)


# ---- decisions and overrides ---------------------------------------------------------------------


def test_overrides_lower_the_total_and_the_rubric_rejects(queue: GraderQueue) -> None:
    sid = to_review(queue)  # AI: partial, partial, strong = 4/6, which passes
    queue.claim(sid, ALICE)
    result = queue.decide(sid, ALICE, None, {"c3": ("missing", "The quoted test output is not in the evidence.")})
    assert (result.total_points, result.max_points, result.rubric_passed) == (2, 6, False)
    assert result.decision == "reject" and result.status is Status.rejected
    view = queue.get_submission(sid, learner_id="learner-1")
    assert view.decided_by == "assessor" and view.total_points == 2 and not view.ready_to_issue
    c3 = next(c for c in view.criteria if c.criterion_id == "c3")
    assert (c3.level_id, c3.ai_level_id, c3.source) == ("missing", "strong", "assessor")
    assert c3.comment == "The quoted test output is not in the evidence."
    audit = queue.audit_log(sid)[-1]
    assert audit.details["overrides"] == {"c3": {"from": "strong", "to": "missing",
                                                 "comment": "The quoted test output is not in the evidence."}}


def test_overrides_raise_the_total_and_the_rubric_approves(queue: GraderQueue) -> None:
    sid = to_review(queue, levels={"c1": "missing", "c2": "partial", "c3": "partial"})  # 2/6: fails
    queue.claim(sid, ALICE)
    result = queue.decide(sid, ALICE, None, {"c1": ("strong", "The repo link shows it.")})
    assert (result.total_points, result.rubric_passed, result.status) == (4, True, Status.approved)
    assert queue.ready_to_issue() == [sid]
    detail = queue.get_submission(sid, assessor=BOB)
    assert detail.reviews[0].criteria[0].source == "assessor" and detail.grades[0].total_points == 2


def test_invalid_overrides_change_nothing(queue: GraderQueue) -> None:
    sid = to_review(queue)
    queue.claim(sid, ALICE)
    before = len(queue.audit_log(sid))
    with pytest.raises(InvalidOverride, match="needs a comment"):
        queue.decide(sid, ALICE, "approve", {"c1": ("strong", "  ")})
    with pytest.raises(InvalidOverride, match="no level 'excellent'"):
        queue.decide(sid, ALICE, "approve", {"c1": ("excellent", "great")})
    with pytest.raises(InvalidOverride, match="not in the rubric"):
        queue.decide(sid, ALICE, "approve", {"c9": ("strong", "extra")})
    assert len(queue.audit_log(sid)) == before
    view = queue.get_submission(sid, assessor=ALICE)
    assert view.status is Status.review and view.claimed_by == "alice" and view.reviews == []
    # keeping the AI's level needs no comment
    assert queue.decide(sid, ALICE, "approve", {"c1": ("partial", "")}).criteria[0].source == "ai"


def test_a_decision_against_the_rubric_needs_a_reason(queue: GraderQueue) -> None:
    sid = to_review(queue, levels={"c1": "missing", "c2": "missing", "c3": "partial"})  # 1/6
    queue.claim(sid, ALICE)
    with pytest.raises(JustificationRequired, match="rubric says fail"):
        queue.decide(sid, ALICE, "approve")
    result = queue.decide(sid, ALICE, "approve", comment="Portfolio reviewed in person; evidence is sufficient.")
    assert result.status is Status.approved and result.rubric_passed is False  # the human decision wins
    assert queue.ready_to_issue() == [sid]


def test_rubric_or_rescorer_needed_to_recompute(db_url: str, clock: Clock) -> None:
    queue = GraderQueue(db_url, clock=clock)  # no rubric resolver
    sid = to_review(queue)
    queue.claim(sid, ALICE)
    with pytest.raises(RubricRequired):
        queue.decide(sid, ALICE, "approve", {"c1": ("strong", "clear")})
    with pytest.raises(RubricRequired):
        queue.decide(sid, ALICE, None)
    calls = []

    def rescore(levels):
        calls.append(dict(levels))
        return Totals(total_points=10, max_points=10, passed=True)

    result = queue.decide(sid, ALICE, None, {"c1": ("strong", "clear")}, rubric=rescore)
    assert calls == [{"c1": "strong", "c2": "partial", "c3": "strong"}] and result.status is Status.approved
    other = to_review(queue, "l2")
    queue.claim(other, ALICE)
    kept = queue.decide(other, ALICE, "resubmit", comment="add a demo video")  # no change: AI totals kept
    assert (kept.total_points, kept.rubric_passed, kept.status) == (4, None, Status.resubmission_requested)


def test_rubric_scorer_applies_minimum_per_criterion() -> None:
    rubric = make_rubric().model_copy(update={"min_points_each": 1})
    score = rubric_scorer(rubric)
    assert score({"c1": "strong", "c2": "strong", "c3": "missing"}) == Totals(total_points=4, max_points=6,
                                                                               passed=False)
    assert score({"c1": "strong", "c2": "partial", "c3": "partial"}).passed


# ---- statistics and events -----------------------------------------------------------------------


def test_agreement_stats_per_criterion(queue: GraderQueue) -> None:
    overrides = [{}, {"c1": ("strong", "clearly strong")}, {"c1": ("missing", "nothing there"),
                                                            "c2": ("strong", "good")}]
    for i, override in enumerate(overrides):
        sid = to_review(queue, f"l{i}")
        queue.claim(sid, ALICE)
        queue.decide(sid, ALICE, "resubmit", override, comment="see notes")
    stats = {s.criterion_id: s for s in queue.agreement_stats()}
    assert (stats["c1"].reviewed, stats["c1"].kept, stats["c1"].rate) == (3, 1, pytest.approx(1 / 3))
    assert stats["c1"].changes == {"partial->strong": 1, "partial->missing": 1}
    assert (stats["c2"].kept, stats["c2"].changes) == (2, {"partial->strong": 1})
    assert (stats["c3"].kept, stats["c3"].rate) == (3, 1.0)
    assert queue.agreement_stats(credential_id="other") == []
    assert [s.criterion_id for s in queue.agreement_stats(credential_id=CREDENTIAL)] == ["c1", "c2", "c3"]


def test_ready_to_issue_is_heard_only_by_the_listeners_of_that_queue(tmp_path, clock: Clock) -> None:
    """Listeners belong to one queue instance (given to it or subscribed on it): no other queue's passes reach them."""
    heard_a: list[ReadyToIssue] = []
    heard_b: list[ReadyToIssue] = []
    queue_a = GraderQueue(f"sqlite:///{tmp_path / 'a.db'}", clock=clock, rubrics=lambda _cid: make_rubric(),
                          listeners=[heard_a.append])
    queue_b = new_queue(f"sqlite:///{tmp_path / 'b.db'}", clock)
    queue_b.subscribe(heard_b.append)
    for queue, learner in ((queue_a, "a"), (queue_b, "b")):
        sid = queue.create_submission(submission_in(learner)).id
        queue.start_grading(sid)
        queue.record_grade(sid, grade_result(decision="pass", reasons=[]))
    assert [e.submission_id for e in heard_a] == queue_a.ready_to_issue()
    assert [e.submission_id for e in heard_b] == queue_b.ready_to_issue()
    assert len(heard_a) == len(heard_b) == 1 and heard_a[0].submission_id != heard_b[0].submission_id


def test_ready_to_issue_event_fires_for_auto_pass_and_approval_only(queue: GraderQueue) -> None:
    events: list[ReadyToIssue] = []

    def broken(_event: ReadyToIssue) -> None:
        raise RuntimeError("issuance is down")

    stop_broken = queue.subscribe(broken)
    stop = queue.subscribe(events.append)
    try:
        passed = queue.create_submission(submission_in("p")).id
        queue.start_grading(passed)
        queue.record_grade(passed, grade_result(decision="pass", reasons=[]))
        approved, rejected = to_review(queue, "a"), to_review(queue, "r")
        for sid, decision in ((approved, "approve"), (rejected, "reject")):
            queue.claim(sid, BOB)
            queue.decide(sid, BOB, decision, comment="ok")
    finally:
        stop()
        stop_broken()
    assert [(e.submission_id, e.source, e.actor) for e in events] == [(passed, "auto_pass", "grader"),
                                                                      (approved, "assessor", "bob")]
    assert events[0].learner_name == "Ada Lovelace" and events[0].credential_id == CREDENTIAL
    assert sorted(queue.ready_to_issue()) == sorted([passed, approved])  # the broken listener undid nothing
    late = to_review(queue, "late")
    queue.claim(late, BOB)
    queue.decide(late, BOB, "approve")
    assert len(events) == 2  # unsubscribed
