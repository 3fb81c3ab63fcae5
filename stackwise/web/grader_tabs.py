"""Gradio tabs for the grader: learners submit evidence and follow it; assessors work the review queue.

- :func:`add_grader_tabs` (or :func:`add_learner_tab` / :func:`add_assessor_tab`) adds the tabs inside a
  ``with gr.Blocks():`` context; :func:`stackwise.web.shell.build_app` composes them with the chat;
- :func:`build_grader_app` is a :class:`gradio.Blocks` with only these tabs.

The handlers are :class:`stackwise.web.grader_handlers.GraderWeb` (a thin adapter over
:class:`grader.service.GraderService`); what they show comes from :mod:`stackwise.web.grader_render`.

**Learners** are identified by a random *learner key* (``swk-`` + 24 URL-safe characters, 144 bits) kept in
the browser's localStorage (``gr.BrowserState``), never by a typed name. The database stores only a hash
of the key, so a key cannot be read back from it. Pasting the key in another browser shows the same
submissions; without the key nobody sees them (:mod:`stackwise.identity`). In the full app
(:mod:`stackwise.web.shell`) one key serves the chat, submissions and credentials.

**Uploads**: the evidence bytes are stored in the database at submission and Gradio's copy in its upload folder
is deleted right after (:func:`stackwise.web.grader_handlers.discard_uploads`); what is uploaded but never
submitted is removed by the app's periodic cache clean-up (:func:`stackwise.web.shell.launch`).

**Assessors** log in inside the tab (``grader.accounts.authenticate`` against ``STACKWISE_ASSESSORS_FILE``);
failed log-ins are throttled per (client, username), per client and per username
(:class:`stackwise.identity.ThrottlePolicy`). The logged-in assessor lives in a ``gr.State``, which stays on the
server: the browser cannot forge it. Every assessor action re-checks that the session is live and the account
still exists.

**Evidence** is uploaded files, text pasted into *Or paste your evidence* (stored as a plain-text file beside
the uploads, read by the same intake), links and a reflective statement.

**Assessor accounts** are set up by the operator (README, ``python -m grader.accounts --help``); without any, the
operator is warned in the log once at start, the Assessor tab still shows only the log-in, and learners whose
submission is in review are told it waits until an assessor is set up.

API endpoints (for ``gradio_client``): ``/learner_start`` (key), ``/use_key`` (pasted, key), ``/rubric``
(credential), ``/submit_evidence`` (credential, files, links, reflection, name, email, key, pasted text — the last
optional),
``/my_submissions`` (key); ``/assessor_login`` (username, password), ``/assessor_logout``, ``/review_queue``
(sort, credential), ``/open_submission`` (submission id), ``/claim``, ``/release``, ``/approve``, ``/reject``,
``/resubmit`` (levels and notes per criterion slot, comment). Assessor endpoints act for the session's
logged-in assessor only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

from grader.api import MAX_TOTAL_CHARS, Decision, GraderService  # noqa: E402
from stackwise.identity import KEY_PREFIX, KEY_STORAGE, KEY_STORAGE_OBFUSCATION  # noqa: E402
from stackwise.web.grader_handlers import GraderWeb, warn_if_no_assessors  # noqa: E402
from stackwise.web.grader_learner import PASTED_FILENAME, new_token  # noqa: E402
from stackwise.web.grader_render import (  # noqa: E402
    ACCEPTED_SUFFIXES,
    MAX_CRITERIA,
    POLL_SECONDS,
    QUEUE_COLUMNS,
    QUEUE_WIDTHS,
)

# Labels other tests and the end-to-end browser journey find the controls by (keep them stable)
PASTE_LABEL = "Or paste your evidence"
FILES_LABEL = f"Evidence files ({', '.join(ACCEPTED_SUFFIXES)})"
QUEUE_LABEL = "Review queue"

# --------------------------------------------------------------------------------------------------
# Layout and wiring


def _credential_choices(catalogue: Any) -> list[tuple[str, str]]:
    return [(f"{c.title} ({cid})", cid)
            for cid, c in sorted(catalogue.credentials.items(), key=lambda item: item[1].title.lower())]


def learner_key_state() -> gr.BrowserState:
    """The browser-held learner key (localStorage, kept across reloads and browser restarts)."""
    return gr.BrowserState("", storage_key=KEY_STORAGE, secret=KEY_STORAGE_OBFUSCATION)


def add_learner_tab(demo: gr.Blocks, service: GraderService, web: GraderWeb | None = None,
                    key: gr.BrowserState | None = None) -> GraderWeb:
    """Add the "Submit evidence" tab to ``demo`` (call inside ``with demo:``); returns its handlers.

    Without ``key`` the tab owns the learner key: it shows it, takes a pasted one and starts it on page load
    (``/learner_start``, ``/use_key``). With ``key`` (the whole app's key, as :mod:`stackwise.web.shell` passes) the
    app does that; it then refreshes the listing with ``web.my_submissions`` into ``web.listing``.
    """
    web = web or GraderWeb(service)
    with gr.Tab("Submit evidence"):
        owns_key = key is None
        key = key if key is not None else learner_key_state()
        web.learner_key = key
        token = gr.State(new_token)  # a callable: a fresh idempotency key per browser session
        gr.Markdown("Send evidence for a credential. The AI grader marks it against the rubric shown here; some "
                    "submissions are checked by an assessor before the result is final.")
        with gr.Row():
            with gr.Column(scale=3):
                credential = gr.Dropdown(choices=_credential_choices(web.catalogue), value=None,
                                         label="Credential", info="the credential this evidence is for")
                rubric = gr.Markdown(web.rubric(None), latex_delimiters=[])
            with gr.Column(scale=2):
                files = gr.File(label=FILES_LABEL, file_count="multiple", type="filepath")
                pasted_evidence = gr.Textbox(label=PASTE_LABEL, lines=6, max_lines=20, elem_id="pasted-evidence",
                                             info=f"instead of a file, or as well: kept as {PASTED_FILENAME} (up "
                                                  f"to {MAX_TOTAL_CHARS:,} characters)")
                links = gr.Textbox(label="Links (optional)", lines=2, max_lines=6,
                                   placeholder="https://… (one per line; recorded, not opened)")
                reflection = gr.Textbox(label="Reflective statement (optional)", lines=5, max_lines=20)
                with gr.Row():
                    name = gr.Textbox(label="Your name (optional)", max_lines=1,
                                      info="for the credential; hidden from the AI grader")
                    email = gr.Textbox(label="Email (optional)", max_lines=1, type="email")
                submit = gr.Button("Submit evidence", variant="primary")
                submit_msg = gr.Markdown("", latex_delimiters=[])
        gr.Markdown("### My submissions")
        with gr.Row(equal_height=True):
            if owns_key:
                key_box = gr.Textbox(label="Your learner key", interactive=False, max_lines=1, buttons=["copy"],
                                     scale=2, elem_id="learner-key",
                                     info="keep it: it shows your submissions in another browser (to anyone who "
                                          "has it)")
                pasted = gr.Textbox(label="Use a learner key from another browser", max_lines=1, scale=2,
                                    placeholder=f"{KEY_PREFIX}…", type="password")
                use = gr.Button("Use this key", scale=0, min_width=140)
            refresh = gr.Button("Refresh", scale=0, min_width=110)
        key_msg = gr.Markdown("", latex_delimiters=[])
        submissions = gr.Markdown("", latex_delimiters=[])
        timer = gr.Timer(POLL_SECONDS, active=False)

    listing = [submissions, timer]
    web.listing = listing
    if owns_key:
        demo.load(web.learner_start, inputs=[key], outputs=[key, key_box, *listing], api_name="learner_start")
        use_io = dict(fn=web.use_key, inputs=[pasted, key], outputs=[key, key_box, pasted, key_msg, *listing])
        use.click(**use_io, api_name="use_key")
        pasted.submit(**use_io, api_visibility="private")
    credential.change(web.rubric, inputs=[credential], outputs=[rubric], api_name="rubric")
    # the pasted text comes last, so API clients that send the first seven values keep working
    submit.click(web.submit, inputs=[credential, files, links, reflection, name, email, key, token, pasted_evidence],
                 outputs=[submit_msg, *listing, files, links, reflection, token, pasted_evidence],
                 api_name="submit_evidence")
    refresh.click(web.my_submissions, inputs=[key], outputs=listing, api_name="my_submissions")
    timer.tick(web.my_submissions, inputs=[key], outputs=listing, show_progress="hidden", api_visibility="private")
    return web


def add_assessor_tab(demo: gr.Blocks, service: GraderService, web: GraderWeb | None = None) -> GraderWeb:
    """Add the "Assessor" tab (in-app log-in, review queue, decisions) to ``demo``; returns its handlers."""
    web = web or GraderWeb(service)
    warn_if_no_assessors()  # the operator hears it in the log; the public tab shows the log-in only
    with gr.Tab("Assessor"):
        session = gr.State(None)  # AssessorSession, on the server only
        web.assessor_session = session
        opened = gr.State(None)  # the submission shown: {"id", "criteria", "ai"}
        message = gr.Markdown("", latex_delimiters=[])
        with gr.Column(visible=True) as login_panel:
            with gr.Row():
                username = gr.Textbox(label="Username", max_lines=1)
                password = gr.Textbox(label="Password", type="password", max_lines=1)
            login = gr.Button("Log in", variant="primary")
        with gr.Column(visible=False) as work_panel:
            with gr.Row(equal_height=True):
                who = gr.Markdown("")
                logout = gr.Button("Log out", size="sm", scale=0, min_width=110)
            with gr.Row(equal_height=True):
                sort = gr.Radio([("Oldest first", "age"), ("Most urgent reason first", "reason")], value="age",
                                label="Order")
                credential = gr.Dropdown([("All credentials", ""), *_credential_choices(web.catalogue)], value="",
                                         label="Credential")
                refresh = gr.Button("Refresh queue", scale=0, min_width=150)
            queue_table = gr.Dataframe(label=QUEUE_LABEL, interactive=False, wrap=True, headers=QUEUE_COLUMNS,
                                       column_widths=QUEUE_WIDTHS, elem_id="review-queue")
            with gr.Row(equal_height=True):
                pick = gr.Dropdown(choices=[], value=None, label="Submission", scale=3)
                claim = gr.Button("Claim", variant="primary", scale=0, min_width=110)
                release = gr.Button("Release", scale=0, min_width=110)
            header = gr.Markdown("Choose a submission from the queue.", latex_delimiters=[])
            with gr.Column(visible=False) as detail_panel:
                with gr.Row(equal_height=False):
                    with gr.Column():
                        evidence = gr.Textbox(label="Evidence (extracted text, links, reflection)", lines=24,
                                              max_lines=40, interactive=False, buttons=["copy"],
                                              elem_id="grader-evidence")
                    with gr.Column():
                        ai_grade = gr.Markdown("", latex_delimiters=[], max_height=640)
                gr.Markdown("#### Your decision\nKeep or change each level; a changed level needs a reason (its "
                            "own note, or the comment below).")
                rows, levels, notes = [], [], []
                for slot in range(MAX_CRITERIA):
                    with gr.Row(equal_height=True, visible=False) as row:
                        levels.append(gr.Dropdown(choices=[], value=None, visible=False, scale=1,
                                                  label=f"Criterion {slot + 1}"))
                        notes.append(gr.Textbox(value="", visible=False, label="Why change it?", max_lines=3,
                                                scale=2))
                    rows.append(row)
                comment = gr.Textbox(label="Comment for the learner (required when your decision goes against "
                                           "the rubric's result)", lines=2, max_lines=8)
                with gr.Row():
                    approve = gr.Button("Approve", variant="primary")
                    reject = gr.Button("Reject", variant="stop")
                    resubmit = gr.Button("Send back for resubmission")
            gr.Markdown("#### Agreement with the AI grader (per criterion)")
            stats = gr.Dataframe(interactive=False, wrap=True)
            with gr.Row(equal_height=True):
                errored = gr.Dropdown(choices=[], value=None, scale=3,
                                      label="Grading stopped with an error (refresh the queue to update)")
                retry = gr.Button("Retry grading", scale=0, min_width=150)

    frame = [session, message, login_panel, work_panel, who]
    queue_out = [queue_table, pick, stats]
    detail_out = [opened, header, detail_panel, evidence, ai_grade, *rows, *levels, *notes, comment]
    login_io = dict(fn=web.login, inputs=[username, password, sort, credential], outputs=[*frame, password, *queue_out])
    login.click(**login_io, api_name="assessor_login")
    password.submit(**login_io, api_visibility="private")
    logout.click(web.logout, inputs=[session, opened], outputs=[*frame, *queue_out, *detail_out],
                 api_name="assessor_logout")
    gr.on([refresh.click, sort.change, credential.change], web.refresh, inputs=[session, sort, credential, pick],
          outputs=[*frame, *queue_out], api_name="review_queue")
    pick.change(web.open, inputs=[session, pick], outputs=[*frame, *detail_out], api_name="open_submission")
    lease_in = [session, opened, sort, credential]
    claim.click(web.claim, inputs=lease_in, outputs=[*frame, *queue_out, header], api_name="claim")
    release.click(web.release, inputs=lease_in, outputs=[*frame, *queue_out, header], api_name="release")
    for button, decision in ((approve, "approve"), (reject, "reject"), (resubmit, "resubmit")):
        button.click(_decider(web, decision), inputs=[*lease_in, *levels, *notes, comment],
                     outputs=[*frame, *queue_out, *detail_out], api_name=decision)
    gr.on([who.change, refresh.click], web.errored, inputs=[session], outputs=[errored],
          api_visibility="private")
    retry.click(web.retry, inputs=[session, errored], outputs=[*frame, errored], api_name="retry_grading")
    return web


def _decider(web: GraderWeb, decision: Decision) -> Callable[..., tuple[Any, ...]]:
    def decide(*args: Any) -> tuple[Any, ...]:
        return web.decide(decision, *args)

    decide.__name__ = decision
    return decide


def add_grader_tabs(demo: gr.Blocks, service: GraderService, key: gr.BrowserState | None = None) -> GraderWeb:
    """Add both grader tabs ("Submit evidence", "Assessor") to ``demo``; call inside ``with demo:``.
    ``key``: the app's learner key (see :func:`add_learner_tab`)."""
    web = GraderWeb(service)
    add_learner_tab(demo, service, web, key)
    add_assessor_tab(demo, service, web)
    return web


def build_grader_app(service: GraderService) -> gr.Blocks:
    """A web app with only the grader tabs."""
    with gr.Blocks(title="Stackwise grader", analytics_enabled=False) as demo:
        gr.Markdown("# Stackwise evidence and review")
        add_grader_tabs(demo, service)
    return demo

