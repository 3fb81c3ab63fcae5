"""The chat and plan tabs' handlers (:class:`ChatWeb`): a thin adapter over
:class:`assistant.service.AssistantService`.

Every answer, figure and citation comes from the service; this module only turns its events into
chat messages (streamed), renders the citations as a "Sources:" line of links to their catalogue pages
(:mod:`stackwise.web.catalogue_pages`) and keeps bad input and errors inside the conversation instead of
raising. "Forget me" shows what is stored and deletes it after a confirmation
(:class:`stackwise.forget.LearnerData`). The learner is the browser's learner key (:mod:`stackwise.identity`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

from assistant.api import Answer, AssistantError, AssistantService, Citation  # noqa: E402
from stackwise.forget import LearnerData  # noqa: E402
from stackwise.identity import KEY_PREFIX, learner_id_for_key, new_learner_key, parse_learner_key  # noqa: E402
from stackwise.web.catalogue_pages import CATALOGUE_PATH, page_link  # noqa: E402

log = logging.getLogger(__name__)

EXAMPLES = [
    "What do I still need for the AI Leadership Certificate?",
    "Which credentials count towards more than one pathway?",
    "How much does Data Strategy cost?",
    "Which credentials cover AI ethics?",
]
SHOWN_QUESTION_CHARS = 500  # a very long message is shown shortened in the chat (the service still sees all of it)
HISTORY_SHOWN = 20  # turns loaded back into the chat when the page opens
NO_KEY = "This browser has no learner key yet; reload the page."
NOT_A_KEY = (f"That is not a learner key: a key looks like `{KEY_PREFIX}` followed by 24 letters, digits, `-` "
             "or `_`.")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s")
_LINK_TEXT = re.compile(r"([\\\[\]])")  # what would end a markdown link's text early
MAX_ASKED_CHARS = 2000  # the longest question the service takes
# on page load: the question a catalogue page's "Ask about this" put in the URL (/?ask=...) goes into the question
# box (nothing is sent), and leaves the address so a reload does not put it there again
ASK_FROM_URL_JS = f"""(current) => {{
  const url = new URL(window.location.href);
  const asked = url.searchParams.get("ask");
  if (!asked) return current;
  url.searchParams.delete("ask");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  return asked.slice(0, {MAX_ASKED_CHARS});
}}"""


def as_markdown(text: str) -> str:
    """Answer text as markdown: a blank line between a list and the sentences around it.

    Without it a sentence after a list would render as part of the list's last item.
    """
    lines: list[str] = []
    previous: bool | None = None  # was the previous line a list item (None: blank or first line)
    for line in text.split("\n"):
        current = bool(_LIST_ITEM.match(line)) if line.strip() else None
        if previous is not None and current is not None and current != previous:
            lines.append("")
        lines.append(line)
        previous = current
    return "\n".join(lines)


def source_link(citation: Citation) -> str:
    """A citation as a markdown link to its catalogue page: ``[Title (id)](/catalogue/id)`` (a provider's is the
    catalogue filtered by that provider)."""
    text = _LINK_TEXT.sub(r"\\\1", citation.label)
    return f"[{text}]({page_link(citation.id, citation.kind)})"


def render_answer(answer: Answer) -> str:
    """Answer text as markdown, with its citations as a "Sources:" line underneath (labels ``Title (id)``, each a
    link to its catalogue page)."""
    text = as_markdown(answer.text)
    if not answer.citations or answer.refused:  # a refusal's text already names the nearest entries
        return text
    return f"{text}\n\n**Sources:** " + "; ".join(source_link(c) for c in answer.citations)


def link_catalogue(demo: gr.Blocks, message: gr.Textbox) -> None:
    """Under the question box: a link to the catalogue pages; on page load the question of a catalogue page's
    "Ask about this" link (``/?ask=...``) is put in ``message`` (:data:`ASK_FROM_URL_JS`, in the browser)."""
    gr.Markdown(f"[Browse the catalogue]({CATALOGUE_PATH}): every credential and pathway, with filters by "
                "provider, level, ECTS, price and delivery.", elem_id="catalogue-link")
    demo.load(None, inputs=[message], outputs=[message], js=ASK_FROM_URL_JS, api_visibility="private")


def _shown_question(message: str) -> str:
    text = (message or "").strip()
    if len(text) > SHOWN_QUESTION_CHARS:
        return f"{text[:SHOWN_QUESTION_CHARS]}… ({len(text):,} characters)"
    return text


def _problem(exc: Exception) -> str:
    log.exception("assistant failed")
    return f"Sorry, I could not answer that: {exc}. Please try again or rephrase the question."


def _messages(turns: list[Any]) -> list[dict[str, Any]]:
    return [{"role": t.role, "content": t.content} for t in turns if t.role in ("user", "assistant")]


class ChatWeb:
    """The chat's handlers; each returns the outputs it is wired to (see :func:`stackwise.web.shell.build_app`)."""

    def __init__(self, service: AssistantService, data: LearnerData):
        self.service = service
        self.data = data

    def chat(self, message: str, history: list[dict[str, Any]] | None, holding: list[str] | None,
             stored: str | None) -> Iterator[tuple[Any, Any, Any]]:
        shown = list(history or [])
        if (message or "").strip():
            shown.append({"role": "user", "content": _shown_question(message)})
        key = parse_learner_key(stored)
        if key is None:
            yield [*shown, {"role": "assistant", "content": NO_KEY}], gr.skip(), gr.skip()
            return
        learner = learner_id_for_key(key)
        yield shown, "", gr.skip()
        text = ""
        try:
            answer = None
            for event in self.service.stream(learner, message or "", list(holding or []) or None):
                if event.type == "token":
                    text += event.text
                    yield [*shown, {"role": "assistant", "content": as_markdown(text)}], gr.skip(), gr.skip()
                else:
                    answer = event.answer
            reply = render_answer(answer) if answer is not None else as_markdown(text)
            held: Any = self.service.memory.holding(learner)  # the question may have said what the learner holds
        except AssistantError as exc:
            reply, held = str(exc), gr.skip()
        except Exception as exc:  # never let a failure escape into the page
            reply = f"{text}\n\n{_problem(exc)}" if text else _problem(exc)
            held = gr.skip()
        yield [*shown, {"role": "assistant", "content": reply}], gr.skip(), held

    def save_holding(self, holding: list[str] | None, stored: str | None) -> str:
        key = parse_learner_key(stored)
        if key is None:
            return NO_KEY
        try:
            ids = self.service.parse_holding(list(holding or []))
            self.service.memory.set_holding(learner_id_for_key(key), ids)
        except AssistantError as exc:
            return str(exc)
        except Exception as exc:
            return _problem(exc)
        return f"Saved: you hold {len(ids)} credential(s)." if ids else "Saved: no credentials held."

    def shown_for(self, key: str) -> tuple[Any, Any, str]:
        """(holding, chat history, status) of the learner with ``key``."""
        learner = learner_id_for_key(key)
        try:
            return (self.service.memory.holding(learner),
                    _messages(self.service.memory.history(learner, limit=HISTORY_SHOWN)), "")
        except Exception as exc:
            return gr.skip(), gr.skip(), _problem(exc)

    def forget(self, stored: str | None) -> tuple[Any, str, Any]:
        """Step 1: say what would be deleted and ask for confirmation. Outputs: pending state, status, confirm row."""
        key = parse_learner_key(stored)
        if key is None:
            return None, NO_KEY, gr.update(visible=False)
        learner = learner_id_for_key(key)
        try:
            report = self.data.preview(learner)
        except Exception as exc:
            return None, _problem(exc), gr.update(visible=False)
        if report.empty:
            return None, "Nothing is stored for you: there is nothing to forget.", gr.update(visible=False)
        kept = f" {report.kept()}" if report.credentials else ""
        return learner, (f"**This deletes {'; '.join(report.items()) or 'nothing else'}.**{kept} It cannot be "
                         "undone. Press *Yes, delete everything* to confirm."), gr.update(visible=True)

    def forget_confirm(self, stored: str | None, pending: str | None) -> tuple[Any, ...]:
        """Step 2: delete, say what went, and give this browser a fresh key.
        Outputs: pending state, key state, key box, holding, chat, status, confirm row."""
        keep = (gr.skip(),) * 4
        key = parse_learner_key(stored)
        if key is None or pending != learner_id_for_key(key):
            return (None, *keep, "Press *Forget me* first: it shows what will be deleted.", gr.update(visible=False))
        try:
            report = self.data.forget(pending)
        except Exception as exc:
            return (None, *keep, _problem(exc), gr.update(visible=False))
        log.info("a web learner was forgotten: %s", report.model_dump())
        fresh = new_learner_key()
        deleted = "; ".join(report.items()) or "nothing (it was already gone)"
        kept = f" {report.kept()}" if report.credentials else ""
        return (None, fresh, fresh, [], [], f"Forgotten: deleted {deleted}.{kept} This browser has a new learner "
                f"key.", gr.update(visible=False))

    def forget_cancel(self) -> tuple[Any, str, Any]:
        return None, "Nothing was deleted.", gr.update(visible=False)

    def plan(self, pathway: str | None, holding: list[str] | str | None) -> str:
        if not pathway:
            return "Please choose a pathway."
        held = [holding] if isinstance(holding, str) and holding else list(holding or [])  # one id: one credential
        try:
            return render_answer(self.service.plan_answer(held, pathway))
        except AssistantError as exc:
            return str(exc)
        except Exception as exc:
            return _problem(exc)
