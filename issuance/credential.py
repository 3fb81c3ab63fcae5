"""Build and issue Open Badges 3.0 ``OpenBadgeCredential`` documents (VC Data Model 2.0) for catalogue credentials.

:func:`build_credential` turns a catalogue :class:`~knowledge.schema.Credential` and its awarding
:class:`~knowledge.schema.Provider`, a :class:`Learner`, the per-criterion rubric results and evidence into an
unsigned credential that validates against the official OB 3.0 ``AchievementCredential`` JSON Schema;
:func:`issue_credential` also signs it (``eddsa-rdfc-2022``). Where each EU Annex I element goes is documented
in ``issuance/MAPPING.md``; elements OB 3.0 has no field for use the terms of our extension context
(:data:`issuance.loader.STACKWISE_EU_MC_V1`).

Identifiers: the achievement is ``<achievement_base_url>/<credential id>``; its rubric criteria are result
descriptions ``<achievement>#rubric.<criterion id>`` with levels ``<achievement>#rubric.<criterion>.<level>``,
and the total score ``<achievement>#rubric.total``.

Why one module (~490 lines): it builds one document, the Open Badges 3.0 credential with its EU micro-credential
elements; each element's mapping is a small function next to the others (see MAPPING.md).
"""

from __future__ import annotations

import calendar
import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from issuance.dataintegrity import format_datetime, is_issuer_id, sign
from issuance.errors import IssuanceError  # noqa: F401  (re-exported)
from issuance.keys import IssuerKey
from issuance.loader import OB_V3P0_3_0_3, STACKWISE_EU_MC_V1, VC_V2
from issuance.verify import schema_errors
from knowledge.schema import Credential, Provider, Rubric

CONTEXTS = [VC_V2, OB_V3P0_3_0_3, STACKWISE_EU_MC_V1]
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


class IssuerConfig(BaseModel):
    """Issuer-wide settings (from configuration).

    ``issuer_id`` is the issuer's identifier: a ``did:web:…`` DID or an ``https://`` URL where its controller
    document is served. ``verification_method`` defaults to ``<issuer_id>#<public Multikey>``.
    """

    model_config = ConfigDict(frozen=True)

    issuer_id: str
    achievement_base_url: str = Field(description="achievements are <base>/<credential id>")
    competency_base_url: str | None = Field(default=None, description="default: <achievement_base_url>/competencies")
    competency_framework: str = "Stackwise competencies"
    verification_method: str | None = None

    @field_validator("issuer_id")
    @classmethod
    def _issuer_id(cls, value: str) -> str:
        if not is_issuer_id(value):
            raise ValueError("issuer_id must be a DID (e.g. did:web:…) or an https:// URL")
        return value

    @field_validator("achievement_base_url", "competency_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value


class Learner(BaseModel):
    """How the learner is identified (EU Annex I "identification of the learner").

    ``did`` becomes ``credentialSubject.id``. ``email`` becomes an OB ``IdentityObject``: by default hashed as
    ``sha256$hex(sha256(lower(trim(email)) + salt))`` with a random salt, so the credential does not reveal the
    address but the learner can prove it (:func:`identity_matches`). ``system_id`` (the learner's id on this
    platform) becomes an ``IdentityObject`` of type ``systemId``, always hashed (``sha256$hex(sha256(id + salt))``).
    ``name`` is optional and plaintext.
    """

    model_config = ConfigDict(frozen=True)

    did: str | None = None
    email: str | None = None
    hash_email: bool = True
    salt: str | None = Field(default=None, description="default: 16 random bytes, hex")
    system_id: str | None = Field(default=None, description="the learner's id in the issuing system (hashed)")
    name: str | None = None

    @model_validator(mode="after")
    def _some_identifier(self) -> Learner:
        if not self.did and not self.email and not self.system_id:
            raise ValueError("a learner needs a did, an email or a system id")
        if self.did and not _URI.match(self.did):
            raise ValueError(f"did must be a URI, got {self.did!r}")
        if self.email and "@" not in self.email:
            raise ValueError("email does not look like an email address")
        return self


class EvidenceItem(BaseModel):
    """One piece of evidence: a narrative and/or a link (``url``)."""

    model_config = ConfigDict(frozen=True)

    narrative: str | None = None
    url: str | None = None
    name: str | None = None
    description: str | None = None
    genre: str | None = None

    @model_validator(mode="after")
    def _something(self) -> EvidenceItem:
        if not self.narrative and not self.url:
            raise ValueError("evidence needs a narrative or a url")
        if self.url and not _URI.match(self.url):
            raise ValueError(f"evidence url must be a URI, got {self.url!r}")
        return self


# ---------------------------------------------------------------- helpers


def identity_hash(value: str, salt: str = "") -> str:
    """OB 3.0 ``IdentityHash``: ``sha256$`` + hex SHA-256 of the UTF-8 identifier with the salt appended."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def identity_matches(identity: Mapping[str, Any], value: str) -> bool:
    """Does an ``IdentityObject`` identify ``value`` (an email is normalized like at issuance)?"""
    if identity.get("identityType") == "emailAddress":
        value = normalize_email(value)
    if not identity.get("hashed"):
        return identity.get("identityHash") == value
    stored = str(identity.get("identityHash", ""))
    algorithm, _, digest = stored.partition("$")
    salt = str(identity.get("salt", ""))
    if algorithm == "sha256":
        return secrets.compare_digest(digest.lower(), hashlib.sha256((value + salt).encode()).hexdigest())
    if algorithm == "md5":
        return secrets.compare_digest(digest.lower(), hashlib.md5((value + salt).encode()).hexdigest())
    return False


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later; the day is clamped to the target month (31 Jan + 1 month = 28/29 Feb)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or hashlib.sha256(text.encode()).hexdigest()[:12]


def achievement_id(issuer: IssuerConfig, credential_id: str) -> str:
    return f"{issuer.achievement_base_url}/{credential_id}"


def criterion_result_id(achievement: str, criterion_id: str) -> str:
    return f"{achievement}#rubric.{criterion_id}"


def level_id(achievement: str, criterion_id: str, level: str) -> str:
    return f"{achievement}#rubric.{criterion_id}.{level}"


def total_result_id(achievement: str) -> str:
    return f"{achievement}#rubric.total"


def rubric_outcome(rubric: Rubric, results: Mapping[str, str]) -> tuple[int, list[str]]:
    """``(total points, problems)`` for per-criterion results (criterion id -> level id) against the rubric."""
    problems: list[str] = []
    criteria = {c.id: c for c in rubric.criteria}
    for unknown in sorted(set(results) - set(criteria)):
        problems.append(f"criterion {unknown!r} is not in the rubric")
    total = 0
    for criterion in rubric.criteria:
        chosen = results.get(criterion.id)
        if chosen is None:
            problems.append(f"no result for criterion {criterion.id!r}")
            continue
        levels = {level.id: level for level in criterion.levels}
        if chosen not in levels:
            problems.append(f"criterion {criterion.id!r} has no level {chosen!r} (levels: {', '.join(levels)})")
            continue
        points = levels[chosen].points
        total += points
        if points < rubric.min_points_each:
            problems.append(
                f"criterion {criterion.id!r} scored {points}, below the minimum {rubric.min_points_each} per criterion"
            )
    if total < rubric.pass_threshold and not any("no result" in p or "no level" in p for p in problems):
        problems.append(f"total {total} is below the pass threshold {rubric.pass_threshold}")
    return total, problems


# ---------------------------------------------------------------- building


def _points(n: int) -> str:
    return f"{n} point" if n == 1 else f"{n} points"


def _criteria_narrative(credential: Credential) -> str:
    rubric = credential.rubric
    lines = [
        f"Awarded for passing a {credential.assessment_type.value.replace('_', ' ')} assessment judged against a "
        f"rubric of {len(rubric.criteria)} criteria: the total must reach {rubric.pass_threshold} of "
        f"{rubric.max_points} points"
        + (f" and every criterion at least {_points(rubric.min_points_each)}." if rubric.min_points_each else "."),
        "",
    ]
    lines += [f"- **{c.title}**: {c.description}" for c in rubric.criteria]
    lines += ["", "Learning outcomes:", ""]
    lines += [f"- {outcome}" for outcome in credential.learning_outcomes]
    return "\n".join(lines)


def _result_descriptions(credential: Credential, achievement: str) -> list[dict[str, Any]]:
    rubric = credential.rubric
    descriptions: list[dict[str, Any]] = []
    for criterion in rubric.criteria:
        description: dict[str, Any] = {
            "id": criterion_result_id(achievement, criterion.id),
            "type": ["ResultDescription"],
            "name": criterion.title,
            "description": criterion.description,
            "resultType": "RubricCriterionLevel",
            "rubricCriterionLevel": [
                {
                    "id": level_id(achievement, criterion.id, level.id),
                    "type": ["RubricCriterionLevel"],
                    "name": level.label,
                    "description": level.descriptor,
                    "level": level.label,
                    "points": str(level.points),
                }
                for level in criterion.levels
            ],
        }
        if rubric.min_points_each:
            required = next(level for level in criterion.levels if level.points >= rubric.min_points_each)
            description["requiredLevel"] = level_id(achievement, criterion.id, required.id)
        descriptions.append(description)
    descriptions.append(
        {
            "id": total_result_id(achievement),
            "type": ["ResultDescription"],
            "name": "Total rubric score",
            "resultType": "RubricScore",
            "valueMin": "0",
            "valueMax": str(rubric.max_points),
            "requiredValue": str(rubric.pass_threshold),
        }
    )
    return descriptions


def _achievement(credential: Credential, issuer: IssuerConfig) -> dict[str, Any]:
    achievement = achievement_id(issuer, credential.id)
    criteria: dict[str, Any] = {"narrative": _criteria_narrative(credential)}
    if credential.url:
        criteria = {"id": str(credential.url), **criteria}
    body: dict[str, Any] = {
        "id": achievement,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": credential.title,
        "description": credential.summary,
        "criteria": criteria,
        "humanCode": credential.id,
        "inLanguage": credential.language,
        "creditsAvailable": credential.ects,
    }
    if credential.competencies:
        base = issuer.competency_base_url or f"{issuer.achievement_base_url}/competencies"
        body["tag"] = list(credential.competencies)
        body["alignment"] = [
            {
                "type": ["Alignment"],
                "targetName": competency,
                "targetUrl": f"{base}/{_slug(competency)}",
                "targetType": "ceasn:Competency",
                "targetFramework": issuer.competency_framework,
            }
            for competency in credential.competencies
        ]
    body["resultDescription"] = _result_descriptions(credential, achievement)
    # EU Annex I elements without an OB 3.0 field (extension context, see MAPPING.md)
    body["eqfLevel"] = credential.eqf_level
    body["learningOutcome"] = list(credential.learning_outcomes)
    body["creditFramework"] = "ECTS"
    body["workloadHours"] = credential.duration.total_hours
    body["assessmentType"] = credential.assessment_type.value
    body["participationForm"] = credential.participation.value
    body["qualityAssurance"] = credential.quality_assurance
    body["idVerification"] = credential.id_verification.value
    if credential.grading:
        body["gradingScheme"] = credential.grading
    if credential.prerequisites:
        body["prerequisite"] = [achievement_id(issuer, p) for p in credential.prerequisites]
    if credential.stackability:
        body["stackability"] = credential.stackability
    if credential.further_information:
        body["furtherInformation"] = credential.further_information
    return body


def _issuer_profile(provider: Provider, credential: Credential, issuer: IssuerConfig) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": issuer.issuer_id, "type": ["Profile"], "name": provider.name}
    if provider.website:
        profile["url"] = str(provider.website)
    if provider.description:
        profile["description"] = provider.description
    profile["address"] = {"type": ["Address"], "addressCountryCode": credential.issuer_country}
    profile["qualityAssurance"] = provider.quality_assurance
    return profile


def _subject(
    learner: Learner, credential: Credential, achievement: dict[str, Any], results: Mapping[str, str], total: int
) -> dict[str, Any]:
    subject: dict[str, Any] = {}
    if learner.did:
        subject["id"] = learner.did
    subject["type"] = ["AchievementSubject"]
    identifiers: list[dict[str, Any]] = []
    if learner.email:
        email = normalize_email(learner.email)
        if learner.hash_email:
            salt = learner.salt if learner.salt is not None else secrets.token_hex(16)
            identifiers.append(
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash(email, salt),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": salt,
                }
            )
        else:
            identifiers.append(
                {"type": "IdentityObject", "identityHash": email, "identityType": "emailAddress", "hashed": False}
            )
    if learner.system_id:
        salt = secrets.token_hex(16)
        identifiers.append(
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(learner.system_id, salt),
                "identityType": "systemId",
                "hashed": True,
                "salt": salt,
            }
        )
    if learner.name:
        identifiers.append(
            {"type": "IdentityObject", "identityHash": learner.name, "identityType": "name", "hashed": False}
        )
    if identifiers:
        subject["identifier"] = identifiers
    subject["achievement"] = achievement
    subject["creditsEarned"] = credential.ects
    result_list: list[dict[str, Any]] = [
        {
            "type": ["Result"],
            "resultDescription": criterion_result_id(achievement["id"], criterion.id),
            "achievedLevel": level_id(achievement["id"], criterion.id, results[criterion.id]),
        }
        for criterion in credential.rubric.criteria
    ]
    result_list.append(
        {"type": ["Result"], "resultDescription": total_result_id(achievement["id"]), "value": str(total)}
    )
    subject["result"] = result_list
    return subject


def build_credential(
    credential: Credential,
    provider: Provider,
    *,
    issuer: IssuerConfig,
    learner: Learner,
    results: Mapping[str, str],
    evidence: Sequence[EvidenceItem] = (),
    issued_at: datetime | None = None,
    credential_status: Mapping[str, Any] | None = None,
    credential_id: str | None = None,
    require_pass: bool = True,
) -> dict[str, Any]:
    """An unsigned OB 3.0 ``OpenBadgeCredential`` with the EU Annex I elements.

    ``results`` maps every rubric criterion id to the achieved level id. With ``require_pass`` (default) results
    that do not pass the rubric raise :class:`IssuanceError`. ``credential_status`` is an entry from
    :func:`issuance.status.status_entry`. ``validUntil`` is ``issued_at`` + ``credential.valid_for_months``.
    """
    if provider.id != credential.awarding_body:
        raise IssuanceError(f"provider {provider.id!r} is not the awarding body {credential.awarding_body!r}")
    total, problems = rubric_outcome(credential.rubric, results)
    blocking = problems if require_pass else [p for p in problems if "below" not in p]
    if blocking:
        raise IssuanceError(f"cannot issue {credential.id!r}: " + "; ".join(blocking))
    issued_at = issued_at or datetime.now(UTC)
    if issued_at.tzinfo is None:
        raise IssuanceError("issued_at must be timezone-aware")
    issued_at = issued_at.astimezone(UTC).replace(microsecond=0)
    if credential_id is not None and not _URI.match(credential_id):
        raise IssuanceError(f"credential_id must be a URI, got {credential_id!r}")

    achievement = _achievement(credential, issuer)
    document: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": list(CREDENTIAL_TYPES),
        "name": credential.title,
        "description": credential.summary,
        "issuer": _issuer_profile(provider, credential, issuer),
        "validFrom": format_datetime(issued_at),
    }
    if credential.valid_for_months:
        document["validUntil"] = format_datetime(add_months(issued_at, credential.valid_for_months))
    document["credentialSubject"] = _subject(learner, credential, achievement, results, total)
    if evidence:
        document["evidence"] = [_evidence(item) for item in evidence]
    if credential_status is not None:
        document["credentialStatus"] = dict(credential_status)
    return document


def _evidence(item: EvidenceItem) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if item.url:
        body["id"] = item.url
    body["type"] = ["Evidence"]
    for name in ("name", "description", "narrative", "genre"):
        value = getattr(item, name)
        if value:
            body[name] = value
    return body


def issue_credential(
    credential: Credential,
    provider: Provider,
    *,
    issuer: IssuerConfig,
    key: IssuerKey,
    learner: Learner,
    results: Mapping[str, str],
    evidence: Sequence[EvidenceItem] = (),
    issued_at: datetime | None = None,
    credential_status: Mapping[str, Any] | None = None,
    credential_id: str | None = None,
    require_pass: bool = True,
) -> dict[str, Any]:
    """:func:`build_credential`, checked against the OB 3.0 JSON Schema, then signed (``eddsa-rdfc-2022``).

    The proof is written as a one-element list, as the OB 3.0 schema requires. ``require_pass=False`` is for an
    assessor's approval that overrides the rubric's result (every criterion must still have a known level).
    """
    document = build_credential(
        credential,
        provider,
        issuer=issuer,
        learner=learner,
        results=results,
        evidence=evidence,
        issued_at=issued_at,
        credential_status=credential_status,
        credential_id=credential_id,
        require_pass=require_pass,
    )
    verification_method = issuer.verification_method or key.verification_method(issuer.issuer_id)
    signed = sign(document, key.private_key, verification_method, proof_as_list=True, created=document["validFrom"])
    errors = schema_errors(signed)
    if errors:
        raise IssuanceError("the built credential does not match the OB 3.0 schema: " + "; ".join(errors))
    return signed
