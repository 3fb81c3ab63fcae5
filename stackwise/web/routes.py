"""The issuance HTTP routes verifiers resolve (FastAPI routes the Gradio app serves ahead of its own).

A thin adapter over :class:`issuance.service.IssuanceService`; :func:`stackwise.web.shell.launch` passes
:func:`issuance_routes` to the app:

* ``GET /.well-known/did.json`` (and ``/did.json``) - the instance's DID document with its Multikey;
* ``GET /issuer`` - the instance's OB 3.0 ``Profile`` (the platform; it issues nothing new itself);
* ``GET /issuers`` - the awarding bodies' issuers (provider, DID, name, profile URL);
* ``GET /issuers/{provider}`` - an awarding body's ``Profile``, named as its credentials;
  ``/issuers/{provider}/did.json`` - its DID document (``did:web:<host>:issuers:<provider>``);
  ``/issuers/{provider}/status/{n}`` - its signed status list ``n``;
* ``GET /status/{n}`` - the instance DID's status list ``n`` (credentials issued before per-body issuers);
* ``GET /credentials/{id}`` - an issued credential's JSON (``id``: its UUID; ``urn:uuid:`` is accepted), always
  JSON, whatever the client accepts (verifiers and link checkers rely on it); ``/credentials/{id}/verify`` - the
  verification report (JSON). Both are served whether or not the learner made the page public;
* ``GET /credentials/{id}/page`` - the credential's public HTML page (:mod:`stackwise.web.credential_page`: the
  badge, the verification result computed live, title, awarding body, date, level / ECTS, "Add to LinkedIn
  profile", "Copy link"; Open Graph and Twitter card tags for link previews). A separate URL rather than content
  negotiation on ``/credentials/{id}``, because link-preview crawlers do not reliably send ``Accept: text/html``;
  ``/credentials/{id}/badge.svg`` and ``/badge.png`` - the badge showing the credential, with it baked in.
  The page and the badge images are private until the learner makes them public (My credentials tab;
  :mod:`issuance.visibility`): until then they answer 404 "This credential page is private";
* ``POST /verify`` - verify a credential sent as the JSON body (report as JSON);
* ``GET /ns/eu-mc/v1`` - the JSON-LD context of our EU micro-credential terms.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from issuance.api import (
    STACKWISE_EU_MC_V1,
    CredentialNotFound,
    IssuanceService,
    IssuedCredential,
    IssuerNotFound,
    StatusListNotFound,
    badge_png,
    badge_svg,
    context_document,
    shape_problem,
)
from stackwise.web.credential_page import render_page, render_private

JSON_LD = "application/ld+json"
MAX_BODY_BYTES = 1024 * 1024
_NUMBER = re.compile(r"^\d{1,8}$")


# ---------------------------------------------------------------- HTTP routes


def _json(body: Any, media_type: str = "application/json", status_code: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=2), status_code=status_code, media_type=media_type,
                    headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"})


def _not_found(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=404)


def _private(service: IssuanceService, *, missing: bool = False) -> Response:
    return HTMLResponse(render_private(service.config.issuer_name, missing=missing), status_code=404,
                        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


def credential_filename(issued: IssuedCredential, suffix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", issued.title.lower()).strip("-")[:40] or "credential"
    return f"{slug}-{issued.uuid[:8]}{suffix}"


def issuance_routes(service: IssuanceService) -> list[BaseRoute]:
    """The issuance routes (see module docstring) for the app to serve ahead of Gradio's own."""

    def did_document() -> Response:
        return _json(service.did_document())

    def issuer_profile() -> Response:
        return _json(service.issuer_profile(), JSON_LD)

    def issuers() -> Response:
        return _json(service.issuers())

    def provider_profile(provider: str) -> Response:
        try:
            return _json(service.issuer_profile(provider), JSON_LD)
        except IssuerNotFound as exc:
            return _not_found(str(exc))

    def provider_did(provider: str) -> Response:
        try:
            return _json(service.did_document(provider))
        except IssuerNotFound as exc:
            return _not_found(str(exc))

    def _status(number: str, provider: str | None) -> Response:
        if not _NUMBER.match(number):
            return _not_found("a status list number is a small whole number")
        try:
            return _json(service.status_list_credential(int(number), provider))
        except (StatusListNotFound, IssuerNotFound) as exc:
            return _not_found(str(exc))

    def status_list(number: str) -> Response:
        return _status(number, None)

    def provider_status_list(provider: str, number: str) -> Response:
        return _status(number, provider)

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
        if not issued.public:
            return JSONResponse({"error": "this credential page is private"}, status_code=404,
                                headers={"Cache-Control": "no-store"})
        if kind == "svg":
            body, media = badge_svg(issued.document).encode("utf-8"), "image/svg+xml"
        else:
            body, media = badge_png(issued.document), "image/png"
        filename = credential_filename(issued, "." + kind)
        return Response(body, media_type=media, headers={"Content-Disposition": f'inline; filename="{filename}"',
                                                         "Cache-Control": "no-cache"})

    def page(ident: str) -> Response:
        try:
            issued = service.get(ident)
        except CredentialNotFound:
            return _private(service, missing=True)
        if not issued.public:
            return _private(service)
        return HTMLResponse(render_page(service, issued), headers={"Cache-Control": "no-cache"})

    def badge_svg_route(ident: str) -> Response:
        return badge(ident, "svg")

    def badge_png_route(ident: str) -> Response:
        return badge(ident, "png")

    def verify_stored(ident: str) -> Response:
        issued = _issued(ident)
        if isinstance(issued, Response):
            return issued
        return _json(service.verify(issued.document).model_dump(mode="json"))

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
        problem = shape_problem(document)
        if problem is not None:
            return _json({"error": problem}, status_code=400)
        return _json(service.verify(document).model_dump(mode="json"))

    def eu_context() -> Response:
        return _json(context_document(STACKWISE_EU_MC_V1), JSON_LD)

    get = ["GET"]
    return [
        APIRoute("/.well-known/did.json", did_document, methods=get, include_in_schema=False),
        APIRoute("/did.json", did_document, methods=get, include_in_schema=False),
        APIRoute("/issuer", issuer_profile, methods=get, include_in_schema=False),
        APIRoute("/issuers", issuers, methods=get, include_in_schema=False),
        APIRoute("/issuers/{provider}", provider_profile, methods=get, include_in_schema=False),
        APIRoute("/issuers/{provider}/did.json", provider_did, methods=get, include_in_schema=False),
        APIRoute("/issuers/{provider}/status/{number}", provider_status_list, methods=get, include_in_schema=False),
        APIRoute("/status/{number}", status_list, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/badge.svg", badge_svg_route, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/badge.png", badge_png_route, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/verify", verify_stored, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}/page", page, methods=get, include_in_schema=False),
        APIRoute("/credentials/{ident}", credential, methods=get, include_in_schema=False),
        APIRoute("/verify", verify_posted, methods=["POST"], include_in_schema=False),
        APIRoute("/ns/eu-mc/v1", eu_context, methods=get, include_in_schema=False),
    ]

