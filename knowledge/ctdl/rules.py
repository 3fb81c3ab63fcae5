"""Flattening requirement expressions into the catalogue's flat pathway rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from knowledge.ctdl.expressions import (
    _direct_necessary,
    _Expr,
    _Group,
    _leaves,
    _min_credentials,
    _Unit,
    _units,
)
from knowledge.ctdl.jsonld import _as_list, _id_of, _refs
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.values import (
    REVIEW,
)
from knowledge.schema import (
    AllOf,
    AnyOf,
    MinCredits,
    NOfM,
    Prerequisite,
)

if TYPE_CHECKING:
    from knowledge.ctdl.graph import _Graph as _Importer


class _RuleBuilder:
    """Flattens requirement expressions into the catalogue's flat rule list."""

    def __init__(self, importer: _Importer, pathway: _Node):
        self.importer = importer
        self.pathway = pathway
        self.entity = importer.pathway_ids.get(pathway.id)
        self.required: dict[str, str] = {}  # credential id -> label of the all_of it goes into
        self.rules: list[Any] = []
        self.prereqs: dict[str, list[str]] = {}

    def note(self, kind: NoteKind, message: str) -> None:
        self.importer.note(kind, message, self.pathway, entity=self.entity)

    def ects(self) -> dict[str, float]:
        return {cid: float(d.data["ects"]) for cid, d in self.importer.drafts.items()}

    def require(self, expr: _Expr, label: str) -> None:
        if isinstance(expr, _Unit):
            self.required.setdefault(expr.cred, label)
            for sub in expr.requires:
                self.require(sub, label)
            return
        if expr.credits is not None:
            creds: list[str] = []
            for child in expr.children:
                creds += [c for c in _leaves(child) if c not in creds]
                if isinstance(child, _Group) or child.requires:
                    self.note(NoteKind.approximation, f"'{expr.label}': credits counted from all credentials under a "
                              f"nested group — {REVIEW}")
            self.rules.append(MinCredits(rule="min_credits", ects=expr.credits, credentials=creds, label=expr.label))
            return
        if expr.n >= len(expr.children):
            child_label = expr.label if len(expr.children) > 1 else label
            for child in expr.children:
                self.require(child, child_label)
            return
        if all(isinstance(c, _Unit) and not c.requires for c in expr.children):
            creds = list(dict.fromkeys(c.cred for c in expr.children if isinstance(c, _Unit)))
            self.choice(expr.n, creds, expr.label)
            return
        self.relax(expr)

    def choice(self, n: int, creds: list[str], label: str) -> None:
        if n >= len(creds):
            for cred in creds:
                self.required.setdefault(cred, label)
        elif n == 1:
            self.rules.append(AnyOf(rule="any_of", credentials=creds, label=label))
        else:
            self.rules.append(NOfM(rule="n_of_m", n=n, credentials=creds, label=label))

    def relax(self, expr: _Group) -> None:
        pool = _leaves(expr)
        k = _min_credentials(expr, pool, self.ects())
        sub = [c.label if isinstance(c, _Group) else c.cred for c in expr.children]
        if k is None:
            k = 1
            how = "search too large; relaxed to at least one of them"
        else:
            how = f"relaxed to at least {k} of their {len(pool)} credentials (the fewest any valid choice needs)"
        if k == 0:
            self.note(NoteKind.approximation, f"'{expr.label}' ({expr.n} of {len(expr.children)} sub-groups) is met "
                      "without any credential; no rule")
            return
        self.note(NoteKind.approximation, f"'{expr.label}' requires {expr.n} of {len(expr.children)} nested "
                  f"sub-groups ({'; '.join(sub)[:300]}), which the flat rule set cannot express; {how} — {REVIEW}")
        self.choice(k, pool, f"{expr.label} (approximation of {expr.n} of {len(expr.children)} sub-groups)")

    def prerequisites_from(self, expr: _Expr) -> None:
        for unit in _units(expr):
            for sub in unit.requires:
                needed, exact = _direct_necessary(sub)
                needed.discard(unit.cred)
                if needed:
                    merged = self.prereqs.setdefault(unit.cred, [])
                    merged += sorted(c for c in needed if c not in merged)
                if not exact:
                    label = sub.label if isinstance(sub, _Group) else unit.cred
                    self.note(NoteKind.approximation, f"condition '{label}' of '{unit.cred}' includes a choice; a "
                              "prerequisite rule can only say all-of, so the choice is kept as a requirement only")

    def relations(self, members: list[_Node]) -> None:
        """ceterms:prerequisite / precedes between components of the pathway."""
        imp = self.importer
        for node in members:
            for prop, forward in (("prerequisite", True), ("precedes", False), ("preceeds", False)):
                values = _as_list(node.get(prop))
                for i, value in enumerate(values):
                    refs = imp.condition_targets(value) if isinstance(value, dict) and not _id_of(value) \
                        else _refs(value)
                    for ref in refs:
                        this, other = imp.cred_of_node.get(node.id), imp.cred_of_node.get(ref)
                        if this is None or other is None or this not in imp.drafts or other not in imp.drafts:
                            imp.note(NoteKind.unmapped, f"{node.key(prop)} {ref} between components that are not "
                                     "both credentials in the import; dropped", node, node.ptr(node.key(prop), i),
                                     entity=self.entity)
                            continue
                        after, before = (this, other) if forward else (other, this)
                        if after != before:
                            merged = self.prereqs.setdefault(after, [])
                            if before not in merged:
                                merged.append(before)

    def finish(self) -> list[Any]:
        rules: list[Any] = []
        by_label: dict[str, list[str]] = {}
        for cred, label in self.required.items():
            by_label.setdefault(label, []).append(cred)
        for label, creds in by_label.items():
            rules.append(AllOf(rule="all_of", credentials=creds, label=label))
        seen = set()
        for rule in self.rules:
            if isinstance(rule, MinCredits):
                rule = self.checked_credits(rule, rules)
                if rule is None:
                    continue
            signature = rule.model_dump_json(exclude={"label"})
            if signature not in seen:
                seen.add(signature)
                rules.append(rule)
        for cred, requires in self.prereqs.items():
            rules.append(Prerequisite(rule="prerequisite", credential=cred, requires=requires))
        return rules

    def checked_credits(self, rule: MinCredits, rules: list[Any]) -> MinCredits | None:
        ects = self.ects()
        if rule.credentials is not None:
            pool = rule.credentials
        else:
            pool = list(dict.fromkeys(
                [c for r in rules for c in (r.credentials or [])]
                + [c for r in self.rules if not isinstance(r, MinCredits) for c in (r.credentials or [])]
                + list(self.prereqs) + [c for v in self.prereqs.values() for c in v]))
        available = round(sum(ects.get(c, 0.0) for c in pool), 2)
        if available <= 0:
            self.note(NoteKind.unmapped, f"min_credits {rule.ects:g} ECTS ('{rule.label}') has no credentials to "
                      "count; dropped")
            return None
        if available < rule.ects:
            self.note(NoteKind.approximation, f"min_credits {rule.ects:g} ECTS ('{rule.label}') exceeds the "
                      f"{available:g} ECTS the imported credentials offer (some ECTS are placeholders); lowered to "
                      f"{available:g} — {REVIEW}")
            return rule.model_copy(update={"ects": available})
        return rule
