"""A verification report in plain words, showing only what was checked.

:func:`explain` turns a :class:`issuance.verify.VerificationReport` (and the document it is about) into what a
person reads, on the Verify tab and on the public credential page alike:

* a headline (one of the four verdicts) and one or two plain sentences naming the finding: revoked, suspended,
  expired, not yet valid, changed after signing, not signed by its issuer, unknown or untrusted issuer, not a
  credential at all, cannot be checked offline;
* ``confirmed``: the credential's facts (title, awarding body, learner's name, date, level / ECTS) **only** when
  the verdict is *valid, from a trusted issuer* - the awarding body then is the trust list's name, not the
  credential's own; otherwise ``claimed`` holds what the document says, to be shown as unverified (or left out);
* one row per check: its label, ``passed`` / ``failed`` / ``not trusted`` / ``could not be checked`` /
  ``not checked`` (a check that did not run never reads as passed), and a sentence. Fields the document lacks are
  left out, never shown as "None".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from issuance.sharing import CredentialFacts, credential_facts
from issuance.verify import Check, Verdict, VerificationReport

CHECK_LABELS = {
    "schema": "Format (Open Badges 3.0)",
    "proof": "Signature by the issuer",
    "status": "Revocation status",
    "validity": "Validity period",
    "issuer": "Issuer on the trust list",
}
HEADLINES = {
    Verdict.trusted: "Valid, from a trusted issuer",
    Verdict.untrusted: "Valid signature, issuer not trusted",
    Verdict.cannot_check: "Cannot check this credential here",
    Verdict.invalid: "Not valid",
}
#: what each finding means, in a sentence (``{until}`` / ``{since}``: the dates the credential gives)
STATE_SENTENCES = {
    "not_a_credential": "This is not an Open Badges credential, so nothing else was checked.",
    "not_established": "Not checked: without a verified signature, who issued it is not established.",
    "no_proof": "It carries no signature, so nobody vouches for what it says.",
    "tampered": "Its signature does not match its content: it was changed after it was signed, or it was not "
                "signed by the issuer it names.",
    "unknown_key": "It was not signed with a key of the issuer it names.",
    "wrong_signer": "It was signed by someone other than the issuer it names.",
    "key_unreachable": "The issuer's key cannot be reached from here (nothing is fetched from the network), so "
                       "the signature cannot be checked.",
    "revoked": "The issuer has revoked this credential.",
    "suspended": "The issuer has suspended this credential for now.",
    "flagged": "The issuer has flagged this credential on its status list.",
    "status_removed": "Its revocation entry is missing (this issuer's credentials always carry one), so whether it "
                      "was revoked cannot be known.",
    "not_revocable": "It has no revocation entry: its issuer cannot revoke it.",
    "expired": "It expired on {until}.",
    "not_yet_valid": "It is not valid yet: it is valid from {since}.",
    "no_dates": "It does not say from when it is valid.",
    "unknown_issuer": "Its issuer is not one this app trusts: anyone can sign a credential with a key of their "
                      "own, so its issuer's name is only self-asserted.",
    "untrusted_key": "Its issuer is on this app's trust list, but it was not signed with a key that issuer holds "
                     "there.",
}
SCHEMA_SHORT = "It does not follow the Open Badges 3.0 format."
ADVICE = {
    Verdict.trusted: "",
    Verdict.untrusted: "Rely on it only if you trust its issuer for another reason.",
    Verdict.cannot_check: "This app checks offline and could not reach what it needs; do not treat the credential "
                          "as valid until it can be checked.",
    Verdict.invalid: "Do not rely on this credential.",
}


@dataclass(frozen=True)
class Finding:
    """One check as a person reads it."""

    name: str
    label: str
    outcome: str  # passed | failed | not trusted | could not be checked | not checked
    sentence: str


@dataclass(frozen=True)
class Explanation:
    verdict: Verdict
    headline: str
    sentences: list[str]  # what was found, most important first
    advice: str
    confirmed: CredentialFacts | None  # only for a trusted verdict
    claimed: CredentialFacts  # what the document says (unverified unless ``confirmed``)
    findings: list[Finding]
    credential_id: str | None
    issuer_id: str | None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.trusted


def _outcome(check: Check) -> str:
    if check.ok:
        return "passed"
    if check.skipped:
        return "not checked"
    if check.unchecked:
        return "could not be checked"
    return "not trusted" if check.name == "issuer" else "failed"


def _passed(check: Check, facts: CredentialFacts, report: VerificationReport) -> str | None:
    if check.name == "schema":
        return "It follows the Open Badges 3.0 credential format."
    if check.name == "proof":
        return "It is signed by its issuer and has not been changed since."
    if check.name == "status" and check.state != "not_revocable":
        return "Its issuer has not revoked or suspended it (checked against the issuer's status list)."
    if check.name == "validity":
        since = f" from {facts.issued_text}" if facts.issued_text else ""
        until = f" until {_day(facts.valid_until)}" if facts.valid_until else ", with no expiry date"
        return f"It is valid{since}{until}."
    if check.name == "issuer":
        name = f", {report.issuer_name}," if report.issuer_name else ""
        return f"Its issuer{name} is on this app's trust list."
    return None


def _day(day: Any) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def _sentence(check: Check, facts: CredentialFacts, document: Any, report: VerificationReport) -> str:
    if check.ok:
        passed = _passed(check, facts, report)
        if passed is not None:
            return passed
    if check.state == "schema" and not check.ok:
        return "It does not follow the Open Badges 3.0 format: " + check.detail.partition(": ")[2]
    template = STATE_SENTENCES.get(check.state)
    if template is None:
        detail = check.detail
        first = detail.split(":", 1)[0]
        if not first.startswith(("did", "http", "urn")):
            detail = detail[:1].upper() + detail[1:]
        return detail + ("" if detail.endswith(".") else ".")
    since = facts.issued_text or (str(document.get("validFrom"))[:10] if isinstance(document, dict) else "")
    return template.format(since=since or "a later date", until=_day(facts.valid_until) or "its expiry date")


def explain(report: VerificationReport, document: Any) -> Explanation:
    """The report in plain words (see module docstring)."""
    claimed = credential_facts(document) if isinstance(document, dict) else credential_facts({})
    findings = [Finding(c.name, CHECK_LABELS.get(c.name, c.name), _outcome(c),
                        _sentence(c, claimed, document, report)) for c in report.checks]
    confirmed = None
    if report.verdict is Verdict.trusted:
        confirmed = dataclasses.replace(claimed, issuer_name=report.issuer_name or claimed.issuer_name)
    important = [(f, c) for f, c in zip(findings, report.checks, strict=True)
                 if not c.ok and not c.skipped and (report.verdict is not Verdict.invalid or c.name != "issuer")]
    sentences = [SCHEMA_SHORT if c.state == "schema" else f.sentence for f, c in important]
    if report.verdict is Verdict.trusted:
        what = confirmed.title or "This credential" if confirmed else "This credential"
        by = f", awarded by {confirmed.issuer_name}" if confirmed and confirmed.issuer_name else ""
        sentences = [f"{what}{by}, is genuine: its signature, revocation status and validity period were checked "
                     "and its issuer is on this app's trust list."]
    elif not sentences:
        sentences = [report.reason] if report.reason else []
    return Explanation(verdict=report.verdict, headline=HEADLINES[report.verdict], sentences=sentences,
                       advice=ADVICE[report.verdict], confirmed=confirmed, claimed=claimed, findings=findings,
                       credential_id=report.credential_id, issuer_id=report.issuer)
