"""Pathways: destination components and their conditions -> requirement expressions -> rules."""

from __future__ import annotations

import json
import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from pydantic import ValidationError

from knowledge.ctdl.credentials import aliases_of
from knowledge.ctdl.expressions import (
    _Expr,
    _Group,
    _Unit,
)
from knowledge.ctdl.graph import _Graph
from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _key, _ptr, _refs, term
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.rules import _RuleBuilder
from knowledge.ctdl.units import read_unit
from knowledge.ctdl.values import (
    REVIEW,
    _number,
    _text,
    _texts,
)
from knowledge.ctdl.vocab import (
    _CONDITION_HANDLED,
    _GROUP_HANDLED,
    _PATHWAY_HANDLED,
    _classify,
)
from knowledge.schema import (
    MinCredits,
    Pathway,
    Prerequisite,
)


class _Pathways(_Graph):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`."""

    # -------------------------------------------------------- pathway requirements

    def expr(self, ref: str, stack: tuple[str, ...], referrer: _Node, pointer: str) -> _Expr | None:
        node = self.resolve(ref)
        if node is None:
            self.note(NoteKind.unmapped, f"target component {ref} is not in the import; dropped from the condition",
                      referrer, pointer)
            return None
        if ref in stack:
            self.note(NoteKind.unmapped, f"conditions of '{node.name}' refer back to it (cycle); the loop is dropped",
                      referrer, pointer)
            return None
        if ref in self.memo:
            return self.memo[ref]
        role = self.roles.get(ref)
        result: _Expr | None = None
        if role == "unit":
            cred = self.cred_of_node.get(ref)
            if cred is not None and cred in self.drafts:
                requires = tuple(self.own_conditions(node, (*stack, ref)))
                if requires:
                    self.note(NoteKind.info, f"'{node.name}' is earnable and has its own conditions: imported as a "
                              "credential whose conditions are requirements (and, where all-of, prerequisites)",
                              node)
                result = _Unit(cred, requires)
        elif role in ("group", "goal"):
            parts = self.own_conditions(node, (*stack, ref))
            if len(parts) == 1:
                result = parts[0]
            elif parts:
                result = _Group(len(parts), tuple(parts), node.name or "conditions")
            self.unmapped_properties(node, _GROUP_HANDLED, f"{node.type_label} '{node.name}'")
            award = [node.key(p) for p in ("credentialType", "completionAward") if node.has(p)]
            if award and role == "group":
                self.note(NoteKind.unmapped, f"award of group '{node.name}' ({', '.join(award)}) not mapped: the "
                          "group is imported as requirements, not as a credential", node)
        else:
            self.note(NoteKind.unmapped, f"{node.type_label} '{node.name}' cannot be part of a requirement; "
                      "dropped from the condition", referrer, pointer)
        self.memo[ref] = result
        return result

    def own_conditions(self, node: _Node, stack: tuple[str, ...]) -> list[_Expr]:
        parts = []
        key = node.key("hasCondition")
        conditions = _as_list(node.get("hasCondition"))
        for i, cond in enumerate(conditions):
            pointer = node.ptr(key, i) if isinstance(node.get("hasCondition"), list) else node.ptr(key)
            if isinstance(cond, str):
                target = self.resolve(cond)
                if target is not None and isinstance(target.data, dict) and _classify(target.types) == "condition":
                    cond, pointer = target.data, target.pointer
                else:
                    self.note(NoteKind.unmapped, f"hasCondition {cond} is not a ComponentCondition in the import",
                              node, pointer)
                    continue
            expr = self.condition_expr(node, cond, pointer, stack)
            if expr is not None:
                parts.append(expr)
        child_key = node.key("hasChild") if node.has("hasChild") else node.key("isParentOf")
        children = _refs(node.get("hasChild")) + _refs(node.get("isParentOf"))
        if conditions:
            targeted = set()
            for cond in conditions:
                targeted.update(self.condition_targets(cond))
            for child in children:
                if child not in targeted:
                    self.note(NoteKind.unmapped, f"child {child} of '{node.name}' is not targeted by any of its "
                              "conditions; ignored", node, node.ptr(child_key))
        elif children:
            exprs = [e for i, c in enumerate(children)
                     if (e := self.expr(c, stack, node, node.ptr(child_key, i))) is not None]
            if exprs:
                parts.append(_Group(len(exprs), tuple(exprs), f"{node.name}: all children"))
                self.note(NoteKind.approximation, f"'{node.name}' has children but no ComponentCondition, so CTDL "
                          f"gives no completion rule; all {len(exprs)} children taken as required — {REVIEW}", node)
        return parts

    def required_number(self, owner: _Node, cond: dict[str, Any], total: int, pointer: str) -> int:
        n = _number(_get(cond, "requiredNumber"))
        if n is None:
            for profile in _as_list(_get(cond, "hasRuleSet")):
                if isinstance(profile, dict) and _number(_get(profile, "requiredNumber")) is not None:
                    n = _number(_get(profile, "requiredNumber"))
        if n is None and _get(cond, "rightOperand") is not None:
            left = (_text(_get(cond, "leftOperand")) or "").lower()
            operand = _text(_get(cond, "operand")) or ""
            if "num" in left or "count" in left:
                n = _number(_get(cond, "rightOperand"))
                if operand in ("=", "==", "<="):
                    self.note(NoteKind.approximation, f"condition '{left} {operand} {n:g}' read as 'at least "
                              f"{n:g}' (the catalogue has no exact/at-most count)", owner, pointer)
        if n is None:
            operator = (_text(_get(cond, "logicalOperand")) or "").upper()
            if operator == "OR":
                n = 1.0
            elif operator == "AND":
                n = float(total)
        if n is None and _number(owner.get("requiredNumber")) is not None:
            n = _number(owner.get("requiredNumber"))
            self.note(NoteKind.approximation, f"requiredNumber {n:g} given on the component, not on its "
                      "ComponentCondition; applied to the condition", owner, pointer)
        if n is None:
            text = " ".join(_texts(_get(cond, "name")) + _texts(_get(cond, "description")))
            match = re.search(r"(\d+)\s+of\s+(\d+)", text)
            if match:
                n = float(match.group(1))
                self.note(NoteKind.approximation, f"ComponentCondition without requiredNumber; read {n:g} from its "
                          f"text '{text[:80]}'", owner, pointer)
        if n is None:
            n = float(total)
            self.note(NoteKind.approximation, f"ComponentCondition without requiredNumber; all {total} targets "
                      f"taken as required — {REVIEW}", owner, pointer)
        return int(n)

    def condition_expr(self, owner: _Node, cond: dict[str, Any], pointer: str,
                       stack: tuple[str, ...]) -> _Expr | None:
        targets = _as_list(_get(cond, "targetComponent"))
        target_key = _key(cond, "targetComponent") or "targetComponent"
        children: list[_Expr] = []
        for i, target in enumerate(targets):
            ref = target if isinstance(target, str) else _id_of(target)
            target_ptr = _ptr(pointer, target_key, i) if isinstance(_get(cond, "targetComponent"), list) \
                else _ptr(pointer, target_key)
            if not ref:
                self.note(NoteKind.unmapped, "inline target component without @id not mapped", owner, target_ptr)
                continue
            expr = self.expr(ref, stack, owner, target_ptr)
            if expr is not None:
                children.append(expr)
        nested = _as_list(_get(cond, "hasCondition"))
        nested_key = _key(cond, "hasCondition") or "hasCondition"
        for j, sub in enumerate(nested):
            if isinstance(sub, dict):
                expr = self.condition_expr(owner, sub, _ptr(pointer, nested_key, j), stack)
                if expr is not None:
                    children.append(expr)
        declared = len(targets) + len(nested)
        n = self.required_number(owner, cond, declared, pointer)
        label = owner.name or owner.type_label
        cond_name = _text(_get(cond, "name")) or _text(_get(cond, "description"))
        if cond_name and cond_name != label:
            label = f"{label}: {cond_name}"
        credits = None
        if _get(cond, "creditValue") is not None:
            credit = self.credit_ects(_get(cond, "creditValue"), owner, None, "ComponentCondition creditValue")
            credits = credit[0] if credit else None
        for profile in _as_list(_get(cond, "hasRuleSet")):
            if isinstance(profile, dict) and "credit" in json.dumps(_get(profile, "countRuleType") or "").lower():
                reading = read_unit([], [], ["SemesterHour"], None)
                credit = self.convert_credits(float(n), reading, "SemesterHour", owner, None, "credit count rule")
                credits = credit[0] if credit else None
        for key in cond:
            local = term(key)
            if local == "hasConstraint":
                minimum = self.credit_constraint(owner, _get(cond, "hasConstraint"), _ptr(pointer, key))
                if minimum is not None:
                    credits = minimum
            elif local not in _CONDITION_HANDLED:
                self.note(NoteKind.unmapped, f"{key} of ComponentCondition not mapped", owner, _ptr(pointer, key))
        if _text(_get(cond, "description")) and _text(_get(cond, "description")) not in label:
            self.note(NoteKind.info, "ComponentCondition description kept only as the rule's label source; text: "
                      f"'{_text(_get(cond, 'description'))[:100]}'", owner, pointer)
        if not children:
            self.note(NoteKind.unmapped, f"condition '{label}' has no importable targets; ignored", owner, pointer)
            return None
        if credits is not None:
            return _Group(0, tuple(children), label, credits=credits)
        if n <= 0:
            self.note(NoteKind.unmapped, f"condition '{label}' requires {n} components; nothing to require", owner,
                      pointer)
            return None
        if n > len(children):
            self.note(NoteKind.approximation, f"condition '{label}' requires {n} of {declared} targets but only "
                      f"{len(children)} could be imported; requires all {len(children)} instead — {REVIEW}",
                      owner, pointer)
            n = len(children)
        return _Group(n, tuple(children), label)

    def credit_constraint(self, owner: _Node, constraints: Any, pointer: str) -> float | None:
        """A ``ceterms:Constraint`` that the targets' summed ``creditValue`` be at least a number: the minimum
        credits (in the unit the components were imported in, ECTS); any other constraint is reported."""
        for constraint in _as_list(constraints):
            if not isinstance(constraint, dict):
                continue
            left = " ".join(term(v if isinstance(v, str) else _id_of(v) or "")
                            for v in _as_list(_get(constraint, "leftSource")))
            comparator = term(str(_get(constraint, "comparator") or ""))
            right = [_number(v) for v in _as_list(_get(constraint, "rightSource"))]
            if "creditValue" in left and comparator in ("greaterThanOrEqualTo", "greaterThan") and right and \
                    right[0] is not None and right[0] > 0:
                if comparator == "greaterThan":
                    self.note(NoteKind.approximation, f"constraint 'credits > {right[0]:g}' read as at least "
                              f"{right[0]:g} ECTS — {REVIEW}", owner, pointer)
                return float(right[0])
            self.note(NoteKind.unmapped, "ComponentCondition constraint not mapped (only 'sum of creditValue at "
                      "least N' has a catalogue equivalent)", owner, pointer)
        return None

    def build_pathways(self) -> list[Pathway]:
        pathways: list[Pathway] = []
        built: list[tuple[_Node, dict[str, Any]]] = []
        for node in self.nodes.values():
            if self.roles.get(node.id) != "pathway":
                continue
            name = node.name
            pid = self.claim_id("w", name, _text(node.get("ctid")), node.id.rsplit("/", 1)[-1], prefix="pathway")
            self.pathway_ids[node.id] = pid
            data = self.pathway_data(node, pid, name)
            if data is not None:
                built.append((node, data))
        self.break_cycles(built)
        self.attach_recognitions(built)
        for node, data in built:
            try:
                pathways.append(Pathway.model_validate(data))
            except ValidationError as exc:
                errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                self.note(NoteKind.unmapped, f"pathway could not be built and is left out: {errors}", node)
        return pathways

    def pathway_data(self, node: _Node, pid: str, name: str | None) -> dict[str, Any] | None:
        title = name or f"Pathway {pid}"
        if not name:
            self.note(NoteKind.placeholder, f"pathway has no ceterms:name; title set to '{title}' — {REVIEW}", node)
        roots = self.roots(node)
        if not roots:
            candidates = [self.nodes[m] for m in self.members(node)]
            targeted = {t for c in candidates for cond in _as_list(c.get("hasCondition"))
                        for t in self.condition_targets(cond)}
            targeted |= {t for c in candidates for t in _refs(c.get("hasChild")) + _refs(c.get("isParentOf"))}
            roots = [c for c in candidates if c.id not in targeted]
            if roots:
                self.note(NoteKind.approximation, "no resolvable destination component; using the "
                          f"{len(roots)} component(s) nothing else points to as destinations — {REVIEW}", node)
        exprs: list[_Expr] = []
        for root in roots:
            if self.roles.get(root.id) == "goal":
                parts = self.own_conditions(root, (root.id,))
                same = {"description", "sourceItem", "proxyFor"}  # summary (fallback) and EQF level
                self.unmapped_properties(root, _GROUP_HANDLED | same, f"destination '{root.name}'")
                exprs += parts
            else:
                expr = self.expr(root.id, (), node, node.pointer)
                if expr is not None:
                    exprs.append(expr)
        builder = _RuleBuilder(self, node)
        for expr in exprs:
            builder.require(expr, title)
        for expr in exprs:
            builder.prerequisites_from(expr)
        builder.relations([self.nodes[m] for m in self.members(node)])
        for ects, why, source in self.pathway_credits.get(node.id, []):
            builder.rules.append(MinCredits(rule="min_credits", ects=ects, label=f"{why} (min_credits)"))
            self.note(NoteKind.info, f"credit requirement {why} mapped to min_credits {ects:g} ECTS on pathway "
                      f"'{title}'", source)
        requirements = builder.finish()
        if not requirements:
            self.note(NoteKind.unmapped, "pathway has no mappable requirements (no resolvable components or "
                      "conditions); not imported", node)
            return None
        leads_to = " / ".join(r.name for r in roots if r.name) or title
        if not any(r.name for r in roots):
            self.note(NoteKind.placeholder, f"no named destination component; leads_to set to the pathway name "
                      f"— {REVIEW}", node)
        summary = _text(node.get("description"))
        described = [r for r in roots if _text(r.get("description"))]
        if not summary and described:
            summary = _text(described[0].get("description"))
            self.note(NoteKind.info, f"pathway has no ceterms:description; summary taken from its destination "
                      f"'{described[0].name}'", node)
        if not summary:
            summary = f"Pathway to {leads_to} (imported from CTDL; the source has no description)"
            self.note(NoteKind.placeholder, f"pathway has no ceterms:description; summary set to placeholder — "
                      f"{REVIEW}", node)
        eqf = None
        for root in roots:
            eqf = self.eqf(self.unit_node(root), pid)
            if eqf is not None:
                break
        self.unmapped_properties(node, _PATHWAY_HANDLED, f"pathway '{title}'")
        if node.get("hasPart") is not None:
            self.note(NoteKind.info, "hasPart used only to find the pathway's components", node,
                      node.ptr(node.key("hasPart")))
        data = {"id": pid, "title": title, "awarding_body": self.provider_for(node), "summary": summary,
                "leads_to": leads_to, "requirements": requirements}
        if eqf is not None:
            data["eqf_level"] = eqf
        destination = self.destination(node, roots, requirements)
        if destination is not None:
            data["destination"] = destination
        aliases = aliases_of(node, title)
        if aliases:
            data["aliases"] = aliases
        return data

    def destination(self, pathway: _Node, roots: list[_Node], requirements: list[Any]) -> str | None:
        """The credential the pathway earns: what its destination component stands for (proxyFor, sourceData,
        sourceItem), when that is a credential in the import."""
        found: list[tuple[str, _Node, str]] = []
        for root in roots:
            for prop in ("proxyFor", "sourceData", "sourceItem"):
                for ref in _refs(root.get(prop)):
                    cid = self.cred_of_node.get(ref)
                    if cid in self.drafts and cid not in [f[0] for f in found]:
                        found.append((cid, root, prop))
        if not found:
            return None
        if len(found) > 1:
            self.note(NoteKind.unmapped, "destination components stand for several credentials ("
                      + ", ".join(f[0] for f in found) + "); no single destination set", pathway)
            return None
        cid, root, prop = found[0]
        required = {c for rule in requirements
                    for c in ([rule.credential, *rule.requires] if isinstance(rule, Prerequisite)
                              else rule.credentials or [])}
        if cid in required:
            self.note(NoteKind.unmapped, f"destination credential '{cid}' is also one of the pathway's requirements; "
                      "destination not set", pathway)
            return None
        self.note(NoteKind.info, f"destination '{root.name}' stands for credential '{cid}' ({prop}); set as the "
                  "pathway's destination", pathway)
        return cid

    def break_cycles(self, built: list[tuple[_Node, dict[str, Any]]]) -> None:
        """The catalogue forbids prerequisite cycles (credential prerequisites and pathway rules together)."""
        while True:
            graph: dict[str, set[str]] = {cid: set(d.data.get("prerequisites", [])) for cid, d in self.drafts.items()}
            for _, data in built:
                for rule in data["requirements"]:
                    if isinstance(rule, Prerequisite):
                        graph.setdefault(rule.credential, set()).update(rule.requires)
            try:
                TopologicalSorter(graph).prepare()
                return
            except CycleError as exc:
                cycle: list[str] = exc.args[1]
                before, after = cycle[0], cycle[1]  # ``after`` requires ``before``
                removed = False
                for node, data in built:
                    new_rules = []
                    for rule in data["requirements"]:
                        if isinstance(rule, Prerequisite) and rule.credential == after and before in rule.requires:
                            removed = True
                            rest = [r for r in rule.requires if r != before]
                            self.note(NoteKind.unmapped, f"prerequisite '{after}' requires '{before}' closes a cycle "
                                      f"({' -> '.join(cycle)}); dropped", node, entity=data["id"])
                            if rest:
                                new_rules.append(rule.model_copy(update={"requires": rest}))
                            continue
                        new_rules.append(rule)
                    data["requirements"] = new_rules
                draft = self.drafts.get(after)
                if not removed and draft is not None and before in draft.data.get("prerequisites", []):
                    draft.data["prerequisites"].remove(before)
                    self.note(NoteKind.unmapped, f"prerequisite '{before}' closes a cycle ({' -> '.join(cycle)}); "
                              "dropped", draft.node, entity=after)
                    removed = True
                if not removed:  # should not happen; avoid looping forever
                    return
