"""The assessor's review in a real headless Chromium: log in, claim, override a level, approve.

The app is the grader's tabs on a real queue (per-test SQLite, demo catalogue rubrics) with a seeded review
item; the outcome is checked in the database afterwards. No model is loaded. Needs the system Chromium,
like ``tests/test_web_browser.py`` (whose ``browser`` fixture this reuses).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.accounts import ASSESSORS_FILE_ENV
from grader.models import Assessor, Status, SubmissionDetail
from tests.test_web_browser import browser  # noqa: F401  (the shared module-scoped Chromium fixture)
from tests.test_web_grader import PASSWORDS, make_service, seed_review, served_blocks, write_accounts

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

SCREENSHOT = Path("/tmp/stackwise-assessor.png")
SCREENSHOT_PASTE = Path("/tmp/stackwise-paste-evidence.png")

# no element inside the review queue scrolls sideways (its columns fit the width)
SIDE_SCROLLERS = """el => [...el.querySelectorAll('*')].filter(e => {
    const s = getComputedStyle(e);
    return (s.overflowX === 'auto' || s.overflowX === 'scroll') && e.scrollWidth > e.clientWidth + 1;
}).length"""


def test_assessor_claims_overrides_and_approves_in_the_browser(browser, settings, tmp_path, monkeypatch):  # noqa: F811
    from playwright.sync_api import expect

    from stackwise.web.grader_tabs import build_grader_app

    monkeypatch.setenv(ASSESSORS_FILE_ENV, str(write_accounts(tmp_path / "assessors.toml")))
    service = make_service(settings)
    sid = seed_review(service, "webkey-browser-learner")
    criterion = service.catalogue.credentials["data-strategy"].rubric.criteria[0]  # maturity-assessment
    merit = next(lv for lv in criterion.levels if lv.id == "merit")

    with served_blocks(build_grader_app(service)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.set_default_timeout(30_000)
        try:
            page.goto(url)
            page.get_by_role("tab", name="Assessor").click()
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill(PASSWORDS["alice"])
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_text("Logged in as")).to_be_visible()
            expect(page.get_by_role("button", name="Log in")).to_be_hidden()

            expect(page.get_by_test_id("cell-0-0")).to_have_text(sid[:8])  # the seeded item heads the queue table
            # the reason in plain words, not its code; and the table fits without a sideways scroll
            expect(page.get_by_test_id("cell-0-2")).to_have_text("The AI grader's total is close to the pass mark.")
            expect(page.locator("#review-queue")).not_to_contain_text("near_threshold")
            assert page.locator("#review-queue").evaluate(SIDE_SCROLLERS) == 0
            page.get_by_label("Submission").click()
            page.get_by_role("option", name=sid[:8]).click()
            expect(page.get_by_text(f"Submission {sid}")).to_be_visible()
            expect(page.get_by_text("Not claimed: claim it before deciding.")).to_be_visible()
            expect(page.get_by_text("Why it needs review:")).to_be_visible()
            expect(page.get_by_role("listitem").filter(has_text="The AI grader's total is close to the pass mark.")
                   ).to_be_visible()
            expect(page.get_by_text("Grader's rationale:").first).to_be_visible()
            evidence = page.locator("#grader-evidence textarea")
            expect(evidence).to_have_value(re.compile(r"^=== File 1: report\.txt .*ranked twelve use cases", re.S))
            expect(page.get_by_text("Distribution: Insufficient 0.45 · Pass 0.55").first).to_be_visible()

            page.get_by_role("button", name="Claim").click()
            expect(page.get_by_text(f"You hold submission {sid} until")).to_be_visible()

            level = page.get_by_label(f"{criterion.title} ({criterion.id})")
            level.click()
            page.get_by_role("option", name=f"{merit.label} ({merit.points} pts)").click()
            page.get_by_label(f"Why change {criterion.title}?").fill("All five maturity dimensions are evidenced.")
            approve = page.get_by_role("button", name="Approve", exact=True)
            approve.click()  # 5/12 is below the pass mark: approving needs the assessor's reason
            expect(page.get_by_text("Not saved: the rubric says fail")).to_be_visible()
            page.get_by_label("Comment for the learner").fill("The practical evidence outweighs the short roadmap.")
            approve.click()
            expect(page.get_by_text(f"Approved: submission {sid}")).to_be_visible()
            expect(page.get_by_text("ready to issue")).to_be_visible()
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            page.close()

    detail = service.queue.get_submission(sid, assessor=Assessor(username="audit"))
    assert isinstance(detail, SubmissionDetail)
    assert detail.status is Status.approved and detail.ready_to_issue
    outcome = {c.criterion_id: c for c in detail.criteria}
    assert outcome[criterion.id].level_id == "merit" and outcome[criterion.id].source == "assessor"
    assert outcome[criterion.id].comment == "All five maturity dimensions are evidenced."
    assert all(c.source == "ai" for cid, c in outcome.items() if cid != criterion.id)
    assert detail.reviews[-1].assessor == "alice" and detail.comment.startswith("The practical evidence")
    assert service.queue.ready_to_issue() == [sid]


def test_learner_pastes_evidence_and_the_assessor_tab_shows_only_a_login(browser, settings, monkeypatch):  # noqa: F811
    """No assessor accounts on this instance: the Assessor tab has a log-in and no set-up commands; the learner
    pastes evidence instead of uploading a file and it is received."""
    from playwright.sync_api import expect

    from stackwise.identity import learner_id_for_key
    from stackwise.web.grader_tabs import PASTE_LABEL, build_grader_app

    monkeypatch.delenv(ASSESSORS_FILE_ENV, raising=False)
    service = make_service(settings)
    pasted = ("For the retailer I assessed data maturity across five dimensions, ranked twelve use cases by value "
              "and feasibility, and proposed a hub-and-spoke operating model with a costed roadmap.")

    with served_blocks(build_grader_app(service)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.set_default_timeout(30_000)
        try:
            page.goto(url)
            page.get_by_role("tab", name="Assessor").click()
            expect(page.get_by_label("Username")).to_be_visible()
            expect(page.get_by_role("button", name="Log in")).to_be_visible()
            body = page.locator("body").inner_text()
            assert "bcrypt" not in body and "grader.accounts" not in body and "assessors.toml" not in body

            page.get_by_role("tab", name="Submit evidence").click()
            page.get_by_label("Credential").first.click()
            page.get_by_role("option", name="Data Strategy (data-strategy)").click()
            box = page.get_by_label(PASTE_LABEL)
            expect(box).to_be_visible()
            box.fill(pasted)
            page.get_by_role("button", name="Submit evidence").click()
            expect(page.get_by_text("Received — being graded.")).to_be_visible()
            expect(page.get_by_text("Your pasted text is kept as")).to_be_visible()
            expect(box).to_have_value("")  # the form is cleared for the next one
            key = page.locator("#learner-key textarea, #learner-key input").first.input_value()
            page.screenshot(path=str(SCREENSHOT_PASTE), full_page=True)
        finally:
            page.close()

    views = service.queue.submissions_for_learner(learner_id_for_key(key))
    assert len(views) == 1
    detail = service.queue.get_submission(views[0].id, assessor=Assessor(username="audit"))
    assert [(f.filename, f.media_type, f.size) for f in detail.files] == [
        ("pasted-evidence.txt", "text/plain", len(pasted.encode()))]
