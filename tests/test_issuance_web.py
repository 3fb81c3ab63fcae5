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
from issuance.baking import badge_svg, unbake_png, unbake_svg
from issuance.dataintegrity import ControllerDocumentResolver, verify_proof
from issuance.keys import load_or_create_issuer_key
from issuance.service import IssuanceService
from stackwise.identity import learner_id_for_key
from stackwise.web.issuance_tabs import render_report
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
    html_accepted = httpx.get(f"{app.url}/credentials/{issued.uuid}", headers={"Accept": "text/html"}, timeout=30)
    assert html_accepted.json() == issued.document  # JSON whatever the client accepts: the page has its own URL
    for path in ("page", "badge.svg", "badge.png"):  # private until the learner makes the page public
        private = get(app, f"/credentials/{issued.uuid}/{path}")
        assert private.status_code == 404 and "this credential page is private" in private.text.lower(), path
    app.issuance.set_page_public(issued.id, learner_id="webkey-routes", public=True)
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
    assert "**Data Strategy**, awarded by Shannonside University" in by_id
    listed = catalogue().credentials["data-strategy"]
    assert f"EQF level {listed.eqf_level} · {listed.ects:g} ECTS" in by_id
    assert f"issued {issued.issued_at.day} " in by_id
    assert "Grace Hopper" not in by_id  # the name is not in the credential unless the issuer config says so
    for label in ("Format (Open Badges 3.0): ✅ passed", "Signature by the issuer: ✅ passed",
                  "Revocation status: ✅ passed", "Validity period: ✅ passed", "Issuer on the trust list: ✅ passed"):
        assert label in by_id

    path = tmp_path / "credential.json"
    path.write_text(json.dumps(issued.document))
    assert verify(app, upload=path).startswith("## ✅")
    svg = tmp_path / "badge.svg"
    svg.write_text(badge_svg(issued.document))
    assert verify(app, upload=svg).startswith("## ✅")

    from tests.test_issuance_trust import forged_copy

    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged_copy(issued.document)[0]))
    forged_page = verify(app, upload=forged_path)
    assert forged_page.startswith("## ⚠️ Valid signature, issuer not trusted")
    assert "awarded" not in forged_page and "Mallory Forger" not in forged_page and "self-asserted" in forged_page
    assert "**not verified**" in forged_page and "is not one this app trusts" in forged_page
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    assert "cannot be checked" in verify(app, upload=nested) and "nested" in verify(app, upload=nested)

    tampered = copy.deepcopy(issued.document)
    tampered["credentialSubject"]["identifier"][-1]["identityHash"] = "Mallory"
    path.write_text(json.dumps(tampered))
    forged = verify(app, upload=path)
    assert forged.startswith("## ❌ Not valid")
    assert "Signature by the issuer: ❌ failed" in forged and "changed after it was signed" in forged
    assert "Do not rely on this credential" in forged
    assert "awarded" not in forged and "Mallory" not in forged and "**not verified**" in forged

    app.issuance.revoke(issued.id, "awarded in error", "registrar")
    revoked = verify(app, ident=f"{app.issuance.config.public_url}/credentials/{issued.uuid}")
    assert revoked.startswith("## ❌ Not valid") and "The issuer has revoked this credential." in revoked
    assert "Revocation status: ❌ failed" in revoked and "awarded by" not in revoked

    for junk_document in ({"a": 1}, {"@context": [], "id": "did:web:example.org", "verificationMethod": []}):
        path.write_text(json.dumps(junk_document))
        junk_page = verify(app, upload=path)
        assert junk_page.startswith("## ❌ Not valid") and "not an Open Badges credential" in junk_page
        assert "✅" not in junk_page and "None" not in junk_page and "validFrom" not in junk_page
        for label in ("Signature by the issuer", "Revocation status", "Validity period", "Issuer on the trust list"):
            assert f"{label}: ➖ not checked." in junk_page
    half = {"type": ["VerifiableCredential", "OpenBadgeCredential"], "credentialSubject": {"achievement": {}}}
    path.write_text(json.dumps(half))
    half_page = verify(app, upload=path)
    assert "Revocation status: ➖ not checked." in half_page and "Revocation status: ✅" not in half_page
    assert "None" not in half_page and "It does not say from when it is valid." in half_page

    assert "No credential" in verify(app, ident="urn:uuid:00000000-0000-4000-8000-000000000000")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert "cannot be checked" in verify(app, upload=junk) and "not valid JSON" in verify(app, upload=junk)
    assert verify(app).startswith("Upload a credential file")


def test_expired_and_untrusted_states_read_as_plain_sentences(app):
    from datetime import timedelta

    from issuance.api import explain

    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner="webkey-expiring",
                                              credential="prompt-engineering"))
    later = issued.valid_until + timedelta(days=1)
    told = explain(app.issuance.verify(issued.document, now=later), issued.document)
    assert told.headline == "Not valid" and told.confirmed is None
    assert told.sentences == [f"It expired on {issued.valid_until.day} {issued.valid_until:%B %Y}."]
    assert told.claimed.title == issued.title  # kept apart, for display as an unverified claim only
    rendered = render_report(app.issuance.verify(issued.document, now=later), issued.document)
    assert "It expired on" in rendered and "awarded by" not in rendered and "Validity period: ❌ failed" in rendered


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
    assert listing.count("<h2>Data Strategy</h2>") == 1 and "<strong>Valid</strong>" in listing
    assert issued.id in listing and 'alt="Badge: Data Strategy"' in listing and "data:image/png;base64," in listing
    assert "Page private" in listing and "Add to LinkedIn profile" not in listing  # private by default
    assert sorted(p.suffix for p in files) == [".json", ".png", ".svg"]
    by_suffix = {p.suffix: p for p in files}
    assert json.loads(by_suffix[".json"].read_text()) == issued.document
    assert unbake_svg(by_suffix[".svg"].read_bytes()) == issued.document
    assert unbake_png(by_suffix[".png"].read_bytes()) == issued.document

    listing, files = my_credentials(bob)
    assert "You have no credentials yet" in listing and files == []
    # bob cannot make ada's page public (through the tab's API, with his own key)
    message, *_ = bob.client.predict(bob.key, issued.uuid, api_name="/make_page_public")
    assert "not one of your credentials" in text(message) and not app.issuance.get(issued.id).public
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
    assert listing.count("<h2>") == 1 and issued.id in listing and len(files) == 3


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


# ---------------------------------------------------------------------------------------------- the public page


def test_a_learner_makes_a_page_public_shares_it_and_makes_it_private_again(app):
    from html.parser import HTMLParser
    from urllib.parse import parse_qs, urlsplit

    ada = Learner(app.url)
    issued = app.issuance.for_submission(seed(app.grader.queue, "pass", learner=learner_id_for_key(ada.key)))
    page_path = f"/credentials/{issued.uuid}/page"
    assert get(app, page_path).status_code == 404

    message, listing, _files = ada.client.predict(ada.key, issued.uuid, api_name="/make_page_public")
    assert "is now public" in text(message) and "Page public" in text(listing)
    assert "Add to LinkedIn profile" in text(listing) and 'class="sw-copy"' in text(listing)
    assert app.issuance.get(issued.id).public
    assert [e.event_type for e in app.issuance.audit_log(issued.id)][-1] == "page_made_public"

    page = get(app, page_path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

    class Meta(HTMLParser):
        def __init__(self):
            super().__init__()
            self.meta, self.ids, self.imgs = {}, {}, []
            self.lang, self.title, self._in_title = None, "", False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "html":
                self.lang = a.get("lang")
            if tag == "meta" and (a.get("property") or a.get("name")):
                self.meta[a.get("property") or a.get("name")] = a.get("content")
            if "id" in a:
                self.ids[a["id"]] = a
            if tag == "img":
                self.imgs.append(a)
            self._in_title = tag == "title"

        def handle_data(self, data):
            if self._in_title:
                self.title += data

    parsed = Meta()
    parsed.feed(page.text)
    config = app.issuance.config
    listed = catalogue().credentials["data-strategy"]
    assert parsed.lang == "en" and parsed.title.startswith("Data Strategy · Shannonside University")
    assert parsed.meta["viewport"].startswith("width=device-width")
    assert parsed.meta["og:title"] == "Data Strategy" and parsed.meta["og:url"] == config.page_url(issued.uuid)
    assert parsed.meta["og:image"] == f"{config.public_url}/credentials/{issued.uuid}/badge.png"
    assert parsed.meta["twitter:card"] == "summary"
    assert "Shannonside University" in parsed.meta["og:description"]
    assert "Valid, from a trusted issuer" in parsed.meta["og:description"]
    assert [i["alt"] for i in parsed.imgs] == ["Badge: Data Strategy"]
    assert parsed.ids["verdict"]["class"] == "verdict verdict-trusted"
    linkedin = urlsplit(parsed.ids["add-to-linkedin"]["href"])
    query = {k: v[0] for k, v in parse_qs(linkedin.query).items()}
    assert linkedin.netloc == "www.linkedin.com" and linkedin.path == "/profile/add"
    assert query == {"startTask": "CERTIFICATION_NAME", "name": "Data Strategy",
                     "organizationName": "Shannonside University", "issueYear": str(issued.issued_at.year),
                     "issueMonth": str(issued.issued_at.month), "certUrl": config.page_url(issued.uuid),
                     "certId": issued.id}
    assert parsed.ids["copy-link"]["data-link"] == config.page_url(issued.uuid)
    assert f"EQF level {listed.eqf_level}" in page.text and f"{listed.ects:g} ECTS" in page.text
    png = get(app, f"/credentials/{issued.uuid}/badge.png")
    assert png.status_code == 200 and unbake_png(png.content) == issued.document
    assert app.issuance.verify(unbake_png(png.content)).ok  # the baked proof still verifies

    # the verification result on the page is live: revoked now, the page says so
    app.issuance.revoke(issued.id, "awarded in error", "registrar")
    revoked = get(app, page_path).text
    assert 'class="verdict verdict-invalid"' in revoked and "The issuer has revoked this credential." in revoked
    assert "What this credential states (not confirmed)" in revoked

    message, listing, _files = ada.client.predict(ada.key, issued.uuid, api_name="/make_page_private")
    assert "is now private" in text(message) and "Page private" in text(listing)
    for path in ("page", "badge.png", "badge.svg"):
        assert get(app, f"/credentials/{issued.uuid}/{path}").status_code == 404
    assert get(app, f"/credentials/{issued.uuid}").json() == issued.document  # verifiers still get the JSON
    assert get(app, f"/credentials/{issued.uuid}/verify").json()["verdict"] == "invalid"
    missing = get(app, "/credentials/00000000-0000-4000-8000-000000000000/page")
    assert missing.status_code == 404 and "No such credential" in missing.text
