"""Issuance on the web, served for real on 127.0.0.1 by ``stackwise.web.shell.launch`` (as ``stackwise serve`` does):
the DID document, issuer profile, status list and credential routes (httpx), the public "Verify" tab and the
learner's "My credentials" tab (``gradio_client``), and issuance by an assessor's approval in the Assessor tab.

Behind them: the real grader queue and issuance service on a scratch SQLite database, the demo catalogue, a
bcrypt assessors file; no model (grades are seeded through the queue's API).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from grader.accounts import ASSESSORS_FILE_ENV, hash_password
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from issuance.baking import unbake_png, unbake_svg
from issuance.dataintegrity import ControllerDocumentResolver, verify_proof
from issuance.keys import load_or_create_issuer_key
from issuance.service import IssuanceService
from stackwise.identity import learner_id_for_key
from tests.test_issuance_service import catalogue, make_service, official_schema_errors, seed
from tests.test_web_grader import PASSWORDS, Desk, Learner, free_port, no_model, text, write_accounts

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
ADMIN_PASSWORD = "root-secret-9"


class App(SimpleNamespace):
    url: str
    grader: GraderService
    issuance: IssuanceService
    pending: str  # a submission that passed while nothing was subscribed


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[App]:
    from assistant.memory import ConversationMemory
    from stackwise.web.shell import launch

    root = tmp_path_factory.mktemp("issuance-tabs")
    database = f"sqlite:///{root / 'stackwise.db'}"
    queue = GraderQueue(database, rubrics=rubrics_from_catalogue(catalogue()))
    grader = GraderService(catalogue(), queue, scorer_factory=no_model)
    pending = seed(queue, "pass", learner="webkey-before-start")  # issued by launch's catch-up
    issuance = make_service(queue, load_or_create_issuer_key(root / "key" / "issuer.json"), database)
    issuance.subscribe()
    assistant = SimpleNamespace(catalogue=catalogue(), memory=ConversationMemory(database))
    with pytest.MonkeyPatch.context() as patch:
        accounts = write_accounts(root / "assessors.toml")
        with accounts.open("a", encoding="utf-8") as extra:  # an issuer-admin besides the assessors
            extra.write(f'\n[[assessors]]\nusername = "root"\nrole = "issuer-admin"\n'
                        f'password_hash = "{hash_password(ADMIN_PASSWORD, rounds=4)}"\n')
        patch.setenv(ASSESSORS_FILE_ENV, str(accounts))
        demo = launch(assistant, port=free_port(), warm=False, prevent_thread_lock=True, quiet=True, grader=grader,
                      issuance=issuance)
        try:
            yield App(url=demo.local_url.rstrip("/"), grader=grader, issuance=issuance, pending=pending, demo=demo)
        finally:
            demo.close()
            issuance.close()


def get(app: App, path: str) -> httpx.Response:
    return httpx.get(app.url + path, timeout=30)


# ---------------------------------------------------------------------------------------------- composition


def test_serve_composes_the_tabs_and_issues_what_passed_before_it_started(app):
    from gradio_client import Client

    tabs = [b.label for b in app.demo.blocks.values() if type(b).__name__ == "Tab"]
    assert tabs[-3:] == ["My credentials", "Verify", "Revoke"] and "Assessor" in tabs
    endpoints = set(Client(app.url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/verify_credential", "/my_credentials", "/revoke_credential"} <= endpoints
    assert not [e for e in endpoints if "issue" in e]  # nothing on the web issues directly
    issued = app.issuance.for_submission(app.pending)
    assert issued is not None and app.issuance.verify(issued.document).ok


# ---------------------------------------------------------------------------------------------- routes


def test_the_issuer_key_profile_and_status_list_are_served(app):
    did = get(app, "/.well-known/did.json")
    assert did.status_code == 200 and did.json() == app.issuance.did_document()
    assert get(app, "/did.json").json() == did.json()
    method = did.json()["verificationMethod"][0]
    assert method["type"] == "Multikey" and method["id"] == app.issuance.verification_method
    profile = get(app, "/issuer")
    assert profile.status_code == 200 and profile.json()["id"] == did.json()["id"]
    listed = get(app, "/status/0")
    assert listed.status_code == 200
    assert verify_proof(listed.json(), ControllerDocumentResolver([did.json()])).ok  # resolvable from what is served
    assert get(app, "/status/99").status_code == 404
    assert get(app, "/status/99999999999999999999").status_code == 404  # not a 500
    assert get(app, "/issuers/kursora/status/99999999999999999999").status_code == 404
    context = get(app, "/ns/eu-mc/v1")
    assert context.status_code == 200 and "eqfLevel" in context.json()["@context"]


def test_credentials_are_served_by_id_with_baked_badges_and_a_report(app):
    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner="webkey-routes"))
    for ident in (issued.uuid, issued.id, f"{issued.uuid}.json"):
        response = get(app, f"/credentials/{ident}")
        assert response.status_code == 200 and response.json() == issued.document, ident
    assert official_schema_errors(response.json()) == []
    svg = get(app, f"/credentials/{issued.uuid}/badge.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and unbake_svg(svg.content) == issued.document
    png = get(app, f"/credentials/{issued.uuid}/badge.png")
    assert png.headers["content-type"] == "image/png" and unbake_png(png.content) == issued.document
    report = get(app, f"/credentials/{issued.uuid}/verify").json()
    assert report["ok"] is True and report["verdict"] == "trusted"
    assert [c["name"] for c in report["checks"]] == ["schema", "proof", "status", "validity", "issuer"]
    assert get(app, "/credentials/00000000-0000-4000-8000-000000000000").status_code == 404
    assert get(app, "/credentials/not-a-credential").status_code == 404

    tampered = copy.deepcopy(issued.document)
    tampered["credentialSubject"]["achievement"]["name"] = "Brain Surgery"
    posted = httpx.post(app.url + "/verify", content=json.dumps(tampered), timeout=30).json()
    assert posted["ok"] is False and any(c["name"] == "proof" and not c["ok"] for c in posted["checks"])
    assert posted["verdict"] == "invalid" and posted["verdict_text"] == "not valid"


def test_deeply_nested_json_to_verify_is_a_clear_400(app):
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 500 + "1" + "}" * 500):
        response = httpx.post(app.url + "/verify", content=body, timeout=30)
        assert response.status_code == 400 and "nested" in response.json()["error"]


def test_each_awarding_body_has_its_own_did_profile_and_status_list_named_as_its_credentials(app):
    from issuance.trust import TrustedIssuer, TrustList
    from issuance.verify import verify_credential

    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner="webkey-body",
                                              credential="prompt-engineering"))
    document = issued.document
    did = document["issuer"]["id"]
    assert did.endswith(":issuers:kursora") and issued.issuer == "kursora"
    profile = get(app, "/issuers/kursora")
    assert profile.status_code == 200 and profile.json()["id"] == did
    assert profile.json()["name"] == document["issuer"]["name"] == "Kursora"  # the profile says what it signs
    did_document = get(app, "/issuers/kursora/did.json").json()
    status_url = document["credentialStatus"]["statusListCredential"]
    listed = get(app, status_url.removeprefix(app.issuance.config.public_url))
    assert listed.status_code == 200 and listed.json()["issuer"] == did
    # a verifier that trusts what is served reaches the same verdict as the app
    served = TrustList([TrustedIssuer(id=did, name=profile.json()["name"], document=did_document)])
    report = verify_credential(document, trust=served, fetch_status_list={status_url: listed.json()}.get)
    assert report.ok and report.issuer_name == "Kursora", report.summary()
    assert {i["provider"]: i["id"] for i in get(app, "/issuers").json()}["kursora"] == did
    assert get(app, "/issuer").json()["id"] != did  # the platform's profile signs no credential
    assert get(app, "/issuers/no-such-body").status_code == 404


# ---------------------------------------------------------------------------------------------- verify tab


def verify(app: App, upload: Path | None = None, ident: str = "") -> str:
    from gradio_client import Client, handle_file

    return text(Client(app.url, verbose=False).predict(handle_file(str(upload)) if upload else None, ident,
                                                      api_name="/verify_credential"))


def test_the_verify_page_checks_a_file_or_an_id_in_plain_words(app, tmp_path):
    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner="webkey-verify", name="Grace Hopper"))
    by_id = verify(app, ident=issued.id)
    assert by_id.startswith("## ✅ Valid, from a trusted issuer")
    assert "Data Strategy" in by_id and "awarded by Shannonside University" in by_id
    assert "Grace Hopper" not in by_id  # the name is not in the credential unless the issuer config says so
    for label in ("Format (Open Badges 3.0 schema): ✅ passed", "Signature by the issuer: ✅ passed",
                  "Revocation status: ✅ passed", "Validity period: ✅ passed", "Issuer on the trust list: ✅ passed"):
        assert label in by_id

    path = tmp_path / "credential.json"
    path.write_text(json.dumps(issued.document))
    assert verify(app, upload=path).startswith("## ✅")
    svg = tmp_path / "badge.svg"
    svg.write_bytes(get(app, f"/credentials/{issued.uuid}/badge.svg").content)
    assert verify(app, upload=svg).startswith("## ✅")

    from tests.test_issuance_trust import forged_copy

    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged_copy(issued.document)[0]))
    forged_page = verify(app, upload=forged_path)
    assert forged_page.startswith("## ⚠️ Valid signature, issuer not trusted")
    assert "awarded by" not in forged_page and "Mallory Forger" not in forged_page and "self-asserted" in forged_page
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    assert "cannot be checked" in verify(app, upload=nested) and "nested" in verify(app, upload=nested)

    tampered = copy.deepcopy(issued.document)
    tampered["credentialSubject"]["identifier"][-1]["identityHash"] = "Mallory"
    path.write_text(json.dumps(tampered))
    forged = verify(app, upload=path)
    assert forged.startswith("## ❌ Not valid")
    assert "Signature by the issuer: ❌ failed" in forged and "signature is not valid" in forged
    assert "Do not rely on this credential" in forged

    app.issuance.revoke(issued.id, "awarded in error", "registrar")
    revoked = verify(app, ident=f"{app.issuance.config.public_url}/credentials/{issued.uuid}")
    assert "Revocation status: ❌ failed" in revoked and "revoked" in revoked

    assert "No credential" in verify(app, ident="urn:uuid:00000000-0000-4000-8000-000000000000")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert "cannot be checked" in verify(app, upload=junk) and "not valid JSON" in verify(app, upload=junk)
    assert verify(app).startswith("Upload a credential file")


# ---------------------------------------------------------------------------------------------- my credentials


def my_credentials(learner: Learner) -> tuple[str, list[Path]]:
    listing, files = learner.client.predict(learner.key, api_name="/my_credentials")
    paths = [Path(f if isinstance(f, str) else f["path"]) for f in files or []]
    return text(listing), paths


def test_a_learner_downloads_their_own_credentials_only(app):
    ada, bob = Learner(app.url), Learner(app.url)
    queue = app.grader.queue
    passed = seed(queue, "pass", learner=learner_id_for_key(ada.key))
    seed(queue, "fail", learner=learner_id_for_key(ada.key))  # not issued
    issued = app.issuance.for_submission(passed)

    listing, files = my_credentials(ada)
    assert listing.count("#### Data Strategy") == 1 and "✅ **Valid**" in listing and issued.id in listing
    assert sorted(p.suffix for p in files) == [".json", ".png", ".svg"]
    by_suffix = {p.suffix: p for p in files}
    assert json.loads(by_suffix[".json"].read_text()) == issued.document
    assert unbake_svg(by_suffix[".svg"].read_bytes()) == issued.document
    assert unbake_png(by_suffix[".png"].read_bytes()) == issued.document

    listing, files = my_credentials(bob)
    assert "You have no credentials yet" in listing and files == []
    listing, _ = bob.client.predict("not-a-key", api_name="/my_credentials")
    assert "no learner key" in text(listing)


def test_an_approval_in_the_assessor_tab_issues_and_a_rejection_does_not(app):
    learner = Learner(app.url)
    queue = app.grader.queue
    approved = seed(queue, "review", learner=learner_id_for_key(learner.key))
    rejected = seed(queue, "review", learner=learner_id_for_key(learner.key), credential="data-governance")
    desk = Desk(app.url)
    desk.login("alice", PASSWORDS["alice"])
    for sid, decision in ((rejected, "reject"), (approved, "approve")):
        desk.open(sid)
        assert "You hold" in desk.claim()
        message, _ = desk.decide(decision, comment="decided in the web test")
        assert message.startswith(("Approved", "Rejected")), message
    assert app.issuance.for_submission(rejected) is None
    issued = app.issuance.for_submission(approved)
    assert issued is not None and app.issuance.verify(issued.document).ok
    listing, files = my_credentials(learner)
    assert listing.count("#### ") == 1 and issued.id in listing and len(files) == 3


# ---------------------------------------------------------------------------------------------- revocation


def revoke(desk: Desk, ident: str, reason: str) -> str:
    return text(desk.client.predict(ident, reason, api_name="/revoke_credential"))


def test_only_a_logged_in_issuer_admin_revokes_on_the_web_and_the_audit_names_them(app):
    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner="webkey-revoke"))
    anonymous = Desk(app.url)
    assert "Log in on the *Assessor* tab" in revoke(anonymous, issued.id, "forged")
    assessor = Desk(app.url)
    assessor.login("alice", PASSWORDS["alice"])
    assert "not an issuer-admin" in revoke(assessor, issued.id, "forged")
    wrong = Desk(app.url)
    wrong.login("root", "not-the-password")
    assert "Log in on the *Assessor* tab" in revoke(wrong, issued.id, "forged")
    assert not app.issuance.get(issued.id).revoked

    admin = Desk(app.url)
    message, _who = admin.login("root", ADMIN_PASSWORD)
    assert "Revoked" in revoke(admin, issued.id, "evidence was plagiarised")
    entry = [e for e in app.issuance.audit_log(issued.id) if e.event_type == "revoked"]
    assert len(entry) == 1 and entry[0].actor == "root" and entry[0].details["via"] == "web"
    assert app.issuance.verify(issued.document).verdict == "invalid"
    assert "already revoked" in revoke(admin, issued.id, "again")
    assert "No credential" in revoke(admin, "urn:uuid:00000000-0000-4000-8000-000000000000", "x")
    assert "needs a reason" in revoke(admin, app.issuance.for_submission(
        seed(app.grader.queue, "pass", learner="webkey-revoke-2")).id, "   ")
