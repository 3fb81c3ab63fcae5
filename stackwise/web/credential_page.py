"""The public credential page: an HTML page a learner shares (``GET /credentials/{id}/page``, see
:mod:`stackwise.web.routes`).

It shows the badge, the verification result computed live (:func:`issuance.api.explain`: valid, revoked,
expired, ...), the credential's facts (title, awarding body, date, EQF level, ECTS; marked "not confirmed" unless
the verdict is *valid, from a trusted issuer*), "Add to LinkedIn profile" and "Copy link", and the downloads.
Open Graph and Twitter card tags make link previews show the title and the badge PNG. A page the learner has not
made public renders :func:`render_private` instead (answered with 404). Jinja2 templates with autoescape:
``templates/credential_page.html.j2``, ``credential_private.html.j2`` (both extend ``credential_base.html.j2``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from issuance.api import IssuanceService, IssuedCredential, explain, linkedin_add_url

TEMPLATES = Path(__file__).parent / "templates"
BADGE_SIZE = 600  # issuance.badge_image.SIZE: the PNG's pixels


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _day(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%B %Y}" if moment else ""


def page_context(service: IssuanceService, issued: IssuedCredential, now: datetime | None = None) -> dict:
    """What the page shows (the template's variables); the verification runs now."""
    now = now or datetime.now(UTC)
    report = service.verify(issued.document, now=now)
    told = explain(report, issued.document)
    facts = told.confirmed or told.claimed
    config = service.config
    page_url = config.page_url(issued.uuid)
    title = facts.title or issued.title or "Micro-credential"
    summary = " · ".join(p for p in (facts.issuer_name, facts.level_text,
                                     f"issued {facts.issued_text}" if facts.issued_text else "") if p)
    description = f"{summary}. {told.headline}." if summary else f"{told.headline}."
    return {
        "site_name": config.issuer_name,
        "title": title,
        "description": description,
        "page_url": page_url,
        "json_url": config.credential_url(issued.uuid),
        "image_url": config.badge_url(issued.uuid, "png"),
        "image_size": BADGE_SIZE,
        "verdict": told.verdict.value,
        "headline": told.headline,
        "sentences": told.sentences,
        "advice": told.advice,
        "findings": told.findings,
        "checked_at": now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "confirmed": told.confirmed is not None,
        "awarding_body": facts.issuer_name,
        "learner_name": facts.learner_name,
        "issued": facts.issued_text,
        "eqf_level": facts.eqf_level,
        "ects": f"{facts.ects:g}" if facts.ects is not None else "",
        "valid_until": _day(issued.valid_until),
        "credential_id": issued.id,
        "linkedin_url": linkedin_add_url(facts, page_url=page_url, credential_id=issued.id),
    }


def render_page(service: IssuanceService, issued: IssuedCredential, now: datetime | None = None) -> str:
    """The public page of ``issued`` (call only for a page its learner made public)."""
    return _environment().get_template("credential_page.html.j2").render(page_context(service, issued, now))


PRIVATE = "This credential page is private"
MISSING = "No such credential"


def render_private(site_name: str, *, missing: bool = False) -> str:
    """The page answered (with 404) for a credential whose page is private (or, ``missing``, that does not exist)."""
    return _environment().get_template("credential_private.html.j2").render(
        site_name=site_name, heading=MISSING if missing else PRIVATE, missing=missing)
