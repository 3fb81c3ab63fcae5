"""The catalogue schema: providers, credentials (with the EU Annex I elements), rubrics and pathways.

These pydantic models are the boundary for everything read from catalogue files. They check one
entity at a time; cross-references (unknown ids, prerequisite cycles) are checked over the whole
catalogue in :mod:`knowledge.validation`.

EU Council Recommendation on micro-credentials (2022/C 243/02), Annex I, mandatory elements, and
where they live here:

=================================  ===========================================================
identification of the learner      at issuance (not part of the catalogue)
title                              ``Credential.title``
country/region of the issuer       ``Credential.issuer_country``
awarding body                      ``Credential.awarding_body`` (a provider id)
date of issuing                    at issuance
learning outcomes                  ``Credential.learning_outcomes``
notional workload (ECTS)           ``Credential.ects``
EQF level                          ``Credential.eqf_level``
type of assessment                 ``Credential.assessment_type``
form of participation              ``Credential.participation``
quality assurance                  ``Credential.quality_assurance``
=================================  ===========================================================

Optional elements: ``prerequisites``, ``id_verification``, ``grading``, ``stackability``,
``further_information``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

Slug = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", description="lower-case id: letters, digits, hyphens"),
]
NonEmpty = Annotated[str, Field(min_length=1)]


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a catalogue file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ProviderKind(StrEnum):
    university = "university"
    industry = "industry"
    platform = "platform"


class AssessmentType(StrEnum):
    portfolio = "portfolio"
    project = "project"
    written_exam = "written_exam"
    oral_exam = "oral_exam"
    presentation = "presentation"
    observed_practice = "observed_practice"
    mixed = "mixed"


class Participation(StrEnum):
    """Annex I "form of participation in the learning activity"."""

    online = "online"
    onsite = "onsite"
    blended = "blended"


class DeliveryMode(StrEnum):
    self_paced = "self_paced"
    instructor_led = "instructor_led"
    cohort_based = "cohort_based"


class IdVerification(StrEnum):
    """Annex I optional "type of supervision and identity verification during assessment"."""

    none = "none"
    online_unsupervised_id_check = "online_unsupervised_id_check"
    online_proctored = "online_proctored"
    onsite_supervised = "onsite_supervised"


class Provider(StrictModel):
    id: Slug
    name: NonEmpty
    kind: ProviderKind
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    website: HttpUrl | None = None
    locality: str | None = Field(default=None, description="city or town of the provider's address")
    organization_type: str | None = Field(
        default=None, description="the publisher's own words for its type (CTDL agentType), e.g. 'training provider'")
    description: str = ""
    quality_assurance: NonEmpty = Field(description="the provider's quality-assurance framework")


class Price(StrictModel):
    amount: Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]


class Duration(StrictModel):
    weeks: Annotated[int, Field(ge=1, le=260)]
    hours_per_week: Annotated[float, Field(gt=0, le=60)]

    @property
    def total_hours(self) -> float:
        return self.weeks * self.hours_per_week


class RubricLevel(StrictModel):
    """One performance level of a criterion. Levels are listed from lowest to highest."""

    id: Slug
    label: NonEmpty
    descriptor: NonEmpty
    points: Annotated[int, Field(ge=0, le=100)]
    exemplar: str | None = Field(
        default=None, description="a short example of evidence at this level, used as a few-shot exemplar"
    )


class RubricCriterion(StrictModel):
    id: Slug
    title: NonEmpty
    description: NonEmpty
    levels: Annotated[list[RubricLevel], Field(min_length=2, max_length=6)]

    @field_validator("levels")
    @classmethod
    def _levels_ordered(cls, levels: list[RubricLevel]) -> list[RubricLevel]:
        ids = [level.id for level in levels]
        if len(set(ids)) != len(ids):
            raise ValueError(f"level ids must be unique, got {ids}")
        points = [level.points for level in levels]
        if any(b <= a for a, b in zip(points, points[1:], strict=False)):
            raise ValueError(
                f"levels must be ordered from lowest to highest with strictly increasing points, got {points}"
            )
        return levels

    @property
    def max_points(self) -> int:
        return self.levels[-1].points


def meets_pass_rule(points: Iterable[float], pass_threshold: float, min_points_each: float) -> bool:
    """The pass rule, written once for every caller (:meth:`Rubric.passes`, the review queue's re-scoring, the
    decision policy, the engine's fitting): the total reaches ``pass_threshold`` and every criterion's points
    reach ``min_points_each``."""
    earned = list(points)
    return sum(earned) >= pass_threshold and all(p >= min_points_each for p in earned)


class Rubric(StrictModel):
    """A rubric with 3–6 criteria. A submission passes when its total reaches ``pass_threshold``
    and every criterion reaches at least ``min_points_each``."""

    criteria: Annotated[list[RubricCriterion], Field(min_length=3, max_length=6)]
    pass_threshold: Annotated[int, Field(ge=1)]
    min_points_each: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _threshold_reachable(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError(f"criterion ids must be unique, got {ids}")
        maximum = sum(c.max_points for c in self.criteria)
        if self.pass_threshold > maximum:
            raise ValueError(f"pass_threshold {self.pass_threshold} exceeds the maximum total {maximum}")
        for criterion in self.criteria:
            if self.min_points_each > criterion.max_points:
                raise ValueError(
                    f"min_points_each {self.min_points_each} exceeds the top level of criterion "
                    f"{criterion.id!r} ({criterion.max_points})"
                )
        return self

    @property
    def max_points(self) -> int:
        return sum(c.max_points for c in self.criteria)

    def passes(self, points: Mapping[str, float]) -> bool:
        """The pass rule (:func:`meets_pass_rule`) on the points earned per criterion id."""
        return meets_pass_rule(points.values(), self.pass_threshold, self.min_points_each)


class RoutingPolicy(StrictModel):
    """When an AI grade goes to a human assessor instead of being decided automatically.

    The engine decides alone only above a confidence threshold chosen on held-out graded evidence so that
    the one-sided 95 % upper bounds on false passes and wrong decisions stay within these limits
    (``grader.routing``). Instructions aimed at the grader always send a submission to review; that is not
    configurable.
    """

    def limits_key(self) -> str:
        return f"{self.max_false_pass_rate:g}/{self.max_wrong_decision_rate:g}/{self.max_wrong_level_rate:g}"


    max_false_pass_rate: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.02, description="limit on the 95 % upper bound of false passes among automatic decisions")
    max_wrong_decision_rate: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.10, description="limit on the 95 % upper bound of any wrong automatic decision")
    max_wrong_level_rate: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.10, description="limit on the 95 % upper bound of wrong levels shown as decided")
    min_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.6, description="floor on the decision's confidence, whatever the fitted threshold")
    threshold_margin: Annotated[int, Field(ge=0)] = Field(
        default=1, description="legacy scorers only: review totals this close to the pass mark")
    review_on_machine_generated: bool = True
    review_on_near_duplicate: bool = True
    review_on_missing_quote: bool = True
    near_duplicate_similarity: Annotated[float, Field(gt=0, le=1)] = 0.6


class CreditRecognition(StrictModel):
    """Credit that a (possibly different) provider recognises towards a larger qualification,
    e.g. "completing this pathway counts 15 ECTS towards the MSc in AI Management"."""

    recognised_by: Slug = Field(description="provider id of the recognising institution")
    towards: NonEmpty = Field(description="the qualification the credit counts towards")
    ects: Annotated[float, Field(gt=0)]
    credentials: list[Slug] | None = Field(
        default=None, description="credentials that earn the credit; none = completing the whole pathway (or, on a "
        "credential, holding it)"
    )
    conditions: str | None = None


class Credential(StrictModel):
    """A micro-credential with the EU Annex I mandatory elements (see module docstring)."""

    id: Slug
    title: NonEmpty
    awarding_body: Slug = Field(description="provider id of the awarding body")
    issuer_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    summary: NonEmpty
    learning_outcomes: Annotated[list[NonEmpty], Field(min_length=1)]
    ects: Annotated[float, Field(gt=0, le=480, description="notional workload in ECTS credits (a degree may carry "
                                                            "up to 480)")]
    eqf_level: Annotated[int, Field(ge=1, le=8)]
    assessment_type: AssessmentType
    participation: Participation
    quality_assurance: NonEmpty
    # Annex I optional elements
    prerequisites: list[Slug] = Field(default_factory=list, description="credential ids required first")
    recommended: list[Slug] = Field(
        default_factory=list, description="credential ids recommended (not required) before this one")
    credit_recognition: list[CreditRecognition] = Field(
        default_factory=list, description="credit that holding this credential earns towards a larger qualification "
        "(advanced standing); ``credentials`` is left empty")
    id_verification: IdVerification = IdVerification.none
    grading: str | None = Field(default=None, description="grading scheme, e.g. 'pass/fail' or 'merit'")
    stackability: str | None = Field(default=None, description="how this credential stacks (free text)")
    further_information: str | None = None
    # offer
    price: Price
    duration: Duration
    delivery_mode: DeliveryMode
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    competencies: list[NonEmpty] = Field(default_factory=list, description="competency areas / tags")
    valid_for_months: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="validity of an issued credential; none = does not expire"
    )
    url: HttpUrl | None = None
    aliases: list[NonEmpty] = Field(
        default_factory=list,
        description="other names learners may use for it: the provider's course codes, CTDL ctids, short titles")
    published_credit: str | None = Field(
        default=None, description="the credit as the source published it when that was not ECTS (e.g. '2 US "
                                  "semester credit hours'); ``ects`` then holds a conversion")
    unstated: list[Literal["price", "ects", "eqf_level", "duration", "hours_per_week", "assessment_type",
                           "participation", "language"]] = Field(
        default_factory=list,
        description="fields holding placeholders because the source does not publish them (an import sets these); "
                    "the assistant says the catalogue does not give them")
    rubric: Rubric
    routing: RoutingPolicy = Field(default_factory=RoutingPolicy, description="when grades go to an assessor")

    @field_validator("prerequisites")
    @classmethod
    def _unique_prerequisites(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("prerequisites must not repeat")
        return value

    @model_validator(mode="after")
    def _not_own_prerequisite(self) -> Credential:
        if self.id in self.prerequisites:
            raise ValueError(f"credential {self.id!r} lists itself as a prerequisite")
        return self


# ---------------------------------------------------------------- pathway rules


class AllOf(StrictModel):
    """Every listed credential is required."""

    rule: Literal["all_of"]
    credentials: Annotated[list[Slug], Field(min_length=1)]
    label: str | None = None


class AnyOf(StrictModel):
    """At least one listed credential is required."""

    rule: Literal["any_of"]
    credentials: Annotated[list[Slug], Field(min_length=2)]
    label: str | None = None


class NOfM(StrictModel):
    """At least ``n`` of the listed credentials are required."""

    rule: Literal["n_of_m"]
    n: Annotated[int, Field(ge=1)]
    credentials: Annotated[list[Slug], Field(min_length=2)]
    label: str | None = None

    @model_validator(mode="after")
    def _n_le_m(self) -> NOfM:
        if self.n > len(self.credentials):
            raise ValueError(f"n={self.n} is larger than the {len(self.credentials)} credentials listed")
        return self


class MinCredits(StrictModel):
    """At least ``ects`` credits from the listed credentials (all of the pathway's credentials if omitted)."""

    rule: Literal["min_credits"]
    ects: Annotated[float, Field(gt=0)]
    credentials: list[Slug] | None = None
    label: str | None = None


class Prerequisite(StrictModel):
    """Within this pathway, ``credential`` may only be taken after all of ``requires``."""

    rule: Literal["prerequisite"]
    credential: Slug
    requires: Annotated[list[Slug], Field(min_length=1)]
    label: str | None = None


PathwayRule = Annotated[AllOf | AnyOf | NOfM | MinCredits | Prerequisite, Field(discriminator="rule")]


class Pathway(StrictModel):
    """A stackable route to a larger qualification. Completed when every requirement holds."""

    id: Slug
    title: NonEmpty
    awarding_body: Slug
    summary: NonEmpty
    leads_to: NonEmpty = Field(description="the qualification or certificate the pathway leads to")
    eqf_level: Annotated[int, Field(ge=1, le=8)] | None = None
    requirements: Annotated[list[PathwayRule], Field(min_length=1)]
    credit_recognition: list[CreditRecognition] = Field(default_factory=list)
    destination: Slug | None = Field(
        default=None, description="id of the credential the pathway earns, when that credential is in the catalogue")
    aliases: list[NonEmpty] = Field(
        default_factory=list, description="other names learners may use for it: codes, CTDL ctids, short titles")

    def credential_ids(self) -> list[str]:
        """Every credential id the pathway mentions, in first-mention order."""
        seen: dict[str, None] = {}
        for rule in self.requirements:
            ids = [rule.credential, *rule.requires] if isinstance(rule, Prerequisite) else rule.credentials or []
            for cid in ids:
                seen.setdefault(cid, None)
        for recognition in self.credit_recognition:
            for cid in recognition.credentials or []:
                seen.setdefault(cid, None)
        return list(seen)


class CatalogueFile(StrictModel):
    """The shape of one catalogue file: any of the three top-level lists."""

    providers: list[Provider] = Field(default_factory=list)
    credentials: list[Credential] = Field(default_factory=list)
    pathways: list[Pathway] = Field(default_factory=list)


class Catalogue(BaseModel):
    """A whole, cross-checked catalogue (see :func:`knowledge.load_catalogue`)."""

    model_config = ConfigDict(frozen=True)

    providers: dict[str, Provider]
    credentials: dict[str, Credential]
    pathways: dict[str, Pathway]

    def provider(self, provider_id: str) -> Provider:
        return self.providers[provider_id]
