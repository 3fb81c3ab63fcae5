"""Issuance on the web: the learner's "My credentials" tab, the public "Verify" tab and the issuer-admin's
"Revoke" tab. A thin adapter over :class:`issuance.service.IssuanceService` (its HTTP routes are
:mod:`stackwise.web.routes`).

Tabs (inside ``with gr.Blocks():``): :func:`add_verify_tab` (public: upload a file or give an id; one of four
verdicts in plain words, the credential's facts only when verified, then every check, "not checked" for those that
did not run; :func:`render_report`), :func:`add_credentials_tab` (the learner's own credentials, found with the
learner key of the "Submit evidence" tab: each with its badge, state, public / private page, and when public its
link, "Copy link" and "Add to LinkedIn profile"; the "Make page public" / "Make page private" buttons; JSON, SVG
and PNG downloads) and :func:`add_revoke_tab` (for an assessor logged in on the Assessor tab whose account has
the ``issuer-admin`` role). API endpoints for ``gradio_client``: ``/verify_credential`` (file, id or link),
``/my_credentials`` (learner key; listing HTML, files), ``/make_page_public`` and ``/make_page_private`` (learner
key, credential UUID; only the learner's own), ``/revoke_credential`` (credential id, reason; acts for the
session's logged-in issuer-admin only).
"""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import accounts
from issuance.api import (
    MAX_IMAGE_BYTES,
    AlreadyRevoked,
    BakingError,
    CredentialFacts,
    CredentialNotFound,
    IssuanceConfig,
    IssuanceError,
    IssuanceService,
    IssuedCredential,
    NotYourCredential,
    Verdict,
    VerificationReport,
    badge_png,
    badge_svg,
    badge_thumbnail,
    credential_facts,
    credential_json,
    explain,
    extract_credential,
    linkedin_add_url,
)
from stackwise.config import enforce_offline
from stackwise.identity import AssessorSession, learner_id_for_key, parse_learner_key
from stackwise.web.routes import credential_filename
from stackwise.web.text import md_text

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

log = logging.getLogger(__name__)

NO_KEY = "This browser has no learner key yet; open the Submit evidence tab first (or reload the page)."
THUMBNAIL = 160  # pixels of the badge beside each credential
# "Copy link" in the listing: one listener on the listing (it survives re-renders); a clipboard fallback selects
COPY_JS = """
element.addEventListener('click', function (event) {
  var button = event.target.closest('button.sw-copy');
  if (!button) { return; }
  var link = button.getAttribute('data-copy');
  var status = button.parentElement.querySelector('.sw-copied');
  function say(text) { if (status) { status.textContent = text; } }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(link).then(function () { say('Link copied.'); },
                                             function () { say('Copy this link: ' + link); });
  } else { say('Copy this link: ' + link); }
});
"""
DOWNLOAD_PREFIX = "stackwise-credentials-"  # temporary folders of "My credentials" downloads
DOWNLOAD_FOLDER_SECONDS = 10 * 60
VERDICT_MARKS = {
    Verdict.trusted: "✅",
    Verdict.untrusted: "⚠️",
    Verdict.cannot_check: "❔",
    Verdict.invalid: "❌",
}
OUTCOME_MARKS = {"passed": "✅", "failed": "❌", "not trusted": "⚠️", "could not be checked": "❔",
                 "not checked": "➖"}


# ---------------------------------------------------------------- rendering


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def claimed_line(facts: CredentialFacts) -> str:
    """What an unverified credential claims, labelled as such ("" when it claims nothing worth showing)."""
    if not facts.title:
        return ""
    said = f"It claims to be “{md_text(facts.title)}”"
    if facts.issuer_name:
        said += f" from “{md_text(facts.issuer_name)}”"
    return said + ". That claim is **not verified**: do not take it as fact."


def confirmed_line(facts: CredentialFacts) -> str:
    """A trusted credential's checked facts on one line: title, awarding body (the trust list's name), learner,
    date, level / ECTS; missing ones left out."""
    said = f"**{md_text(facts.title or 'A credential')}**"
    if facts.issuer_name:
        said += f", awarded by {md_text(facts.issuer_name)}"
    if facts.learner_name:
        said += f" to {md_text(facts.learner_name)}"
    details = [f"issued {facts.issued_text}" if facts.issued_text else "", facts.level_text]
    return said + "".join(f" · {md_text(d)}" for d in details if d)


def render_report(report: VerificationReport, document: Any) -> str:
    """A verification report in plain words (:func:`issuance.explain.explain`): the verdict, what was found in a
    sentence, the credential's facts only when verified (otherwise what it claims, marked unverified), then each
    check; a check that did not run reads "not checked"."""
    told = explain(report, document)
    lines = [f"## {VERDICT_MARKS[told.verdict]} {told.headline}", ""]
    lines += [" ".join(md_text(s) for s in told.sentences), ""] if told.sentences else []
    if told.confirmed is not None:
        lines += [confirmed_line(told.confirmed), ""]
    elif claimed_line(told.claimed):
        lines += [claimed_line(told.claimed), ""]
    if told.credential_id and told.confirmed is not None:
        lines += [f"Credential `{md_text(told.credential_id)}` from `{md_text(told.issuer_id or '?')}`.", ""]
    elif told.credential_id:
        said = f"It gives its id as `{md_text(told.credential_id)}`"
        lines += [said + (f" and its issuer as `{md_text(told.issuer_id)}`." if told.issuer_id else "."), ""]
    for finding in told.findings:
        lines.append(f"- **{finding.label}: {OUTCOME_MARKS[finding.outcome]} {finding.outcome}.** "
                     f"{md_text(finding.sentence)}")
    if told.advice:
        lines += ["", md_text(told.advice)]
    return "\n".join(lines)


def _state(issued: IssuedCredential, now: datetime) -> str:
    if issued.revoked:
        return (f"<strong>Revoked</strong> on {_when(issued.revoked_at)}: "
                f"{html.escape(issued.revocation_reason or '')}")
    if issued.expired(now):
        return f"<strong>Expired</strong> on {_when(issued.valid_until)}"
    until = f"until {_when(issued.valid_until)}" if issued.valid_until else "with no expiry date"
    return f"<strong>Valid</strong> {until}"


def render_credential(issued: IssuedCredential, config: IssuanceConfig, now: datetime) -> str:
    """One credential of the learner's listing (HTML): badge, state, page (public or private) and share actions."""
    title = issued.title or credential_facts(issued.document).title or "Micro-credential"
    esc = html.escape
    thumbnail = base64.b64encode(badge_thumbnail(issued.document, THUMBNAIL)).decode("ascii")
    page_url = config.page_url(issued.uuid)
    base = f"/credentials/{issued.uuid}"
    if issued.public:
        linkedin = linkedin_add_url(credential_facts(issued.document), page_url=page_url, credential_id=issued.id)
        page = ("<strong>Page public</strong>: anyone with the link sees it, with a preview when shared.<br>"
                f'<a href="{esc(page_url)}" target="_blank" rel="noopener">Open the credential page</a> · '
                f'<button type="button" class="sw-copy" data-copy="{esc(page_url)}" '
                f'aria-label="Copy link to the page of {esc(title)}">Copy link</button> · '
                f'<a href="{esc(linkedin)}" target="_blank" rel="noopener noreferrer">Add to LinkedIn profile</a>'
                ' <span class="sw-copied" role="status" aria-live="polite"></span>')
    else:
        page = ("<strong>Page private</strong>: only you see this credential here. Make its page public below "
                "to share it, copy its link or add it to your LinkedIn profile.")
    return (
        f'<article class="sw-credential" id="credential-{esc(issued.uuid)}" style="display: flex; flex-wrap: wrap; '
        f'gap: 0 1.25rem; align-items: flex-start; margin-bottom: 1.25rem">'
        f'<img src="data:image/png;base64,{thumbnail}" width="{THUMBNAIL}" height="{THUMBNAIL}" '
        f'alt="Badge: {esc(title)}">'
        f'<div style="flex: 1 1 16rem; min-width: 0; overflow-wrap: anywhere"><h2>{esc(title)}</h2>'
        f"<p>Issued {_when(issued.issued_at)} for submission <code>{esc(issued.submission_id)}</code> · "
        f"{_state(issued, now)}</p>"
        f"<p>{page}</p>"
        f"<p>Credential id <code>{esc(issued.id)}</code> · <a href=\"{base}\">JSON</a> · "
        f"<a href=\"{base}/verify\">check it</a></p></div></article>"
    )


def render_credentials(items: list[IssuedCredential], config: IssuanceConfig, now: datetime) -> str:
    """The learner's credentials (HTML) with their badge, state, page and share actions (files: the download box)."""
    if not items:
        return ("<p>You have no credentials yet. When a submission passes (or an assessor approves it) its credential "
                "is issued automatically and appears here.</p>")
    return "".join(render_credential(issued, config, now) for issued in items)


def credential_choices(items: list[IssuedCredential]) -> list[tuple[str, str]]:
    return [(f"{issued.title} (issued {issued.issued_at:%Y-%m-%d}, {issued.uuid[:8]})", issued.uuid)
            for issued in items]


# ---------------------------------------------------------------- tabs


def _problem(exc: Exception) -> str:
    log.exception("issuance tab action failed")
    return f"Something went wrong ({type(exc).__name__}); please try again. The details are in the server log."


class IssuanceWeb:
    """Event handlers of the issuance tabs; each returns the outputs it is wired to, in order."""

    def __init__(self, service: IssuanceService):
        self.service = service

    def verify(self, upload: str | None, ident: str | None) -> str:
        """Verify an uploaded credential (JSON, baked SVG or PNG) or a stored one by id or link. Output: report."""
        ident = (ident or "").strip()
        try:
            if upload:
                path = Path(upload)
                if path.stat().st_size > MAX_IMAGE_BYTES:
                    return f"That file is too large: a credential file is at most {MAX_IMAGE_BYTES // 1_048_576} MB."
                document = extract_credential(path.read_bytes(), path.name)
            elif ident:
                try:
                    document = self.service.get(ident).document
                except CredentialNotFound:
                    return (f"No credential `{md_text(ident[:100])}` was issued here. Check the id, or upload the "
                            "credential file instead.")
            else:
                return "Upload a credential file (JSON, or a badge image with the credential baked in) or give its id."
            return render_report(self.service.verify(document), document)
        except BakingError as exc:
            return f"That file cannot be checked: {md_text(exc)}."
        except Exception as exc:
            return _problem(exc)

    def my_credentials(self, stored_key: str | None) -> tuple[str, Any]:
        """The credentials of the learner whose key this browser holds. Outputs: listing (HTML), download files."""
        key = parse_learner_key(stored_key)
        if key is None:
            return f"<p>{NO_KEY}</p>", None
        try:
            items = self.service.for_learner(learner_id_for_key(key))
            listing = render_credentials(items, self.service.config, datetime.now(UTC))
            return listing, self._files(items) or None
        except (IssuanceError, OSError) as exc:
            return f"<p>Your credentials cannot be shown: {html.escape(str(exc))}</p>", None
        except Exception as exc:
            return f"<p>{html.escape(_problem(exc))}</p>", None

    def choices(self, stored_key: str | None) -> Any:
        """The picker of the learner's credentials (for the public / private buttons). Output: dropdown."""
        key = parse_learner_key(stored_key)
        try:
            items = self.service.for_learner(learner_id_for_key(key)) if key else []
        except IssuanceError:
            items = []
        options = credential_choices(items)
        return gr.update(choices=options, value=options[0][1] if options else None)

    def set_public(self, stored_key: str | None, credential: str | None, public: bool) -> tuple[str, str, Any]:
        """Make the chosen credential's page public or private, for the learner whose key this browser holds
        (only their own). Outputs: message, listing, download files."""
        key = parse_learner_key(stored_key)
        if key is None:
            return NO_KEY, gr.skip(), gr.skip()
        if not (credential or "").strip():
            return "Choose one of your credentials first (press *Show my credentials*).", gr.skip(), gr.skip()
        try:
            issued = self.service.set_page_public(credential.strip(), learner_id=learner_id_for_key(key),
                                                  public=public)
        except (CredentialNotFound, NotYourCredential):
            return ("That is not one of your credentials, so its page cannot be changed from this browser.",
                    gr.skip(), gr.skip())
        except IssuanceError as exc:
            return f"The page was not changed: {md_text(exc)}", gr.skip(), gr.skip()
        except Exception as exc:
            return _problem(exc), gr.skip(), gr.skip()
        if public:
            message = (f"The page of **{md_text(issued.title)}** is now public: anyone with its link sees it "
                       f"(`{md_text(self.service.config.page_url(issued.uuid))}`).")
        else:
            message = (f"The page of **{md_text(issued.title)}** is now private: its link and badge images answer "
                       "\"this credential page is private\". Verifiers can still check the credential file.")
        listing, files = self.my_credentials(key)
        return message, listing, files

    def make_public(self, stored_key: str | None, credential: str | None) -> tuple[str, str, Any]:
        return self.set_public(stored_key, credential, True)

    def make_private(self, stored_key: str | None, credential: str | None) -> tuple[str, str, Any]:
        return self.set_public(stored_key, credential, False)

    def revoke(self, session: Any, ident: str | None, reason: str | None) -> str:
        """Revoke a credential for the issuer-admin logged in on the Assessor tab (``session``, the grader's
        server-side ``AssessorSession``). The audit names that account. Output: message."""
        if not isinstance(session, AssessorSession) or time.time() >= session.expires_at:
            return "Log in on the *Assessor* tab with an issuer-admin account first."
        username = session.assessor.username
        try:
            if not accounts.is_issuer_admin(username):
                return f"`{md_text(username)}` is not an issuer-admin: only issuer-admins may revoke credentials."
        except accounts.AssessorsFileInvalid as exc:
            return md_text(exc)
        ident = (ident or "").strip()
        if not ident:
            return "Give the id or link of the credential to revoke."
        try:
            revoked = self.service.revoke(ident, reason or "", username, via="web")
        except CredentialNotFound:
            return f"No credential `{md_text(ident[:100])}` was issued here."
        except (AlreadyRevoked, IssuanceError) as exc:
            return f"Not revoked: {md_text(exc)}"
        except Exception as exc:
            return _problem(exc)
        log.info("credential %s revoked on the web by %s", revoked.id, username)
        return (f"Revoked `{md_text(revoked.id)}` ({md_text(revoked.title)}) as **{md_text(username)}**: "
                f"{md_text(revoked.revocation_reason or '')}. Verifiers now see it as not valid.")

    @staticmethod
    def _files(items: list[IssuedCredential]) -> list[str]:
        """The download files in a fresh temporary folder (Gradio copies them into its cache, which the app
        cleans); folders older than ``DOWNLOAD_FOLDER_SECONDS`` from earlier calls are deleted first."""
        cutoff = time.time() - DOWNLOAD_FOLDER_SECONDS
        for old in Path(tempfile.gettempdir()).glob(f"{DOWNLOAD_PREFIX}*"):
            with contextlib.suppress(OSError):
                if old.is_dir() and old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX))
        paths = []
        for issued in items:
            json_path = folder / credential_filename(issued, ".json")
            json_path.write_text(credential_json(issued.document), encoding="utf-8")
            svg_path = folder / credential_filename(issued, ".svg")
            svg_path.write_text(badge_svg(issued.document), encoding="utf-8")
            png_path = folder / credential_filename(issued, ".png")
            png_path.write_bytes(badge_png(issued.document))
            paths += [str(json_path), str(svg_path), str(png_path)]
        return paths


def add_verify_tab(demo: gr.Blocks, service: IssuanceService, web: IssuanceWeb | None = None) -> IssuanceWeb:
    """Add the public "Verify" tab to ``demo`` (call inside ``with demo:``)."""
    web = web or IssuanceWeb(service)
    with gr.Tab("Verify"):
        gr.Markdown("Check a credential: upload its JSON file or badge image (SVG or PNG with the credential "
                    "baked in), or give the id or link of one issued here. The answer is one of four: *valid, "
                    "from a trusted issuer*; *valid signature, issuer not trusted* (its issuer's name is only "
                    "self-asserted); *cannot check*; *not valid* — then every check: format, signature, "
                    "revocation, validity period and whether the issuer is on this app's trust list.")
        with gr.Row():
            upload = gr.File(label="Credential file (.json, .svg, .png)", file_count="single", type="filepath",
                             file_types=[".json", ".svg", ".png"])
            ident = gr.Textbox(label="…or the credential id or link", max_lines=1,
                               placeholder="urn:uuid:… or https://…/credentials/…")
        check = gr.Button("Verify", variant="primary")
        report = gr.Markdown("", latex_delimiters=[])
    check.click(web.verify, inputs=[upload, ident], outputs=[report], api_name="verify_credential")
    ident.submit(web.verify, inputs=[upload, ident], outputs=[report], api_visibility="private")
    return web


def add_credentials_tab(demo: gr.Blocks, service: IssuanceService, learner_key: gr.components.Component,
                        web: IssuanceWeb | None = None) -> IssuanceWeb:
    """Add the learner's "My credentials" tab; ``learner_key`` is the browser-held learner key of the grader's
    "Submit evidence" tab (:mod:`stackwise.web.grader_tabs`)."""
    web = web or IssuanceWeb(service)
    with gr.Tab("My credentials") as tab:
        gr.Markdown("Credentials issued for your passed or approved submissions (found with this browser's learner "
                    "key, shown under *Submit evidence*). Each has a page you can share; it is **private** until you "
                    "make it public. Download the credential file (JSON) or a badge image with the credential "
                    "inside; anyone can check them on the *Verify* tab.")
        refresh = gr.Button("Show my credentials", variant="primary")
        listing = gr.HTML("", elem_id="my-credentials", js_on_load=COPY_JS, padding=False)
        with gr.Group():
            picker = gr.Dropdown(choices=[], value=None, label="Credential page to change", elem_id="page-picker",
                                 allow_custom_value=True)  # the service checks it is the learner's own
            with gr.Row():
                public = gr.Button("Make page public", elem_id="make-page-public")
                private = gr.Button("Make page private", elem_id="make-page-private")
        message = gr.Markdown("", latex_delimiters=[], elem_id="page-message")
        downloads = gr.File(label="Downloads (JSON, SVG and PNG per credential)", file_count="multiple",
                            interactive=False)
    refresh.click(web.my_credentials, inputs=[learner_key], outputs=[listing, downloads],
                  api_name="my_credentials").then(web.choices, inputs=[learner_key], outputs=[picker],
                                                  api_visibility="private")
    tab.select(web.my_credentials, inputs=[learner_key], outputs=[listing, downloads],
               api_visibility="private").then(web.choices, inputs=[learner_key], outputs=[picker],
                                              api_visibility="private")
    public.click(web.make_public, inputs=[learner_key, picker], outputs=[message, listing, downloads],
                 api_name="make_page_public")
    private.click(web.make_private, inputs=[learner_key, picker], outputs=[message, listing, downloads],
                  api_name="make_page_private")
    return web


def add_revoke_tab(demo: gr.Blocks, service: IssuanceService, assessor_session: gr.components.Component,
                   web: IssuanceWeb | None = None) -> IssuanceWeb:
    """The "Revoke" tab for an issuer-admin; ``assessor_session`` is the Assessor tab's server-side session
    state (:mod:`stackwise.web.grader_tabs`), so the log-in there is the one that counts here."""
    web = web or IssuanceWeb(service)
    with gr.Tab("Revoke"):
        gr.Markdown("Revoke a credential issued here (issuer-admins only: log in on the *Assessor* tab first). "
                    "Its status-list bit is set and the reason and your account go into the audit log.")
        ident = gr.Textbox(label="Credential id or link", max_lines=1, placeholder="urn:uuid:… or https://…")
        reason = gr.Textbox(label="Reason (kept in the audit log)", max_lines=3)
        button = gr.Button("Revoke", variant="stop")
        message = gr.Markdown("", latex_delimiters=[])
    button.click(web.revoke, inputs=[assessor_session, ident, reason], outputs=[message],
                 api_name="revoke_credential")
    return web


def add_issuance_tabs(demo: gr.Blocks, service: IssuanceService,
                      learner_key: gr.components.Component | None = None,
                      assessor_session: gr.components.Component | None = None) -> IssuanceWeb:
    """"My credentials" (when a learner key component is given), "Verify", and "Revoke" (when the Assessor
    tab's session state is given); call inside ``with demo:``."""
    web = IssuanceWeb(service)
    if learner_key is not None:
        add_credentials_tab(demo, service, learner_key, web)
    add_verify_tab(demo, service, web)
    if assessor_session is not None:
        add_revoke_tab(demo, service, assessor_session, web)
    return web

