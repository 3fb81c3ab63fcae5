"""What a credential says about itself, read once for the badge images, the public page and the share links.

:func:`credential_facts` reads the title, awarding body, issue date, EQF level, ECTS and expiry a credential
*claims* (nothing here is verified: callers show these as facts only next to a verification verdict that
confirms them, see :mod:`issuance.explain`). :func:`linkedin_add_url` builds LinkedIn's "Add licence or
certification" link (``https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

LINKEDIN_ADD_URL = "https://www.linkedin.com/profile/add"


@dataclass(frozen=True)
class CredentialFacts:
    """What a credential claims; empty strings / ``None`` where it says nothing (or nothing usable)."""

    title: str
    issuer_name: str
    issued: date | None
    valid_until: date | None
    eqf_level: int | None
    ects: float | None
    learner_name: str = ""

    @property
    def issued_text(self) -> str:
        """``"12 March 2026"`` (or ``""``)."""
        return f"{self.issued.day} {self.issued:%B %Y}" if self.issued else ""

    @property
    def level_text(self) -> str:
        """``"EQF level 6 · 5 ECTS"``, either part alone, or ``""``."""
        parts = []
        if self.eqf_level is not None:
            parts.append(f"EQF level {self.eqf_level}")
        if self.ects is not None:
            parts.append(f"{self.ects:g} ECTS")
        return " · ".join(parts)


def _text(value: Any, limit: int = 300) -> str:
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def credential_facts(document: Mapping[str, Any]) -> CredentialFacts:
    """The facts a credential document claims (see module docstring); never raises on odd input."""
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    issuer = document.get("issuer")
    issuer_name = _text(issuer.get("name")) if isinstance(issuer, Mapping) else ""
    ects = achievement.get("creditsAvailable")
    eqf = achievement.get("eqfLevel")
    identifiers = subject.get("identifier") if isinstance(subject.get("identifier"), list) else []
    learner = next((_text(i.get("identityHash")) for i in identifiers
                    if isinstance(i, Mapping) and i.get("identityType") == "name" and not i.get("hashed")), "")
    return CredentialFacts(
        title=_text(achievement.get("name")) or _text(document.get("name")),
        issuer_name=issuer_name,
        issued=_date(document.get("validFrom")),
        valid_until=_date(document.get("validUntil")),
        eqf_level=eqf if isinstance(eqf, int) and not isinstance(eqf, bool) and 1 <= eqf <= 8 else None,
        ects=float(ects) if isinstance(ects, int | float) and not isinstance(ects, bool) and ects >= 0 else None,
        learner_name=learner,
    )


def linkedin_add_url(facts: CredentialFacts, *, page_url: str, credential_id: str) -> str:
    """LinkedIn's "Add to profile" link for a licence or certification, prefilled with the credential's name,
    awarding body, issue (and expiry) month, the public page as ``certUrl`` and the credential id as ``certId``."""
    params: dict[str, str] = {"startTask": "CERTIFICATION_NAME", "name": facts.title or "Micro-credential"}
    if facts.issuer_name:
        params["organizationName"] = facts.issuer_name
    if facts.issued:
        params["issueYear"], params["issueMonth"] = str(facts.issued.year), str(facts.issued.month)
    if facts.valid_until:
        params["expirationYear"] = str(facts.valid_until.year)
        params["expirationMonth"] = str(facts.valid_until.month)
    params["certUrl"] = page_url
    params["certId"] = credential_id
    return f"{LINKEDIN_ADD_URL}?{urlencode(params)}"
