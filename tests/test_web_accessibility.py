"""Accessibility and phone layout of the whole web app in a real headless Chromium, at 1280 and 390 px wide.

The app is what ``stackwise serve`` serves (:func:`stackwise.web.shell.launch`): the real assistant (demo
catalogue, real index, SQLite memory), the grader's tabs on a scratch queue with one submission in review (so the
assessor's queue tables have rows), and the issuance tabs; no model is loaded (``warm=False``, no chat question).
On every tab it checks the WCAG 2 A/AA rules of axe-core (bundled, offline: :mod:`tests.browser_helpers`), the
page title, that no word of a table is split across lines, that nothing makes a phone scroll sideways, and, at
390 px, that every tab button is on screen (no "…" menu) and the page opens at its top (no autofocus scroll);
the phone pass runs in the dark colour scheme too.
Screenshots of each tab go to ``$STACKWISE_SCREENSHOTS`` (default ``/tmp/stackwise-screenshots``).

The ``browser`` tests need the system Chromium, like ``tests/test_web_browser.py`` (whose ``browser`` fixture
they reuse).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from grader.accounts import ASSESSORS_FILE_ENV
from grader.queue import GraderQueue, rubrics_from_catalogue
from grader.service import GraderService
from issuance.keys import load_or_create_issuer_key
from stackwise.forget import LearnerData
from stackwise.web.chat import ChatWeb
from stackwise.web.theme import page_title
from tests.browser_helpers import (
    PHONE,
    WIDTHS,
    announcements,
    axe_violations,
    page_overflow,
    record_announcements,
    report,
    screenshots,
    split_words,
    tab_buttons,
)
from tests.test_issuance_service import make_service as make_issuance
from tests.test_web_app import AI_LEADERSHIP, free_port, money
from tests.test_web_browser import browser  # noqa: F401  (the shared module-scoped Chromium fixture)
from tests.test_web_grader import PASSWORDS, no_model, seed_review, write_accounts

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

# the tabs the app's modules add (shell: Chat, Plan; grader_tabs; issuance_tabs); others may join them
KNOWN_TABS = {"Chat", "Plan", "Submit evidence", "Assessor", "My credentials", "Verify", "Revoke"}
HELD = "data-strategy"


@pytest.fixture(scope="module")
def app(assistant, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The full app on a free loopback port: the session's assistant, a grader queue with one submission in
    review and issuance, all on scratch databases; an assessors file with alice and bob."""
    from stackwise.web.shell import launch

    root = tmp_path_factory.mktemp("accessibility")
    database = f"sqlite:///{root / 'stackwise.db'}"
    queue = GraderQueue(database, rubrics=rubrics_from_catalogue(assistant.catalogue))
    grader = GraderService(assistant.catalogue, queue, scorer_factory=no_model)
    submission = seed_review(grader, "webkey-accessibility")
    issuance = make_issuance(queue, load_or_create_issuer_key(root / "key" / "issuer.json"), database)
    issuance.subscribe()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSESSORS_FILE_ENV, str(write_accounts(root / "assessors.toml")))
        demo = launch(assistant, port=free_port(), warm=False, prevent_thread_lock=True, quiet=True,
                      grader=grader, issuance=issuance)
        try:
            yield SimpleNamespace(url=demo.local_url, submission=submission, assistant=assistant)
        finally:
            demo.close()
            issuance.close()


def open_app(browser, url: str, size: dict[str, int], scheme: str = "light"):  # noqa: F811
    """A fresh page on the app (the browser set to a light or dark colour scheme), once the learner's key and
    data have loaded."""
    page = browser.new_page(viewport=size, color_scheme=scheme)
    page.set_default_timeout(30_000)
    page.goto(url)
    loaded(page)
    return page


def loaded(page) -> None:
    """Wait until the page has the learner's key (the accordion opened to read it, then closed again)."""
    from playwright.sync_api import expect

    accordion = page.get_by_role("button", name=re.compile("Your learner key"))
    accordion.click()
    expect(page.locator("#learner-key textarea, #learner-key input").first).to_have_value(re.compile(r"^swk-"))
    accordion.click()
    expect(page.locator("#learner-key")).to_be_hidden()


def show_tab_content(page, tab: str) -> None:
    """Put the tab's tables on screen: the rubric of a credential, the assessor's queue after a log-in."""
    from playwright.sync_api import expect

    if tab == "Submit evidence":
        page.get_by_label("Credential", exact=True).click()
        page.get_by_role("option", name=re.compile(r"\(data-strategy\)")).first.click()
        expect(page.locator("table").first).to_be_visible()
    elif tab == "Assessor":
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORDS["alice"])
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Logged in as")).to_be_visible()
        expect(page.locator("[role='grid'] th").first).to_be_visible()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def test_plan_takes_a_single_held_id_as_one_credential(assistant):
    """The planner tab's handler given one id as a bare string (what a one-credential copy used to send)."""
    web = ChatWeb(assistant, LearnerData.of(assistant))
    as_list = web.plan(AI_LEADERSHIP, [HELD])
    assert web.plan(AI_LEADERSHIP, HELD) == as_list
    assert "unknown credential" not in as_list
    total = money(assistant.plan([HELD], AI_LEADERSHIP)["route"]["total_price"])
    assert f"Total {total}," in as_list
    assert web.plan(AI_LEADERSHIP, "") == web.plan(AI_LEADERSHIP, [])  # an empty box: nothing held


@pytest.mark.browser
@pytest.mark.parametrize(("width", "scheme"), [("desktop", "light"), ("phone", "light"), ("phone", "dark")])
def test_every_tab_is_accessible_titled_and_fits(browser, app, width, scheme):  # noqa: F811
    size = WIDTHS[width]
    page = open_app(browser, app.url, size, scheme)
    try:
        assert page.evaluate("() => window.scrollY") == 0  # nothing (autofocus) scrolled past the header
        tabs = tab_buttons(page)
        labels = [t["label"] for t in tabs]
        assert set(labels) >= KNOWN_TABS, labels
        assert page.title() == page_title("Chat")
        if size == PHONE:  # every tab on screen, none folded into an overflow menu
            assert page.get_by_role("button", name="More tabs").count() == 0
            for tab in tabs:
                assert tab["width"] > 0 and tab["x"] >= 0 and tab["x"] + tab["width"] <= size["width"], tab
        problems = {}
        for label in labels:
            page.get_by_role("tab", name=label, exact=True).click()
            assert page.title() == page_title(label)
            show_tab_content(page, label)
            violations = axe_violations(page)
            if violations:
                problems[label] = report(violations)
            assert split_words(page) == [], f"{label}: words split inside table cells"
            assert page_overflow(page) == 0, f"{label}: the page is wider than {size['width']} px"
            suffix = "" if scheme == "light" else f"-{scheme}"
            screenshots(page, f"{slug(label)}{suffix}", widths={width: size})
        assert problems == {}, "\n".join(f"[{tab}] {text}" for tab, text in problems.items())
    finally:
        page.close()


@pytest.mark.browser
def test_plan_after_a_held_credential_is_recorded_and_announcements_are_words(browser, app):  # noqa: F811
    """A held credential recorded for the learner (as a chat that mentions one does) reaches the Plan tab as that
    credential, and the screen reader's announcements after each action are words, not i18n keys."""
    from playwright.sync_api import expect

    svc = app.assistant
    held_label = f"{svc.catalogue.credentials[HELD].title} ({HELD})"
    total = money(svc.plan([HELD], AI_LEADERSHIP)["route"]["total_price"])
    page = open_app(browser, app.url, PHONE)
    try:
        page.get_by_label("Credentials I hold").first.click()
        page.get_by_role("option", name=held_label).click()
        expect(page.get_by_text("Saved: you hold 1 credential(s).")).to_be_visible()
        page.reload()  # the page loads the holding from memory into the chat's box, as a chat's answer does
        loaded(page)
        record_announcements(page)
        page.get_by_role("tab", name="Plan", exact=True).click()
        plan_panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Plan my route"))
        expect(plan_panel.get_by_text(held_label)).to_be_visible()  # the held box shows the credential
        plan_panel.get_by_label("Pathway").click()
        page.get_by_role("option", name=re.compile(rf"\({AI_LEADERSHIP}\)")).click()
        page.get_by_role("button", name="Plan my route").click()
        answer = plan_panel.get_by_text(re.compile(r"Total "))
        expect(answer.first).to_contain_text(f"Total {total},")
        expect(plan_panel).not_to_contain_text("unknown credential")
        # Gradio's announcer speaks once the event is done: wait for that, then read what it said
        page.wait_for_function("() => (window.__stackwiseAnnounced || []).some(t => /complete/i.test(t))")
        said = announcements(page)
        assert "Complete" in said
        assert not [text for text in said if re.search(r"\b(common|status|errors)\.[a-z_]+", text)], said
        screenshots(page, "plan-after-holding")
    finally:
        page.close()
