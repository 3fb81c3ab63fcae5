"""Turn a catalogue into retrieval documents: one per section of each credential, pathway and provider.

Sections are small and self-describing (each repeats the entity's title) so that a retrieved chunk
can be cited on its own. Every document carries the metadata the assistant cites from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from knowledge.schema import AllOf, AnyOf, Catalogue, Credential, MinCredits, NOfM, Pathway, Prerequisite, Provider

CHUNKER_VERSION = "1"


@dataclass(frozen=True)
class CatalogueDocument:
    id: str
    text: str
    metadata: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        payload = f"{CHUNKER_VERSION}\n{self.text}\n{sorted(self.metadata.items())}"
        return hashlib.sha256(payload.encode()).hexdigest()


def _titles(catalogue: Catalogue, ids: list[str]) -> str:
    return ", ".join(f"{catalogue.credentials[c].title} ({c})" if c in catalogue.credentials else c for c in ids)


def describe_rule(catalogue: Catalogue, rule: object) -> str:
    """A plain-English sentence for one pathway rule."""
    if isinstance(rule, AllOf):
        return f"All of: {_titles(catalogue, rule.credentials)}."
    if isinstance(rule, AnyOf):
        return f"At least one of: {_titles(catalogue, rule.credentials)}."
    if isinstance(rule, NOfM):
        return f"At least {rule.n} of these {len(rule.credentials)}: {_titles(catalogue, rule.credentials)}."
    if isinstance(rule, MinCredits):
        scope = _titles(catalogue, rule.credentials) if rule.credentials else "any credential of the pathway"
        return f"At least {rule.ects:g} ECTS in total from {scope}."
    if isinstance(rule, Prerequisite):
        return (f"{_titles(catalogue, [rule.credential])} may only be taken after "
                f"{_titles(catalogue, rule.requires)}.")
    raise TypeError(f"unknown rule {rule!r}")


def _credential_docs(catalogue: Catalogue, cred: Credential) -> list[CatalogueDocument]:
    provider = catalogue.providers.get(cred.awarding_body)
    body = provider.name if provider else cred.awarding_body
    base = {"kind": "credential", "credential_id": cred.id, "title": cred.title, "provider_id": cred.awarding_body}
    pathways = [p for p in catalogue.pathways.values() if cred.id in p.credential_ids()]
    price = f"{cred.price.amount} {cred.price.currency}" if cred.price.amount else "free"
    overview = (
        f"{cred.title} — micro-credential awarded by {body} ({cred.issuer_country}). {cred.summary} "
        f"Workload {cred.ects:g} ECTS, EQF level {cred.eqf_level}. Price {price}. "
        f"Duration {cred.duration.weeks} weeks at about {cred.duration.hours_per_week:g} hours per week. "
        f"Participation: {cred.participation.value}; delivery: {cred.delivery_mode.value.replace('_', ' ')}; "
        f"language: {cred.language}."
    )
    if cred.competencies:
        overview += f" Competencies: {', '.join(cred.competencies)}."
    outcomes = f"{cred.title} — learning outcomes: " + " ".join(f"- {o}" for o in cred.learning_outcomes)
    criteria = "; ".join(f"{c.title}: {c.description}" for c in cred.rubric.criteria)
    assessment = (
        f"{cred.title} — assessment: {cred.assessment_type.value.replace('_', ' ')}, identity verification "
        f"{cred.id_verification.value.replace('_', ' ')}. Grading: {cred.grading or 'pass/fail'}. "
        f"Rubric criteria ({len(cred.rubric.criteria)}): {criteria}. Pass mark {cred.rubric.pass_threshold} "
        f"of {cred.rubric.max_points} points. Quality assurance: {cred.quality_assurance}"
    )
    requirements = f"{cred.title} — prerequisites: " + (
        _titles(catalogue, cred.prerequisites) if cred.prerequisites else "none"
    ) + "."
    if cred.stackability:
        requirements += f" Stackability: {cred.stackability}"
    if pathways:
        requirements += " Counts towards pathways: " + ", ".join(f"{p.title} ({p.id})" for p in pathways) + "."
    if cred.valid_for_months:
        requirements += f" Valid for {cred.valid_for_months} months after issue."
    if cred.further_information:
        requirements += f" Further information: {cred.further_information}"
    sections = {"overview": overview, "outcomes": outcomes, "assessment": assessment, "requirements": requirements}
    return [
        CatalogueDocument(f"credential:{cred.id}#{name}", text, {**base, "section": name})
        for name, text in sections.items()
    ]


def _pathway_docs(catalogue: Catalogue, path: Pathway) -> list[CatalogueDocument]:
    provider = catalogue.providers.get(path.awarding_body)
    body = provider.name if provider else path.awarding_body
    base = {"kind": "pathway", "pathway_id": path.id, "title": path.title, "provider_id": path.awarding_body}
    overview = f"{path.title} — pathway awarded by {body}, leads to {path.leads_to}. {path.summary}"
    rules = f"{path.title} — requirements: " + " ".join(describe_rule(catalogue, r) for r in path.requirements)
    docs = [
        CatalogueDocument(f"pathway:{path.id}#overview", overview, {**base, "section": "overview"}),
        CatalogueDocument(f"pathway:{path.id}#requirements", rules, {**base, "section": "requirements"}),
    ]
    if path.credit_recognition:
        parts = []
        for rec in path.credit_recognition:
            provider = catalogue.providers.get(rec.recognised_by)
            who = provider.name if provider else rec.recognised_by
            what = _titles(catalogue, rec.credentials) if rec.credentials else f"completing {path.title}"
            parts.append(f"{who} recognises {what} as {rec.ects:g} ECTS towards {rec.towards}."
                         + (f" {rec.conditions}" if rec.conditions else ""))
        docs.append(CatalogueDocument(f"pathway:{path.id}#recognition",
                                      f"{path.title} — credit recognition: " + " ".join(parts),
                                      {**base, "section": "recognition"}))
    return docs


def _provider_doc(catalogue: Catalogue, provider: Provider) -> CatalogueDocument:
    offered = [c.title for c in catalogue.credentials.values() if c.awarding_body == provider.id]
    own = f" ({provider.organization_type})" if provider.organization_type else ""
    text = (f"{provider.name} — {provider.kind.value} provider{own} in {provider.country}. {provider.description} "
            f"Quality assurance: {provider.quality_assurance}. Offers: {', '.join(offered) or 'nothing yet'}.")
    meta = {"kind": "provider", "provider_id": provider.id, "title": provider.name, "section": "overview"}
    return CatalogueDocument(f"provider:{provider.id}#overview", text, meta)


def catalogue_documents(catalogue: Catalogue) -> list[CatalogueDocument]:
    """All retrieval documents of a catalogue, in a stable order."""
    docs: list[CatalogueDocument] = []
    for cred in sorted(catalogue.credentials.values(), key=lambda c: c.id):
        docs += _credential_docs(catalogue, cred)
    for path in sorted(catalogue.pathways.values(), key=lambda p: p.id):
        docs += _pathway_docs(catalogue, path)
    for provider in sorted(catalogue.providers.values(), key=lambda p: p.id):
        docs.append(_provider_doc(catalogue, provider))
    return docs
