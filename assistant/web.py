"""Gradio web chat: a thin adapter over :class:`assistant.service.AssistantService`.

Every answer, figure and citation comes from the service; this module only turns its events into
chat messages (streamed), renders the citations as a "Sources:" line and keeps bad input and errors
inside the conversation instead of raising.

- :func:`build_app` builds the :class:`gradio.Blocks` (a "Chat" tab and a "Plan" tab, plus the grader's
  "Submit evidence" and "Assessor" tabs from :mod:`grader.web` when a grader service is given, and
  "My credentials" and "Verify" from :mod:`issuance.web` when an issuance service is given);
- :func:`launch` serves it on ``127.0.0.1`` (never a public share link);
- :func:`run_server` builds the configured services and serves them until interrupted (for the CLI).

API endpoints (for ``gradio_client``): ``/chat`` (message, history, holding, name), ``/plan``
(pathway, holding), ``/forget`` (name), ``/save_holding`` (holding, name), ``/load_learner`` (name);
with a grader, those listed in :mod:`grader.web`; with issuance, those (and the HTTP routes) in :mod:`issuance.web`.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

from assistant.service import Answer, AssistantError, AssistantService  # noqa: E402

if TYPE_CHECKING:
    from grader.service import GraderService
    from issuance.service import IssuanceService

log = logging.getLogger(__name__)

EXAMPLES = [
    "What do I still need for the AI Leadership Certificate?",
    "Which credentials count towards more than one pathway?",
    "How much does Data Strategy cost?",
    "Which credentials cover AI ethics?",
]
SHOWN_QUESTION_CHARS = 500  # a very long message is shown shortened in the chat (the service still sees all of it)
HISTORY_SHOWN = 20  # turns loaded back into the chat when a learner gives their name
MAX_UPLOAD = "25mb"  # Gradio refuses bigger uploads before they reach memory (the store keeps up to 25 MiB)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s")


def new_learner_id() -> str:
    """A random id for one browser session (the default learner)."""
    return f"web-{secrets.token_hex(6)}"


def learner_id(name: str | None, session_id: str | None) -> str:
    """The typed name (namespaced ``web:``) when given, else the browser session's random id."""
    name = " ".join((name or "").split())[:100]
    if name:
        return f"web:{name}"
    return session_id or new_learner_id()


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


def render_answer(answer: Answer) -> str:
    """Answer text as markdown, with its citations as a "Sources:" line underneath (labels ``Title (id)``)."""
    text = as_markdown(answer.text)
    if not answer.citations:
        return text
    return f"{text}\n\n**Sources:** " + "; ".join(c.label for c in answer.citations)


def _shown_question(message: str) -> str:
    text = (message or "").strip()
    if len(text) > SHOWN_QUESTION_CHARS:
        return f"{text[:SHOWN_QUESTION_CHARS]}… ({len(text):,} characters)"
    return text


def _problem(exc: Exception) -> str:
    log.exception("assistant failed")
    return f"Sorry, I could not answer that: {exc}. Please try again or rephrase the question."


def build_app(service: AssistantService, grader: GraderService | None = None,
              issuance: IssuanceService | None = None) -> gr.Blocks:
    """The web chat for ``service``: learner chat with streamed answers and citations, and a planner tab;
    with ``grader``, also the evidence submission and assessor tabs (:func:`grader.web.add_grader_tabs`);
    with ``issuance``, the learner's "My credentials" tab (with a grader) and the public "Verify" tab
    (:func:`issuance.web.add_issuance_tabs`; its HTTP routes are served by :func:`launch`)."""
    catalogue = service.catalogue
    credential_choices = [(f"{c.title} ({cid})", cid) for cid, c in sorted(
        catalogue.credentials.items(), key=lambda item: item[1].title.lower())]
    pathway_choices = [(f"{p.title} ({pid})", pid) for pid, p in catalogue.pathways.items()]

    # ------------------------------------------------------------------ handlers (thin: call the service)

    def chat(message: str, history: list[dict[str, Any]] | None, holding: list[str] | None, name: str,
             session_id: str) -> Iterator[tuple[Any, Any, Any]]:
        learner = learner_id(name, session_id)
        shown = list(history or [])
        if (message or "").strip():
            shown.append({"role": "user", "content": _shown_question(message)})
        yield shown, "", gr.skip()
        text = ""
        try:
            answer = None
            for event in service.stream(learner, message or "", list(holding or []) or None):
                if event.type == "token":
                    text += event.text
                    yield [*shown, {"role": "assistant", "content": as_markdown(text)}], gr.skip(), gr.skip()
                else:
                    answer = event.answer
            reply = render_answer(answer) if answer is not None else as_markdown(text)
            held: Any = service.memory.holding(learner)  # the question may have said what the learner holds
        except AssistantError as exc:
            reply, held = str(exc), gr.skip()
        except Exception as exc:  # never let a failure escape into the page
            reply = f"{text}\n\n{_problem(exc)}" if text else _problem(exc)
            held = gr.skip()
        yield [*shown, {"role": "assistant", "content": reply}], gr.skip(), held

    def save_holding(holding: list[str] | None, name: str, session_id: str) -> str:
        learner = learner_id(name, session_id)
        try:
            ids = service.parse_holding(list(holding or []))
            service.memory.set_holding(learner, ids)
        except AssistantError as exc:
            return str(exc)
        except Exception as exc:
            return _problem(exc)
        return f"Saved: you hold {len(ids)} credential(s)." if ids else "Saved: no credentials held."

    def load_learner(name: str, session_id: str, active: str | None) -> tuple[Any, Any, str, Any]:
        learner = learner_id(name, session_id)
        if learner == active:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            held = service.memory.holding(learner)
            turns = service.memory.history(learner, limit=HISTORY_SHOWN)
        except Exception as exc:
            return gr.skip(), gr.skip(), _problem(exc), gr.skip()
        messages = [{"role": t.role, "content": t.content} for t in turns if t.role in ("user", "assistant")]
        return held, messages, f"Learner: `{learner}`", learner

    def forget(name: str, session_id: str) -> tuple[Any, Any, str]:
        learner = learner_id(name, session_id)
        try:
            removed = service.forget(learner)
        except Exception as exc:
            return gr.skip(), gr.skip(), _problem(exc)
        return [], [], (f"Forgotten: deleted {removed} stored message(s) and the credentials saved for "
                        f"`{learner}`.")

    def plan(pathway: str | None, holding: list[str] | None) -> str:
        if not pathway:
            return "Please choose a pathway."
        try:
            return render_answer(service.plan_answer(list(holding or []), pathway))
        except AssistantError as exc:
            return str(exc)
        except Exception as exc:
            return _problem(exc)

    # ------------------------------------------------------------------ layout

    with gr.Blocks(title="Stackwise assistant", analytics_enabled=False) as demo:
        session_id = gr.State(new_learner_id)  # a callable: a fresh random id for every browser session
        active = gr.State(None)  # the learner whose holding and history are shown
        gr.Markdown("# Stackwise pathway advisor\nAnswers come from the credential catalogue; every answer "
                    "lists its sources. Figures about pathways come from the exact planner.")
        with gr.Tab("Chat"):
            with gr.Row():
                name = gr.Textbox(label="Your name (optional)", scale=1, max_lines=1,
                                  placeholder="leave empty to stay anonymous in this browser session")
                holding = gr.Dropdown(choices=credential_choices, value=[], multiselect=True, scale=2,
                                      label="Credentials I hold", info="saved for you; the planner counts them")
            chatbot = gr.Chatbot(label="Stackwise assistant", height=460, latex_delimiters=[],
                                 placeholder="Ask about credentials, prices, pathways or what you still need.")
            with gr.Row():
                message = gr.Textbox(label="Your question", placeholder="Type a question and press Enter",
                                     scale=5, max_lines=4, autofocus=True)
                send = gr.Button("Send", variant="primary", scale=1)
            gr.Examples(EXAMPLES, inputs=[message], label="Try asking")
            with gr.Row(equal_height=True):
                status = gr.Markdown("")
                forget_button = gr.Button("Forget me", variant="stop", size="sm", scale=0, min_width=120)
        with gr.Tab("Plan"):
            with gr.Row():
                pathway = gr.Dropdown(choices=pathway_choices, value=pathway_choices[0][1] if pathway_choices else None,
                                      label="Pathway")
                plan_holding = gr.Dropdown(choices=credential_choices, value=[], multiselect=True,
                                           label="Credentials I hold")
            plan_button = gr.Button("Plan my route", variant="primary")
            plan_output = gr.Markdown(label="Plan")
        learner_key = assessor_session = None
        if grader is not None:
            from grader.web import add_grader_tabs

            grader_web = add_grader_tabs(demo, grader)
            learner_key, assessor_session = grader_web.learner_key, getattr(grader_web, "assessor_session", None)
        if issuance is not None:
            from issuance.web import add_issuance_tabs

            add_issuance_tabs(demo, issuance, learner_key, assessor_session)

        # ------------------------------------------------------------------ events
        chat_io = dict(fn=chat, inputs=[message, chatbot, holding, name, session_id],
                       outputs=[chatbot, message, holding],
                       # chats do not wait for each other here: the model's priority lock orders them (and puts
                       # them ahead of background grading), retrieval and memory run concurrently
                       concurrency_limit=16, concurrency_id="chat")
        message.submit(**chat_io, api_name="chat")
        send.click(**chat_io, api_visibility="private")
        holding.input(save_holding, inputs=[holding, name, session_id], outputs=[status], api_name="save_holding")
        holding.change(None, inputs=[holding], outputs=[plan_holding], js="(held) => held")  # browser-side copy
        learner_io = dict(fn=load_learner, inputs=[name, session_id, active],
                          outputs=[holding, chatbot, status, active])
        name.submit(**learner_io, api_name="load_learner")
        name.blur(**learner_io, api_visibility="private")
        demo.load(**learner_io, api_visibility="private")
        forget_button.click(forget, inputs=[name, session_id], outputs=[holding, chatbot, status],
                            api_name="forget")
        plan_button.click(plan, inputs=[pathway, plan_holding], outputs=[plan_output], api_name="plan")
    return demo


def launch(service: AssistantService, host: str = "127.0.0.1", port: int = 7860, warm: bool = True, *,
           prevent_thread_lock: bool = False, quiet: bool = False, grader: GraderService | None = None,
           issuance: IssuanceService | None = None) -> gr.Blocks:
    """Serve the web chat on ``host:port`` (local only: never a share link); warms the model first if asked.

    With ``grader``, the grader tabs are served too and submissions a stopped process left ungraded are
    queued for grading (:meth:`GraderService.resume_pending`). With ``issuance``, its tabs and HTTP routes
    (:func:`issuance.web.issuance_routes`: DID document, issuer profile, status lists, credentials) are served,
    and issuable submissions left unissued are issued (:meth:`IssuanceService.issue_pending`). Blocks until
    interrupted unless ``prevent_thread_lock`` (then call ``.close()`` on the result).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    if warm:
        service.warm_up()
    if grader is not None:
        pending = grader.resume_pending()
        if pending:
            log.info("grading %d submission(s) left ungraded by the last run", len(pending))
    app_kwargs: dict[str, Any] = {}
    if issuance is not None:
        from issuance.web import issuance_routes

        issued = issuance.issue_pending()
        if issued:
            log.info("issued %d credential(s) left unissued by the last run", len(issued))
        app_kwargs["routes"] = issuance_routes(issuance)
    demo = build_app(service, grader, issuance)
    demo.queue(default_concurrency_limit=1)  # one answer at a time: the model shares two cores
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=MAX_UPLOAD,
                prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False, ssr_mode=False,
                mcp_server=False, enable_monitoring=False, app_kwargs=app_kwargs)
    return demo


def run_server(host: str = "127.0.0.1", port: int = 7860, warm: bool = True) -> None:
    """Build the configured assistant and grader services and serve the web app (blocking)."""
    from stackwise.wiring import assistant_service, grader_service, issuance_service

    launch(assistant_service(), host=host, port=port, warm=warm, grader=grader_service(),
           issuance=issuance_service())
