"""The web app's look for every tab: a Gradio theme with WCAG AA contrast, page CSS and page JavaScript.

:func:`launch_options` is what :func:`stackwise.web.shell.launch` passes to ``Blocks.launch`` (Gradio 6 takes
``theme``, ``css``, ``head`` and ``js`` there, no longer in ``gr.Blocks``):

- **contrast >= 4.5:1** (WCAG 2 AA): placeholders, field hints, the footer and the selected tab in darker greys and
  orange; primary and "stop" buttons dark enough behind white text, light and dark mode alike;
- **tables wrap between words**: headers and cells break at spaces only (Gradio's tables break anywhere,
  "Poi nts"), a table wider than a phone scrolls sideways inside its block, and a scrolling table can be
  reached with the keyboard (the page script gives Gradio's tables a tab stop: arrow keys move and scroll);
- **named boxes**: Gradio's empty file/image box is named ("Empty value") on a plain ``div``; given ``role="img"``;
- **a page title per tab**: "Chat — Stackwise", "Plan — Stackwise", … set whenever the selected tab changes,
  whichever module added the tab;
- **screen readers hear words, not keys**: after every action Gradio's status announcer (an ``aria-live``
  region) says ``common.complete``, a key its bundled English locale lacks (it has ``chatbot.complete``), so the
  key itself was read out; :data:`TRANSLATIONS` supplies it (``gr.I18n``, merged into Gradio's locale).

The tabs wrap onto more rows on a phone instead of folding into a "…" menu: that is
``gr.Tabs(overflow_behavior="wrap")`` in :func:`stackwise.web.shell.build_app`.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

SITE = "Stackwise"
TITLE_SEPARATOR = " — "

# White text on orange-700 is 5.2:1 and on red-700 6.5:1; neutral-600 on white 7.7:1 and neutral-500 4.8:1
# (orange-500, red-500 and neutral-400, Gradio's defaults, are 2.8, 3.8 and 1.9:1)
THEME_COLOURS: dict[str, str] = {
    "color_accent": "*primary_700",
    "body_text_color_subdued": "*neutral_600",
    "body_text_color_subdued_dark": "*neutral_300",
    "input_placeholder_color": "*neutral_500",
    "input_placeholder_color_dark": "*neutral_400",
    "button_primary_background_fill": "*primary_700",
    "button_primary_background_fill_hover": "*primary_800",
    "button_primary_background_fill_dark": "*primary_700",
    "button_primary_background_fill_hover_dark": "*primary_800",
    "button_primary_border_color": "*primary_700",
    "button_primary_border_color_dark": "*primary_700",
    "button_cancel_background_fill": "#b91c1c",
    "button_cancel_background_fill_hover": "#991b1b",
    "button_cancel_background_fill_dark": "#b91c1c",
    "button_cancel_background_fill_hover_dark": "#991b1b",
}

CSS = """
/* tables: break lines between words, never inside one ("Poi nts"); a header is as wide as its longest word */
.gradio-container table th, .gradio-container table td,
.gradio-container table th *, .gradio-container table td * {
  word-break: normal !important;
  overflow-wrap: normal !important;
  hyphens: manual !important;
}
.gradio-container table th, .gradio-container table th * { min-width: min-content; }
/* a table wider than its block (a phone) scrolls sideways inside it, not the whole page */
.gradio-container .md table, .gradio-container .prose table {
  display: block; width: max-content; max-width: 100%; overflow-x: auto;
  border: 0 !important; padding: 0 !important;  /* the cells draw the borders; no second frame */
}
"""

# Keys Gradio's own components ask for that its bundled locales lack (Gradio 6.31: the status announcer's)
TRANSLATIONS: dict[str, dict[str, str]] = {"en": {"common.complete": "Complete"}}

# The page script, for every tab whichever module added it: the title follows the selected tab (of the outer
# tab row); Gradio tables get a tab stop; empty file boxes a role for their name; wide markdown tables a tab stop
JS = """
() => {
  const site = __SITE__, separator = __SEPARATOR__;
  const update = () => {
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    const label = tab ? tab.textContent.trim() : "";
    const title = label ? label + separator + site : site;
    if (document.title !== title) document.title = title;
    // a region that scrolls must be reachable by keyboard (WCAG 2.1.1): Gradio's tables move focus between
    // cells with the arrow keys (scrolling with it) but give no cell a tab stop until one is clicked
    document.querySelectorAll(".virtual-table-viewport").forEach((viewport) => {
      const first = viewport.querySelector("th, td");
      if (first && !viewport.querySelector("th[tabindex='0'], td[tabindex='0']")) first.tabIndex = 0;
    });
    // Gradio labels an empty file or image box ("Empty value") on a plain div, where a name is not allowed
    document.querySelectorAll("div.empty[aria-label]:not([role])").forEach((box) => box.setAttribute("role", "img"));
    document.querySelectorAll(".md table:not([tabindex]), .prose table:not([tabindex])").forEach((table) => {
      if (table.scrollWidth > table.clientWidth + 1) table.tabIndex = 0;
    });
    // a block with a maximum height (the assessor's AI grade) scrolls: it takes a tab stop when nothing in it can
    document.querySelectorAll(".block:not([tabindex])").forEach((block) => {
      if (block.scrollHeight > block.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(block).overflowY)
          && !block.querySelector("a[href], button, input, textarea, select, [tabindex]")) block.tabIndex = 0;
    });
  };
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; update(); });
  };
  // Gradio sets the title at load (gr.Blocks(title=...)) and redraws tables: watch <title>, the tabs'
  // aria-selected and the cells' tabindex
  new MutationObserver(schedule).observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["aria-selected", "tabindex"]});
  window.addEventListener("resize", schedule);
  update();
}
""".replace("__SITE__", json.dumps(SITE)).replace("__SEPARATOR__", json.dumps(TITLE_SEPARATOR))


def theme() -> gr.themes.Base:
    """Gradio's default theme with the colours of :data:`THEME_COLOURS` (contrast >= 4.5:1)."""
    return gr.themes.Default().set(**THEME_COLOURS)


def page_title(tab: str) -> str:
    """The document title while ``tab`` is selected, e.g. ``Chat — Stackwise``."""
    return f"{tab}{TITLE_SEPARATOR}{SITE}"


def launch_options() -> dict[str, Any]:
    """Keyword arguments for ``gr.Blocks.launch``: the theme, CSS, page script and translations of every tab."""
    return {"theme": theme(), "css": CSS, "js": JS, "i18n": gr.I18n(**TRANSLATIONS)}
