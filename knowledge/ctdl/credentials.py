"""Credentials, learning opportunities and components -> catalogue credentials."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from knowledge.ctdl.durations import DURATION_PROPERTIES, estimate_duration, read_duration
from knowledge.ctdl.graph import _Draft, _Graph
from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _refs, term
from knowledge.ctdl.levels import EQF_BY_TYPE, eqf_from_texts, us_level
from knowledge.ctdl.places import currency_of
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.units import ECTS, CreditUnit, UnitReading, read_unit
from knowledge.ctdl.values import (
    DEFAULT_CURRENCY,
    MAX_ECTS,
    PLACEHOLDER_ECTS,
    PLACEHOLDER_EQF,
    REVIEW,
    _alignments,
    _code,
    _number,
    _sentences,
    _text,
    _texts,
    _url,
)
from knowledge.ctdl.vocab import (
    _CURRENCIES,
    _STRUCTURAL,
    _TARGET_PROPERTIES,
    _UNIT_HANDLED,
    LEVEL_PROPERTIES,
)
from knowledge.schema import (
    AssessmentType,
    Credential,
    DeliveryMode,
    Participation,
)


class _Credentials(_Graph):
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

    def region_of(self, node: _Node) -> str | None:
        """Country of the awarding body of ``node`` when already known (no placeholder is created)."""
        for prop in ("ownedBy", "offeredBy"):
            for ref in _refs(node.get(prop)):
                pid = self.provider_of_node.get(ref)
                if pid in self.providers:
                    return self.providers[pid].country
        for pathway_id in self.member_of.get(node.id, []):
            pathway = self.nodes[pathway_id]
            if pathway is not node and (pathway.has("ownedBy") or pathway.has("offeredBy")):
                return self.region_of(pathway)
        return None

    def credit_ects(self, values: Any, node: _Node, cid: str | None, where: str) -> tuple[float, CreditUnit] | None:
        """ECTS from CTDL value profiles (``creditValue``) and the unit they were published in; None when absent
        or not convertible."""
        profiles = [p for p in _as_list(values) if isinstance(p, dict)]
        if len(profiles) > 1:
            self.note(NoteKind.unmapped, f"{where}: {len(profiles)} value profiles; only the first is mapped", node,
                      entity=cid)
        for profile in profiles:
            amount = _number(_get(profile, "value"))
            if amount is None:
                amount = _number(_get(profile, "maxValue")) or _number(_get(profile, "minValue"))
            unit_types = _get(profile, "creditUnitType")
            codes = [c for c, _ in _alignments(unit_types) if c]
            labels = [n for _, n in _alignments(unit_types) if n]
            labels += [t for item in _as_list(unit_types) if isinstance(item, dict)
                       for t in _texts(_get(item, "prefLabel"))]
            labels += _texts(_get(profile, "creditUnitTypeDescription"))
            unit_texts = _texts(_get(profile, "unitText"))
            reading = read_unit(unit_texts, labels, codes, self.region_of(node))
            shown = (codes or unit_texts or labels or ["(none)"])[0]
            return self.convert_credits(amount, reading, shown, node, cid, where)
        return None

    def convert_credits(self, amount: float | None, reading: UnitReading, shown: str, node: _Node, cid: str | None,
                        where: str) -> tuple[float, CreditUnit] | None:
        if amount is None or amount <= 0:
            self.note(NoteKind.unmapped, f"{where} has no positive value; not mapped", node, entity=cid)
            return None
        unit = reading.unit
        if unit is None:
            self.note(NoteKind.unmapped, f"{where} unit '{reading.evidence}' cannot be converted to ECTS; not mapped",
                      node, entity=cid)
            return None
        ects = round(amount * unit.ects_per_unit, 2)
        if unit is not ECTS:
            self.note(NoteKind.approximation, f"{where} {amount:g} {shown} converted to {ects:g} ECTS: unit "
                      f"{unit.label} from {reading.evidence}; {unit.basis}", node, entity=cid)
        elif reading.assumed:
            self.note(NoteKind.approximation, f"{where} {amount:g} {shown} kept as {ects:g} ECTS: {reading.evidence} "
                      f"— {REVIEW}", node, entity=cid)
        return ects, unit

    def ects(self, node: _Node, cid: str) -> tuple[float | None, CreditUnit | None]:
        """The credential's ECTS and the unit it was published in (None, None when the source has none)."""
        found = None
        if node.has("creditValue"):
            found = self.credit_ects(node.get("creditValue"), node, cid, node.key("creditValue"))
        for value_prop, unit_prop in (("creditUnitValue", "creditUnitType"), ("creditHourValue", "creditHourType")):
            if found is None and node.has(value_prop):
                codes = [c for c, _ in _alignments(node.get(unit_prop)) if c]
                labels = [n for _, n in _alignments(node.get(unit_prop)) if n]
                labels += _texts(node.get("creditUnitTypeDescription"))
                reading = read_unit([], labels, codes or ["SemesterHour"], self.region_of(node))
                found = self.convert_credits(_number(node.get(value_prop)), reading, (codes or ["SemesterHour"])[0],
                                             node, cid, node.key(value_prop))
        if found is None:
            return None, None
        ects, unit = found
        if ects > MAX_ECTS:
            self.note(NoteKind.approximation, f"{ects:g} ECTS exceeds the micro-credential maximum of "
                      f"{MAX_ECTS:g}; capped — {REVIEW}", node, entity=cid)
            ects = MAX_ECTS
        return ects, unit

    def level_values(self, node: _Node) -> list[tuple[str, list[str], list[str]]]:
        """(label, names, codes) of each audience/education level of ``node``; references to concept nodes in the
        import are resolved to their names."""
        found = []
        for prop in LEVEL_PROPERTIES:
            for item in _as_list(node.get(prop)):
                names: list[str] = []
                codes: list[str] = []
                target = item if isinstance(item, dict) else None
                ref = item if isinstance(item, str) else None
                if target is not None:
                    node_ref = _get(target, "targetNode")
                    ref = node_ref if isinstance(node_ref, str) else _id_of(node_ref) or _id_of(target)
                    for name in ("targetNodeName", "prefLabel", "name", "notation", "codedNotation"):
                        names += _texts(_get(target, name))
                    codes += _texts(_get(target, "frameworkName")) + _refs(_get(target, "framework"))
                if ref:
                    codes.insert(0, ref)
                    concept = self.resolve(ref)
                    if concept is not None:
                        for name in ("prefLabel", "name", "targetNodeName", "notation", "codedNotation"):
                            names += _texts(concept.get(name))
                        codes += _texts(concept.get("inScheme")) + _refs(concept.get("inScheme"))
                label = ref or (names[0] if names else "")
                if label or names:
                    found.append((label or names[0], names, codes))
        return found

    def eqf(self, node: _Node, cid: str | None) -> int | None:
        values = self.level_values(node)
        published = [(label, level) for label, names, codes in values
                     if (level := eqf_from_texts(names, codes)) is not None]
        if published:
            levels = sorted({level for _, level in published})
            eqf = levels[0]
            sources = ", ".join(f"'{label}'" for label, _ in published)
            if len(levels) > 1:
                self.note(NoteKind.approximation, f"several EQF levels published ({sources}); eqf_level set to the "
                          f"lowest, {eqf} — {REVIEW}", node, entity=cid)
            else:
                self.note(NoteKind.info, f"eqf_level {eqf} as published in {sources}", node, entity=cid)
            return eqf
        mapped = [(label, level) for label, names, _ in values
                  if (level := us_level(label) or next((us_level(n) for n in names if us_level(n)), None))]
        if mapped:
            eqf = min(level for _, level in mapped)
            sources = ", ".join(label for label, _ in mapped)
            self.note(NoteKind.approximation, f"eqf_level {eqf} mapped from audience level {sources} (approximate "
                      f"US-to-EQF mapping) — {REVIEW}", node, entity=cid)
            return eqf
        for local_type in node.types:
            for needle, eqf in EQF_BY_TYPE:
                if needle in local_type:
                    self.note(NoteKind.approximation, f"eqf_level {eqf} inferred from type {local_type} — {REVIEW}",
                              node, entity=cid)
                    return eqf
        if values:
            self.note(NoteKind.unmapped, "audience level " + ", ".join(label for label, _, _ in values)
                      + " has no EQF equivalent", node, entity=cid)
        return None

    def assessment_type(self, node: _Node, cid: str) -> AssessmentType:
        kinds = []
        for code, name in _alignments(node.get("assessmentMethodType")):
            text = f"{code or ''} {name or ''}".lower()
            kind = (AssessmentType.written_exam if "exam" in text else AssessmentType.portfolio if "artifact" in text
                    else AssessmentType.observed_practice if "performance" in text else None)
            if kind and kind not in kinds:
                kinds.append(kind)
        if kinds:
            return kinds[0] if len(kinds) == 1 else AssessmentType.mixed
        if any(t in ("Certification", "License", "AssessmentProfile", "Assessment", "AssessmentComponent")
               for t in node.types):
            self.note(NoteKind.placeholder, "Annex I element 'assessment_type' not present in CTDL; set to "
                      f"'written_exam' (inferred from type {node.type_label}) — {REVIEW}", node, entity=cid)
            return AssessmentType.written_exam
        self.note(NoteKind.placeholder, "Annex I element 'assessment_type' not present in CTDL (no "
                  f"recognised assessmentMethodType); set to placeholder 'project' — {REVIEW}", node, entity=cid)
        return AssessmentType.project

    def participation(self, node: _Node, cid: str) -> Participation | None:
        modes: set[Participation] = set()
        for prop in ("learningDeliveryType", "deliveryType", "assessmentDeliveryType"):
            for code, name in _alignments(node.get(prop)):
                text = f"{code or ''} {name or ''}".lower()
                if "blend" in text or "hybrid" in text:
                    modes.add(Participation.blended)
                elif "online" in text or "virtual" in text:
                    modes.add(Participation.online)
                elif "person" in text or "onsite" in text or "campus" in text or "site" in text:
                    modes.add(Participation.onsite)
        if not modes:
            return None
        if len(modes) == 1:
            return next(iter(modes))
        self.note(NoteKind.approximation, "several delivery types given; participation set to 'blended'", node,
                  entity=cid)
        return Participation.blended

    def delivery_mode(self, node: _Node, cid: str, participation: Participation) -> DeliveryMode:
        mode = DeliveryMode.self_paced if participation is Participation.online else DeliveryMode.instructor_led
        self.note(NoteKind.placeholder, f"delivery_mode not present in CTDL; set to '{mode.value}' from "
                  f"participation '{participation.value}' — {REVIEW}", node, entity=cid)
        return mode

    def price(self, node: _Node, cid: str, local_currency: str = DEFAULT_CURRENCY) -> dict[str, Any]:
        profiles = [p for p in _as_list(node.get("estimatedCost")) if isinstance(p, dict)]
        costs = []
        for profile in profiles:
            amount = _number(_get(profile, "price"))
            currency_raw = _text(_get(profile, "currency")) or ""
            currency = _CURRENCIES.get(currency_raw.strip().lower())
            if currency is None and re.fullmatch(r"[A-Za-z]{3}", currency_raw.strip()):
                currency = currency_raw.strip().upper()
            cost_types = " ".join(_code(c) for c, _ in _alignments(_get(profile, "directCostType")) if c)
            if amount is not None:
                costs.append((amount, currency, currency_raw, "aggregatecost" in cost_types))
        if not costs:
            if profiles:
                self.note(NoteKind.unmapped, "estimatedCost has no ceterms:price; not mapped", node,
                          node.ptr(node.key("estimatedCost")), entity=cid)
            self.note(NoteKind.placeholder, f"price not present in CTDL; set to placeholder 0 {local_currency} "
                      f"— {REVIEW}", node, entity=cid)
            return {"amount": Decimal("0"), "currency": local_currency}
        aggregate = [c for c in costs if c[3]]
        if aggregate:
            chosen = aggregate[0]
            amount = chosen[0]
        else:
            chosen = costs[0]
            currencies = {c[1] for c in costs}
            amount = sum(c[0] for c in costs) if len(currencies) == 1 else chosen[0]
            if len(costs) > 1:
                self.note(NoteKind.approximation, f"{len(costs)} cost profiles; price set to "
                          + ("their sum" if len(currencies) == 1 else "the first"), node, entity=cid)
        currency = chosen[1]
        if currency is None:
            currency = local_currency
            self.note(NoteKind.placeholder, f"currency '{chosen[2]}' not recognised; set to {local_currency} — "
                      f"{REVIEW}", node, entity=cid)
        try:
            value = Decimal(str(amount)).quantize(Decimal("0.01"))
        except InvalidOperation:
            value = Decimal("0")
        self.note(NoteKind.info, "cost details other than price and currency (costDetails, directCostType, "
                  "description) are not mapped", node, node.ptr(node.key("estimatedCost")), entity=cid)
        return {"amount": value, "currency": currency}

    def duration(self, node: _Node, cid: str, published_ects: float | None) -> dict[str, Any]:
        """Weeks and hours a week from ``estimatedDuration`` only (see :mod:`knowledge.ctdl.durations` for the
        placeholder rules); credits converted from another system never set hours."""
        texts: list[str] = []
        weeks = hours = None
        for profile in _as_list(node.get("estimatedDuration")):
            if not isinstance(profile, dict):
                continue
            texts += _texts(_get(profile, "description"))
            found = read_duration({prop: _text(_get(profile, prop)) for prop in DURATION_PROPERTIES})
            weeks, hours = weeks or found.weeks, hours or found.hours
        estimate = estimate_duration(weeks, hours, published_ects)
        if texts and (weeks or hours):
            self.note(NoteKind.unmapped, f"estimatedDuration description not mapped: '{texts[0][:120]}'", node,
                      entity=cid)
        elif texts:
            estimate = estimate.model_copy(update={"note": f"{estimate.note} (description only: '{texts[0][:120]}')"})
        if estimate.note:
            kind = NoteKind.approximation if estimate.approximate else NoteKind.placeholder
            self.note(kind, estimate.note + ("" if estimate.approximate else f" — {REVIEW}"), node, entity=cid)
        return {"weeks": estimate.weeks, "hours_per_week": estimate.hours_per_week}

    def language(self, node: _Node, cid: str) -> str:
        values = _texts(node.get("inLanguage"))
        for value in values:
            code = value.strip().lower()[:2]
            if re.fullmatch(r"[a-z]{2}", code):
                others = sorted({v.lower()[:2] for v in values} - {code})
                if others:
                    self.note(NoteKind.unmapped, f"further inLanguage values {others} not mapped (one language per "
                              "credential)", node, entity=cid)
                return code
            self.note(NoteKind.unmapped, f"inLanguage '{value}' not recognised; language left as 'en'", node,
                      entity=cid)
        return "en"

    def url(self, node: _Node, cid: str) -> str | None:
        for prop in ("subjectWebpage", "availableOnlineAt"):
            if node.has(prop):
                url = _url(node.get(prop))
                if url:
                    other = _url(node.get("availableOnlineAt")) if prop == "subjectWebpage" else None
                    if other and other != url:
                        self.note(NoteKind.unmapped, f"availableOnlineAt {other} not mapped (url is the "
                                  "subjectWebpage)", node, node.ptr(node.key("availableOnlineAt")), entity=cid)
                    return url
                self.note(NoteKind.unmapped, f"{node.key(prop)} is not a valid http(s) URL; dropped", node,
                          node.ptr(node.key(prop)), entity=cid)
        return None

    def placeholder_rubric(self, outcomes: list[str]) -> dict[str, Any]:
        generic = ["Applies the learning to a realistic task", "Explains and justifies the approach taken",
                   "Reflects on the result and next steps"]
        texts = (outcomes + [g for g in generic if g not in outcomes])[:3]
        criteria = []
        for i, text in enumerate(texts, start=1):
            short = text if len(text) <= 60 else text[:57].rstrip() + "..."
            criteria.append({
                "id": f"outcome-{i}",
                "title": f"PLACEHOLDER — {short}",
                "description": f"{text} (placeholder criterion generated by the CTDL import; review before use)",
                "levels": [
                    {"id": "not-yet", "label": "Not yet", "points": 0,
                     "descriptor": f"The evidence does not yet show: {text}"},
                    {"id": "meets", "label": "Meets", "points": 2, "descriptor": f"The evidence shows: {text}"},
                    {"id": "exceeds", "label": "Exceeds", "points": 3,
                     "descriptor": f"The evidence shows, independently and in depth: {text}"},
                ],
            })
        return {"criteria": criteria, "pass_threshold": 6, "min_points_each": 2}

    def requirement_profiles(self, node: _Node, cid: str) -> None:
        """requires/entryCondition ConditionProfiles: targets in the import become prerequisites; credit
        requirements on a target pathway become min_credits; the rest is reported."""
        for prop in ("requires", "entryCondition"):
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
                            self.pending_prereqs.append((cid, target.id, node, pointer))
                            mapped = True
                        else:
                            self.note(NoteKind.unmapped, f"{key} '{label}': {target_prop} {ref} is not a credential "
                                      "in the import; prerequisite dropped", node, pointer, entity=cid)
                pathways = _refs(_get(profile, "targetPathway"))
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

    def finish_credentials(self) -> list[Credential]:
        for cid, target_id, node, pointer in self.pending_prereqs:
            target = self.cred_of_node.get(target_id)
            draft = self.drafts.get(cid)
            if draft is None or target is None or target not in self.drafts or target == cid:
                self.note(NoteKind.unmapped, f"prerequisite {target_id} could not be imported as a credential; "
                          "dropped", node, pointer, entity=cid)
                continue
            prereqs = draft.data.setdefault("prerequisites", [])
            if target not in prereqs:
                prereqs.append(target)
        credentials = []
        for cid, draft in list(self.drafts.items()):
            try:
                credentials.append(Credential.model_validate(draft.data))
            except ValidationError as exc:
                errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                self.note(NoteKind.unmapped, f"credential could not be built and is left out: {errors}", draft.node,
                          entity=cid)
                del self.drafts[cid]
        return credentials


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
