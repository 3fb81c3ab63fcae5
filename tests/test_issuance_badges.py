"""Badges worth sharing and pages the learner controls, on the real issuance service and a scratch SQLite database:
the PNG and SVG show the credential (title, awarding body, level / ECTS, date) and still carry it baked in; the
public / private flag of a credential's page is the learner's own (another learner cannot change it), private by
default, kept in its own table (a database made before it gains the table), and "Forget me" makes pages private.

OCR is not available offline, so the PNG is checked by its pixels: it is 600 px square, not one colour, and
differs between two credentials' titles; the SVG's text carries the title, wrapped.
"""

from __future__ import annotations

import copy
import io
import sqlite3
from xml.etree import ElementTree

import pytest
from PIL import Image, ImageChops

from grader.queue import GraderQueue, rubrics_from_catalogue
from issuance.api import (
    CredentialNotFound,
    NotYourCredential,
    badge_png,
    badge_svg,
    credential_facts,
    explain,
    linkedin_add_url,
    unlink_learner,
)
from issuance.badge_image import SIZE
from issuance.baking import unbake_png, unbake_svg
from issuance.keys import load_or_create_issuer_key
from tests.test_issuance_service import catalogue, make_service, seed

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return load_or_create_issuer_key(tmp_path_factory.mktemp("issuer") / "issuer-ed25519.json")


@pytest.fixture
def database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'stackwise.db'}"


@pytest.fixture
def queue(database) -> GraderQueue:
    return GraderQueue(database, rubrics=rubrics_from_catalogue(catalogue()))


@pytest.fixture
def service(queue, key, database):
    service = make_service(queue, key, database)
    service.subscribe()
    yield service
    service.close()


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGBA")


def svg_text(svg: str) -> list[str]:
    """The visible text lines of an SVG badge (each <text> or <tspan>)."""
    root = ElementTree.fromstring(svg)
    lines = []
    for element in root.iter(f"{SVG}text"):
        spans = list(element.iter(f"{SVG}tspan"))
        lines += [s.text or "" for s in spans] if spans else [element.text or ""]
    return lines


# ---------------------------------------------------------------------------------------------- the images


def test_the_png_badge_shows_the_credential_and_differs_between_credentials(service, queue):
    strategy = service.for_submission(seed(queue, "pass"))
    prompts = service.for_submission(seed(queue, "pass", credential="prompt-engineering", learner="webkey-bo"))
    first, second = badge_png(strategy.document), badge_png(prompts.document)
    image = pixels(first)
    assert image.size == (SIZE, SIZE) == (600, 600)
    assert len(image.getcolors(maxcolors=100_000) or range(100_001)) > 50  # drawn text, not a plain disc
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((SIZE // 2, SIZE // 2))[3] == 255  # round badge
    difference = ImageChops.difference(image, pixels(second)).getbbox(alpha_only=False)
    assert difference is not None  # another title, another picture
    # the title area differs, the ring and corners do not
    left, top, right, bottom = difference
    assert top > 100 and bottom < 520 and left > 40 and right < 560
    # the same credential always gives the same picture (stable link previews)
    assert pixels(badge_png(strategy.document)).tobytes() == image.tobytes()
    for issued, png in ((strategy, first), (prompts, second)):
        assert unbake_png(png) == issued.document and service.verify(unbake_png(png)).ok


def test_the_svg_badge_carries_title_awarding_body_level_and_date(service, queue):
    issued = service.for_submission(seed(queue, "pass"))
    listed = catalogue().credentials["data-strategy"]
    facts = credential_facts(issued.document)
    svg = badge_svg(issued.document)
    lines = svg_text(svg)
    assert listed.title in lines and "Shannonside University" in lines
    assert f"EQF level {listed.eqf_level} · {listed.ects:g} ECTS" in lines
    assert facts.issued_text == f"{issued.issued_at.day} {issued.issued_at:%B %Y}" and facts.issued_text in lines
    root = ElementTree.fromstring(svg)
    assert root.get("viewBox") == "0 0 600 600" and listed.title in root.get("aria-label")
    assert unbake_svg(svg) == issued.document and service.verify(unbake_svg(svg)).ok

    long = copy.deepcopy(issued.document)
    long["credentialSubject"]["achievement"]["name"] = "Responsible Artificial Intelligence for Public Services " * 3
    wrapped = [line for line in svg_text(badge_svg(long)) if "Responsible" in line or "Intelligence" in line
               or "Services" in line or "Public" in line]
    assert 2 <= len(wrapped) <= 4 and all(len(line) <= 21 for line in wrapped)
    assert wrapped[-1].endswith("…")  # too long for four lines: shortened, never spilling off the disc
    assert unbake_svg(badge_svg(long)) == long


def test_missing_facts_are_left_out_of_the_badge():
    bare = {"credentialSubject": {"achievement": {"name": "Bare"}}}
    lines = svg_text(badge_svg(bare))
    assert lines == ["MICRO-CREDENTIAL", "Bare"]  # no "None", no empty issuer or date lines
    assert pixels(badge_png(bare)).size == (600, 600) and unbake_png(badge_png(bare)) == bare


def test_the_linkedin_link_is_prefilled_from_the_credential(service, queue):
    from urllib.parse import parse_qs, urlsplit

    issued = service.for_submission(seed(queue, "pass", credential="prompt-engineering"))
    url = linkedin_add_url(credential_facts(issued.document), page_url="https://x.test/p", credential_id=issued.id)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["startTask"] == "CERTIFICATION_NAME" and query["name"] == issued.title
    assert query["organizationName"] == issued.document["issuer"]["name"] and query["certId"] == issued.id
    assert (query["expirationYear"], query["expirationMonth"]) == (str(issued.valid_until.year),
                                                                   str(issued.valid_until.month))


# ---------------------------------------------------------------------------------------------- public / private


def test_pages_are_private_until_their_learner_makes_them_public(service, queue):
    issued = service.for_submission(seed(queue, "pass", learner="webkey-ada"))
    assert issued.public is False and service.get(issued.id).public is False
    with pytest.raises(NotYourCredential):
        service.set_page_public(issued.id, learner_id="webkey-mallory", public=True)
    with pytest.raises(NotYourCredential):
        service.set_page_public(issued.id, learner_id="", public=True)
    with pytest.raises(CredentialNotFound):
        service.set_page_public("urn:uuid:00000000-0000-4000-8000-000000000000", learner_id="webkey-ada", public=True)
    assert not service.get(issued.id).public

    assert service.set_page_public(issued.uuid, learner_id="webkey-ada", public=True).public
    assert service.for_learner("webkey-ada")[0].public
    assert service.set_page_public(issued.id, learner_id="webkey-ada", public=True).public  # idempotent
    assert not service.set_page_public(issued.id, learner_id="webkey-ada", public=False).public
    events = [e.event_type for e in service.audit_log(issued.id)]
    assert events == ["issued", "page_made_public", "page_made_private"]
    assert {e.actor for e in service.audit_log(issued.id)[1:]} == {"webkey-ada"}
    assert service.verify(service.get(issued.id).document).ok  # the credential itself is untouched


def test_forget_me_makes_the_learners_pages_private(service, queue):
    issued = service.for_submission(seed(queue, "pass", learner="webkey-ada"))
    service.set_page_public(issued.id, learner_id="webkey-ada", public=True)
    assert unlink_learner(service, "webkey-ada") == 1
    assert not service.get(issued.id).public


def test_a_database_made_before_the_visibility_table_gains_it(queue, key, database):
    first = make_service(queue, key, database)
    issued = first.issue(seed(queue, "pass", learner="webkey-old"))
    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:  # as a database from before this table
        connection.execute("DROP TABLE issuance_credential_visibility")
    from storage.engine import _ensured

    _ensured.clear()  # a new process: nothing created yet
    again = make_service(queue, key, database)
    assert again.get(issued.id).document == issued.document and not again.get(issued.id).public
    assert again.set_page_public(issued.id, learner_id="webkey-old", public=True).public
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "issuance_credential_visibility" in tables


def test_a_revoked_credentials_facts_are_not_confirmed(service, queue):
    issued = service.for_submission(seed(queue, "pass"))
    service.revoke(issued.id, "awarded in error", "registrar")
    told = explain(service.verify(issued.document), issued.document)
    assert told.confirmed is None and told.claimed.title == issued.title
    assert told.sentences == ["The issuer has revoked this credential."]
    assert [f.outcome for f in told.findings] == ["passed", "passed", "failed", "passed", "passed"]


# ---------------------------------------------------------------------------------------------- the page's colours


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_credential_page_colours_meet_wcag_aa():
    import re

    from stackwise.web.credential_page import TEMPLATES

    css = (TEMPLATES / "credential_base.html.j2").read_text(encoding="utf-8")
    rules = dict(re.findall(r"^\s*([^{}\n]+?)\s*\{([^}]*)\}", css, flags=re.M))
    page, card = "#f4f6f9", "#ffffff"
    checked = 0
    for selector, body in rules.items():
        fg = re.search(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", body)
        bg = re.search(r"background:\s*(#[0-9a-f]{6})", body)
        if fg is None:
            continue
        backgrounds = [bg.group(1)] if bg else [card, page]  # text on a card or on the page
        for background in backgrounds:
            ratio = contrast(fg.group(1), background)
            assert ratio >= 4.5, f"{selector}: {fg.group(1)} on {background} is {ratio:.2f}:1"
            checked += 1
    assert checked >= 10
    # the badge's own text (drawn in the PNG and SVG) on its navy disc
    assert contrast("#dce6f2", "#1f4e79") >= 4.5 and contrast("#ffffff", "#1f4e79") >= 4.5
    assert contrast("#f2c14e", "#1f4e79") >= 4.5
