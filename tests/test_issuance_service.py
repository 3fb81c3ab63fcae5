"""Issuance service: a pass or an approval issues a signed OB 3.0 credential (schema-valid against the official
1EdTech schema as shipped in ../shared), once; nothing else is issued; tampering, revocation and expiry fail
verification with the reason; concurrent issuers never share a status-list slot; the CLI commands.

Submissions are seeded through the real :class:`GraderQueue` (create -> start grading -> record an AI grade,
or review -> an assessor's decision); no model is loaded.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from typer.testing import CliRunner

from grader.models import Assessor, CriterionGrade, GradeResult, ReadyToIssue, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from issuance.baking import badge_png, badge_svg, extract_credential, unbake_png, unbake_svg
from issuance.credential import IssuanceError, identity_hash, identity_matches
from issuance.dataintegrity import ControllerDocumentResolver, verify_proof
from issuance.keys import load_or_create_issuer_key
from issuance.service import (
    AlreadyRevoked,
    CredentialNotFound,
    IssuanceConfig,
    IssuanceService,
    NotIssuable,
    UnknownSubmission,
    credential_uuid,
    did_web_for_url,
)
from issuance.status import MIN_BITS, StatusList
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE
from tests.paths import shared_path

CREDENTIAL = "data-strategy"  # no expiry
EXPIRING = "prompt-engineering"  # valid_for_months: 24
PUBLIC_URL = "https://stackwise.test"
ASSESSOR = Assessor(username="alice")
EMAIL = "Ada.Lovelace@Example.org"


# ---------------------------------------------------------------------------------------------- fixtures


@cache
def catalogue():
    return load_catalogue(BUNDLED_CATALOGUE)


@cache
def official_schema() -> Draft201909Validator:
    """The 1EdTech OB 3.0 AchievementCredential schema exactly as shipped in ../shared/external/ob3."""
    schema = json.loads(shared_path("external", "ob3", "schema_achievementcredential.json").read_text("utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def official_schema_errors(document: dict) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in official_schema().iter_errors(document)]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return load_or_create_issuer_key(tmp_path_factory.mktemp("issuer") / "issuer-ed25519.json")


@pytest.fixture
def db_url(database_url: str) -> str:
    """Every test here runs on SQLite and on a throwaway PostgreSQL server (tests/pg_server.py)."""
    return database_url


@pytest.fixture
def queue(db_url) -> GraderQueue:
    return GraderQueue(db_url, rubrics=rubrics_from_catalogue(catalogue()))


def make_service(queue: GraderQueue, key, database_url: str, **kwargs: Any) -> IssuanceService:
    config = IssuanceConfig(public_url=PUBLIC_URL, issuer_id=did_web_for_url(PUBLIC_URL), issuer_name="Stackwise Test",
                            issuer_country="IE")
    return IssuanceService(queue, catalogue(), key=key, config=config, database_url=database_url, **kwargs)


@pytest.fixture
def service(queue, key, db_url):
    """The issuance service on the test's database, subscribed to the grader's event (as the composition root)."""
    service = make_service(queue, key, db_url)
    service.subscribe()
    yield service
    service.close()


def levels_for(credential_id: str, which: str = "top") -> dict[str, str]:
    rubric = catalogue().credentials[credential_id].rubric
    pick = {"top": -1, "low": 1, "bottom": 0}[which]
    return {c.id: sorted(c.levels, key=lambda lv: lv.points)[pick].id for c in rubric.criteria}


def seed(queue: GraderQueue, decision: str = "pass", *, credential: str = CREDENTIAL, learner: str = "webkey-ada",
         levels: dict[str, str] | None = None, email: str | None = EMAIL, name: str = "Ada Lovelace") -> str:
    """A submission graded by the "AI" with ``decision`` (pass / fail / review), through the queue's own API."""
    rubric = catalogue().credentials[credential].rubric
    levels = levels or levels_for(credential, "top" if decision == "pass" else "low")
    points = {c.id: {lv.id: lv.points for lv in c.levels} for c in rubric.criteria}
    sid = queue.create_submission(SubmissionIn(
        credential_id=credential, learner_id=learner, learner_name=name, learner_email=email,
        files=[("portfolio.txt", b"My private portfolio text.", "text/plain")],
        links=["https://portfolio.example.org/ada", "https://portfolio.example.org/ada"],
        reflection="A private reflective statement.")).id
    queue.start_grading(sid)
    queue.record_grade(sid, GradeResult(
        credential_id=credential,
        criteria=[CriterionGrade(criterion_id=c, level_id=lv, confidence=0.9) for c, lv in levels.items()],
        total_points=sum(points[c][lv] for c, lv in levels.items()), max_points=rubric.max_points,
        decision=decision, reasons=["near_threshold"] if decision == "review" else [], model="test",
        prompt_version="test"))
    return sid


def decide(queue: GraderQueue, sid: str, decision: str, overrides: dict | None = None, comment: str = "") -> None:
    queue.claim(sid, ASSESSOR)
    queue.decide(sid, ASSESSOR, decision, overrides or {}, comment)


def achieved(document: dict) -> dict[str, str]:
    """criterion id -> achieved level id, read back from the credential's results."""
    out = {}
    for result in document["credentialSubject"]["result"]:
        if "achievedLevel" in result:
            criterion = result["resultDescription"].rsplit("#rubric.", 1)[1]
            out[criterion] = result["achievedLevel"].rsplit(".", 1)[1]
    return out


# ---------------------------------------------------------------------------------------------- issuing


def test_a_pass_issues_a_schema_valid_verified_credential_automatically(service, queue):
    sid = seed(queue, "pass")
    issued = service.for_submission(sid)
    assert issued is not None, "the pass event should have issued the credential"
    document = issued.document
    assert official_schema_errors(document) == []
    report = service.verify(document)
    assert report.ok, report.summary()
    assert [c.name for c in report.checks] == ["schema", "proof", "status", "validity", "issuer"]

    # what it says: the catalogue credential, the learner, the final levels, the evidence
    assert document["id"] == issued.id == f"urn:uuid:{issued.uuid}"
    # issued by the awarding body's own DID, under its own name (not the platform's)
    assert document["issuer"]["id"] == "did:web:stackwise.test:issuers:shannonside-university"
    assert document["issuer"]["name"] == "Shannonside University" == report.issuer_name
    assert issued.issuer == "shannonside-university"
    assert report.verdict == "trusted" and report.verdict_text == "valid, from a trusted issuer"
    assert document["credentialSubject"]["achievement"]["id"] == f"{PUBLIC_URL}/achievements/{CREDENTIAL}"
    assert achieved(document) == levels_for(CREDENTIAL, "top")
    identifiers = {i["identityType"]: i for i in document["credentialSubject"]["identifier"]}
    assert identity_matches(identifiers["emailAddress"], EMAIL)
    assert identifiers["systemId"]["identityHash"] == identity_hash("webkey-ada", identifiers["systemId"]["salt"])
    assert identifiers["systemId"]["hashed"] is True and identifiers["emailAddress"]["hashed"] is True
    assert "name" not in identifiers and "Ada Lovelace" not in json.dumps(document)  # no name by default
    evidence = document["evidence"]
    assert [e.get("id") for e in evidence] == [None, "https://portfolio.example.org/ada"]  # links once each
    assert "1 file, 1 link and a reflective statement" in evidence[0]["narrative"]
    text = json.dumps(document)
    assert "private" not in text and "portfolio.txt" not in text  # no file content, names or reflection
    assert document["credentialStatus"]["statusListCredential"] == (
        f"{PUBLIC_URL}/issuers/shannonside-university/status/{issued.status_list}")
    assert document["credentialStatus"]["statusListIndex"] == str(issued.status_index)
    assert "validUntil" not in document and issued.valid_until is None

    # the grader knows: marked issued with the credential id, no longer waiting
    assert sid not in queue.ready_to_issue()
    marked = [e for e in queue.audit_log(sid) if e.event_type == "issued"]
    assert len(marked) == 1 and marked[0].details == {"credential_id": issued.id}
    assert [e.event_type for e in service.audit_log(issued.id)] == ["issued"]


def test_reissuing_returns_the_same_stored_credential(service, queue):
    sid = seed(queue, "pass")
    first = service.for_submission(sid)
    again = service.issue(sid)
    assert again.document == first.document and again.id == first.id
    assert service.issue(sid, actor="someone else").document == first.document
    assert len(service.for_learner("webkey-ada")) == 1
    assert len([e for e in queue.audit_log(sid) if e.event_type == "issued"]) == 1
    assert service.issue_pending() == []


def test_an_assessor_approval_issues_with_the_assessors_levels(service, queue):
    sid = seed(queue, "review", levels=levels_for(CREDENTIAL, "low"))
    assert service.for_submission(sid) is None  # review is not issuable
    top = levels_for(CREDENTIAL, "top")
    raised = dict(list(top.items())[:2])  # two criteria raised to the top level: the rubric now passes
    decide(queue, sid, "approve", {c: (lv, "the roadmap is costed in full") for c, lv in raised.items()})
    issued = service.for_submission(sid)
    assert issued is not None
    assert official_schema_errors(issued.document) == []
    assert service.verify(issued.document).ok
    assert achieved(issued.document) == {**levels_for(CREDENTIAL, "low"), **raised}
    assert "approved by an assessor" in issued.document["evidence"][0]["narrative"]


def test_an_approval_against_the_rubric_is_honoured(service, queue):
    """The assessor's word counts even when the rubric says fail (the queue requires a justification)."""
    bottom = levels_for(CREDENTIAL, "bottom")
    sid = seed(queue, "review", levels=bottom)
    decide(queue, sid, "approve", comment="Assessed in person: the learner demonstrated every outcome.")
    issued = service.for_submission(sid)
    assert issued is not None and achieved(issued.document) == bottom
    assert service.verify(issued.document).ok


@pytest.mark.parametrize("outcome", ["fail", "review", "rejected", "resubmit", "error", "received", "grading"])
def test_only_passed_or_approved_submissions_are_issued(service, queue, outcome):
    if outcome in ("fail", "review"):
        sid = seed(queue, outcome)
    elif outcome in ("rejected", "resubmit"):
        sid = seed(queue, "review")
        decide(queue, sid, "reject" if outcome == "rejected" else "resubmit", comment="not enough evidence")
    else:
        sid = queue.create_submission(SubmissionIn(credential_id=CREDENTIAL, learner_id="webkey-ada",
                                                   reflection="x")).id
        if outcome != "received":
            queue.start_grading(sid)
        if outcome == "error":
            queue.record_error(sid, "unreadable")
    status = queue.get_submission(sid, assessor=ASSESSOR).status
    with pytest.raises(NotIssuable) as refused:
        service.issue(sid)
    assert refused.value.status == status.value and "only passed or approved" in str(refused.value)
    # a forged event for it issues nothing either
    service.on_ready_to_issue(ReadyToIssue(submission_id=sid, credential_id=CREDENTIAL, learner_id="webkey-ada",
                                           learner_name="", learner_email=None, source="auto_pass", actor="x",
                                           at=datetime.now(UTC)))
    assert service.for_submission(sid) is None and service.for_learner("webkey-ada") == []
    assert service.issue_pending() == []


def test_an_unknown_submission_is_refused(service):
    with pytest.raises(UnknownSubmission, match="no such submission"):
        service.issue("does-not-exist")


def test_catch_up_issues_what_the_event_missed(queue, key, db_url):
    """Without a subscriber (e.g. the process stopped), issue_pending issues the passed submissions later."""
    sid = seed(queue, "pass")
    unsubscribed = make_service(queue, key, db_url)
    assert unsubscribed.for_submission(sid) is None
    issued = unsubscribed.issue_pending()
    assert [i.submission_id for i in issued] == [sid]
    assert unsubscribed.issue_pending() == []


# ---------------------------------------------------------------------------------------------- verification


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str) and len(value) > 2 and value[-2:].isdigit():
        return value[:-1] + ("0" if value[-1] != "0" else "1")  # a date or a number stays well-formed
    return f"{value}x"


def test_changing_any_field_fails_verification_with_the_reason(service, queue):
    document = service.for_submission(seed(queue, "pass")).document
    # every field, except that of the repeated rubric criteria only the first is tried (they are alike)
    paths = [p for p in _leaves(document)
             if p[0] != "proof" and not (len(p) > 3 and p[2] == "resultDescription" and p[3] > 0)]
    assert len(paths) > 50
    passed = []
    for path in paths:
        tampered = copy.deepcopy(document)
        target = tampered
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = _changed(target[path[-1]])
        report = service.verify(tampered)
        if report.ok:
            passed.append(path)
        elif report.check("proof").ok:  # then another check must say why (e.g. the status entry moved)
            assert report.failures, path
    assert passed == [], f"tampering went unnoticed at {passed}"


@pytest.mark.parametrize("what", ["learner", "level", "proof", "issuer", "date"])
def test_tampering_is_reported_in_plain_words(service, queue, what):
    document = service.for_submission(seed(queue, "pass")).document
    tampered = copy.deepcopy(document)
    subject = tampered["credentialSubject"]
    if what == "learner":
        subject["identifier"][-1]["identityHash"] = "Mallory"
    elif what == "level":
        result = subject["result"][0]
        result["achievedLevel"] = result["achievedLevel"].rsplit(".", 1)[0] + ".insufficient"
    elif what == "proof":
        value = tampered["proof"][0]["proofValue"]
        tampered["proof"][0]["proofValue"] = value[:-4] + ("1111" if not value.endswith("1111") else "2222")
    elif what == "issuer":
        tampered["issuer"]["name"] = "Diploma Mill Ltd"
    else:
        tampered["validFrom"] = "2020-01-01T00:00:00Z"
    report = service.verify(tampered)
    assert not report.ok
    assert not report.check("proof").ok
    assert "signature is not valid" in report.check("proof").detail
    assert "NOT VALID" in report.summary()


def test_a_revoked_credential_fails_with_the_reason(service, queue):
    issued = service.for_submission(seed(queue, "pass"))
    other = service.for_submission(seed(queue, "pass", learner="webkey-bob"))
    with pytest.raises(IssuanceError, match="needs a reason"):
        service.revoke(issued.id, "   ", "registrar")
    revoked = service.revoke(issued.uuid, "Evidence was plagiarised", "registrar")
    assert revoked.revoked and revoked.revocation_reason == "Evidence was plagiarised"
    report = service.verify(issued.document)
    assert not report.ok and report.check("status").ok is False
    assert report.check("status").detail.startswith("revoked: the issuer has revoked this credential")
    assert [c.name for c in report.failures] == ["status"]
    assert service.verify(other.document).ok  # only that one
    entry = [e for e in service.audit_log(issued.id) if e.event_type == "revoked"]
    assert len(entry) == 1 and entry[0].actor == "registrar" and entry[0].details["reason"] == revoked.revocation_reason
    with pytest.raises(AlreadyRevoked, match="already revoked .* Evidence was plagiarised"):
        service.revoke(issued.id, "again", "registrar")
    with pytest.raises(CredentialNotFound):
        service.revoke("urn:uuid:00000000-0000-4000-8000-000000000000", "x", "registrar")
    # the published list has exactly that bit set
    listed = service.status_list_credential(issued.status_list, issued.issuer)
    bits = StatusList.decode(listed["credentialSubject"]["encodedList"])
    assert bits[issued.status_index]
    assert other.status_list != issued.status_list or not bits[other.status_index]


def test_an_expired_credential_fails_with_the_reason(service, queue):
    sid = seed(queue, "pass", credential=EXPIRING)
    issued = service.for_submission(sid)
    assert official_schema_errors(issued.document) == []
    assert issued.valid_until is not None
    assert issued.valid_until - issued.issued_at > timedelta(days=720)
    assert service.verify(issued.document).ok
    later = issued.valid_until + timedelta(seconds=1)
    assert issued.expired(later)
    report = service.verify(issued.document, now=later)
    assert not report.ok and [c.name for c in report.failures] == ["validity"]
    assert report.check("validity").detail == f"expired on {issued.document['validUntil']}"
    early = service.verify(issued.document, now=issued.issued_at - timedelta(days=1))
    assert "not yet valid" in early.check("validity").detail


def test_status_list_credential_is_signed_deterministic_and_served_for_used_lists(service, queue):
    issued = service.for_submission(seed(queue, "pass"))
    listed = service.status_list_credential(issued.status_list, issued.issuer)
    assert listed == service.status_list_credential(issued.status_list, issued.issuer)  # same state, same document
    assert listed["id"] == f"{PUBLIC_URL}/issuers/{issued.issuer}/status/{issued.status_list}"
    assert listed["issuer"] == issued.document["issuer"]["id"]
    assert StatusList.decode(listed["credentialSubject"]["encodedList"]).size == MIN_BITS
    result = verify_proof(listed, ControllerDocumentResolver([service.did_document(issued.issuer)]))
    assert result.ok, result.reason
    assert service.status_list_number(listed["id"]) == issued.status_list
    assert service.status_list_ref(listed["id"]) == (issued.issuer, issued.status_list)
    assert service.status_list_number("https://elsewhere.example/status/0") is None


def test_did_document_and_issuer_profile(service):
    did = service.did_document()
    assert did["id"] == "did:web:stackwise.test"
    method = did["verificationMethod"][0]
    assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
    assert did["assertionMethod"] == [method["id"]] == [service.verification_method]
    profile = service.issuer_profile()
    assert profile["id"] == did["id"] and profile["name"] == "Stackwise Test"
    assert profile["address"]["addressCountryCode"] == "IE"
    # one DID and profile per awarding body, named as the catalogue's provider
    body = service.did_document("kursora")
    assert body["id"] == "did:web:stackwise.test:issuers:kursora" != did["id"]
    assert body["verificationMethod"][0]["controller"] == body["id"]
    kursora = service.issuer_profile("kursora")
    assert kursora["id"] == body["id"] and kursora["name"] == "Kursora"
    assert {i["provider"]: i["name"] for i in service.issuers()}["kursora"] == "Kursora"
    assert did_web_for_url("http://127.0.0.1:7860") == "did:web:127.0.0.1%3A7860"
    assert did_web_for_url("https://example.org/badges/") == "did:web:example.org:badges"


def test_a_credential_from_elsewhere_does_not_verify(service, queue, tmp_path, db_url):
    """Signed by another key claiming our issuer id: the proof check says the key is not the issuer's."""
    other_key = load_or_create_issuer_key(tmp_path / "other-key.json")
    forger = make_service(queue, other_key, db_url)
    sid = seed(queue, "review")
    decide(queue, sid, "approve", comment="fine")  # the subscribed service issues it with the real key
    service_doc = service.for_submission(sid).document
    forged = copy.deepcopy(service_doc)
    forged.pop("proof")
    from issuance.dataintegrity import sign

    forged = sign(forged, other_key.private_key, forger.verification_method, proof_as_list=True)
    report = service.verify(forged)
    assert not report.ok and not report.check("proof").ok


def test_credential_ids_are_accepted_in_every_form():
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    for given in (uid, f"urn:uuid:{uid}", f"{PUBLIC_URL}/credentials/{uid}", f"{PUBLIC_URL}/credentials/{uid}.json",
                  f"http://127.0.0.1:7860/credentials/{uid}/badge.svg", uid.upper()):
        assert credential_uuid(given) == uid, given
    for junk in ("", "urn:uuid:nope", "https://x.example/other/" + uid[:-1], "../../etc/passwd"):
        assert credential_uuid(junk) is None


def test_the_issuance_audit_log_is_append_only(service, queue, tmp_path, db_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from issuance.store import AuditRow
    from storage import AuditLogImmutable

    service.revoke(service.for_submission(seed(queue, "pass")).id, "test", "registrar")
    assert [e.event_type for e in service.audit_log()] == ["issued", "revoked"]
    engine = create_engine(db_url)
    with Session(engine) as session:
        entry = session.get(AuditRow, 1)
        entry.actor = "someone else"
        with pytest.raises(AuditLogImmutable):
            session.flush()
    with engine.begin() as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(text("DELETE FROM issuance_audit_log"))
    engine.dispose()
    assert len(service.audit_log()) == 2


# ---------------------------------------------------------------------------------------------- concurrency


def test_concurrent_issuance_never_shares_a_slot_or_issues_twice(queue, key, db_url):
    url = db_url
    submissions = [seed(queue, "pass", learner=f"webkey-{i}") for i in range(12)]  # nobody subscribed yet
    services = [make_service(queue, key, url) for _ in range(3)]  # as if three processes
    results: dict[tuple[int, str], str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            for sid in submissions[worker % 2::2] + submissions:  # every submission at least twice, interleaved
                results[(worker, sid)] = services[worker % 3].issue(sid).id
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    per_submission = {sid: {v for (_, s), v in results.items() if s == sid} for sid in submissions}
    assert all(len(ids) == 1 for ids in per_submission.values()), per_submission
    issued = [services[0].for_submission(sid) for sid in submissions]
    slots = {(i.status_list, i.status_index) for i in issued}
    assert len(slots) == len(submissions)
    assert len([e for e in services[0].audit_log() if e.event_type == "issued"]) == len(submissions)


# ---------------------------------------------------------------------------------------------- baking


def test_baked_badges_carry_the_credential_and_still_verify(service, queue):
    issued = service.for_submission(seed(queue, "pass"))
    svg = badge_svg(issued.document)
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in svg and "<openbadges:credential><![CDATA[" in svg
    assert unbake_svg(svg) == issued.document
    png = badge_png(issued.document)
    assert png.startswith(b"\x89PNG") and b"iTXtopenbadgecredential\x00" in png
    assert unbake_png(png) == issued.document
    for data, name in ((svg.encode(), "badge.svg"), (png, "badge.png"), (json.dumps(issued.document).encode(), "c")):
        assert service.verify(extract_credential(data, name)).ok
    # a CDATA terminator inside the credential cannot break the SVG
    tricky = copy.deepcopy(issued.document)
    tricky["name"] = "A ]]> B <script>"
    assert unbake_svg(badge_svg(tricky)) == tricky


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(tmp_path, db_url, monkeypatch, key):
    """The CLI on this test's database and issuer key file (its wiring builds the services from these)."""
    from stackwise.config import get_settings
    from stackwise.wiring import issuance_service

    key_file = tmp_path / "keys" / "issuer-ed25519.json"
    monkeypatch.setenv("STACKWISE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STACKWISE_DATABASE_URL", db_url)
    monkeypatch.setenv("STACKWISE_ISSUER_KEY_FILE", str(key_file))
    monkeypatch.setenv("STACKWISE_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield tmp_path
    issuance_service().close()  # stop listening for other tests' events
    get_settings.cache_clear()


runner = CliRunner()

ADMIN_PASSWORDS = {"root": "root-secret-9", "alice": "alice-secret-1"}


def write_admin_accounts(path: Path) -> Path:
    """An accounts file: ``root`` is an issuer-admin, ``alice`` an assessor (the default role, no ``role`` key)."""
    from grader.accounts import hash_password

    path.write_text(
        f'[[assessors]]\nusername = "root"\nrole = "issuer-admin"\n'
        f'password_hash = "{hash_password(ADMIN_PASSWORDS["root"], rounds=4)}"\n\n'
        f'[[assessors]]\nusername = "alice"\npassword_hash = "{hash_password(ADMIN_PASSWORDS["alice"], rounds=4)}"\n',
        encoding="utf-8")
    return path


def test_cli_issue_verify_revoke(cli_env, queue):
    from stackwise.cli import app

    sid = seed(queue, "pass")  # nobody subscribed: the CLI issues it
    out = cli_env / "credential.json"
    first = runner.invoke(app, ["issue", sid, "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("issued: urn:uuid:")
    document = json.loads(out.read_text())
    again = runner.invoke(app, ["issue", sid, "--json"])
    assert again.exit_code == 0 and json.loads(again.output) == document

    verified = runner.invoke(app, ["verify", str(out)])
    assert verified.exit_code == 0, verified.output
    for check in ("[ok] schema", "[ok] proof", "[ok] status", "[ok] validity"):
        assert check in verified.output
    as_json = runner.invoke(app, ["verify", str(out), "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["ok"] is True
    own_url = runner.invoke(app, ["verify", f"{PUBLIC_URL}/credentials/{credential_uuid(document['id'])}"])
    assert own_url.exit_code == 0 and "VALID" in own_url.output

    tampered = cli_env / "tampered.json"
    changed = copy.deepcopy(document)
    changed["credentialSubject"]["identifier"][-1]["identityHash"] = "Mallory"
    tampered.write_text(json.dumps(changed))
    bad = runner.invoke(app, ["verify", str(tampered)])
    assert bad.exit_code == 1 and "[FAIL] proof" in bad.output and "signature is not valid" in bad.output

    no_reason = runner.invoke(app, ["revoke", document["id"], "--user", "root"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    admin = {"STACKWISE_ASSESSORS_FILE": str(write_admin_accounts(cli_env / "accounts.toml")),
             "STACKWISE_PASSWORD": ADMIN_PASSWORDS["root"]}
    revoked = runner.invoke(app, ["revoke", document["id"], "--reason", "issued in error", "--user", "root"], env=admin)
    assert revoked.exit_code == 0 and revoked.output.startswith("revoked by root: "), revoked.output
    after = runner.invoke(app, ["verify", str(out)])
    assert after.exit_code == 1 and "[FAIL] status: revoked" in after.output
    twice = runner.invoke(app, ["revoke", document["id"], "--reason", "again", "--user", "root"], env=admin)
    assert twice.exit_code == 2 and "already revoked" in twice.output and "Traceback" not in twice.output


def test_cli_refuses_what_cannot_be_issued_or_fetched(cli_env, queue):
    from stackwise.cli import app

    failed = seed(queue, "fail")
    review = seed(queue, "review", learner="webkey-bob")
    rejected = seed(queue, "review", learner="webkey-eve")
    decide(queue, rejected, "reject", comment="not the learner's own work")
    for sid, why in ((failed, "did not pass"), (review, "waiting for an assessor"),
                     (rejected, "was not approved"), ("no-such-submission", "no such submission")):
        result = runner.invoke(app, ["issue", sid])
        assert result.exit_code == 2 and why in result.output and "Traceback" not in result.output
    elsewhere = runner.invoke(app, ["verify", "https://badges.example.com/credentials/x.json"])
    assert elsewhere.exit_code == 2 and "refusing to fetch" in elsewhere.output
    missing = runner.invoke(app, ["verify", str(Path(cli_env) / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    junk = Path(cli_env) / "junk.json"
    junk.write_text("{not json")
    broken = runner.invoke(app, ["verify", str(junk)])
    assert broken.exit_code == 2 and "not valid JSON" in broken.output


def test_the_composition_root_issues_on_a_pass(cli_env, queue):
    """grader_service() (what `stackwise submit`, `review decide`, serve and the bot use) subscribes issuance."""
    from stackwise.wiring import grader_service, issuance_service

    grader = grader_service()
    sid = seed(grader.queue, "pass")
    issued = issuance_service().for_submission(sid)
    assert issued is not None and issuance_service().verify(issued.document).ok


def test_the_benchmark_issues_and_verifies(cli_env):
    from stackwise.cli import app

    result = runner.invoke(app, ["eval", "issuance", "--n", "3", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output)
    assert measured["n"] == 3 and measured["all_valid"] is True and measured["failures"] == []
    assert measured["issue_per_second"] > 0 and measured["verify_per_second"] > 0
    assert measured["parallel_verify_per_second"] is None  # one worker: no parallel run
