"""The web chat in a real headless Chromium: type a planner question, see the planner's figure and sources.

Needs the system Chromium (``apt-get install -y chromium chromium-driver``; scripts/install.sh does it).
Playwright drives it through ``executable_path``; ``playwright install`` (a download) is never used.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.test_web_app import AI_LEADERSHIP, money, served

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/stackwise-chat.png")
QUESTION = "What do I still need for the AI Leadership Certificate if I hold Data Strategy?"


def chromium_path() -> str:
    """The system Chromium; fails (never skips) with the install command when it is missing."""
    candidates = [os.environ.get("STACKWISE_CHROMIUM", ""), "/usr/bin/chromium", shutil.which("chromium") or "",
                  shutil.which("chromium-browser") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("Chromium is not installed: run `apt-get install -y chromium chromium-driver` as root "
                "(or set STACKWISE_CHROMIUM to a Chromium binary); the browser tests need it", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_planner_question_in_the_browser(browser, assistant):
    from playwright.sync_api import expect

    svc = assistant
    plan = svc.plan(["data-strategy"], AI_LEADERSHIP)
    total = money(plan["route"]["total_price"])  # e.g. "EUR 2,600", from the planner, not hard-coded
    pathway_label = f"{svc.catalogue.pathways[AI_LEADERSHIP].title} ({AI_LEADERSHIP})"
    held_label = f"{svc.catalogue.credentials['data-strategy'].title} (data-strategy)"

    with served(svc) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(url)
        box = page.get_by_role("textbox", name="Your question")
        expect(box).to_be_visible()
        key_box = page.locator("#learner-key textarea, #learner-key input").first
        page.get_by_text("Your learner key").first.click()  # open the accordion
        expect(key_box).to_have_value(re.compile(r"^swk-"))  # the browser's random learner key
        key = key_box.input_value()

        box.fill(QUESTION)
        box.press("Enter")

        bot = page.locator(".message.bot").last
        # the model may read this question (it states a holding); its first read in a process fills the cache
        expect(bot).to_contain_text(f"Total {total},", timeout=300_000)  # a slow 2-core host: minutes
        expect(bot).to_contain_text("Sources:")
        expect(bot.get_by_text(pathway_label)).to_be_visible()
        expect(page.locator(".message.user").last).to_contain_text(QUESTION)
        expect(box).to_have_value("")
        # the question said what the learner holds: the dropdown now shows it (loaded from memory)
        expect(page.get_by_text(held_label).first).to_be_visible()
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.reload()  # localStorage keeps the key: the same learner, the same conversation
        expect(page.locator(".message.user").last).to_contain_text(QUESTION)
        page.get_by_text("Your learner key").first.click()
        expect(key_box).to_have_value(key)

        page.get_by_role("button", name="Forget me").click()
        expect(page.get_by_text("This deletes 2 chat messages; the 1 credential you said you hold.")).to_be_visible()
        expect(page.locator(".message.user")).to_have_count(1)  # nothing deleted before the confirmation
        page.get_by_role("button", name="Yes, delete everything").click()
        expect(page.get_by_text("Forgotten: deleted 2 chat messages")).to_be_visible()
        expect(page.locator(".message")).to_have_count(0)
        expect(key_box).not_to_have_value(key)  # a fresh key for this browser
        page.close()
