"""Grader store and lifecycle: transitions, idempotency, audit log, concurrency, learner views, accounts.

Real SQLite databases in temporary directories; no mocks. The review-queue workflow (claims, decisions,
overrides) is in ``test_review_queue.py``, which reuses the helpers defined here.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from grader.accounts import AssessorsFileInvalid, authenticate, hash_password, load_assessors
from grader.accounts import main as accounts_main
from grader.models import (
    Assessor,
    ClaimConflict,
    CriterionGrade,
    ExtractedFile,
    GradeResult,
    IdempotencyConflict,
    InvalidTransition,
    LeaseExpired,
    NotLeaseHolder,
    Status,
    SubmissionIn,
    SubmissionNotFound,
)
from grader.queue import GraderQueue
from grader.store import AuditRow, FileRow, SubmissionRow
from knowledge.schema import Rubric
from storage import AuditLogImmutable, engine_for, session_factory
from tests.catalogue_factory import rubric as rubric_data

CREDENTIAL = "cred-a"


class Clock:
    """A controllable UTC clock shared by a queue and its test."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(microseconds=1)  # strictly increasing, like a real clock
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


def make_rubric() -> Rubric:
    """Three criteria c1..c3 with levels missing/partial/strong = 0/1/2 points; passes at 4."""
    return Rubric.model_validate(rubric_data())


def submission_in(learner: str = "learner-1", key: str | None = None, credential: str = CREDENTIAL,
                  **extra) -> SubmissionIn:
    fields = {"credential_id": credential, "learner_id": learner, "learner_name": "Ada Lovelace",
              "learner_email": "ada@example.org", "files": [("essay.txt", b"I built a thing.", "text/plain")],
              "links": ["https://example.org/repo"], "reflection": "I learned a lot.", "idempotency_key": key}
    fields.update(extra)
    return SubmissionIn(**fields)


def grade_result(levels: dict[str, str] | None = None, decision: str = "review", reasons: list[str] | None = None,
                 credential: str = CREDENTIAL) -> GradeResult:
    levels = levels or {"c1": "partial", "c2": "partial", "c3": "strong"}
    points = {"missing": 0, "partial": 1, "strong": 2}
    criteria = [CriterionGrade(criterion_id=cid, level_id=lv, distribution={lv: 0.7, "missing": 0.3},
                               confidence=0.7, rationale=f"{cid} looks {lv}", quotes=["I built a thing."])
                for cid, lv in levels.items()]
    return GradeResult(credential_id=credential, criteria=criteria,
                       total_points=sum(points[lv] for lv in levels.values()), max_points=2 * len(levels),
                       decision=decision, reasons=reasons if reasons is not None else ["low_confidence"],
                       model="qwen2.5-coder-1.5b", prompt_version="grader_criterion.v1", seconds=1.5)


def to_review(queue: GraderQueue, learner: str = "learner-1", reasons: list[str] | None = None, **grade) -> str:
    sid = queue.create_submission(submission_in(learner)).id
    queue.start_grading(sid)
    queue.record_grade(sid, grade_result(reasons=reasons, **grade), model_input="[LEARNER] built a thing.")
    return sid


@pytest.fixture
def db_url(database_url: str) -> str:
    """Every test here runs on SQLite and on a throwaway PostgreSQL server (tests/pg_server.py)."""
    return database_url


@pytest.fixture
def clock() -> Clock:
    return Clock()


def new_queue(db_url: str, clock: Clock) -> GraderQueue:
    """A queue whose rubric resolver knows CREDENTIAL (see :func:`make_rubric`)."""
    return GraderQueue(db_url, clock=clock, rubrics=lambda cid: make_rubric() if cid == CREDENTIAL else None)


@pytest.fixture
def queue(db_url: str, clock: Clock) -> GraderQueue:
    return new_queue(db_url, clock)


ALICE = Assessor(username="alice", display_name="Alice")
BOB = Assessor(username="bob", display_name="Bob")


# ---- lifecycle -----------------------------------------------------------------------------------


def test_auto_pass_path_is_ready_to_issue_with_everything_stored(queue: GraderQueue) -> None:
    view = queue.create_submission(submission_in())
    assert view.status is Status.received and not view.ready_to_issue and view.filenames == ["essay.txt"]
    job = queue.start_grading(view.id)
    assert job.files[0].content == b"I built a thing." and job.learner_name == "Ada Lovelace"
    queue.record_extraction(view.id, [ExtractedFile(position=0, text="I built a thing.")])
    passed = queue.record_grade(view.id, grade_result({"c1": "strong", "c2": "strong", "c3": "partial"}, "pass", []),
                                model_input="[LEARNER] built a thing.")
    assert passed.status is Status.passed and passed.ready_to_issue and passed.decided_by == "ai"
    assert passed.total_points == 5 and [c.level_id for c in passed.criteria] == ["strong", "strong", "partial"]
    assert queue.ready_to_issue() == [view.id]

    detail = queue.get_submission(view.id, assessor=ALICE, include_content=True)
    assert detail.learner_email == "ada@example.org" and detail.files[0].content == b"I built a thing."
    assert detail.files[0].extracted_text == "I built a thing." and len(detail.files[0].sha256) == 64
    grade = detail.grades[0]
    assert grade.model_input == "[LEARNER] built a thing." and grade.model == "qwen2.5-coder-1.5b"
    assert grade.prompt_version == "grader_criterion.v1" and grade.criteria[0].distribution == {"strong": 0.7,
                                                                                                "missing": 0.3}
    assert [e.event_type for e in queue.audit_log(view.id)] == ["received", "grading_started", "evidence_extracted",
                                                                 "graded"]


def test_fail_and_review_are_not_issuable(queue: GraderQueue) -> None:
    failed = queue.create_submission(submission_in("l1")).id
    queue.start_grading(failed)
    assert queue.record_grade(failed, grade_result(decision="fail", reasons=[])).status is Status.failed
    in_review = to_review(queue, "l2")
    assert queue.get_submission(in_review, learner_id="l2").status is Status.review
    assert queue.ready_to_issue() == []


@pytest.mark.parametrize(("setup", "action"), [
    ("received", "grade"), ("received", "decide_state"), ("grading", "start"), ("passed", "start"),
    ("passed", "error"), ("passed", "grade"), ("failed", "grade"), ("review", "grade"), ("review", "error"),
    ("review", "start"), ("error", "grade"), ("received", "appeal"), ("review", "appeal"),
])
def test_invalid_transitions_raise_and_change_nothing(queue: GraderQueue, setup: str, action: str) -> None:
    sid = queue.create_submission(submission_in()).id
    if setup != "received":
        queue.start_grading(sid)
    if setup in ("passed", "failed", "review"):
        queue.record_grade(sid, grade_result(decision={"passed": "pass", "failed": "fail", "review": "review"}[setup]))
    if setup == "error":
        queue.record_error(sid, "unreadable PDF")
    before = (queue.get_submission(sid, learner_id="learner-1"), len(queue.audit_log(sid)))
    actions = {
        "grade": lambda: queue.record_grade(sid, grade_result()),
        "start": lambda: queue.start_grading(sid),
        "error": lambda: queue.record_error(sid, "boom"),
        "appeal": lambda: queue.request_review(sid, "learner-1"),
        "decide_state": lambda: queue.claim(sid, ALICE),
    }
    with pytest.raises(InvalidTransition, match=f"is '{setup}'"):
        actions[action]()
    assert (queue.get_submission(sid, learner_id="learner-1"), len(queue.audit_log(sid))) == before


def test_error_keeps_the_message_and_can_be_retried(queue: GraderQueue) -> None:
    sid = queue.create_submission(submission_in()).id
    queue.start_grading(sid)
    view = queue.record_error(sid, "evidence unreadable: PDF has no text layer")
    assert view.status is Status.error and view.error_message == "evidence unreadable: PDF has no text layer"
    job = queue.start_grading(sid)  # retry
    assert job.submission_id == sid
    assert queue.get_submission(sid, learner_id="learner-1").error_message is None


def test_empty_and_too_large_evidence_is_stored_as_error_not_lost(db_url: str, clock: Clock) -> None:
    queue = GraderQueue(db_url, clock=clock, max_file_bytes=10)
    big = queue.create_submission(submission_in(files=[("huge.pdf", b"x" * 11, "application/pdf")]))
    assert big.status is Status.error and "too large" in big.error_message and big.filenames == ["huge.pdf"]
    stored = queue.get_submission(big.id, assessor=ALICE, include_content=True).files[0]
    assert stored.size == 11 and stored.content is None and "too large" in stored.extraction_error
    empty = queue.create_submission(submission_in("l2", files=[], links=[], reflection="  "))
    assert empty.status is Status.error and "no evidence" in empty.error_message
    assert [e.event_type for e in queue.audit_log(empty.id)] == ["received", "error"]


def test_wrong_credential_grade_is_refused(queue: GraderQueue) -> None:
    sid = queue.create_submission(submission_in()).id
    queue.start_grading(sid)
    with pytest.raises(Exception, match="is for 'cred-a'"):
        queue.record_grade(sid, grade_result(credential="cred-b"))
    assert queue.get_submission(sid, learner_id="learner-1").status is Status.grading


def test_unknown_submission(queue: GraderQueue) -> None:
    with pytest.raises(SubmissionNotFound, match="no submission 'nope'"):
        queue.start_grading("nope")
    with pytest.raises(SubmissionNotFound):
        queue.claim("nope", ALICE)


# ---- idempotency and resubmission ----------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_submission(queue: GraderQueue, db_url: str) -> None:
    first = queue.create_submission(submission_in(key="k-1"))
    again = queue.create_submission(submission_in(key="k-1", reflection="edited"))
    assert again.id == first.id
    other_learner = queue.create_submission(submission_in("learner-2", key="k-1"))
    assert other_learner.id != first.id
    with pytest.raises(IdempotencyConflict, match="already used for credential 'cred-a'"):
        queue.create_submission(submission_in(key="k-1", credential="cred-b"))
    assert _count(db_url, SubmissionRow) == 2
    assert len(queue.audit_log(first.id)) == 1


def test_resubmission_links_to_the_previous(queue: GraderQueue, clock: Clock) -> None:
    first = to_review(queue)
    queue.claim(first, ALICE)
    queue.decide(first, ALICE, "resubmit", comment="Add the test results.")
    learner_view = queue.get_submission(first, learner_id="learner-1")
    assert learner_view.status is Status.resubmission_requested and learner_view.comment == "Add the test results."
    second = queue.create_submission(submission_in(key="second"))
    assert second.previous_submission_id == first
    third = queue.create_submission(submission_in(key="third"))
    assert third.previous_submission_id is None  # only one follow-up per request
    with pytest.raises(InvalidTransition, match="resubmission already exists"):
        queue.create_submission(submission_in(key="fourth"), resubmission_of=first)
    with pytest.raises(SubmissionNotFound):  # someone else's submission is not theirs to follow up
        queue.create_submission(submission_in("intruder"), resubmission_of=first)


# ---- audit log -----------------------------------------------------------------------------------


def test_audit_log_has_one_entry_per_change(queue: GraderQueue, clock: Clock) -> None:
    sid = to_review(queue)  # received, grading_started, graded
    queue.claim(sid, ALICE)
    queue.release(sid, ALICE)
    queue.claim(sid, BOB)
    queue.decide(sid, BOB, "approve", comment="fine")
    log = queue.audit_log(sid)
    assert [(e.event_type, e.actor) for e in log] == [
        ("received", "learner-1"), ("grading_started", "grader"), ("graded", "grader"), ("claimed", "alice"),
        ("released", "alice"), ("claimed", "bob"), ("decided", "bob")]
    assert log[2].details["from"] == "grading" and log[2].details["to"] == "review"
    assert log[-1].details["to"] == "approved" and log[-1].details["decision"] == "approve"
    assert all(e.created_at.tzinfo is not None for e in log)
    assert [e.id for e in log] == sorted(e.id for e in log)


def test_audit_log_cannot_be_modified(queue: GraderQueue, db_url: str) -> None:
    sid = queue.create_submission(submission_in()).id
    public = [name for name in dir(queue) if not name.startswith("_") and "audit" in name]
    assert public == ["audit_log"]
    sessions = session_factory(db_url)
    with sessions() as session:
        entry = session.scalars(select(AuditRow)).one()
        entry.actor = "mallory"
        with pytest.raises(AuditLogImmutable):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(AuditRow)).one())
        with pytest.raises(AuditLogImmutable):
            session.flush()
        session.rollback()
        with pytest.raises(AuditLogImmutable):
            session.execute(update(AuditRow).values(actor="mallory"))
    with engine_for(db_url).connect() as conn:  # below the ORM, the database refuses too
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text("UPDATE grader_audit_log SET actor = 'mallory'"))
        conn.rollback()  # PostgreSQL aborts the whole transaction on the error
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text("DELETE FROM grader_audit_log"))
    assert [(e.event_type, e.actor) for e in queue.audit_log(sid)] == [("received", "learner-1")]


# ---- concurrency ---------------------------------------------------------------------------------


def _count(db_url: str, model, *where) -> int:
    with session_factory(db_url)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_twenty_parallel_submissions_are_all_stored_once(db_url: str, clock: Clock) -> None:
    barrier = threading.Barrier(20)

    def submit(i: int) -> str:
        queue = GraderQueue(db_url, clock=clock)  # each thread its own queue and sessions
        barrier.wait()
        return queue.create_submission(submission_in(f"learner-{i}", key=f"key-{i}")).id

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(submit, range(20)))
    assert len(set(ids)) == 20
    assert _count(db_url, SubmissionRow) == 20
    assert _count(db_url, FileRow) == 20
    assert _count(db_url, AuditRow, AuditRow.event_type == "received") == 20


def test_parallel_retries_with_one_key_create_one_submission(db_url: str, clock: Clock) -> None:
    queue = GraderQueue(db_url, clock=clock)
    barrier = threading.Barrier(10)

    def submit(_: int) -> str:
        barrier.wait()
        return queue.create_submission(submission_in(key="double-click")).id

    with ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(submit, range(10)))
    assert len(ids) == 1
    assert _count(db_url, SubmissionRow) == 1 and _count(db_url, FileRow) == 1 and _count(db_url, AuditRow) == 1


def test_only_one_grader_starts_a_submission(queue: GraderQueue) -> None:
    sid = queue.create_submission(submission_in()).id
    barrier = threading.Barrier(4)

    def start(_: int) -> bool:
        barrier.wait()
        try:
            queue.start_grading(sid)
            return True
        except InvalidTransition:
            return False

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(start, range(4))) == [False, False, False, True]
    assert [e.event_type for e in queue.audit_log(sid)] == ["received", "grading_started"]


# ---- learner views and issuance ------------------------------------------------------------------


def test_learner_sees_only_own_submissions(queue: GraderQueue) -> None:
    mine = queue.create_submission(submission_in("me")).id
    theirs = queue.create_submission(submission_in("them")).id
    assert [v.id for v in queue.submissions_for_learner("me")] == [mine]
    assert queue.submissions_for_learner("nobody") == []
    with pytest.raises(SubmissionNotFound):
        queue.get_submission(theirs, learner_id="me")
    with pytest.raises(ValueError, match="exactly one"):
        queue.get_submission(theirs)
    view = queue.get_submission(mine, learner_id="me")
    assert not hasattr(view, "files") and not hasattr(view, "learner_email")


def test_learner_does_not_see_the_provisional_ai_grade(queue: GraderQueue) -> None:
    sid = to_review(queue)
    view = queue.get_submission(sid, learner_id="learner-1")
    assert view.total_points is None and view.criteria == [] and view.decided_by is None


def test_ready_to_issue_holds_only_approved_and_passed(queue: GraderQueue, db_url: str) -> None:
    passed = queue.create_submission(submission_in("p")).id
    queue.start_grading(passed)
    queue.record_grade(passed, grade_result(decision="pass", reasons=[]))
    approved, rejected, resubmit = to_review(queue, "a"), to_review(queue, "r"), to_review(queue, "s")
    for sid, decision in ((approved, "approve"), (rejected, "reject"), (resubmit, "resubmit")):
        queue.claim(sid, ALICE)
        queue.decide(sid, ALICE, decision, comment="checked")
    failed = queue.create_submission(submission_in("f")).id
    queue.start_grading(failed)
    queue.record_grade(failed, grade_result(decision="fail", reasons=[]))
    to_review(queue, "waiting")
    errored = queue.create_submission(submission_in("e")).id
    queue.record_error(errored, "empty")
    assert sorted(queue.ready_to_issue()) == sorted([passed, approved])
    assert queue.ready_to_issue(credential_id="other") == []
    queue.mark_issued(passed, "issuance", {"credential_url": "urn:uuid:1"})
    assert queue.ready_to_issue() == [approved]
    with pytest.raises(InvalidTransition, match="already issued"):
        queue.mark_issued(passed)
    with pytest.raises(InvalidTransition, match="not ready to issue"):
        queue.mark_issued(rejected)
    with session_factory(db_url)() as session, pytest.raises(DatabaseError, match="ck_grader_issuable"):
        # the database itself refuses to make a rejected submission issuable
        session.execute(update(SubmissionRow).where(SubmissionRow.id == rejected).values(ready_to_issue=True))


# ---- assessor accounts ---------------------------------------------------------------------------


def test_authenticate_with_bcrypt_hash_from_toml_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "assessors.toml"
    path.write_text(f'[[assessors]]\nusername = "alice"\ndisplay_name = "Alice A."\n'
                    f'password_hash = "{hash_password("correct horse", rounds=4)}"\n', encoding="utf-8")
    assert "correct horse" not in path.read_text(encoding="utf-8")
    monkeypatch.setenv("STACKWISE_ASSESSORS_FILE", str(path))
    assert authenticate("alice", "correct horse") == Assessor(username="alice", display_name="Alice A.")
    assert authenticate("alice", "wrong") is None
    assert authenticate("mallory", "correct horse") is None
    assert authenticate("alice", "x" * 100) is None
    assert authenticate("alice", "") is None


def test_authenticate_from_yaml_and_bad_files(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "assessors.yaml"
    path.write_text(f'assessors:\n  - username: bob\n    password_hash: "{hash_password("s3cret", rounds=4)}"\n',
                    encoding="utf-8")
    assert authenticate("bob", "s3cret", path=path).display_name == "bob"
    monkeypatch.delenv("STACKWISE_ASSESSORS_FILE", raising=False)
    assert load_assessors() == {} and authenticate("bob", "s3cret") is None  # none configured
    plain = tmp_path / "plain.yaml"
    plain.write_text("assessors:\n  - username: eve\n    password: hunter2\n", encoding="utf-8")
    with pytest.raises(AssessorsFileInvalid, match="plain 'password'"):
        authenticate("eve", "hunter2", path=plain)
    bad_hash = tmp_path / "bad.toml"
    bad_hash.write_text('[[assessors]]\nusername = "eve"\npassword_hash = "hunter2"\n', encoding="utf-8")
    with pytest.raises(AssessorsFileInvalid, match="bcrypt"):
        load_assessors(bad_hash)
    with pytest.raises(AssessorsFileInvalid, match="cannot read"):
        load_assessors(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password("x" * 73)


def test_hash_command_prints_an_entry(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-from-stdin\n"))
    assert accounts_main(["hash", "--username", "carol", "--rounds", "4"]) == 0
    out = capsys.readouterr().out
    assert 'username = "carol"' in out and "pw-from-stdin" not in out
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.toml"
        path.write_text(out, encoding="utf-8")
        assert authenticate("carol", "pw-from-stdin", path=path) is not None


# ---- property test: the lifecycle state machine --------------------------------------------------

_STATE_DB = tempfile.mkdtemp(prefix="grader-sm-")
atexit.register(shutil.rmtree, _STATE_DB, ignore_errors=True)


class LifecycleMachine(RuleBasedStateMachine):
    """Random operations against the real store, checked against a tiny model of the lifecycle."""

    subs = Bundle("subs")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.url = f"sqlite:///{_STATE_DB}/sm.db"
        self.queue = GraderQueue(self.url, clock=self.clock, rubrics=lambda _cid: make_rubric())
        self.status: dict[str, Status] = {}
        self.lease: dict[str, tuple[str, datetime]] = {}
        self.changes: dict[str, int] = {}
        self.n = 0

    def _ok(self, sid: str, status: Status | None = None) -> None:
        self.changes[sid] += 1
        if status is not None:
            self.status[sid] = status
            self.lease.pop(sid, None)

    @rule(target=subs)
    def create(self) -> str:
        self.n += 1
        sid = self.queue.create_submission(submission_in(f"sm-{id(self)}-{self.n}")).id
        self.status[sid], self.changes[sid] = Status.received, 1
        return sid

    @initialize(target=subs)
    def seed_in_review(self) -> str:
        return self.create_in_review()

    @rule(target=subs)
    def create_in_review(self) -> str:
        sid = self.create()
        self.queue.start_grading(sid)
        self.queue.record_grade(sid, grade_result(decision="review"))
        self._ok(sid)
        self._ok(sid, Status.review)
        return sid

    @rule(sid=subs)
    def start(self, sid: str) -> None:
        if self.status[sid] in (Status.received, Status.error):
            self.queue.start_grading(sid)
            self._ok(sid, Status.grading)
        else:
            with pytest.raises(InvalidTransition):
                self.queue.start_grading(sid)

    @rule(sid=subs, decision=st.sampled_from(["pass", "fail", "review"]))
    def grade(self, sid: str, decision: str) -> None:
        if self.status[sid] is Status.grading:
            self.queue.record_grade(sid, grade_result(decision=decision))
            self._ok(sid, {"pass": Status.passed, "fail": Status.failed, "review": Status.review}[decision])
        else:
            with pytest.raises(InvalidTransition):
                self.queue.record_grade(sid, grade_result(decision=decision))

    @rule(sid=subs)
    def error(self, sid: str) -> None:
        if self.status[sid] in (Status.received, Status.grading):
            self.queue.record_error(sid, "unreadable")
            self._ok(sid, Status.error)
        else:
            with pytest.raises(InvalidTransition):
                self.queue.record_error(sid, "unreadable")

    @rule(sid=subs)
    def appeal(self, sid: str) -> None:
        if self.status[sid] is Status.failed:
            self.queue.request_review(sid, "learner")
            self._ok(sid, Status.review)
        else:
            with pytest.raises(InvalidTransition):
                self.queue.request_review(sid, "learner")

    @rule(sid=subs, who=st.sampled_from([ALICE, BOB]), seconds=st.sampled_from([60, 1800]))
    def claim(self, sid: str, who: Assessor, seconds: int) -> None:
        holder = self.lease.get(sid)
        if self.status[sid] is not Status.review:
            with pytest.raises(InvalidTransition):
                self.queue.claim(sid, who, seconds)
        elif holder and holder[0] != who.username and holder[1] > self.clock.now:
            with pytest.raises(ClaimConflict):
                self.queue.claim(sid, who, seconds)
        else:
            event("claimed over an expired lease" if holder and holder[0] != who.username else "claimed")
            lease = self.queue.claim(sid, who, seconds)
            self.lease[sid] = (who.username, lease.expires_at)
            self.changes[sid] += 1

    @rule(sid=subs, who=st.sampled_from([ALICE, BOB]))
    def release(self, sid: str, who: Assessor) -> None:
        holder = self.lease.get(sid)
        if holder and holder[0] == who.username:
            self.queue.release(sid, who)
            del self.lease[sid]
            self.changes[sid] += 1
        else:
            with pytest.raises(NotLeaseHolder):
                self.queue.release(sid, who)

    @rule(sid=subs, who=st.sampled_from([ALICE, BOB, None]),
          decision=st.sampled_from(["approve", "reject", "resubmit"]))
    def decide(self, sid: str, who: Assessor | None, decision: str) -> None:
        """``who=None``: whoever holds (or last held) the lease, so the success path is reached often."""
        holder = self.lease.get(sid)
        if who is None:
            who = BOB if holder and holder[0] == "bob" else ALICE
        target = {"approve": Status.approved, "reject": Status.rejected, "resubmit": Status.resubmission_requested}
        if self.status[sid] is not Status.review:
            with pytest.raises(InvalidTransition):
                self.queue.decide(sid, who, decision, comment="why")
        elif not holder or holder[0] != who.username:
            with pytest.raises(NotLeaseHolder) as caught:
                self.queue.decide(sid, who, decision, comment="why")
            assert not isinstance(caught.value, LeaseExpired)
        elif holder[1] <= self.clock.now:
            with pytest.raises(LeaseExpired):
                self.queue.decide(sid, who, decision, comment="why")
        else:
            self.queue.decide(sid, who, decision, comment="why")
            self._ok(sid, target[decision])
            event("decided")

    @precondition(lambda self: bool(self.lease))
    @rule(data=st.data(), decision=st.sampled_from(["approve", "reject", "resubmit"]))
    def decide_as_holder(self, data: st.DataObject, decision: str) -> None:
        """Aim at the success path: a claimed submission decided by its (possibly expired) lease holder."""
        self.decide(data.draw(st.sampled_from(sorted(self.lease))), None, decision)

    @rule(seconds=st.sampled_from([30, 120, 3600]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def store_matches_model(self) -> None:
        if not self.status:
            return
        ready = set(self.queue.ready_to_issue())
        with session_factory(self.url)() as session:
            rows = session.execute(select(SubmissionRow.id, SubmissionRow.status, SubmissionRow.ready_to_issue)
                                   .where(SubmissionRow.id.in_(self.status))).all()
            audits = dict(session.execute(select(AuditRow.submission_id, func.count())
                                          .where(AuditRow.submission_id.in_(self.status))
                                          .group_by(AuditRow.submission_id)).all())
        assert len(rows) == len(self.status)
        for sid, status, flag in rows:
            assert status == self.status[sid]
            assert flag == (status in (Status.passed, Status.approved)) == (sid in ready)
            assert audits[sid] == self.changes[sid]


LifecycleMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
test_lifecycle_state_machine = LifecycleMachine.TestCase
