"""Credits and levels of one credential: ECTS by the unit rules, EQF by the level rules."""

from __future__ import annotations

from typing import Any

from knowledge.ctdl.graph import _Graph
from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _refs
from knowledge.ctdl.levels import EQF_BY_TYPE, eqf_from_texts, us_level
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.units import ECTS, CreditUnit, UnitReading, read_unit
from knowledge.ctdl.values import (
    MAX_ECTS,
    REVIEW,
    _alignments,
    _number,
    _texts,
)
from knowledge.ctdl.vocab import (
    LEVEL_PROPERTIES,
)


class _Credits(_Graph):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`: ECTS and EQF of a node."""

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
        if unit is not ECTS and cid is not None:
            plural = "" if amount == 1 else "s"
            self.published_credit[cid] = f"{amount:g} {unit.label}{plural}"
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
            self.note(NoteKind.approximation, f"{ects:g} ECTS exceeds the largest qualification ("
                      f"{MAX_ECTS:g} ECTS); capped — {REVIEW}", node, entity=cid)
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
