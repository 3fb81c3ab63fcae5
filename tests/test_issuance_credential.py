"""OB 3.0 micro-credentials: build -> schema-valid -> sign -> verify; tampering, revocation, expiry, the key file."""

from __future__ import annotations

import copy
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuance.credential import (
    EvidenceItem,
    IssuanceError,
    IssuerConfig,
    Learner,
    add_months,
    build_credential,
    identity_matches,
    issue_credential,
    level_id,
)
from issuance.dataintegrity import (
    ControllerDocumentResolver,
    expand,
    resolve_did_key,
    sign,
)
from issuance.keys import (
    IssuerKey,
    KeyFileError,
    controller_document,
    did_web_document_url,
    did_web_from_url,
    load_issuer_key,
    load_or_create_issuer_key,
)
from issuance.loader import STACKWISE_EU_MC_VOCAB
from issuance.multikey import did_key_verification_method
from issuance.status import MIN_BITS, StatusList, StatusListError, signed_status_list_credential, status_entry
from issuance.trust import TrustedIssuer, TrustList
from issuance.verify import schema_errors, verify_credential
from knowledge.schema import Credential, Provider
from tests.catalogue_factory import credential as credential_data
from tests.catalogue_factory import provider as provider_data

ISSUED = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
NOW = ISSUED + timedelta(days=30)
ISSUER = IssuerConfig(
    issuer_id="https://stackwise.example/issuers/uni", achievement_base_url="https://stackwise.example/achievements"
)
STATUS_URL = "https://stackwise.example/status/1"
RESULTS = {"c1": "strong", "c2": "partial", "c3": "strong"}
EMAIL = "Ana.Lopez@Example.org"


@pytest.fixture(scope="module")
def catalogue_credential() -> Credential:
    data = credential_data("data-ethics", prerequisites=["intro-ai"])
    data["rubric"]["min_points_each"] = 1
    data.update(
        competencies=["Data ethics", "Risk assessment"],
        valid_for_months=24,
        id_verification="online_proctored",
        grading="pass/fail",
        stackability="Counts 3 ECTS towards the Certificate in Responsible AI.",
        further_information="https://uni.example/data-ethics",
        url="https://uni.example/data-ethics",
        learning_outcomes=["Identify ethical risks in a data project.", "Propose proportionate mitigations."],
    )
    return Credential.model_validate(data)


@pytest.fixture(scope="module")
def provider() -> Provider:
    data = provider_data()
    data.update(website="https://uni.example/", description="A university.")
    return Provider.model_validate(data)


@pytest.fixture(scope="module")
def key() -> IssuerKey:
    return IssuerKey(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def resolver(key) -> ControllerDocumentResolver:
    return ControllerDocumentResolver([controller_document(ISSUER.issuer_id, key)])


@pytest.fixture(scope="module")
def learner() -> Learner:
    return Learner(email=EMAIL, did="did:example:ana")


@pytest.fixture(scope="module")
def evidence() -> list[EvidenceItem]:
    return [
        EvidenceItem(name="Risk register", narrative="A risk register for a hiring model.", url="https://e.example/1"),
        EvidenceItem(narrative="Reflective essay on proportionality."),
    ]


@pytest.fixture(scope="module")
def signed(catalogue_credential, provider, key, learner, evidence) -> dict:
    return issue_credential(
        catalogue_credential,
        provider,
        issuer=ISSUER,
        key=key,
        learner=learner,
        results=RESULTS,
        evidence=evidence,
        issued_at=ISSUED,
        credential_status=status_entry(STATUS_URL, 7),
    )


@pytest.fixture(scope="module")
def status_lists(key) -> dict[str, dict]:
    """Signed status list credentials: 'clear' (nothing revoked) and 'revoked' (index 7 set)."""
    method = key.verification_method(ISSUER.issuer_id)
    clear = StatusList()
    revoked = StatusList()
    revoked.revoke(7)
    return {
        name: signed_status_list_credential(
            STATUS_URL, ISSUER.issuer_id, bits, key.private_key, method, valid_from=ISSUED
        )
        for name, bits in (("clear", clear), ("revoked", revoked))
    }


def _verify(document, resolver, status_lists, which="clear", now=NOW):
    return verify_credential(
        document, resolve_key=resolver, fetch_status_list={STATUS_URL: status_lists[which]}.get, now=now
    )


# ---------------------------------------------------------------- building


def test_built_credential_is_schema_valid_and_fully_defined(catalogue_credential, provider, learner, evidence):
    document = build_credential(
        catalogue_credential, provider, issuer=ISSUER, learner=learner, results=RESULTS, evidence=evidence
    )
    assert schema_errors(document) == []
    expanded, problems = expand(document)
    assert problems == []  # no dropped property, no undefined type: everything is signed
    text = json.dumps(expanded)
    for term in (
        "eqfLevel",
        "learningOutcome",
        "assessmentType",
        "participationForm",
        "qualityAssurance",
        "idVerification",
        "gradingScheme",
        "prerequisite",
        "stackability",
        "furtherInformation",
        "creditFramework",
        "workloadHours",
    ):
        assert STACKWISE_EU_MC_VOCAB + term in text, term


def test_credential_content(signed, catalogue_credential):
    assert signed["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert signed["validFrom"] == "2026-01-31T10:00:00Z"
    assert signed["validUntil"] == "2028-01-31T10:00:00Z"  # valid_for_months=24
    assert signed["issuer"]["address"]["addressCountryCode"] == "IE"
    subject = signed["credentialSubject"]
    assert subject["id"] == "did:example:ana"
    achievement = subject["achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert achievement["creditsAvailable"] == 3
    assert achievement["eqfLevel"] == 6
    assert achievement["participationForm"] == "online"
    assert achievement["assessmentType"] == "portfolio"
    assert achievement["idVerification"] == "online_proctored"
    assert achievement["prerequisite"] == ["https://stackwise.example/achievements/intro-ai"]
    assert achievement["learningOutcome"] == list(catalogue_credential.learning_outcomes)
    assert [a["targetName"] for a in achievement["alignment"]] == ["Data ethics", "Risk assessment"]
    assert "Identify ethical risks" in achievement["criteria"]["narrative"]
    # every criterion has a result description whose levels come from the rubric, and a result naming one of them
    descriptions = {d["id"]: d for d in achievement["resultDescription"]}
    results = [r for r in subject["result"] if "achievedLevel" in r]
    assert len(results) == len(catalogue_credential.rubric.criteria)
    for result in results:
        levels = [level["id"] for level in descriptions[result["resultDescription"]]["rubricCriterionLevel"]]
        assert result["achievedLevel"] in levels
    assert results[1]["achievedLevel"] == level_id(achievement["id"], "c2", "partial")
    total = next(r for r in subject["result"] if "value" in r)
    assert total["value"] == "5"
    assert [e.get("id") for e in signed["evidence"]] == ["https://e.example/1", None]
    assert signed["credentialStatus"]["statusListIndex"] == "7"


def test_learner_email_is_hashed_and_provable(signed):
    identity = signed["credentialSubject"]["identifier"][0]
    assert identity["hashed"] is True
    assert identity["identityHash"].startswith("sha256$")
    assert EMAIL.lower() not in json.dumps(signed).lower()
    assert identity_matches(identity, EMAIL)
    assert identity_matches(identity, "  ana.lopez@example.ORG ")
    assert not identity_matches(identity, "someone@example.org")


def test_identity_hash_matches_the_ob3_spec_example():
    identity = {
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "Kosher",
        "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
    }
    assert identity_matches(identity, "a@example.com")


def test_failing_or_incomplete_results_are_not_issued(catalogue_credential, provider, learner):
    cases = {
        "below the pass threshold": {"c1": "partial", "c2": "partial", "c3": "partial"},
        "below the minimum": {"c1": "strong", "c2": "strong", "c3": "missing"},
        "no result for criterion 'c3'": {"c1": "strong", "c2": "strong"},
        "has no level 'excellent'": {"c1": "excellent", "c2": "strong", "c3": "strong"},
        "'c9' is not in the rubric": {**RESULTS, "c9": "strong"},
    }
    for reason, results in cases.items():
        with pytest.raises(IssuanceError, match=reason):
            build_credential(catalogue_credential, provider, issuer=ISSUER, learner=learner, results=results)


def test_valid_until_clamps_to_month_end():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2027, 11, 30, tzinfo=UTC), 3) == datetime(2028, 2, 29, tzinfo=UTC)


# ---------------------------------------------------------------- verification


def test_signed_credential_verifies(signed, resolver, status_lists):
    report = _verify(signed, resolver, status_lists)
    assert report.ok, report.summary()
    assert [c.name for c in report.checks] == ["schema", "proof", "status", "validity", "issuer"]
    assert report.issuer == ISSUER.issuer_id
    assert "not revoked" in report.check("status").detail
    assert isinstance(signed["proof"], list) and len(signed["proof"]) == 1  # OB 3.0 schema wants an array


def _tampered(document: dict, change) -> dict:
    changed = copy.deepcopy(document)
    change(changed)
    return changed


def _flip_last(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


TAMPERING = {
    "learner identifier": lambda d: d["credentialSubject"]["identifier"][0].update(identityHash="sha256$" + "0" * 64),
    "learner id": lambda d: d["credentialSubject"].update(id="did:example:mallory"),
    "a result level": lambda d: d["credentialSubject"]["result"][1].update(
        achievedLevel=level_id(d["credentialSubject"]["achievement"]["id"], "c2", "strong")
    ),
    "the total score": lambda d: d["credentialSubject"]["result"][-1].update(value="6"),
    "the proof value": lambda d: d["proof"][0].update(proofValue=_flip_last(d["proof"][0]["proofValue"])),
    "validFrom": lambda d: d.update(validFrom="2026-01-30T10:00:00Z"),
    "validUntil": lambda d: d.update(validUntil="2036-01-31T10:00:00Z"),
    "EQF level": lambda d: d["credentialSubject"]["achievement"].update(eqfLevel=7),
    "ECTS": lambda d: d["credentialSubject"]["achievement"].update(creditsAvailable=6),
    "evidence": lambda d: d["evidence"][0].update(narrative="Something else."),
    "status index": lambda d: d["credentialStatus"].update(statusListIndex="8", id=f"{STATUS_URL}#8"),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_fails_the_proof_check(signed, resolver, status_lists, what):
    report = _verify(_tampered(signed, TAMPERING[what]), resolver, status_lists)
    assert not report.ok
    proof = report.check("proof")
    assert not proof.ok
    assert "signature does not match" in proof.detail
    assert "changed after signing" in proof.detail


def test_an_undefined_property_cannot_be_slipped_in(signed, resolver, status_lists):
    forged = _tampered(signed, lambda d: d["credentialSubject"].update(honours="with distinction"))
    report = _verify(forged, resolver, status_lists)
    assert not report.check("proof").ok
    assert "'honours' is not defined" in report.check("proof").detail


def test_schema_check_reports_in_plain_words(signed, resolver, status_lists):
    broken = _tampered(signed, lambda d: d["credentialSubject"]["achievement"].pop("criteria"))
    report = _verify(broken, resolver, status_lists)
    assert not report.check("schema").ok
    assert "credentialSubject.achievement: 'criteria' is a required property" in report.check("schema").detail


def test_revoked_credential_fails(signed, resolver, status_lists):
    report = _verify(signed, resolver, status_lists, which="revoked")
    assert not report.ok
    status = report.check("status")
    assert not status.ok
    assert status.detail.startswith("revoked")
    assert all(c.ok for c in report.checks if c.name != "status")


def test_status_needs_a_fetcher_unless_waived(signed, resolver):
    strict = verify_credential(signed, resolve_key=resolver, now=NOW)
    assert not strict.check("status").ok and strict.check("status").unchecked
    assert "cannot check revocation" in strict.check("status").detail
    assert strict.verdict == "cannot_check" and strict.verdict_text == "cannot check (key or status unreachable)"
    lenient = verify_credential(signed, resolve_key=resolver, now=NOW, require_status=False)
    assert lenient.ok
    assert "not checked" in lenient.check("status").detail


def test_status_list_must_be_signed_by_the_issuer(signed, resolver, status_lists):
    forged_list = _tampered(
        status_lists["revoked"],
        lambda d: d["credentialSubject"].update(encodedList=status_lists["clear"]["credentialSubject"]["encodedList"]),
    )
    report = verify_credential(signed, resolve_key=resolver, fetch_status_list=lambda url: forged_list, now=NOW)
    assert not report.check("status").ok
    assert "not trustworthy" in report.check("status").detail
    unreachable = verify_credential(signed, resolve_key=resolver, fetch_status_list=lambda url: None, now=NOW)
    assert "cannot be fetched" in unreachable.check("status").detail
    assert unreachable.verdict == "cannot_check" and not unreachable.ok
    assert report.verdict == "invalid" and "not trustworthy" in report.reason


def test_expired_and_not_yet_valid(signed, resolver, status_lists):
    expired = _verify(signed, resolver, status_lists, now=datetime(2028, 1, 31, 10, 0, tzinfo=UTC))
    assert not expired.ok
    assert expired.check("validity").detail == "expired on 2028-01-31T10:00:00Z"
    early = _verify(signed, resolver, status_lists, now=ISSUED - timedelta(seconds=1))
    assert not early.ok
    assert early.check("validity").detail.startswith("not yet valid")


def test_key_not_published_by_the_issuer_fails(signed, resolver, status_lists, catalogue_credential, provider, learner):
    intruder = IssuerKey(Ed25519PrivateKey.generate())
    forged = issue_credential(
        catalogue_credential, provider, issuer=ISSUER, key=intruder, learner=learner, results=RESULTS
    )
    report = _verify(forged, resolver, status_lists)
    assert not report.check("proof").ok
    assert "could not be resolved" in report.check("proof").detail
    # a valid signature by someone else's did:key is still not the issuer's
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    by_did_key = sign(unsigned, intruder.private_key, did_key_verification_method(intruder.public_key))
    report = _verify(by_did_key, ControllerDocumentResolver(allow_did_key=True), status_lists)
    assert not report.check("proof").ok
    assert "not by the issuer" in report.check("proof").detail


def test_did_key_issuer(catalogue_credential, provider, learner, key):
    issuer = IssuerConfig(
        issuer_id=did_key_verification_method(key.public_key).split("#")[0],
        achievement_base_url="https://stackwise.example/achievements",
        verification_method=did_key_verification_method(key.public_key),
    )
    document = issue_credential(
        catalogue_credential, provider, issuer=issuer, key=key, learner=learner, results=RESULTS, issued_at=ISSUED
    )
    # a did:key proves who signed, not that they are trusted: valid signature, issuer not trusted
    report = verify_credential(document, resolve_key=resolve_did_key, now=NOW)
    assert not report.ok and report.verdict == "untrusted", report.summary()
    assert report.check("proof").ok and not report.check("issuer").ok
    assert report.issuer_name is None and report.claimed_issuer_name == provider.name
    assert "self-asserted" in report.check("issuer").detail
    # the same did:key on the verifier's trust list: valid, from a trusted issuer, under the list's name
    trust = TrustList([TrustedIssuer(id=issuer.issuer_id, name="Uni (registered)", status_required=False)])
    listed = verify_credential(document, trust=trust, now=NOW)
    assert listed.ok and listed.verdict == "trusted", listed.summary()
    assert listed.issuer_name == "Uni (registered)"


# ---------------------------------------------------------------- status list


def test_status_list_bits_and_encoding():
    bits = StatusList()
    assert bits.size == MIN_BITS
    for index in (0, 7, 8, 94567, MIN_BITS - 1):
        assert not bits[index]
        bits.revoke(index)
        assert bits[index]
    assert bits.to_bytes()[0] == 0b1000_0001  # index 0 is the left-most bit
    decoded = StatusList.decode(bits.encode())
    assert decoded.to_bytes() == bits.to_bytes()
    assert bits.encode().startswith("uH4sI")  # multibase base64url of a GZIP stream
    bits.set(7, False)
    assert not bits[7]
    with pytest.raises(IndexError):
        bits[MIN_BITS]
    with pytest.raises(StatusListError):
        StatusList(size=1024)
    with pytest.raises(StatusListError, match="fewer than the minimum"):
        StatusList.decode(_encoded_short_list())


def _encoded_short_list() -> str:
    import gzip

    from issuance.multikey import multibase_base64url_encode

    return multibase_base64url_encode(gzip.compress(bytes(1024)))


def test_status_list_credential_is_fully_defined(status_lists):
    assert expand(status_lists["clear"])[1] == []


# ---------------------------------------------------------------- the key file


def test_key_file_is_created_0600_and_reused(tmp_path):
    path = tmp_path / "keys" / "issuer.json"
    first = load_or_create_issuer_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = load_or_create_issuer_key(path)
    assert again.public_multikey == first.public_multikey
    assert load_issuer_key(path).public_multikey == first.public_multikey
    data = json.loads(path.read_text())
    assert data["publicKeyMultibase"] == first.public_multikey
    assert data["secretKeyMultibase"] not in repr(first) and data["secretKeyMultibase"] not in str(first)


def test_key_file_refusals(tmp_path):
    path = tmp_path / "issuer.json"
    load_or_create_issuer_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_issuer_key(path)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    with pytest.raises(KeyFileError, match="inside the git work tree"):
        load_or_create_issuer_key(repo / "secrets" / "issuer.json")
    assert not (repo / "secrets").exists()
    with pytest.raises(KeyFileError, match="inside the git work tree"):
        load_or_create_issuer_key(Path(__file__).resolve().parent / "issuer.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"secretKeyMultibase": "zzz"}')
    broken.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a valid Multikey key file"):
        load_issuer_key(broken)


def test_controller_document_and_did_web(key):
    document = controller_document("did:web:stackwise.example:issuers:uni", key)
    method = document["verificationMethod"][0]
    assert method == {
        "id": f"did:web:stackwise.example:issuers:uni#{key.public_multikey}",
        "type": "Multikey",
        "controller": "did:web:stackwise.example:issuers:uni",
        "publicKeyMultibase": key.public_multikey,
    }
    assert document["assertionMethod"] == [method["id"]]
    assert expand(document)[1] == []
    assert did_web_from_url("https://stackwise.example/issuers/uni") == "did:web:stackwise.example:issuers:uni"
    assert did_web_from_url("https://stackwise.example:8443") == "did:web:stackwise.example%3A8443"
    assert did_web_document_url("did:web:stackwise.example:issuers:uni") == (
        "https://stackwise.example/issuers/uni/did.json"
    )
    assert did_web_document_url("did:web:stackwise.example") == "https://stackwise.example/.well-known/did.json"
    resolved = ControllerDocumentResolver([document])(method["id"])
    assert resolved.controller == "did:web:stackwise.example:issuers:uni"
    assert resolved.purposes == frozenset({"assertionMethod"})
