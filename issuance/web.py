"""Issuance on the web: the HTTP routes verifiers resolve, the learner's "My credentials" tab and the public
"Verify" tab. A thin adapter over :class:`issuance.service.IssuanceService`.

Routes (:func:`issuance_routes`, passed to the Gradio app as FastAPI routes by ``assistant.web.launch``):

* ``GET /.well-known/did.json`` (and ``/did.json``) - the issuer's DID document with its Multikey;
* ``GET /issuer`` - the issuer's OB 3.0 ``Profile``;
* ``GET /status/{n}`` - the signed ``BitstringStatusListCredential`` of status list ``n``;
* ``GET /credentials/{id}`` - an issued credential's JSON (``id``: its UUID; ``urn:uuid:`` is accepted);
  ``/credentials/{id}/badge.svg`` and ``/badge.png`` - the badge with the credential baked in;
  ``/credentials/{id}/verify`` - the verification report (JSON);
* ``POST /verify`` - verify a credential sent as the JSON body (report as JSON);
* ``GET /ns/eu-mc/v1`` - the JSON-LD context of our EU micro-credential terms.

Tabs (inside ``with gr.Blocks():``): :func:`add_verify_tab` (public: upload a file or give an id, every check in
plain words) and :func:`add_credentials_tab` (the learner's own credentials, found with the learner key of the
"Submit evidence" tab: JSON, SVG and PNG downloads). API endpoints for ``gradio_client``: ``/verify_credential``
(file, id or link), ``/my_credentials`` (learner key).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from issuance.baking import MAX_IMAGE_BYTES, BakingError, badge_png, badge_svg, credential_json, extract_credential
from issuance.credential import IssuanceError
from issuance.loader import STACKWISE_EU_MC_V1, context_document
from issuance.service import CredentialNotFound, IssuanceService, IssuedCredential, StatusListNotFound
from issuance.verify import VerificationReport
from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402

log = logging.getLogger(__name__)

JSON_LD = "application/ld+json"
MAX_BODY_BYTES = 1024 * 1024
DOWNLOAD_PREFIX = "stackwise-credentials-"  # temporary folders of "My credentials" downloads
DOWNLOAD_FOLDER_SECONDS = 10 * 60
MAX_LIST_DIGITS = 9  # status list numbers fit SQLite's integers with room to spare; longer ones are no list
CHECK_LABELS = {
    "schema": "Format (Open Badges 3.0 schema)",
    "proof": "Signature by the issuer",
    "status": "Revocation status",
    "validity": "Validity period",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$!])")


def md_text(text: Any) -> str:
    """Untrusted text as literal markdown on one line (credentials uploaded for checking are untrusted)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return escaped.replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- HTTP routes


def _json(body: Any, media_type: str = "application/json", status_code: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=2), status_code=status_code, media_type=media_type,
                    headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"})


def _not_found(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=404)


def _filename(issued: IssuedCredential, suffix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", issued.title.lower()).strip("-")[:40] or "credential"
    return f"{slug}-{issued.uuid[:8]}{suffix}"


def issuance_routes(service: IssuanceService) -> list[BaseRoute]:
    """The issuance routes (see module docstring) for the app to serve ahead of Gradio's own."""

    def did_document() -> Response:
        return _json(service.did_document())

    def issuer_profile() -> Response:
        return _json(service.issuer_profile(), JSON_LD)

    def status_list(number: str) -> Response:
        if not number.isascii() or not number.isdigit() or len(number) > MAX_LIST_DIGITS:
            return _not_found(f"no status list {number[:40]!r}: a status list number has 1 to {MAX_LIST_DIGITS} digits")
        try:
            return _json(service.status_list_credential(int(number)))
        except StatusListNotFound as exc:
            return _not_found(str(exc))

    def _issued(ident: str) -> IssuedCredential | Response:
        try:
            return service.get(ident.removesuffix(".json"))
        except CredentialNotFound:
            return _not_found("no such credential")

    def credential(ident: str) -> Response:
        issued = _issued(ident)
        return issued if isinstance(issued, Response) else _json(issued.document)

    def badge(ident: str, kind: str) -> Response:
        issued = _issued(ident)
        if isinstance(issued, Response):
            return issued
        if kind == "svg":
            body, media = badge_svg(issued.document).encode("utf-8"), "image/svg+xml"
        else:
            body, media = badge_png(issued.document), "image/png"
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'inline; filename="{_filename(issued, "." + kind)}"'})

    def badge_svg_route(ident: str) -> Response:
        return badge(ident, "svg")

    def badge_png_route(ident: str) -> Response:
        return badge(ident, "png")

    def verify_stored(ident: str) -> Response:
        issued = _issued(ident)
        return issued if isinstance(issued, Response) else _json(service.verify(issued.document).model_dump())

    async def verify_posted(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _json({"error": f"the credential is larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json({"error": "the request body is not JSON"}, status_code=400)
        except RecursionError:
            return _json({"error": "the JSON is nested too deeply to be a credential"}, status_code=400)
        try:
            return _json(service.verify(document).model_dump())
        except RecursionError:
            return _json({"error": "the JSON is nested too deeply to be a credential"}, status_code=400)

    def eu_context() -> Response:
        return _json(context_document(STACKWISE_EU_MC_V1), JSON_LD)

    get = ["GET"]
    return [
        APIRoute("/.well-known/did.json", did_document, methods=get, include_in_schema=False),
        APIRoute("/did.json", did_document, methods=get, include_in_schema=False),
        APIRoute("/issuer", issuer_profile, methods=get, include_in_schema=False),
        APIRoute("/status/{number}", status_list, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/badge.svg", badge_svg_route, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/badge.png", badge_png_route, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/verify", verify_stored, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}", credential, methods=get, include_in_schema=False),
        APIRoute("/verify", verify_posted, methods=["POST"], include_in_schema=False),
        APIRoute("/ns/eu-mc/v1", eu_context, methods=get, include_in_schema=False),
    ]


# ---------------------------------------------------------------- rendering


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _names(document: dict[str, Any]) -> tuple[str, str, str]:
    """(title, awarding body, learner name) as the credential states them ("" when absent)."""
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    achievement = subject.get("achievement") if isinstance(subject.get("achievement"), dict) else {}
    title = str(achievement.get("name") or document.get("name") or "")
    issuer = document.get("issuer")
    issuer_name = str(issuer.get("name", "")) if isinstance(issuer, dict) else ""
    identifiers = subject.get("identifier") if isinstance(subject.get("identifier"), list) else []
    learner = next((str(i.get("identityHash", "")) for i in identifiers
                    if isinstance(i, dict) and i.get("identityType") == "name" and not i.get("hashed")), "")
    return title, issuer_name, learner


def render_report(report: VerificationReport, document: Any) -> str:
    """A verification report in plain words: the verdict, what the credential says, then each check."""
    lines = ["## ✅ This credential is valid" if report.ok else "## ❌ This credential is NOT valid", ""]
    if isinstance(document, dict):
        title, issuer_name, learner = _names(document)
        said = f"**{md_text(title or 'A credential')}**"
        if issuer_name:
            said += f", awarded by {md_text(issuer_name)}"
        if learner:
            said += f" to {md_text(learner)}"
        if isinstance(document.get("validFrom"), str):
            said += f", issued {md_text(document['validFrom'][:10])}"
        lines += [said + ".", ""]
        if report.credential_id:
            lines += [f"Credential `{md_text(report.credential_id)}` from `{md_text(report.issuer or '?')}`.", ""]
    for check in report.checks:
        label = CHECK_LABELS.get(check.name, check.name)
        verdict = "✅ passed" if check.ok else "❌ failed"
        lines.append(f"- **{label}: {verdict}.** {md_text(check.detail)}")
    if not report.ok:
        failed = ", ".join(CHECK_LABELS.get(c.name, c.name).lower() for c in report.failures)
        lines += ["", f"Do not rely on this credential: the {failed} check(s) failed."]
    return "\n".join(lines)


def render_credentials(items: list[IssuedCredential], now: datetime) -> str:
    """The learner's credentials with their state and links (the files are in the download box)."""
    if not items:
        return ("You have no credentials yet. When a submission passes (or an assessor approves it) its credential "
                "is issued automatically and appears here.")
    parts = []
    for issued in items:
        if issued.revoked:
            state = f"❌ **Revoked** on {_when(issued.revoked_at)}: {md_text(issued.revocation_reason or '')}"
        elif issued.expired(now):
            state = f"⌛ **Expired** on {_when(issued.valid_until)}"
        else:
            until = f"until {_when(issued.valid_until)}" if issued.valid_until else "with no expiry date"
            state = f"✅ **Valid** {until}"
        base = f"/credentials/{issued.uuid}"
        parts.append("\n".join([
            f"#### {md_text(issued.title)}",
            f"Issued {_when(issued.issued_at)} for submission `{issued.submission_id}` · {state}",
            "",
            f"Credential id `{issued.id}` · [JSON]({base}) · [badge (SVG)]({base}/badge.svg) · "
            f"[badge (PNG)]({base}/badge.png) · [check it]({base}/verify)",
        ]))
    return "\n\n---\n\n".join(parts)


# ---------------------------------------------------------------- tabs


def _problem(exc: Exception) -> str:
    log.exception("issuance web action failed")
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
        """The credentials of the learner whose key this browser holds. Outputs: listing, download files."""
        from grader.web import learner_id_for_key, parse_learner_key

        key = parse_learner_key(stored_key)
        if key is None:
            return "This browser has no learner key yet; open *Submit evidence* first (or reload the page).", None
        try:
            items = self.service.for_learner(learner_id_for_key(key))
            listing = render_credentials(items, datetime.now(UTC))
            return listing, self._files(items) or None
        except (IssuanceError, OSError) as exc:
            return f"Your credentials cannot be shown: {md_text(exc)}", None
        except Exception as exc:
            return _problem(exc), None

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
            json_path = folder / _filename(issued, ".json")
            json_path.write_text(credential_json(issued.document), encoding="utf-8")
            svg_path = folder / _filename(issued, ".svg")
            svg_path.write_text(badge_svg(issued.document), encoding="utf-8")
            png_path = folder / _filename(issued, ".png")
            png_path.write_bytes(badge_png(issued.document))
            paths += [str(json_path), str(svg_path), str(png_path)]
        return paths


def add_verify_tab(demo: gr.Blocks, service: IssuanceService, web: IssuanceWeb | None = None) -> IssuanceWeb:
    """Add the public "Verify" tab to ``demo`` (call inside ``with demo:``)."""
    web = web or IssuanceWeb(service)
    with gr.Tab("Verify"):
        gr.Markdown("Check a credential issued here: upload its JSON file or badge image (SVG or PNG with the "
                    "credential baked in), or give its id or link. Every check is shown: format, signature, "
                    "revocation and validity period.")
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
    "Submit evidence" tab (:mod:`grader.web`)."""
    web = web or IssuanceWeb(service)
    with gr.Tab("My credentials") as tab:
        gr.Markdown("Credentials issued for your passed or approved submissions (found with this browser's learner "
                    "key, shown under *Submit evidence*). Download the credential file (JSON) or a badge image "
                    "with the credential inside; anyone can check them on the *Verify* tab.")
        refresh = gr.Button("Show my credentials", variant="primary")
        listing = gr.Markdown("", latex_delimiters=[])
        downloads = gr.File(label="Downloads (JSON, SVG and PNG per credential)", file_count="multiple",
                            interactive=False)
    refresh.click(web.my_credentials, inputs=[learner_key], outputs=[listing, downloads], api_name="my_credentials")
    tab.select(web.my_credentials, inputs=[learner_key], outputs=[listing, downloads], api_visibility="private")
    return web


def add_issuance_tabs(demo: gr.Blocks, service: IssuanceService,
                      learner_key: gr.components.Component | None = None) -> IssuanceWeb:
    """"My credentials" (when a learner key component is given) and "Verify"; call inside ``with demo:``."""
    web = IssuanceWeb(service)
    if learner_key is not None:
        add_credentials_tab(demo, service, learner_key, web)
    add_verify_tab(demo, service, web)
    return web
