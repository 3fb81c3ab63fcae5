"""Verify an Open Badges 3.0 credential and report each check in plain words.

:func:`verify_credential` runs five checks and reports every one (it does not stop at the first failure):

* ``schema``   - the official OB 3.0 ``AchievementCredential`` JSON Schema (Draft 2019-09);
* ``proof``    - the ``eddsa-rdfc-2022`` signature(s), made by a key the issuer controls;
* ``status``   - the Bitstring Status List entry, if any: is the credential revoked (or suspended)?
* ``validity`` - ``validFrom`` / ``validUntil`` against ``now``: not yet valid, or expired?
* ``issuer``   - is the issuer on the trust list (:mod:`issuance.trust`), with the key that signed?

The report's :class:`Verdict` is one of four: *valid, from a trusted issuer* (every check passed);
*valid signature, issuer not trusted* (e.g. a self-signed ``did:key`` copy: its ``issuer.name`` is only
self-asserted); *cannot check* (a key or status list is out of reach offline); *not valid* (with the reason).
Documents nested deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_VALUES` values are refused first.

Nothing is fetched here: the caller passes ``resolve_key`` (verification method -> key) and, for status,
``fetch_status_list`` (URL -> status list credential).

Why one module (~430 lines): the five checks of one verification report (schema, proof, issuer, status, validity)
and the verdict that combines them; each check is a small function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator
from pydantic import BaseModel

from issuance.dataintegrity import KeyResolver, parse_datetime, verify_proof
from issuance.loader import OfflineDocumentLoader
from issuance.status import StatusListError, check_status, parse_entry
from issuance.trust import TrustList

#: ``fetch_status_list(url)`` -> the (signed) status list credential, or ``None`` when it cannot be had.
StatusListFetcher = Callable[[str], "Mapping[str, Any] | None"]

SCHEMA_FILE = "ob_v3p0_achievementcredential.json"


class Verdict(StrEnum):
    """The one answer a person reads (see :data:`VERDICT_WORDS`)."""

    trusted = "trusted"
    untrusted = "untrusted"
    cannot_check = "cannot_check"
    invalid = "invalid"


VERDICT_WORDS = {
    Verdict.trusted: "valid, from a trusted issuer",
    Verdict.untrusted: "valid signature, issuer not trusted",
    Verdict.cannot_check: "cannot check (key or status unreachable)",
    Verdict.invalid: "not valid",
}
#: nesting and size bounds for a credential given to the verifier (real ones are ~10 levels, a few thousand values)
MAX_DEPTH = 64
MAX_VALUES = 200_000


class Check(BaseModel):
    """One check. ``ok``: passed. ``unchecked``: it could not be made (a key or status list out of reach: the
    verdict is then at best *cannot check*). ``skipped``: it was not made because an earlier finding makes it
    meaningless (e.g. the document is not a credential at all); a skipped check never passes and never decides
    the verdict. ``state``: a short code of what was found, for plain-words rendering (:mod:`issuance.explain`):
    e.g. ``revoked``, ``suspended``, ``expired``, ``not_yet_valid``, ``tampered``, ``unknown_issuer``."""

    name: str
    ok: bool
    detail: str
    unchecked: bool = False
    skipped: bool = False
    state: str = ""


class VerificationReport(BaseModel):
    """``verdict`` is one of the four answers; ``ok`` only for *valid, from a trusted issuer*.

    ``checks`` are in the order schema, proof, status, validity, issuer. ``issuer_name`` is the trusted name
    (from the trust list); ``claimed_issuer_name`` is what the credential itself says (self-asserted).
    """

    ok: bool
    verdict: Verdict
    verdict_text: str
    reason: str = ""
    credential_id: str | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    claimed_issuer_name: str | None = None
    checks: list[Check]

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def failures(self) -> list[Check]:
        """Checks that failed or could not be made (the issuer check included when the issuer is not trusted)."""
        return [item for item in self.checks if not item.ok and not item.skipped]

    def summary(self) -> str:
        head = self.verdict_text.upper()
        who = self.issuer_name or (f'"{self.claimed_issuer_name}" (self-asserted)' if self.claimed_issuer_name
                                   else "(no issuer name)")
        lines = [f"{head}: credential {self.credential_id or '(no id)'} from {who}, issuer {self.issuer or '?'}"]
        if self.verdict is Verdict.invalid:
            failed = [c.name for c in self.checks if not c.ok and not c.unchecked and not c.skipped
                      and c.name != "issuer"]
            lines.append(f"  why: the {', '.join(failed) or 'input'} check(s) failed")
        elif self.reason:
            lines.append(f"  {self.reason}")
        for c in self.checks:
            mark = ("ok" if c.ok else "not checked" if c.skipped else "??" if c.unchecked
                    else "NOT TRUSTED" if c.name == "issuer" else "FAIL")
            lines.append(f"  [{mark}] {c.name}: {c.detail}")
        return "\n".join(lines)


def shape_problem(value: Any, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> str | None:
    """Why a JSON value is too deep or too large to verify (``None`` when it is fine). Iterative: never recurses."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_values:
            return f"the credential has more than {max_values} values; a credential is far smaller"
        if isinstance(node, dict | list):
            if depth > max_depth:
                return f"the credential is nested deeper than {max_depth} levels; a credential is far shallower"
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return None


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
        return Check(name="schema", ok=False, detail="does not match the OB 3.0 schema: " + "; ".join(errors),
                     state="schema")
    return Check(name="schema", ok=True, detail="matches the Open Badges 3.0 AchievementCredential schema")


class _Signing:
    """Who signed: the proof check and whether the signer is a trusted issuer."""

    def __init__(self, check: Check, methods: list[str], trusted: bool):
        self.check, self.methods, self.trusted = check, methods, trusted


def _check_proof(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    trust: TrustList | None,
    loader: OfflineDocumentLoader | None,
    now: datetime,
    what: str = "credential",
) -> _Signing:
    result = verify_proof(document, resolve_key, loader=loader, now=now)
    if not result.ok:
        if result.unresolved is not None:
            did = result.unresolved.partition("#")[0]
            if trust is not None and not trust.authoritative(did):
                detail = (f"cannot check the {what}'s signature: the key {result.unresolved} could not be resolved "
                          f"here ({did} is not on this verifier's trust list, and nothing is fetched from the network)")
                return _Signing(Check(name="proof", ok=False, unchecked=True, detail=detail,
                                      state="key_unreachable"), [], False)
            if trust is not None:
                detail = (f"the {what}'s signature is not valid: {did} does not publish the key "
                          f"{result.unresolved}, so {did} did not sign it (the key could not be resolved to a key "
                          f"of that issuer)")
                return _Signing(Check(name="proof", ok=False, detail=detail, state="unknown_key"), [], False)
        state = "no_proof" if "proof" not in document else "tampered"
        return _Signing(Check(name="proof", ok=False, detail=f"the {what}'s signature is not valid: {result.reason}",
                              state=state), [], False)
    issuer = _issuer_id(document)
    if issuer is None:
        return _Signing(Check(name="proof", ok=False, detail=f"the {what} names no issuer, so no signer can be "
                                                             "trusted"), [], False)
    for method, controller in zip(result.verification_methods, result.controllers, strict=True):
        owner = controller or method.partition("#")[0]
        if owner != issuer:
            detail = f"signed with key {method} controlled by {owner}, not by the issuer {issuer}"
            return _Signing(Check(name="proof", ok=False, detail=detail, state="wrong_signer"), [], False)
    methods = result.verification_methods
    if trust is not None:
        trusted = all(trust.holds_key(issuer, method) for method in methods)
    else:  # the caller's resolver is the trust decision, except for self-certifying did:key methods
        trusted = not any(method.startswith("did:key:") for method in methods)
    return _Signing(Check(name="proof", ok=True, detail=f"signed by {issuer}: {result.reason}"), methods, trusted)


def _check_validity(document: Mapping[str, Any], now: datetime) -> Check:
    if "validFrom" not in document:
        return Check(name="validity", ok=False, state="no_dates",
                     detail="it gives no validFrom date, so from when it is valid is not stated")
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
        return Check(name="validity", ok=False, detail=f"not yet valid: valid from {document['validFrom']}",
                     state="not_yet_valid")
    if valid_until is not None and now >= valid_until:
        return Check(name="validity", ok=False, detail=f"expired on {document['validUntil']}", state="expired")
    until = f"until {document['validUntil']}" if valid_until else "with no expiry date"
    return Check(name="validity", ok=True, detail=f"valid from {document['validFrom']} {until}")


def _check_status(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    trust: TrustList | None,
    signing: _Signing,
    fetch_status_list: StatusListFetcher | None,
    require_status: bool,
    loader: OfflineDocumentLoader | None,
    now: datetime,
) -> Check:
    entries = document.get("credentialStatus")
    if entries is None and not signing.check.ok:
        return Check(name="status", ok=False, skipped=True, state="not_checked",
                     detail="not checked: it has no status entry, and without a verified signature nobody can say "
                            "whether its issuer could revoke it")
    if entries is None:
        trusted = trust.get(_issuer_id(document)) if trust is not None and signing.trusted else None
        if trusted is not None and trusted.status_required:
            mine = "this instance's" if trusted.own else "this issuer's"
            return Check(name="status", ok=False, state="status_removed",
                         detail=f"no status entry, but {mine} credentials always carry one: it was removed or never "
                                "added, so whether the credential was revoked cannot be known")
        return Check(name="status", ok=True, state="not_revocable",
                     detail="no status entry: the issuer cannot revoke this credential")
    details: list[str] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        try:
            url, _index, purpose = parse_entry(entry)
        except StatusListError as exc:
            return Check(name="status", ok=False, detail=f"malformed status entry: {exc}")
        if fetch_status_list is None:
            if require_status:
                return Check(name="status", ok=False, unchecked=True,
                             detail=f"cannot check revocation: no way to fetch status list {url}")
            details.append(f"{purpose} not checked (status list {url} was not fetched)")
            continue
        try:
            list_credential = fetch_status_list(url)
        except Exception as exc:  # a fetcher failure means "cannot check", never a crash
            return Check(name="status", ok=False, unchecked=True,
                         detail=f"cannot check revocation: status list {url} cannot be fetched: {exc}")
        if list_credential is None:
            return Check(name="status", ok=False, unchecked=True,
                         detail=f"cannot check revocation: status list {url} cannot be fetched")
        list_signing = _check_proof(list_credential, resolve_key, trust, loader, now, what="status list")
        if list_signing.check.unchecked:
            return Check(name="status", ok=False, unchecked=True,
                         detail=f"status list {url}: {list_signing.check.detail}")
        if not list_signing.check.ok:
            return Check(name="status", ok=False,
                         detail=f"status list {url} is not trustworthy: {list_signing.check.detail}")
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
            return Check(name="status", ok=False, state=word if word in ("revoked", "suspended") else "flagged",
                         detail=f"{word}: the issuer has {word} this credential ({result.detail})")
        details.append(f"not {'revoked' if purpose == 'revocation' else purpose + ' flagged'} ({result.detail})")
    return Check(name="status", ok=True, detail="; ".join(details))


def _claimed_name(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    name = issuer.get("name") if isinstance(issuer, Mapping) else None
    if not isinstance(name, str):
        return None
    return " ".join(name.split())[:300] or None


def _check_issuer(document: Mapping[str, Any], signing: _Signing, trust: TrustList | None) -> tuple[Check, str | None]:
    """(the issuer check, the trusted name or ``None``)."""
    issuer = _issuer_id(document)
    claimed = _claimed_name(document)
    said = f' calls itself "{claimed}", a self-asserted name' if claimed else " gives no name"
    if not signing.check.ok:
        return Check(name="issuer", ok=False, unchecked=signing.check.unchecked, skipped=not signing.check.unchecked,
                     state="not_established",
                     detail=f"not established: the signature was not verified; the credential{said}"), None
    entry = trust.get(issuer) if trust is not None else None
    if signing.trusted and (trust is None or entry is not None):
        name = entry.name if entry is not None else claimed
        which = "one of this instance's own issuers" if entry is not None and entry.own else "on the trust list"
        detail = f"{issuer} is {which}" + (f": {name}" if name else "")
        if entry is not None and claimed and claimed != entry.name:
            detail += f' (the credential itself says "{claimed}")'
        return Check(name="issuer", ok=True, detail=detail), name
    if entry is not None:
        detail = f"{issuer} is on the trust list, but the signing key is not one it holds there; the credential{said}"
        state = "untrusted_key"
    else:
        detail = (f"{issuer} is not on this verifier's trust list: anyone can sign with a key of their own, so the "
                  f"credential{said}")
        state = "unknown_issuer"
    return Check(name="issuer", ok=False, detail=detail, state=state), None


def _verdict(checks: list[Check]) -> tuple[Verdict, str]:
    failed = [c for c in checks if not c.ok and not c.unchecked and not c.skipped and c.name != "issuer"]
    if failed:
        return Verdict.invalid, "; ".join(f"{c.name}: {c.detail}" for c in failed)
    unchecked = [c for c in checks if c.unchecked and not c.skipped and c.name != "issuer"]
    if unchecked:
        return Verdict.cannot_check, "; ".join(c.detail for c in unchecked)
    issuer = next(c for c in checks if c.name == "issuer")
    if not issuer.ok:
        return Verdict.untrusted, issuer.detail
    return Verdict.trusted, issuer.detail


def _report(verdict: Verdict, reason: str, checks: list[Check], **fields: Any) -> VerificationReport:
    return VerificationReport(ok=verdict is Verdict.trusted, verdict=verdict, verdict_text=VERDICT_WORDS[verdict],
                              reason=reason, checks=checks, **fields)


def verify_credential(
    document: Any,
    *,
    resolve_key: KeyResolver | None = None,
    trust: TrustList | None = None,
    fetch_status_list: StatusListFetcher | None = None,
    now: datetime | None = None,
    require_status: bool = True,
    loader: OfflineDocumentLoader | None = None,
) -> VerificationReport:
    """Verify an OB 3.0 credential: schema, proof, status, validity window, and whether the issuer is trusted.

    With ``trust`` the keys come from the trust list (and any ``did:key``, which proves only who signed), then
    from ``resolve_key``; the issuer is trusted only when the list holds the signing key for it. Without
    ``trust``, every key ``resolve_key`` resolves counts as trusted except ``did:key`` ones: pass only keys you
    trust. A key or status list out of reach gives *cannot check*, never *valid*.

    ``require_status`` (default): a status entry that cannot be fetched makes the status check *cannot check*;
    with ``False`` that check passes as "not checked".
    """
    if not isinstance(document, Mapping):
        failed = Check(name="schema", ok=False, detail="the credential is not a JSON object")
        return _report(Verdict.invalid, failed.detail, [failed])
    problem = shape_problem(document)
    if problem is not None:
        failed = Check(name="schema", ok=False, detail=problem)
        return _report(Verdict.invalid, problem, [failed])
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if trust is None and resolve_key is None:
        raise ValueError("give a trust list or a key resolver")
    if not looks_like_credential(document):
        return _not_a_credential(document)
    resolver = _chain(trust, resolve_key)
    signing = _check_proof(document, resolver, trust, loader, now)
    checks = [
        _check_schema(document),
        signing.check,
        _check_status(document, resolver, trust, signing, fetch_status_list, require_status, loader, now),
        _check_validity(document, now),
    ]
    issuer_check, name = _check_issuer(document, signing, trust)
    checks.append(issuer_check)
    verdict, reason = _verdict(checks)
    credential_id = document.get("id") if isinstance(document.get("id"), str) else None
    return _report(verdict, reason, checks, credential_id=credential_id, issuer=_issuer_id(document),
                   issuer_name=name if verdict is Verdict.trusted else None,
                   claimed_issuer_name=_claimed_name(document))


CREDENTIAL_TYPES = {"VerifiableCredential", "OpenBadgeCredential", "AchievementCredential"}
NOT_A_CREDENTIAL = "not checked: the document is not a credential"


def looks_like_credential(document: Mapping[str, Any]) -> bool:
    """Whether a JSON object is at least shaped like a credential (a credential ``type``, a subject or a proof);
    anything else (``{"a": 1}``, a DID document, a status list) gets only the schema check."""
    types = document.get("type")
    types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    return bool(CREDENTIAL_TYPES & {t for t in types if isinstance(t, str)}) or (
        isinstance(document.get("credentialSubject"), Mapping) or "proof" in document)


def _not_a_credential(document: Mapping[str, Any]) -> VerificationReport:
    errors = schema_errors(document, limit=3)
    detail = ("this is not an Open Badges credential: it has no credential type, subject and proof"
              + (f" ({'; '.join(errors)})" if errors else ""))
    checks = [Check(name="schema", ok=False, detail=detail, state="not_a_credential")]
    checks += [Check(name=name, ok=False, skipped=True, detail=NOT_A_CREDENTIAL, state="not_checked")
               for name in ("proof", "status", "validity", "issuer")]
    return _report(Verdict.invalid, "the document is not an Open Badges credential", checks)


def _chain(trust: TrustList | None, resolve_key: KeyResolver | None) -> KeyResolver:
    if trust is None:
        assert resolve_key is not None
        return resolve_key

    def resolve(vm_id: str) -> Any:
        found = trust.resolve(vm_id)
        if found is None and resolve_key is not None:
            return resolve_key(vm_id)
        return found

    return resolve
