"""Verify an Open Badges 3.0 credential and report each check in plain words.

:func:`verify_credential` runs four checks and reports every one (it does not stop at the first failure):

* ``schema``   - the official OB 3.0 ``AchievementCredential`` JSON Schema (Draft 2019-09);
* ``proof``    - the ``eddsa-rdfc-2022`` signature(s), made by a key the issuer controls;
* ``status``   - the Bitstring Status List entry, if any: is the credential revoked (or suspended)?
* ``validity`` - ``validFrom`` / ``validUntil`` against ``now``: not yet valid, or expired?

Nothing is fetched here: the caller passes ``resolve_key`` (verification method -> key) and, for status,
``fetch_status_list`` (URL -> status list credential).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator
from pydantic import BaseModel

from issuance.dataintegrity import KeyResolver, parse_datetime, verify_proof
from issuance.loader import OfflineDocumentLoader
from issuance.status import StatusListError, check_status, parse_entry

#: ``fetch_status_list(url)`` -> the (signed) status list credential, or ``None`` when it cannot be had.
StatusListFetcher = Callable[[str], "Mapping[str, Any] | None"]

SCHEMA_FILE = "ob_v3p0_achievementcredential.json"


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class VerificationReport(BaseModel):
    """``ok`` only when every check passed. ``checks`` are in the order schema, proof, status, validity."""

    ok: bool
    credential_id: str | None = None
    issuer: str | None = None
    checks: list[Check]

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def failures(self) -> list[Check]:
        return [item for item in self.checks if not item.ok]

    def summary(self) -> str:
        head = "VALID" if self.ok else "NOT VALID"
        lines = [f"{head}: credential {self.credential_id or '(no id)'} from {self.issuer or '(no issuer)'}"]
        lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


# ---------------------------------------------------------------- schema


@cache
def ob3_schema() -> dict[str, Any]:
    """The official OB 3.0 AchievementCredential JSON Schema shipped in ``issuance/schemas``."""
    text = resources.files("issuance.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator() -> Draft201909Validator:
    schema = ob3_schema()
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def _location(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the credential)"


def schema_errors(document: Any, *, limit: int = 10) -> list[str]:
    """Plain-words OB 3.0 schema violations (empty list = valid)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    messages: list[str] = []
    for error in errors[:limit]:
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        messages.append(f"{_location(error.absolute_path)}: {message}")
    if len(errors) > limit:
        messages.append(f"... and {len(errors) - limit} more")
    return messages


# ---------------------------------------------------------------- checks


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, str):
        return issuer
    if isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str):
        return issuer["id"]
    return None


def _check_schema(document: Mapping[str, Any]) -> Check:
    errors = schema_errors(document)
    if errors:
        return Check(name="schema", ok=False, detail="does not match the OB 3.0 schema: " + "; ".join(errors))
    return Check(name="schema", ok=True, detail="matches the Open Badges 3.0 AchievementCredential schema")


def _check_proof(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    loader: OfflineDocumentLoader | None,
    now: datetime,
    what: str = "credential",
) -> Check:
    result = verify_proof(document, resolve_key, loader=loader, now=now)
    if not result.ok:
        return Check(name="proof", ok=False, detail=f"the {what}'s signature is not valid: {result.reason}")
    issuer = _issuer_id(document)
    if issuer is None:
        return Check(name="proof", ok=False, detail=f"the {what} names no issuer, so no signer can be trusted")
    for method, controller in zip(result.verification_methods, result.controllers, strict=True):
        owner = controller or method.partition("#")[0]
        if owner != issuer:
            return Check(
                name="proof",
                ok=False,
                detail=f"signed with key {method} controlled by {owner}, not by the issuer {issuer}",
            )
    return Check(name="proof", ok=True, detail=f"signed by the issuer {issuer}: {result.reason}")


def _check_validity(document: Mapping[str, Any], now: datetime) -> Check:
    try:
        valid_from = parse_datetime(document.get("validFrom"))
    except ValueError as exc:
        return Check(name="validity", ok=False, detail=f"validFrom: {exc}")
    valid_until = None
    if "validUntil" in document:
        try:
            valid_until = parse_datetime(document["validUntil"])
        except ValueError as exc:
            return Check(name="validity", ok=False, detail=f"validUntil: {exc}")
    if valid_until is not None and valid_until < valid_from:
        return Check(name="validity", ok=False, detail="validUntil is before validFrom")
    if now < valid_from:
        return Check(name="validity", ok=False, detail=f"not yet valid: valid from {document['validFrom']}")
    if valid_until is not None and now >= valid_until:
        return Check(name="validity", ok=False, detail=f"expired on {document['validUntil']}")
    until = f"until {document['validUntil']}" if valid_until else "with no expiry date"
    return Check(name="validity", ok=True, detail=f"valid from {document['validFrom']} {until}")


def _check_status(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    fetch_status_list: StatusListFetcher | None,
    require_status: bool,
    loader: OfflineDocumentLoader | None,
    now: datetime,
) -> Check:
    entries = document.get("credentialStatus")
    if entries is None:
        return Check(name="status", ok=True, detail="no status entry: the issuer cannot revoke this credential")
    details: list[str] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        try:
            url, _index, purpose = parse_entry(entry)
        except StatusListError as exc:
            return Check(name="status", ok=False, detail=f"malformed status entry: {exc}")
        if fetch_status_list is None:
            if require_status:
                return Check(
                    name="status", ok=False, detail=f"could not check revocation: no way to fetch status list {url}"
                )
            details.append(f"{purpose} not checked (status list {url} was not fetched)")
            continue
        try:
            list_credential = fetch_status_list(url)
        except Exception as exc:  # a fetcher failure is a failed check, never a crash
            return Check(name="status", ok=False, detail=f"could not fetch status list {url}: {exc}")
        if list_credential is None:
            return Check(name="status", ok=False, detail=f"could not fetch status list {url}")
        list_proof = _check_proof(list_credential, resolve_key, loader, now, what="status list")
        if not list_proof.ok:
            return Check(name="status", ok=False, detail=f"status list {url} is not trustworthy: {list_proof.detail}")
        if _issuer_id(list_credential) != _issuer_id(document):
            return Check(name="status", ok=False, detail=f"status list {url} was not issued by the credential's issuer")
        list_validity = _check_validity(list_credential, now)
        if not list_validity.ok:
            return Check(name="status", ok=False, detail=f"status list {url} is not valid now: {list_validity.detail}")
        try:
            result = check_status(entry, list_credential)
        except StatusListError as exc:
            return Check(name="status", ok=False, detail=f"status list {url}: {exc}")
        if result.is_set:
            word = {"revocation": "revoked", "suspension": "suspended"}.get(purpose, f"flagged for {purpose}")
            return Check(
                name="status", ok=False, detail=f"{word}: the issuer has {word} this credential ({result.detail})"
            )
        details.append(f"not {'revoked' if purpose == 'revocation' else purpose + ' flagged'} ({result.detail})")
    return Check(name="status", ok=True, detail="; ".join(details))


def verify_credential(
    document: Any,
    *,
    resolve_key: KeyResolver,
    fetch_status_list: StatusListFetcher | None = None,
    now: datetime | None = None,
    require_status: bool = True,
    loader: OfflineDocumentLoader | None = None,
) -> VerificationReport:
    """Verify an OB 3.0 credential: schema, proof (by the issuer's key), status, validity window.

    ``require_status`` (default): a credential with a status entry fails the status check when no
    ``fetch_status_list`` is given; with ``False`` that check passes as "not checked".
    """
    if not isinstance(document, Mapping):
        failed = Check(name="schema", ok=False, detail="the credential is not a JSON object")
        return VerificationReport(ok=False, checks=[failed])
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checks = [
        _check_schema(document),
        _check_proof(document, resolve_key, loader, now),
        _check_status(document, resolve_key, fetch_status_list, require_status, loader, now),
        _check_validity(document, now),
    ]
    credential_id = document.get("id") if isinstance(document.get("id"), str) else None
    return VerificationReport(
        ok=all(c.ok for c in checks), credential_id=credential_id, issuer=_issuer_id(document), checks=checks
    )
