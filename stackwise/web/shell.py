"""The Gradio web app's shell: one ``gr.Blocks`` with the chat (:mod:`stackwise.web.chat`) and the tabs of
the grader and issuance, served on loopback.

- :func:`build_app` builds the :class:`gradio.Blocks` (a "Chat" tab and a "Plan" tab, plus the grader's
  "Submit evidence" and "Assessor" tabs from :mod:`stackwise.web.grader_tabs` when a grader service is given,
  and "My credentials", "Verify" and "Revoke" from :mod:`stackwise.web.issuance_tabs` when an issuance service
  is given);
- :func:`launch` serves it on ``127.0.0.1`` (never a public share link), with the look of
  :mod:`stackwise.web.theme` (contrast, tables, a title per tab) for every tab;
- :func:`run_server` builds the configured services and serves them until interrupted (for the CLI).

**Identity**: the learner is the browser's learner key (:mod:`stackwise.identity`: random, kept in
localStorage across reloads and browser restarts, pastable into another browser), one key for the chat, the
submissions and the credentials; the database keeps only its hash. Nothing is looked up by a typed name.
"Forget me" shows what is stored and deletes it after a confirmation (:mod:`stackwise.forget`).

API endpoints (for ``gradio_client``; ``key`` is what the browser keeps): ``/learner_start`` (key),
``/use_key`` (pasted, key), ``/chat`` (message, history, holding, key), ``/save_holding`` (holding, key),
``/forget`` (key; says what would be deleted), ``/forget_confirm`` (key; deletes), ``/forget_cancel``,
``/plan`` (pathway, holding); with a grader, those listed in :mod:`stackwise.web.grader_tabs` (except
``/learner_start`` and ``/use_key``, which are these); with issuance, those in
:mod:`stackwise.web.issuance_tabs` and the HTTP routes of :mod:`stackwise.web.routes`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

from assistant.api import AssistantService  # noqa: E402
from grader.api import MAX_FILE_BYTES  # noqa: E402
from issuance.api import MAX_IMAGE_BYTES  # noqa: E402
from stackwise.forget import LearnerData  # noqa: E402
from stackwise.identity import (  # noqa: E402
    KEY_PREFIX,
    KEY_STORAGE,
    KEY_STORAGE_OBFUSCATION,
    new_learner_key,
    parse_learner_key,
)
from stackwise.web import theme  # noqa: E402
from stackwise.web.catalogue_pages import catalogue_routes  # noqa: E402
from stackwise.web.chat import EXAMPLES, NOT_A_KEY, ChatWeb, link_catalogue  # noqa: E402

if TYPE_CHECKING:
    from grader.api import GraderService
    from issuance.api import IssuanceService

log = logging.getLogger(__name__)

MAX_UPLOAD = max(MAX_FILE_BYTES, MAX_IMAGE_BYTES)  # Gradio refuses bigger uploads (413) before they reach the disk
# Gradio's upload folder and output cache: every 5 min, files older than 30 min go (submitted evidence is in the
# database and its upload is deleted at once; this removes uploads never submitted); everything goes at shutdown
DELETE_CACHE = (5 * 60, 30 * 60)
# learner ids of the chat before learner keys ("web:" + a typed name, "web-" + a page session's random id):
# nobody can reach them any more, so launch deletes them
UNREACHABLE_LEARNERS = ("web:", "web-")


def build_app(service: AssistantService, grader: GraderService | None = None,
              issuance: IssuanceService | None = None) -> gr.Blocks:
    """The web chat for ``service``: learner chat with streamed answers and citations, and a planner tab;
    with ``grader``, also the evidence submission and assessor tabs
    (:func:`stackwise.web.grader_tabs.add_grader_tabs`);
    with ``issuance``, the learner's "My credentials" tab (with a grader) and the public "Verify" tab
    (:func:`stackwise.web.issuance_tabs.add_issuance_tabs`; its HTTP routes are served by :func:`launch`).

    The learner is the browser's learner key (:mod:`stackwise.identity`), one for every tab."""
    catalogue = service.catalogue
    credential_choices = [(f"{c.title} ({cid})", cid) for cid, c in sorted(
        catalogue.credentials.items(), key=lambda item: item[1].title.lower())]
    pathway_choices = [(f"{p.title} ({pid})", pid) for pid, p in catalogue.pathways.items()]
    data = LearnerData.of(service, grader, issuance)

    # ------------------------------------------------------------------ handlers (thin: call the service)

    web = ChatWeb(service, data)  # the chat's, the plan's and "Forget me"'s
    grader_handlers: Any = None  # the grader tabs' handlers, once built (below)

    def _listing(key: str) -> tuple[Any, ...]:
        """The grader tab's "My submissions" outputs for ``key`` (none without a grader)."""
        return tuple(grader_handlers.my_submissions(key)) if grader_handlers is not None else ()

    def learner_start(stored: str | None) -> tuple[Any, ...]:
        """On page load: this browser's key (or a new one) and that learner's chat and submissions.
        Outputs: key state, key box, [submissions, timer with a grader], holding, chat, status."""
        key = parse_learner_key(stored) or new_learner_key()
        return key, key, *_listing(key), *web.shown_for(key)

    def use_key(pasted: str | None, current: str | None) -> tuple[Any, ...]:
        """Switch this browser to a pasted key. Outputs: key state, key box, paste box, key message,
        [submissions, timer with a grader], holding, chat, status."""
        key = parse_learner_key(pasted)
        if key is None:
            skipped = (gr.skip(),) * (len(_listing(new_learner_key())) + 3)
            return (gr.skip(), gr.skip(), gr.skip(), NOT_A_KEY, *skipped)
        previous = parse_learner_key(current)
        note = (f" The previous key of this browser was `{previous}`; keep it if you need what it holds."
                if previous and previous != key else "")
        return (key, key, "", f"This browser now uses the pasted learner key.{note}", *_listing(key),
                *web.shown_for(key))

    # ------------------------------------------------------------------ layout

    with gr.Blocks(title=theme.SITE, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        key = gr.BrowserState("", storage_key=KEY_STORAGE, secret=KEY_STORAGE_OBFUSCATION)
        pending = gr.State(None)  # the learner whose "Forget me" awaits confirmation (server side)
        gr.Markdown("# Stackwise pathway advisor\nAnswers come from the credential catalogue; every answer "
                    "lists its sources. Figures about pathways come from the exact planner.")
        with gr.Accordion("Your learner key", open=False):
            gr.Markdown("This browser keeps a random learner key: it is who you are here (chat, submissions and "
                        "credentials), kept across reloads and restarts of the browser. Copy it to use another "
                        "browser or device; anyone with the key sees your data, and nobody without it does.")
            with gr.Row(equal_height=True):
                key_box = gr.Textbox(label="Your learner key", interactive=False, max_lines=1, buttons=["copy"],
                                     scale=2, elem_id="learner-key")
                pasted = gr.Textbox(label="Use a learner key from another browser", max_lines=1, scale=2,
                                    placeholder=f"{KEY_PREFIX}…", type="password")
                use = gr.Button("Use this key", scale=0, min_width=140)
            key_msg = gr.Markdown("", latex_delimiters=[])
        # one row of tabs that wraps onto more rows on a phone (Gradio's default folds them into a "…" menu)
        with gr.Tabs(overflow_behavior="wrap", elem_id="stackwise-tabs"):
            with gr.Tab("Chat"):
                holding = gr.Dropdown(choices=credential_choices, value=[], multiselect=True,
                                      label="Credentials I hold", info="saved for you; the planner counts them")
                chatbot = gr.Chatbot(label="Stackwise assistant", height=460, latex_delimiters=[],
                                     buttons=["copy", "copy_all"],  # no "share" (Spaces only; an unlabelled button)
                                     placeholder="Ask about credentials, prices, pathways or what you still need.")
                with gr.Row():
                    message = gr.Textbox(label="Your question", placeholder="Type a question and press Enter",
                                         scale=5, max_lines=4)  # no autofocus: it scrolls a phone past the header
                    send = gr.Button("Send", variant="primary", scale=1)
                gr.Examples(EXAMPLES, inputs=[message], label="Try asking")
                link_catalogue(demo, message)  # the catalogue pages' link, and their "Ask about this" (/?ask=...)
                with gr.Row(equal_height=True):
                    status = gr.Markdown("", latex_delimiters=[])
                    forget_button = gr.Button("Forget me", variant="stop", size="sm", scale=0, min_width=120)
                with gr.Row(visible=False) as confirm_row:
                    confirm = gr.Button("Yes, delete everything", variant="stop", size="sm", scale=0, min_width=200)
                    cancel = gr.Button("Cancel", size="sm", scale=0, min_width=120)
            with gr.Tab("Plan"):
                with gr.Row():  # side by side on a desktop, one above the other on a phone (min_width)
                    pathway = gr.Dropdown(choices=pathway_choices, label="Pathway", min_width=300,
                                          value=pathway_choices[0][1] if pathway_choices else None)
                    plan_holding = gr.Dropdown(choices=credential_choices, value=[], multiselect=True,
                                               label="Credentials I hold", min_width=300)
                plan_button = gr.Button("Plan my route", variant="primary")
                plan_output = gr.Markdown(label="Plan")
            assessor_session = None
            if grader is not None:
                from stackwise.web.grader_tabs import add_grader_tabs

                grader_handlers = add_grader_tabs(demo, grader, key)
                assessor_session = getattr(grader_handlers, "assessor_session", None)
            listing = list(grader_handlers.listing) if grader_handlers is not None else []
            if issuance is not None:
                from stackwise.web.issuance_tabs import add_issuance_tabs

                add_issuance_tabs(demo, issuance, key if grader is not None else None, assessor_session)

        # ------------------------------------------------------------------ events
        def then_listing(event: Any) -> None:
            """After the key may have changed: refresh the grader tab's "My submissions"."""
            if grader_handlers is not None:
                event.then(grader_handlers.my_submissions, inputs=[key], outputs=grader_handlers.listing,
                           api_visibility="private")

        chat_io = dict(fn=web.chat, inputs=[message, chatbot, holding, key], outputs=[chatbot, message, holding],
                       # chats do not wait for each other here: the model's priority lock orders them (and puts
                       # them ahead of background grading), retrieval and memory run concurrently
                       concurrency_limit=16, concurrency_id="chat")
        message.submit(**chat_io, api_name="chat")
        send.click(**chat_io, api_visibility="private")
        holding.input(web.save_holding, inputs=[holding, key], outputs=[status], api_name="save_holding")
        # browser-side copy; a js function returns the list of its outputs' values: a bare list of ids was read as
        # that, so the Plan box got the first id alone, as a string (then planned as its letters)
        holding.change(None, inputs=[holding], outputs=[plan_holding], js="(held) => [held]")
        shown = [*listing, holding, chatbot, status]
        demo.load(learner_start, inputs=[key], outputs=[key, key_box, *shown], api_name="learner_start")
        use_io = dict(fn=use_key, inputs=[pasted, key], outputs=[key, key_box, pasted, key_msg, *shown])
        use.click(**use_io, api_name="use_key")
        pasted.submit(**use_io, api_visibility="private")
        forget_button.click(web.forget, inputs=[key], outputs=[pending, status, confirm_row], api_name="forget")
        then_listing(confirm.click(web.forget_confirm, inputs=[key, pending],
                                   outputs=[pending, key, key_box, holding, chatbot, status, confirm_row],
                                   api_name="forget_confirm"))
        cancel.click(web.forget_cancel, outputs=[pending, status, confirm_row], api_name="forget_cancel")
        plan_button.click(web.plan, inputs=[pathway, plan_holding], outputs=[plan_output], api_name="plan")
    return demo


def launch(service: AssistantService, host: str = "127.0.0.1", port: int = 7860, warm: bool = True, *,
           prevent_thread_lock: bool = False, quiet: bool = False, grader: GraderService | None = None,
           issuance: IssuanceService | None = None) -> gr.Blocks:
    """Serve the web chat on ``host:port`` (local only: never a share link); warms the model first if asked.
    The catalogue pages (:func:`stackwise.web.catalogue_pages.catalogue_routes`) are always served.

    With ``grader``, the grader tabs are served too and submissions a stopped process left ungraded are
    queued for grading (:meth:`GraderService.resume_pending`). With ``issuance``, its tabs and HTTP routes
    (:func:`stackwise.web.routes.issuance_routes`: DID document, issuer profile, status lists, credentials) are
    served,
    and issuable submissions left unissued are issued (:meth:`IssuanceService.issue_pending`). Blocks until
    interrupted unless ``prevent_thread_lock`` (then call ``.close()`` on the result).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    purged = service.memory.purge_prefixes(UNREACHABLE_LEARNERS)
    if purged:
        log.info("deleted %d chat message(s) of web learners identified by a typed name or a page session "
                 "(no longer reachable: web learners are their learner key now)", purged)
    if warm:
        service.warm_up()
    if grader is not None:
        pending = grader.resume_pending()
        if pending:
            log.info("grading %d submission(s) left ungraded by the last run", len(pending))
    app_kwargs: dict[str, Any] = {"routes": catalogue_routes(service)}  # /catalogue pages, always served
    if issuance is not None:
        from stackwise.web.routes import issuance_routes

        issued = issuance.issue_pending()
        if issued:
            log.info("issued %d credential(s) left unissued by the last run", len(issued))
        app_kwargs["routes"] += issuance_routes(issuance)
    demo = build_app(service, grader, issuance)
    demo.queue(default_concurrency_limit=1)  # one answer at a time: the model shares two cores
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=MAX_UPLOAD,
                prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False, ssr_mode=False,
                mcp_server=False, enable_monitoring=False, app_kwargs=app_kwargs, **theme.launch_options())
    return demo


def run_server(host: str = "127.0.0.1", port: int = 7860, warm: bool = True) -> None:
    """Build the configured assistant and grader services and serve the web app (blocking)."""
    from stackwise.wiring import assistant_service, grader_service, issuance_service

    launch(assistant_service(), host=host, port=port, warm=warm, grader=grader_service(),
           issuance=issuance_service())
