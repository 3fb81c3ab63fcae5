"""The other Annex I and offer elements of one credential: assessment, participation, delivery, price,
duration, language, URL, and the placeholder rubric."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from knowledge.ctdl.durations import DURATION_PROPERTIES, estimate_duration, read_duration
from knowledge.ctdl.graph import _Graph
from knowledge.ctdl.jsonld import _as_list, _get
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.values import (
    DEFAULT_CURRENCY,
    REVIEW,
    _alignments,
    _code,
    _number,
    _text,
    _texts,
    _url,
)
from knowledge.ctdl.vocab import (
    _CURRENCIES,
)
from knowledge.schema import (
    AssessmentType,
    DeliveryMode,
    Participation,
)


class _Elements(_Graph):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`: the per-credential element readers."""

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
