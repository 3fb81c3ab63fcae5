"""Issue 12: a verifier that knows whom it trusts, one issuer per awarding body, revocation only by an
authenticated issuer-admin, and the learner's name only when the issuer's configuration says so.

All on the real components: the grader queue and issuance service on a scratch SQLite database, the demo
catalogue, real Ed25519 keys in key files, the real CLI (typer's runner) and a bcrypt accounts file; no model.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from grader.queue import GraderQueue, rubrics_from_catalogue
from issuance.dataintegrity import sign
from issuance.keys import IssuerKey, IssuerKeys, controller_document, load_issuer_key, load_or_create_issuer_key
from issuance.multikey import did_key_verification_method
from issuance.service import IssuanceConfig, IssuanceService, did_web_for_url
from issuance.trust import TrustedIssuer, TrustListInvalid, load_trust_file
from issuance.verify import Verdict
from stackwise.web.issuance_tabs import render_report
from tests.test_issuance_service import (
    ADMIN_PASSWORDS,
    ASSESSOR,
    EXPIRING,
    PUBLIC_URL,
    catalogue,
    seed,
    write_admin_accounts,
)

KURSORA_CREDENTIAL = EXPIRING  # prompt-engineering, awarded by Kursora
runner = CliRunner()


def build_service(queue: GraderQueue, root: Path, database_url: str, **config) -> IssuanceService:
    """The service as the composition root builds it: an instance key and a key directory per awarding body."""
    settings = IssuanceConfig(public_url=PUBLIC_URL, issuer_id=did_web_for_url(PUBLIC_URL), issuer_name="Stackwise",
                              **config)
    return IssuanceService(queue, catalogue(), key=load_or_create_issuer_key(root / "instance.json"), config=settings,
                           database_url=database_url, keys=IssuerKeys(root / "issuer-keys"))


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'stackwise.db'}"


@pytest.fixture
def queue(db) -> GraderQueue:
    return GraderQueue(db, rubrics=rubrics_from_catalogue(catalogue()))


@pytest.fixture
def service(queue, tmp_path, db):
    service = build_service(queue, tmp_path / "keys", db)
    service.subscribe()
    yield service
    service.close()


def kursora_credential(service: IssuanceService, queue: GraderQueue, learner: str = "webkey-ada") -> dict:
    issued = service.for_submission(seed(queue, "pass", credential=KURSORA_CREDENTIAL, learner=learner))
    assert issued is not None
    return issued.document


def forged_copy(document: dict, name: str = "Mallory Forger") -> tuple[dict, str]:
    """The issue's forgery: a real credential's copy given to someone else, its status entry stripped, signed
    with a fresh did:key that also becomes the issuer id (so the signature is valid and "the issuer's")."""
    key = IssuerKey(Ed25519PrivateKey.generate())
    method = did_key_verification_method(key.public_key)
    forged = copy.deepcopy(document)
    forged.pop("proof")
    forged.pop("credentialStatus")
    forged["issuer"]["id"] = method.partition("#")[0]
    forged["credentialSubject"]["identifier"] = [
        {"type": "IdentityObject", "identityHash": name, "identityType": "name", "hashed": False}]
    return sign(forged, key.private_key, method, proof_as_list=True), method.partition("#")[0]


# ---------------------------------------------------------------------------------------------- verdicts


def test_a_did_key_copy_is_a_valid_signature_from_an_untrusted_issuer_never_the_bodys(service, queue):
    real = kursora_credential(service, queue)
    assert real["issuer"]["name"] == "Kursora"
    forged, did = forged_copy(real)

    report = service.verify(forged)
    assert not report.ok and report.verdict is Verdict.untrusted
    assert report.verdict_text == "valid signature, issuer not trusted"
    assert report.check("proof").ok and not report.check("issuer").ok
    assert report.issuer == did and report.issuer_name is None and report.claimed_issuer_name == "Kursora"
    assert "self-asserted" in report.check("issuer").detail
    summary = report.summary()
    assert summary.startswith("VALID SIGNATURE, ISSUER NOT TRUSTED") and '"Kursora" (self-asserted)' in summary

    page = render_report(report, forged)
    assert page.startswith("## ⚠️ Valid signature, issuer not trusted")
    assert "awarded by" not in page and "Mallory Forger" not in page
    assert "self-asserted" in page and "Kursora" in page
    assert "✅ This credential is valid" not in page


def test_the_real_credential_is_valid_from_a_trusted_issuer_named_as_the_body(service, queue):
    real = kursora_credential(service, queue)
    report = service.verify(real)
    assert report.ok and report.verdict is Verdict.trusted, report.summary()
    assert report.issuer_name == "Kursora" and report.issuer == "did:web:stackwise.test:issuers:kursora"
    page = render_report(report, real)
    assert page.startswith("## ✅ Valid, from a trusted issuer") and "awarded by Kursora" in page


def test_a_trusted_issuers_credential_without_its_status_entry_is_not_valid(service, queue, tmp_path):
    """Even signed with the body's real key (so the signature holds), a missing status entry does not pass:
    this instance's credentials always carry one."""
    real = kursora_credential(service, queue)
    key = load_issuer_key(tmp_path / "keys" / "issuer-keys" / "kursora.json")
    stripped = {k: v for k, v in real.items() if k not in ("proof", "credentialStatus")}
    resigned = sign(stripped, key.private_key, real["proof"][0]["verificationMethod"], proof_as_list=True)
    report = service.verify(resigned)
    assert report.check("proof").ok
    assert not report.ok and report.verdict is Verdict.invalid
    assert "always carry one" in report.check("status").detail and "status" in report.reason
    # and simply deleting the entry breaks the signature: not valid either
    assert service.verify({k: v for k, v in real.items() if k != "credentialStatus"}).verdict is Verdict.invalid


def test_a_key_or_status_out_of_reach_is_cannot_check_never_valid(service, queue):
    real = kursora_credential(service, queue)
    elsewhere = "did:web:badges.elsewhere.example"
    key = IssuerKey(Ed25519PrivateKey.generate())
    moved = {k: v for k, v in copy.deepcopy(real).items() if k not in ("proof", "credentialStatus")}
    moved["issuer"]["id"] = elsewhere
    unreachable_key = service.verify(sign(moved, key.private_key, f"{elsewhere}#{key.public_multikey}",
                                          proof_as_list=True))
    assert unreachable_key.verdict is Verdict.cannot_check and not unreachable_key.ok
    assert unreachable_key.check("proof").unchecked and "could not be resolved" in unreachable_key.check("proof").detail

    # a did:key credential whose status list lives elsewhere: the signature holds, revocation cannot be checked
    forged, _did = forged_copy(real)
    forged.pop("proof")
    forged["credentialStatus"] = {**real["credentialStatus"],
                                  "statusListCredential": "https://badges.elsewhere.example/status/1"}
    method = did_key_verification_method(key.public_key)
    forged["issuer"]["id"] = method.partition("#")[0]
    unreachable_status = service.verify(sign(forged, key.private_key, method, proof_as_list=True))
    assert unreachable_status.verdict is Verdict.cannot_check
    assert unreachable_status.check("status").unchecked
    assert "Cannot check" in render_report(unreachable_status, forged)


def test_a_body_key_that_is_not_its_own_is_not_valid(service, queue):
    """Our own DIDs are known in full: a signature under kursora's DID with another key is a forgery."""
    real = kursora_credential(service, queue)
    intruder = IssuerKey(Ed25519PrivateKey.generate())
    unsigned = {k: v for k, v in real.items() if k != "proof"}
    forged = sign(unsigned, intruder.private_key, f"{real['issuer']['id']}#{intruder.public_multikey}",
                  proof_as_list=True)
    report = service.verify(forged)
    assert report.verdict is Verdict.invalid and not report.check("proof").unchecked
    assert "does not publish the key" in report.check("proof").detail


def test_our_issuers_namespace_is_ours_alone(service, queue):
    """A credential under did:web:<host>:issuers:<body> for a body that has no key yet, or no such body, was
    not issued here: not valid (never "cannot check")."""
    real = kursora_credential(service, queue)
    intruder = IssuerKey(Ed25519PrivateKey.generate())
    for did in ("did:web:stackwise.test:issuers:idap", "did:web:stackwise.test:issuers:no-such-body"):
        unsigned = {k: v for k, v in copy.deepcopy(real).items() if k != "proof"}
        unsigned["issuer"]["id"] = did
        report = service.verify(sign(unsigned, intruder.private_key, f"{did}#{intruder.public_multikey}",
                                     proof_as_list=True))
        assert report.verdict is Verdict.invalid and "does not publish the key" in report.check("proof").detail, did
    assert service.config.provider_of("did:web:stackwise.test:issuers:idap") == "idap"


def test_account_roles_default_to_assessor_and_are_validated(tmp_path):
    from grader.accounts import AssessorsFileInvalid, authenticate_issuer_admin, is_issuer_admin, load_assessors

    path = write_admin_accounts(tmp_path / "accounts.toml")
    accounts = load_assessors(path)
    assert accounts["alice"].role == "assessor" and accounts["root"].role == "issuer-admin"
    assert is_issuer_admin("root", path=path) and not is_issuer_admin("alice", path=path)
    assert not is_issuer_admin("nobody", path=path)
    admin, ok = authenticate_issuer_admin("root", ADMIN_PASSWORDS["root"], path=path)
    assert admin is not None and admin.username == "root" and ok
    assert authenticate_issuer_admin("root", "wrong", path=path) == (None, False)
    path.write_text(path.read_text().replace('role = "issuer-admin"', 'role = "superuser"'))
    with pytest.raises(AssessorsFileInvalid, match="entry 1 is invalid"):
        load_assessors(path)


def test_the_operator_adds_trusted_issuers_in_a_file(queue, tmp_path, db):
    external = IssuerKey(Ed25519PrivateKey.generate())
    did_key = did_key_verification_method(external.public_key).partition("#")[0]
    web_key = IssuerKey(Ed25519PrivateKey.generate())
    web_did = "did:web:partner.example"
    (tmp_path / "partner-did.json").write_text(json.dumps(controller_document(web_did, web_key)))
    trust_file = tmp_path / "trusted.yaml"
    trust_file.write_text(f"issuers:\n  - id: {did_key}\n    name: Partner Academy\n    status_required: false\n"
                          f"  - id: {web_did}\n    name: Partner University\n    did_document_file: partner-did.json\n")
    trusted = load_trust_file(trust_file)
    assert [t.name for t in trusted] == ["Partner Academy", "Partner University"]

    settings = IssuanceConfig(public_url=PUBLIC_URL, issuer_id=did_web_for_url(PUBLIC_URL))
    service = IssuanceService(queue, catalogue(), key=load_or_create_issuer_key(tmp_path / "k.json"),
                              config=settings, database_url=db, keys=IssuerKeys(tmp_path / "ks"), trusted=trusted)
    service.subscribe()
    try:
        real = kursora_credential(service, queue)
    finally:
        service.close()
    for key, did, status_required in ((external, did_key, False), (web_key, web_did, True)):
        unsigned = {k: v for k, v in copy.deepcopy(real).items() if k not in ("proof", "credentialStatus")}
        unsigned["issuer"]["id"] = did
        method = (did_key_verification_method(key.public_key) if did.startswith("did:key:")
                  else f"{did}#{key.public_multikey}")
        report = service.verify(sign(unsigned, key.private_key, method, proof_as_list=True))
        if status_required:  # the operator did not waive the status entry: without one it is not valid
            assert report.verdict is Verdict.invalid and "always carry one" in report.check("status").detail
        else:
            assert report.verdict is Verdict.trusted, report.summary()
            assert report.issuer_name == "Partner Academy"  # the list's name, not the credential's ("Kursora")
            assert 'the credential itself says "Kursora"' in report.check("issuer").detail

    broken = tmp_path / "broken.yaml"
    for content, why in (("issuers: nope", "must have a list named 'issuers'"),
                         ("issuers:\n  - id: did:web:x.example\n    name: X\n", "only a did:key"),
                         ("issuers:\n  - id: mailto:x\n    name: X\n", "DID"),
                         ("issuers: [", "cannot be parsed")):
        broken.write_text(content)
        with pytest.raises(TrustListInvalid, match=why):
            load_trust_file(broken)
    with pytest.raises(ValueError):
        TrustedIssuer(id=did_key, name="X", own=True, document={"id": "did:web:other"})


def test_deeply_nested_or_huge_json_is_refused_in_one_line(service, tmp_path, cli_env):
    from stackwise.cli import app

    deep: dict = {}
    node = deep
    for _ in range(5000):  # far past Python's recursion limit, built without recursion
        node["a"] = {}
        node = node["a"]
    report = service.verify(deep)
    assert report.verdict is Verdict.invalid and "nested deeper than 64 levels" in report.reason
    wide = {"items": list(range(300_000))}
    assert "more than 200000 values" in service.verify(wide).reason

    for name, content in (("deep.json", "[" * 100_000 + "]" * 100_000),
                          ("deep-ok-json.json", '{"a":' * 200 + "1" + "}" * 200)):
        path = tmp_path / name
        path.write_text(content)
        result = runner.invoke(app, ["verify", str(path)])
        assert result.exit_code == 2 and "nested" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------- issuers


def test_one_did_profile_key_and_status_list_per_awarding_body(service, queue, tmp_path):
    kursora = kursora_credential(service, queue)
    shannon = service.for_submission(seed(queue, "pass", learner="webkey-bea")).document  # data-strategy
    assert kursora["issuer"]["id"] == "did:web:stackwise.test:issuers:kursora"
    assert shannon["issuer"]["id"] == "did:web:stackwise.test:issuers:shannonside-university"
    for document in (kursora, shannon):
        provider = service.config.provider_of(document["issuer"]["id"])
        assert service.issuer_profile(provider)["name"] == document["issuer"]["name"]  # the profile matches
        assert service.did_document(provider)["assertionMethod"] == [document["proof"][0]["verificationMethod"]]
        assert document["credentialStatus"]["statusListCredential"].startswith(f"{PUBLIC_URL}/issuers/{provider}/")
    keys = sorted(p.name for p in (tmp_path / "keys" / "issuer-keys").iterdir())
    assert keys == ["kursora.json", "shannonside-university.json"]  # made on first use, one per body
    assert (tmp_path / "keys" / "issuer-keys" / "kursora.json").stat().st_mode & 0o077 == 0
    assert kursora["proof"][0]["verificationMethod"] != shannon["proof"][0]["verificationMethod"]
    assert service.issuer_profile()["name"] == "Stackwise"  # the platform's own profile names the platform

    # revocation is per issuer: revoking Kursora's credential sets a bit in Kursora's list only
    issued = service.get(kursora["id"])
    service.revoke(issued.id, "test", "root")
    assert service.verify(kursora).verdict is Verdict.invalid
    assert service.verify(shannon).verdict is Verdict.trusted
    from issuance.status import StatusList

    other = service.status_list_credential(issued.status_list, "shannonside-university")
    assert not StatusList.decode(other["credentialSubject"]["encodedList"])[issued.status_index]


def test_credentials_of_the_instance_did_stay_verifiable_after_the_upgrade(queue, tmp_path, db):
    """A database from before per-body issuers (no ``issuer`` column, credentials under the instance DID) is
    migrated in place; its credentials still verify, against the instance's status list."""
    from issuance.credential import issue_credential
    from issuance.service import _evidence, _learner
    from issuance.status import status_entry

    service = build_service(queue, tmp_path / "keys", db)
    sid = seed(queue, "pass", learner="webkey-old")
    detail = queue.get_submission(sid, assessor=ASSESSOR)
    credential = catalogue().credentials[detail.credential_id]
    engine = create_engine(db)
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    old = issue_credential(credential, catalogue().providers[credential.awarding_body], issuer=service.config.issuer,
                           key=load_issuer_key(tmp_path / "keys" / "instance.json"), learner=_learner(detail),
                           results={c.criterion_id: c.level_id for c in detail.criteria}, evidence=_evidence(detail),
                           credential_status=status_entry(f"{PUBLIC_URL}/status/0", 5),
                           credential_id=f"urn:uuid:{uuid}")
    with engine.begin() as connection:  # the old table: drop the new column, store the old credential
        connection.execute(text("ALTER TABLE issuance_credentials DROP COLUMN issuer"))
        connection.execute(text(
            "INSERT INTO issuance_credentials (id, submission_id, learner_id, catalogue_id, title, status_list, "
            "status_index, reserved_at, document, issued_at, marked_issued) VALUES (:id, :sid, 'webkey-old', "
            ":cid, 'old', 0, 5, '2026-02-01 00:00:00', :doc, '2026-02-01 00:00:00', 1)"),
            {"id": uuid, "sid": sid, "cid": credential.id, "doc": json.dumps(old)})
    engine.dispose()
    import issuance.store

    issuance.store._migrated.clear()  # as in a new process
    upgraded = build_service(queue, tmp_path / "keys", db)
    assert upgraded.verify(old).verdict is Verdict.trusted, upgraded.verify(old).summary()
    assert upgraded.get(uuid).issuer is None
    upgraded.revoke(uuid, "old one revoked", "root")
    assert upgraded.verify(old).verdict is Verdict.invalid and "revoked" in upgraded.verify(old).reason


# ---------------------------------------------------------------------------------------------- privacy


def test_the_learners_name_is_in_the_credential_only_when_configured(queue, tmp_path, db):
    default = build_service(queue, tmp_path / "a", db)
    document = default.issue(seed(queue, "pass", learner="webkey-ada", name="Ada Lovelace")).document
    identifiers = document["credentialSubject"]["identifier"]
    assert {i["identityType"] for i in identifiers} == {"emailAddress", "systemId"}
    assert all(i["hashed"] is True and len(i["salt"]) == 32 for i in identifiers)
    assert "Ada Lovelace" not in json.dumps(document) and "webkey-ada" not in json.dumps(document)

    named = build_service(queue, tmp_path / "b", db, include_name=True)
    document = named.issue(seed(queue, "pass", learner="webkey-grace", name="Grace Hopper")).document
    names = [i for i in document["credentialSubject"]["identifier"] if i["identityType"] == "name"]
    assert names == [{"type": "IdentityObject", "identityHash": "Grace Hopper", "identityType": "name",
                      "hashed": False}]


# ---------------------------------------------------------------------------------------------- revocation


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    from stackwise.config import get_settings
    from stackwise.wiring import issuance_service

    monkeypatch.setenv("STACKWISE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STACKWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'stackwise.db'}")
    monkeypatch.setenv("STACKWISE_ISSUER_KEY_FILE", str(tmp_path / "keys" / "instance.json"))
    monkeypatch.setenv("STACKWISE_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("STACKWISE_ASSESSORS_FILE", str(write_admin_accounts(tmp_path / "accounts.toml")))
    for name in ("STACKWISE_PASSWORD", "STACKWISE_ASSESSOR_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    issuance_service().close()
    get_settings.cache_clear()


def test_cli_revoke_needs_an_authenticated_issuer_admin_and_audits_them(cli_env, queue):
    from stackwise.cli import app
    from stackwise.wiring import issuance_service

    service = issuance_service()
    issued = service.issue(seed(queue, "pass"))
    args = ["revoke", issued.id, "--reason", "plagiarised"]

    def revoke(*extra: str, **env: str):
        return runner.invoke(app, [*args, *extra], env=env or None)

    refused = [
        (revoke(), "--user"),  # no account given
        (revoke("--user", "root"), "a password is needed"),  # no password (no terminal to ask in)
        (revoke("--user", "root", STACKWISE_PASSWORD="wrong"), "wrong password"),
        (revoke("--user", "nobody", STACKWISE_PASSWORD="wrong"), "wrong password"),
        (revoke("--user", "alice", STACKWISE_PASSWORD=ADMIN_PASSWORDS["alice"]), "not an issuer-admin"),
        (revoke("--user", "root", "--actor", "registrar", STACKWISE_PASSWORD=ADMIN_PASSWORDS["root"]), "--actor"),
    ]
    for result, why in refused:
        assert result.exit_code == 2 and why in result.output and "Traceback" not in result.output, result.output
    assert not service.get(issued.id).revoked
    assert [e.event_type for e in service.audit_log(issued.id)] == ["issued"]

    password_file = cli_env / "password.txt"
    password_file.write_text(ADMIN_PASSWORDS["root"] + "\n")
    done = revoke("--user", "root", "--password-file", str(password_file))
    assert done.exit_code == 0 and done.output.startswith("revoked by root: "), done.output
    entry = [e for e in service.audit_log(issued.id) if e.event_type == "revoked"]
    assert len(entry) == 1 and entry[0].actor == "root" and entry[0].details["via"] == "cli"
    assert service.get(issued.id).revoked_by == "root"

    again = service.issue(seed(queue, "pass", learner="webkey-env"))
    by_env = runner.invoke(app, ["revoke", again.id, "--reason", "x", "--user", "root"],
                           env={"STACKWISE_PASSWORD": ADMIN_PASSWORDS["root"]})
    assert by_env.exit_code == 0 and service.get(again.id).revoked_by == "root"


def test_cli_verify_exit_code_per_verdict(cli_env, queue):
    from stackwise.cli import app
    from stackwise.cli.issuance import VERIFY_EXIT
    from stackwise.wiring import issuance_service

    service = issuance_service()
    real = service.issue(seed(queue, "pass", credential=KURSORA_CREDENTIAL)).document
    forged, _did = forged_copy(real)
    elsewhere = {k: v for k, v in copy.deepcopy(real).items() if k not in ("proof", "credentialStatus")}
    elsewhere["issuer"]["id"] = "did:web:badges.elsewhere.example"
    key = IssuerKey(Ed25519PrivateKey.generate())
    elsewhere = sign(elsewhere, key.private_key, f"did:web:badges.elsewhere.example#{key.public_multikey}",
                     proof_as_list=True)
    tampered = copy.deepcopy(real)
    tampered["name"] = "Brain Surgery"
    codes = {}
    for name, document in (("trusted", real), ("untrusted", forged), ("cannot_check", elsewhere),
                           ("invalid", tampered)):
        path = cli_env / f"{name}.json"
        path.write_text(json.dumps(document))
        result = runner.invoke(app, ["verify", str(path)])
        codes[name] = result.exit_code
        assert result.output.startswith(service.verify(document).verdict_text.upper()), result.output
        if name == "untrusted":
            assert "Mallory" not in result.output and "(self-asserted)" in result.output
    assert codes == VERIFY_EXIT == {"trusted": 0, "invalid": 1, "untrusted": 3, "cannot_check": 4}
    assert len(set(codes.values())) == 4
