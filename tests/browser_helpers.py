"""Reusable checks for the browser tests: axe-core accessibility violations and screenshots at two widths.

- :func:`axe_violations`: runs axe-core (bundled by ``axe_playwright_python``: offline, nothing downloads) on a
  Playwright page and returns its violations of the WCAG 2 A/AA rules as :class:`Violation`\\ s;
- :func:`screenshots`: full-page PNGs at desktop (1280 px) and phone (390 px) width, into
  ``$STACKWISE_SCREENSHOTS`` (default ``/tmp/stackwise-screenshots``);
- :func:`live_region_texts`: what the page's ``aria-live`` regions would announce (to catch i18n keys such as
  ``common.complete`` reaching a screen reader).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WCAG_AA_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
SCREENSHOTS_ENV = "STACKWISE_SCREENSHOTS"
DEFAULT_SCREENSHOTS = Path("/tmp/stackwise-screenshots")


@dataclass(frozen=True)
class Violation:
    """One axe rule broken: its id, impact, help text and the broken nodes (CSS targets and a message each)."""

    id: str
    impact: str
    help: str
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def targets(self) -> list[str]:
        return [" ".join(map(str, node.get("target", []))) for node in self.nodes]

    def __str__(self) -> str:
        lines = [f"{self.id} ({self.impact}): {self.help}"]
        for node in self.nodes[:8]:
            message = node.get("failureSummary", "").replace("\n", " ")
            lines.append(f"  - {' '.join(map(str, node.get('target', [])))}: {message[:240]}")
        if len(self.nodes) > 8:
            lines.append(f"  … and {len(self.nodes) - 8} more")
        return "\n".join(lines)


SETTLED_JS = """() => {
  const busy = Array.from(document.querySelectorAll('[data-testid="status-tracker"]:not(.hide)'))
    .some((tracker) => tracker.getClientRects().length > 0);
  const moving = document.getAnimations().some((a) => a.playState === 'running'
    && a.effect && a.effect.getTiming().iterations !== Infinity);
  return !busy && !moving;
}"""


def settle(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until no Gradio event is pending (components fade while one runs) and no finite animation or
    transition is running, so that what is measured is what a user reads."""
    page.wait_for_function(SETTLED_JS, timeout=timeout_ms)


def axe_violations(page: Any, *, tags: Iterable[str] = WCAG_AA_TAGS, rules: Iterable[str] | None = None,
                   exclude: Iterable[str] = (), settled: bool = True) -> list[Violation]:
    """The axe-core violations on ``page`` (after :func:`settle`, unless ``settled=False``): of the rules
    with ``tags`` (WCAG 2.0/2.1/2.2 A and AA by default), or only of ``rules`` (axe rule ids, e.g.
    ``["color-contrast"]``) when given.

    ``exclude``: CSS selectors of parts not to check (keep these narrow and say why at the call site)."""
    from axe_playwright_python.sync_playwright import Axe

    if settled:
        settle(page)

    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules is not None:
        options["runOnly"] = {"type": "rule", "values": list(rules)}
    else:
        options["runOnly"] = {"type": "tag", "values": list(tags)}
    excluded = [[selector] for selector in exclude]
    context: dict[str, Any] | None = {"include": [["body"]], "exclude": excluded} if excluded else None
    results = Axe().run(page, context=context, options=options)
    return [Violation(id=v["id"], impact=v.get("impact") or "", help=v.get("help", ""), nodes=v.get("nodes", []))
            for v in results.response["violations"]]


def report(violations: Iterable[Violation]) -> str:
    """Violations as readable lines (for assertion messages)."""
    return "\n".join(str(v) for v in violations) or "no violations"


def screenshot_dir() -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or DEFAULT_SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshots(page: Any, name: str, widths: dict[str, dict[str, int]] | None = None) -> list[Path]:
    """Full-page PNGs of ``page`` at each width (default: ``name-desktop.png`` at 1280 px and ``name-phone.png`` at
    390 px) in :func:`screenshot_dir`; the viewport is restored afterwards. Returns the files written."""
    original = page.viewport_size
    written = []
    try:
        for label, size in (widths or WIDTHS).items():
            page.set_viewport_size(size)
            settle(page)
            path = screenshot_dir() / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
    finally:
        if original:
            page.set_viewport_size(original)
    return written


def live_region_texts(page: Any) -> list[str]:
    """The text of every ``aria-live``/``role=status|alert`` region of the page (what a screen reader announces)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '[aria-live], [role="status"], [role="alert"], [role="log"]'))
        .map(el => (el.textContent || '').trim()).filter(Boolean)""")


SPLIT_WORDS_JS = """(selector) => {
  const split = [];
  for (const cell of document.querySelectorAll(selector)) {
    if (!cell.getClientRects().length) continue;  // not shown
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const re = /[^\\s\\-\\u2010-\\u2014\\/]+[\\-\\u2010-\\u2014\\/]*/g;  // a break after a hyphen or slash is fine
      let match;
      while ((match = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0)
                             .map(r => Math.round(r.top)));
        if (tops.size > 1) split.push(match[0]);
      }
    }
  }
  return split;
}"""


def split_words(page: Any, selector: str = "table th, table td") -> list[str]:
    """The words inside the elements matching ``selector`` that the page draws across two lines or more
    (e.g. "Poi nts"): each word's text range is measured; a word whose boxes sit on different lines is split.
    A line may end after a hyphen or a slash ("trade-" / "offs"): the parts either side count as words."""
    return page.evaluate(SPLIT_WORDS_JS, selector)


def record_announcements(page: Any) -> None:
    """From now on, keep every text the page's live regions (``aria-live``, ``role=status|alert``) show, in
    order; read them with :func:`announcements` (Gradio's announcer clears itself a second after speaking)."""
    page.evaluate("""() => {
      if (window.__stackwiseAnnounced) return;
      window.__stackwiseAnnounced = [];
      const seen = () => document.querySelectorAll('[aria-live], [role="status"], [role="alert"]').forEach((r) => {
        const text = (r.textContent || '').trim();
        const list = window.__stackwiseAnnounced;
        if (text && list[list.length - 1] !== text) list.push(text);
      });
      new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")


def announcements(page: Any) -> list[str]:
    """The live regions' texts seen since :func:`record_announcements`."""
    return page.evaluate("() => window.__stackwiseAnnounced || []")


def page_overflow(page: Any) -> int:
    """How many pixels the page is wider than the viewport (0: nothing makes a phone scroll sideways)."""
    return page.evaluate("() => Math.max(0, document.documentElement.scrollWidth"
                         " - document.documentElement.clientWidth)")


def tab_buttons(page: Any) -> list[dict[str, Any]]:
    """The page's tab buttons (``role=tab``): label, whether selected, and their box (x, y, width, height)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('[role="tab"]')).map((tab) => {
      const box = tab.getBoundingClientRect();
      return {label: tab.textContent.trim(), selected: tab.getAttribute('aria-selected') === 'true',
              x: box.x, y: box.y, width: box.width, height: box.height};
    })""")
