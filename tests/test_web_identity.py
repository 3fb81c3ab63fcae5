"""Learner identity, "Forget me", uploads and log-in throttling on the served app (issue 12).

The whole app as ``stackwise serve`` composes it (``stackwise.web.shell.launch``: chat, grader tabs, issuance tabs
and routes) on 127.0.0.1, driven through ``gradio_client`` and plain HTTP: the real assistant service (demo
catalogue, index, SQLite memory), the real grader queue and issuance service on a scratch SQLite database, a
bcrypt assessors file. No model: chat questions are planner/facts questions, and grading fails fast.
Log-ins from different clients come from different loopback source addresses (127.0.0.x).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from grader.accounts import ASSESSORS_FILE_ENV
from grader.models import Status
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from issuance.keys import load_or_create_issuer_key
from stackwise.identity import learner_id_for_key
from tests.test_issuance_service import catalogue, seed
from tests.test_issuance_service import make_service as make_issuance
from tests.test_web_grader import PASSWORDS, free_port, no_model, write_accounts

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture(scope="module")
def app(tmp_path_factory, assistant) -> Iterator[SimpleNamespace]:
    from stackwise.web.shell import launch

    root = tmp_path_factory.mktemp("identity-web")
    database = f"sqlite:///{root / 'stackwise.db'}"
    queue = GraderQueue(database, rubrics=rubrics_from_catalogue(catalogue()))
    grader = GraderService(catalogue(), queue, scorer_factory=no_model)
    issuance = make_issuance(queue, load_or_create_issuer_key(root / "key" / "issuer.json"), database)
    issuance.subscribe()
    old_name = f"web:Old Name {secrets.token_hex(4)}"  # how the chat stored a learner who typed a name
    assistant.memory.add_exchange(old_name, "A question", "An answer", [])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSESSORS_FILE_ENV, str(write_accounts(root / "assessors.toml")))
        demo = launch(assistant, port=free_port(), warm=False, prevent_thread_lock=True, quiet=True, grader=grader,
                      issuance=issuance)
        try:
            yield SimpleNamespace(url=demo.local_url.rstrip("/"), demo=demo, assistant=assistant, grader=grader,
                                  issuance=issuance, database=root / "stackwise.db", old_name=old_name)
        finally:
            demo.close()
            issuance.close()


def browser(app):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    key, *_ = client.predict("", api_name="/learner_start")
    return client, key


def settled(queue: GraderQueue, learner: str, timeout: float = 60.0) -> None:
    """Wait until background grading has finished with the learner's submissions (it fails fast: no model)."""
    deadline = time.monotonic() + timeout
    while any(v.status in (Status.received, Status.grading) for v in queue.submissions_for_learner(learner)):
        assert time.monotonic() < deadline, "background grading did not finish"
        time.sleep(0.2)


def uploads_named(name: str) -> list[Path]:
    from stackwise.web.grader_learner import upload_folder

    return [p for p in upload_folder().rglob(name) if p.is_file()]


def raw_bytes(database: Path) -> bytes:
    """Every byte of the SQLite database and its write-ahead log as they are on disk."""
    return b"".join(p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists())


# ---------------------------------------------------------------------------------------------- one key


def test_one_key_for_chat_submissions_and_credentials(app):
    from gradio_client import Client

    client, key = browser(app)
    learner = learner_id_for_key(key)
    client.predict("How much does Data Strategy cost?", [], [], key, api_name="/chat")
    client.predict(["ml-fundamentals"], key, api_name="/save_holding")
    passed = seed(app.grader.queue, "pass", learner=learner)
    issued = app.issuance.for_submission(passed)

    other = Client(app.url, verbose=False)  # another device, the key pasted in
    fresh, *_ = other.predict("", api_name="/learner_start")
    out = other.predict(key, fresh, api_name="/use_key")
    assert out[0] == key and "now uses the pasted learner key" in out[3]
    listing, holding, history, _status = out[4], *out[6:]
    assert passed in listing and holding == ["ml-fundamentals"]  # "My submissions" and the saved holding
    assert [m["role"] for m in history] == ["user", "assistant"]  # the chat
    credentials, _files = other.predict(key, api_name="/my_credentials")
    assert issued.id in credentials
    assert app.assistant.memory.history(learner_id_for_key(fresh)) == []


def test_chats_stored_under_a_typed_name_are_deleted_at_launch(app):
    assert app.assistant.memory.stored(app.old_name) == (0, 0)  # nobody could reach them by key


# ---------------------------------------------------------------------------------------------- forget me


def test_forget_me_deletes_messages_profile_evidence_and_files_and_says_what(app, tmp_path):
    from gradio_client import handle_file

    client, key = browser(app)
    learner = learner_id_for_key(key)
    marker = f"unrepeatable-evidence-{secrets.token_hex(8)}"
    evidence = tmp_path / f"portfolio-{secrets.token_hex(4)}.txt"  # the audit log keeps file names: no marker
    evidence.write_text(f"My portfolio: {marker}. I ranked twelve use cases by value and feasibility.\n")
    reflection = f"A reflection only this learner wrote: {marker}-reflection."

    client.predict(["data-strategy"], key, api_name="/save_holding")
    client.predict("How much does Data Strategy cost?", [], [], key, api_name="/chat")
    message, *_ = client.predict("data-governance", [handle_file(str(evidence))], "https://example.org/mine",
                                 reflection, "Ada Private", "ada.private@example.org", key, api_name="/submit_evidence")
    assert "Submission id" in message or "Stored as submission" in message, message
    assert uploads_named(evidence.name) == []  # Gradio's temporary copy is gone: the bytes are in the database
    settled(app.grader.queue, learner)
    passed = seed(app.grader.queue, "pass", learner=learner)  # and one that earned a credential
    issued = app.issuance.for_submission(passed)
    assert issued is not None
    submissions = [v.id for v in app.grader.queue.submissions_for_learner(learner)]
    sizes = [f.size for sid in submissions
             for f in app.grader.queue.get_submission(sid, assessor=_assessor()).files]
    assert len(submissions) == 2 and len(sizes) == 2 and marker.encode() in raw_bytes(app.database)

    preview = client.predict(key, api_name="/forget")
    what = (f"2 chat messages; the 1 credential you said you hold; the evidence of 2 submissions (2 files, "
            f"{sum(sizes):,} bytes, with reflections, links, name and email)")
    assert f"**This deletes {what}.**" in preview and "1 issued credential stays on record" in preview
    assert app.assistant.memory.stored(learner) == (2, 1)  # nothing goes before the confirmation

    fresh, _box, *_listing, held, history, status = client.predict(key, api_name="/forget_confirm")
    assert status.startswith(f"Forgotten: deleted {what}. 1 issued credential stays on record")
    assert status.endswith("This browser has a new learner key.") and fresh != key and held == [] and history == []

    assert app.assistant.memory.stored(learner) == (0, 0)
    assert app.grader.queue.submissions_for_learner(learner) == []
    assert app.issuance.for_learner(learner) == []
    for sid in submissions:  # what an assessor still sees: the skeleton, no evidence, no person
        detail = app.grader.queue.get_submission(sid, assessor=_assessor())
        assert detail.files == [] and detail.reflection == "" and detail.links == []
        assert detail.learner_name == "" and detail.learner_email is None
        assert detail.learner_id.startswith("erased-")
    kept = app.issuance.get(issued.id)  # still verifiable and revocable
    assert kept.learner_id.startswith("erased-") and app.issuance.verify(kept.document).ok
    assert app.issuance.revoke(issued.id, "test: still revocable", "registrar").revoked
    on_disk = raw_bytes(app.database)
    assert marker.encode() not in on_disk and b"ada.private@example.org" not in on_disk
    assert [e.event_type for e in app.grader.queue.audit_log(passed)][-1] == "erased"


def test_uploads_that_are_never_submitted_are_cleaned_and_limited(app):
    from stackwise.web.shell import DELETE_CACHE, MAX_UPLOAD

    name = f"anonymous-{secrets.token_hex(6)}.txt"
    response = httpx.post(f"{app.url}/gradio_api/upload", files={"files": (name, b"left behind")}, timeout=30)
    assert response.status_code == 200
    (stored,) = response.json()
    assert stored in app.demo.upload_file_set  # tracked: the periodic clean-up removes it
    assert app.demo.delete_cache == DELETE_CACHE and DELETE_CACHE[1] <= 60 * 60
    too_big = httpx.post(f"{app.url}/gradio_api/upload", files={"files": ("big.txt", b"x" * (MAX_UPLOAD + 1))},
                         timeout=60)
    assert too_big.status_code == 413
    assert uploads_named("big.txt") == []


def test_credential_downloads_do_not_pile_up_in_the_temporary_folder(app):
    import os
    import tempfile

    from stackwise.web.issuance_tabs import DOWNLOAD_FOLDER_SECONDS, DOWNLOAD_PREFIX

    stale = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX))
    (stale / "credential.json").write_text("{}")
    an_hour_ago = time.time() - DOWNLOAD_FOLDER_SECONDS - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    client, key = browser(app)
    seed(app.grader.queue, "pass", learner=learner_id_for_key(key))
    listing, files = client.predict(key, api_name="/my_credentials")
    assert len(files) == 3 and not stale.exists()


def _assessor():
    from grader.models import Assessor

    return Assessor(username="alice", display_name="Alice")


# ---------------------------------------------------------------------------------------------- no 500s


@pytest.mark.parametrize("path", [
    "/status/99999999999999999999", "/status/-1", "/status/abc", "/status/1e5", "/status/%00", "/status/0x10",
    "/status/" + "9" * 400, "/credentials/99999999999999999999", "/credentials/%00", "/credentials/" + "a" * 5000,
    "/credentials/..%2F..%2Fetc%2Fpasswd", "/credentials/99999999999999999999/badge.png",
    "/credentials/urn:uuid:zzzz/verify",
])
def test_odd_ids_get_a_clear_not_found_never_a_500(app, path):
    response = httpx.get(app.url + path, timeout=30)
    assert response.status_code in (400, 404), (path, response.status_code)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(response.text)
        assert body.get("error") or body.get("detail"), body


def test_deeply_nested_json_to_verify_is_a_clear_400(app):
    response = httpx.post(f"{app.url}/verify", content=b"[" * 100_000 + b"]" * 100_000, timeout=60)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]


def test_odd_submission_ids_and_keys_in_the_learner_api_get_a_message(app):
    client, key = browser(app)
    for odd in ("99999999999999999999", "", "x" * 5000, "\x00", "../../etc/passwd"):
        listing, _timer = client.predict(odd, api_name="/my_submissions")
        assert "no learner key" in listing
        out = client.predict(odd, key, api_name="/use_key")
        assert "That is not a learner key" in out[3]


# ---------------------------------------------------------------------------------------------- throttling


def login_from(app_url: str, address: str, username: str, password: str) -> str:
    """One log-in through Gradio's HTTP API from the loopback source ``address``; returns the message shown."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, base_url=app_url, timeout=60) as http:
        posted = http.post("/gradio_api/call/assessor_login", json={"data": [username, password, "age", ""]})
        posted.raise_for_status()
        body = http.get(f"/gradio_api/call/assessor_login/{posted.json()['event_id']}").text
    data = [line.removeprefix("data:").strip() for line in body.splitlines() if line.startswith("data:")]
    _session, message, _login_panel, _work_panel, who, *_ = json.loads(data[-1])  # the HTTP API sends every output
    return message or f"ok: {who}"


@pytest.fixture
def desk(app):
    """The app's assessor log-in with small limits (the default policy's shape, smaller numbers)."""
    from stackwise.identity import LoginThrottle, ThrottlePolicy
    from stackwise.web.grader_handlers import GraderWeb

    web = next(fn.fn.__self__ for fn in app.demo.fns.values() if fn.name == "login")
    assert isinstance(web, GraderWeb)
    saved = web.throttle
    web.throttle = LoginThrottle(ThrottlePolicy(pair_failures=3, client_failures=6, username_failures=4,
                                                backoff_base=600, backoff_cap=600))
    yield web
    web.throttle = saved


def test_one_client_is_limited_across_usernames_and_the_assessor_elsewhere_is_not(app, desk):
    attacker, assessor = "127.0.0.2", "127.0.0.3"
    for n in range(6):  # six usernames, one guess each: under every per-username limit
        assert login_from(app.url, attacker, f"user{n}", "guess") == "Wrong username or password."
    refused = login_from(app.url, attacker, "alice", PASSWORDS["alice"])  # even the right password
    assert refused.startswith("Too many failed log-ins from this computer")
    assert login_from(app.url, assessor, "alice", PASSWORDS["alice"]).startswith("ok: Logged in as")


def test_guessing_one_username_does_not_lock_out_its_assessor(app, desk):
    attacker, usual, stranger = "127.0.0.4", "127.0.0.5", "127.0.0.6"
    assert login_from(app.url, usual, "bob", PASSWORDS["bob"]).startswith("ok:")  # bob's usual computer
    for _ in range(3):
        assert login_from(app.url, attacker, "bob", "guess") == "Wrong username or password."
    assert login_from(app.url, attacker, "bob", PASSWORDS["bob"]).startswith(
        "Too many failed log-ins for this username from this computer")
    assert login_from(app.url, usual, "bob", PASSWORDS["bob"]).startswith("ok:")
    # many computers guessing bob: strangers wait, bob's usual computer does not
    for n in range(10, 11):  # with the attacker's three, the username's fourth failure
        assert login_from(app.url, f"127.0.1.{n}", "bob", "guess") == "Wrong username or password."
    assert login_from(app.url, stranger, "bob", PASSWORDS["bob"]).startswith("Many failed log-ins for this username")
    assert login_from(app.url, usual, "bob", PASSWORDS["bob"]).startswith("ok:")


def test_throttle_records_are_pruned_and_bounded():
    from stackwise.identity import LoginThrottle, ThrottlePolicy

    now = [0.0]
    throttle = LoginThrottle(ThrottlePolicy(max_records=60), clock=lambda: now[0])
    for n in range(10):
        throttle.failed(f"10.0.0.{n}", "alice")
    throttle.succeeded("10.0.0.99", "alice")
    assert throttle.records() == 10 * 3 + 1  # pair, client and username per failure; one trusted pair
    now[0] += throttle.policy.username_window + 1  # every failure window has passed; the trust has not
    assert throttle.prune() == 1
    assert throttle.refusal("10.0.0.1", "alice") is None
    now[0] += throttle.policy.trusted_seconds + 1
    assert throttle.prune() == 0

    for n in range(100):  # a flood from many addresses stays bounded
        throttle.failed(f"10.1.{n // 250}.{n % 250}", f"user{n}")
    assert throttle.records() <= 60
    assert throttle.refusal("10.1.0.99", "user99") is None and throttle.records() <= 60
