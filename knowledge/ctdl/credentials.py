"""Credentials, learning opportunities and components -> catalogue credentials."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from knowledge.ctdl.credits import _Credits
from knowledge.ctdl.elements import _Elements
from knowledge.ctdl.graph import _Draft
from knowledge.ctdl.jsonld import _as_list, _get, _refs, term
from knowledge.ctdl.places import currency_of
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.units import ECTS
from knowledge.ctdl.values import (
    PLACEHOLDER_ECTS,
    PLACEHOLDER_EQF,
    REVIEW,
    _alignments,
    _code,
    _sentences,
    _text,
    _texts,
)
from knowledge.ctdl.vocab import (
    _STRUCTURAL,
    _TARGET_PROPERTIES,
    _UNIT_HANDLED,
)
from knowledge.schema import (
    Credential,
    Participation,
)


class _Credentials(_Elements, _Credits):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`."""

    # -------------------------------------------------------- credentials

    def build_credentials(self) -> None:
        for node in self.nodes.values():
            role = self.roles.get(node.id)
            if role == "goal":
                self.note(NoteKind.info, f"destination component '{node.name}' is the pathway's goal (leads_to); "
                          "its conditions become the pathway's requirements, not a separate credential", node)
                continue
            if role == "empty":
                self.note(NoteKind.unmapped, f"{node.type_label} '{node.name}' has no conditions, children or "
                          "award; nothing to import", node)
                continue
            if role == "other-component":
                self.note(NoteKind.unmapped, f"{node.type_label} '{node.name}' is not an earnable learning unit; "
                          "not mapped", node)
                continue
            if role == "unknown":
                self.note(NoteKind.unmapped, f"resource type {node.type_label} not mapped", node)
                continue
            if role == "vocabulary":
                self.note(NoteKind.info, f"{node.type_label} '{node.name}' read only where a level or unit refers "
                          "to it", node)
                continue
            if role == "transfer":
                continue  # credit recognition, read with the pathways (knowledge.ctdl.recognition)
            if role == "condition":
                self.note(NoteKind.unmapped, "top-level ComponentCondition not attached to a component; ignored",
                          node)
                continue
            if role != "unit":
                continue
            source = self.unit_node(node)
            if source is not node:
                if source.id not in self.cred_of_node:
                    self.build_credential(source)
                if source.id in self.cred_of_node:
                    self.cred_of_node[node.id] = self.cred_of_node[source.id]
                    draft = self.drafts.get(self.cred_of_node[source.id])
                    if draft is not None:
                        draft.data["aliases"] = _merged_aliases(draft.data.get("aliases", []),
                                                                aliases_of(node, draft.data["title"]))
                    self.note(NoteKind.info, f"component '{node.name}' stands for '{source.name}' (sourceItem/proxyFor/"
                              "sourceData); imported once, from that resource", node)
                    self.unmapped_properties(node, _UNIT_HANDLED, f"component '{node.name}'")
                continue
            if node.id not in self.cred_of_node:
                self.build_credential(node)

    def build_credential(self, node: _Node) -> None:
        title = node.name
        cid = self.claim_id("c", title, _text(node.get("ctid")), node.id.rsplit("/", 1)[-1], prefix="credential")
        self.cred_of_node[node.id] = cid

        def placeholder(element: str, value: str, detail: str = "") -> None:
            self.note(NoteKind.placeholder, f"Annex I element '{element}' not present in CTDL{detail}; set to "
                      f"placeholder {value} — {REVIEW}", node, entity=cid)

        if not title:
            title = _text(node.get("ctid")) or f"Untitled {node.type_label}"
            self.note(NoteKind.placeholder, f"no ceterms:name; title set to '{title}' — {REVIEW}", node, entity=cid)
        provider_id = self.provider_for(node)
        provider = self.providers[provider_id]
        owners, offerers = _refs(node.get("ownedBy")), _refs(node.get("offeredBy"))
        extra = [r for r in owners[1:] + offerers if r not in owners[:1]] if owners else offerers[1:]
        if extra:
            self.note(NoteKind.unmapped, f"further owners/offerers {extra} not mapped (one awarding body per "
                      "credential)", node, entity=cid)
        summary = _text(node.get("description"))
        if not summary:
            summary = f"{title} (imported from CTDL; the source has no description)"
            self.note(NoteKind.placeholder, f"no ceterms:description; summary set to placeholder — {REVIEW}", node,
                      entity=cid)
        outcomes, competencies = self.outcomes(node, cid, title, summary)
        ects, unit = self.ects(node, cid)
        if ects is None:
            ects = PLACEHOLDER_ECTS
            placeholder("ects", f"{PLACEHOLDER_ECTS:g}", " (no creditValue)")
        eqf = self.eqf(node, cid)
        if eqf is None:
            eqf = PLACEHOLDER_EQF
            placeholder("eqf_level", str(PLACEHOLDER_EQF), " (no mappable audienceLevelType)")
        participation = self.participation(node, cid)
        if participation is None:
            participation = Participation.online
            placeholder("participation", "'online'", " (no recognised deliveryType)")
        qa = self.qa_text(node)
        if not qa:
            qa = f"Quality assurance of the awarding body: {provider.quality_assurance}"
            self.note(NoteKind.approximation, "no accreditedBy/recognizedBy on the credential; quality_assurance "
                      "taken from the awarding body", node, entity=cid)
        data: dict[str, Any] = {
            "id": cid,
            "title": title,
            "awarding_body": provider_id,
            "issuer_country": provider.country,
            "summary": summary,
            "learning_outcomes": outcomes,
            "ects": ects,
            "eqf_level": eqf,
            "assessment_type": self.assessment_type(node, cid),
            "participation": participation,
            "quality_assurance": qa,
            "further_information": self.provenance(node),
            "price": self.price(node, cid, currency_of(provider.country)),
            "duration": self.duration(node, cid, ects if unit is ECTS else None),
            "delivery_mode": self.delivery_mode(node, cid, participation),
            "language": self.language(node, cid),
            "competencies": competencies,
            "url": self.url(node, cid),
        }
        pathways = [self.nodes[p].name or p for p in self.member_of.get(node.id, [])]
        if pathways:
            data["stackability"] = "Component of CTDL pathway " + ", ".join(f"'{p}'" for p in pathways)
        elif any(node.has(p) for p in ("hasCondition", "prerequisite", "precedes", "preceeds", "hasChild")):
            self.note(NoteKind.unmapped, "pathway relations (hasCondition/prerequisite/precedes/hasChild) of a "
                      "component that is not part of an imported pathway are not mapped", node, entity=cid)
        data["aliases"] = aliases_of(node, title)
        data["rubric"] = self.placeholder_rubric(outcomes)
        self.note(NoteKind.placeholder, "CTDL has no rubric; generated a minimal placeholder rubric (3 criteria "
                  f"from the learning outcomes) — {REVIEW} before assessing", node, entity=cid)
        self.requirement_profiles(node, cid)
        self.pending_standing += [(cid, node, p) for p in _as_list(node.get("isAdvancedStandingFor"))
                                  if isinstance(p, dict)]
        self.unmapped_properties(node, _UNIT_HANDLED, f"'{title}'")
        self.drafts[cid] = _Draft(node, data)

    def provenance(self, node: _Node) -> str:
        parts = [f"Imported from CTDL {node.type_label} {node.id}"]
        ctid = _text(node.get("ctid"))
        if ctid:
            parts.append(f"ctid {ctid}")
        kinds = [_code(c) for c, _ in _alignments(node.get("credentialType")) if c]
        if kinds:
            parts.append("credential type " + ", ".join(kinds))
        for prop in ("sourceItem", "proxyFor", "sourceData"):
            refs = _refs(node.get(prop))
            if refs:
                parts.append(f"{prop} {', '.join(refs)}")
        return "; ".join(parts)

    def outcomes(self, node: _Node, cid: str, title: str, summary: str) -> tuple[list[str], list[str]]:
        outcomes: list[str] = []
        for prop in ("teaches", "assesses"):
            for code, name in _alignments(node.get(prop)):
                text = name or (self.resolve(code).name if code and self.resolve(code) else None)
                if not text:
                    self.note(NoteKind.unmapped, f"{node.key(prop)} {code} has no name in the import; not mapped",
                              node, node.ptr(node.key(prop)), entity=cid)
                elif text not in outcomes:
                    outcomes.append(text)
        for profile in _as_list(node.get("requires")):
            if isinstance(profile, dict):
                for code, name in _alignments(_get(profile, "targetCompetency")):
                    text = name or code
                    if text and text not in outcomes:
                        outcomes.append(text)
        competencies = []
        for text in _texts(node.get("keyword")) + [n for _, n in _alignments(node.get("subject")) if n]:
            if text not in competencies:
                competencies.append(text)
        if outcomes:
            return outcomes, competencies
        description = _text(node.get("description"))
        if description:
            outcomes = _sentences(description)
            self.note(NoteKind.placeholder, "Annex I element 'learning_outcomes' not present in CTDL (no teaches/"
                      f"assesses/targetCompetency); taken from the description's sentences — {REVIEW}", node,
                      entity=cid)
        if not outcomes:
            outcomes = [f"Demonstrate the learning recognised by '{title}'"]
            self.note(NoteKind.placeholder, "Annex I element 'learning_outcomes' not present in CTDL; set to a "
                      f"generic placeholder outcome — {REVIEW}", node, entity=cid)
        return outcomes, competencies

    def requirement_profiles(self, node: _Node, cid: str) -> None:
        """requires/entryCondition ConditionProfiles: targets in the import become prerequisites; credit
        requirements on a target pathway become min_credits; ``recommends`` targets become recommended (not
        required) credentials; ``isRequiredFor``/``isRecommendedFor`` say the same from the other side; the rest
        is reported."""
        for prop, relation, inverse in _CONDITION_RELATIONS:
            key = node.key(prop)
            for i, profile in enumerate(_as_list(node.get(prop))):
                pointer = node.ptr(key, i)
                if not isinstance(profile, dict):
                    self.note(NoteKind.unmapped, f"{key} entry is not a ConditionProfile; not mapped", node,
                              pointer, entity=cid)
                    continue
                label = _text(_get(profile, "name")) or _text(_get(profile, "description")) or key
                mapped = False
                for target_prop in _TARGET_PROPERTIES:
                    for ref in _refs(_get(profile, target_prop)):
                        target = self.resolve(ref)
                        if target is not None and self.roles.get(target.id) == "unit":
                            self.pending_prereqs.append((cid, target.id, node, pointer, relation, inverse))
                            mapped = True
                        else:
                            self.note(NoteKind.unmapped, f"{key} '{label}': {target_prop} {ref} is not a credential "
                                      "in the import; prerequisite dropped", node, pointer, entity=cid)
                pathways = _refs(_get(profile, "targetPathway")) if relation == "prerequisites" and not inverse else []
                if pathways and _get(profile, "creditValue") is not None:
                    credit = self.credit_ects(_get(profile, "creditValue"), node, cid, f"{key} '{label}' creditValue")
                    ects = credit[0] if credit else None
                    for ref in pathways:
                        if ects and ref in self.nodes:
                            self.pathway_credits.setdefault(ref, []).append((ects, f"required by '{node.name}'", node))
                            mapped = True
                        else:
                            self.note(NoteKind.unmapped, f"{key} '{label}': credit requirement on pathway {ref} "
                                      "(not in the import) not mapped", node, pointer, entity=cid)
                elif pathways:
                    self.note(NoteKind.unmapped, f"{key} '{label}': targetPathway without credits not mapped", node,
                              pointer, entity=cid)
                rest = [k for k in profile if term(k) not in (*_STRUCTURAL, *_TARGET_PROPERTIES, "name",
                                                                   "assertedBy", "targetPathway", "creditValue")]
                if not mapped:
                    detail = ", ".join(rest) if rest else "no importable target"
                    self.note(NoteKind.unmapped, f"{key} ConditionProfile '{label}' not mapped ({detail}); free-text "
                              "requirements have no catalogue equivalent", node, pointer, entity=cid)
                elif rest:
                    self.note(NoteKind.unmapped, f"{key} ConditionProfile '{label}': targets mapped; "
                              f"{', '.join(rest)} not mapped", node, pointer, entity=cid)

    def attach_advanced_standing(self) -> None:
        """``isAdvancedStandingFor`` ConditionProfiles with a credit value: holding the credential earns that
        credit towards the target, recognised by the profile's ``assertedBy`` or else the target's owner."""
        for cid, node, profile in self.pending_standing:
            draft = self.drafts.get(cid)
            label = _text(_get(profile, "name")) or "isAdvancedStandingFor"
            credit = self.credit_ects(_get(profile, "creditValue"), node, cid, f"isAdvancedStandingFor '{label}'")
            targets = [self.resolve(ref) for prop in _TARGET_PROPERTIES for ref in _refs(_get(profile, prop))]
            named = [t for t in targets if t is not None and t.name]
            if draft is None or credit is None or not named:
                self.note(NoteKind.unmapped, f"isAdvancedStandingFor '{label}' without a credit value or a named "
                          "target in the import; not mapped", node, entity=cid)
                continue
            asserted = [self.resolve(ref) for ref in _refs(_get(profile, "assertedBy"))]
            by = next((self.provider_from_org(a) for a in asserted
                       if a is not None and self.roles.get(a.id) == "org"), None)
            entry: dict[str, Any] = {"recognised_by": by or self.provider_for(named[0]),
                                     "towards": " / ".join(dict.fromkeys(t.name for t in named)), "ects": credit[0]}
            description = _text(_get(profile, "description"))
            if description:
                entry["conditions"] = description
            draft.data.setdefault("credit_recognition", []).append(entry)
            self.note(NoteKind.info, f"isAdvancedStandingFor mapped to credit recognition: {credit[0]:g} ECTS "
                      f"towards '{entry['towards']}'", node, entity=cid)

    def finish_credentials(self) -> list[Credential]:
        for cid, target_id, node, pointer, relation, inverse in self.pending_prereqs:
            target = self.cred_of_node.get(target_id)
            owner, before = (target, cid) if inverse else (cid, target)
            draft = self.drafts.get(owner) if owner else None
            if draft is None or before is None or before not in self.drafts or target == cid:
                what = "prerequisite" if relation == "prerequisites" else "recommended credential"
                self.note(NoteKind.unmapped, f"{what} {target_id} could not be imported as a credential; "
                          "dropped", node, pointer, entity=cid)
                continue
            listed = draft.data.setdefault(relation, [])
            if before not in listed:
                listed.append(before)
        self.attach_advanced_standing()
        for draft in self.drafts.values():  # required wins over recommended
            if draft.data.get("recommended"):
                required = set(draft.data.get("prerequisites", []))
                draft.data["recommended"] = [c for c in draft.data["recommended"] if c not in required]
        credentials = []
        for cid, draft in list(self.drafts.items()):
            unstated = unstated_fields([n.message for n in self.notes if n.entity == cid
                                        and n.kind in (NoteKind.placeholder, NoteKind.approximation)])
            if cid in self.published_credit:
                draft.data["published_credit"] = self.published_credit[cid]
                unstated = sorted({*unstated, "ects"})  # not published in ECTS: the figure is a conversion
            if unstated:
                draft.data["unstated"] = unstated
            try:
                credentials.append(Credential.model_validate(draft.data))
            except ValidationError as exc:
                errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                self.note(NoteKind.unmapped, f"credential could not be built and is left out: {errors}", draft.node,
                          entity=cid)
                del self.drafts[cid]
        return credentials


# ConditionProfile properties of a credential: (property, Credential field, whether the target is the credential
# that requires or recommends this one rather than the one this one requires or recommends)
_CONDITION_RELATIONS = (("requires", "prerequisites", False), ("entryCondition", "prerequisites", False),
                        ("recommends", "recommended", False), ("isRequiredFor", "prerequisites", True),
                        ("isRecommendedFor", "recommended", True))

_UNSTATED_MARKS = (("element 'ects'", "ects"), ("element 'eqf_level'", "eqf_level"),
                   ("element 'participation'", "participation"), ("element 'assessment_type'", "assessment_type"),
                   ("price not present", "price"), ("duration not present", "duration"),
                   ("but no hours", "hours_per_week"))


def unstated_fields(messages: list[str]) -> list[str]:
    """Which of a credential's fields hold placeholders, from its placeholder notes (the assistant then says the
    catalogue does not give them instead of stating the placeholder)."""
    found = [field for mark, field in _UNSTATED_MARKS if any(mark in m for m in messages)]
    return sorted(set(found))


def aliases_of(node: _Node, title: str) -> list[str]:
    """Other names learners may use for ``node``: its CTDL ctid, codes (codedNotation, identifier values) and
    alternate names; the title itself and repeats left out."""
    found = _texts(node.get("ctid")) + _texts(node.get("codedNotation")) + _texts(node.get("alternateName"))
    for item in _as_list(node.get("identifier")):
        if isinstance(item, dict):
            found += _texts(_get(item, "identifierValueCode"))
    return _merged_aliases([], found, title)


def _merged_aliases(existing: list[str], more: list[str], title: str | None = None) -> list[str]:
    seen = {a.casefold() for a in existing} | ({title.casefold()} if title else set())
    out = list(existing)
    for alias in more:
        alias = " ".join(alias.split())
        if alias and alias.casefold() not in seen:
            seen.add(alias.casefold())
            out.append(alias)
    return out
