"""The import graph: nodes of every file, merged by @id, their roles, and pathway membership."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.ctdl.expressions import (
    _Expr,
)
from knowledge.ctdl.jsonld import (
    _as_list,
    _get,
    _id_of,
    _key,
    _ptr,
    _refs,
    compact_node,
    invalid_context,
    source_contexts,
    term,
)
from knowledge.ctdl.reading import _doc_nodes, _is_ctdl, _Node, _not_ctdl_reason, _read_documents
from knowledge.ctdl.report import CtdlImportError, ImportNote, NoteKind
from knowledge.ctdl.values import (
    _slugify,
)
from knowledge.ctdl.vocab import (
    _MULTI_VALUED,
    _classify,
)
from knowledge.schema import (
    Provider,
)

# ---------------------------------------------------------------- the importer


@dataclass
class _Draft:
    """A credential under construction (a dict that becomes a :class:`Credential`)."""

    node: _Node
    data: dict[str, Any]


@dataclass
class _Graph:
    files: list[Path]
    notes: list[ImportNote] = field(default_factory=list)
    nodes: dict[str, _Node] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    provider_of_node: dict[str, str] = field(default_factory=dict)
    placeholder_providers: dict[str, str] = field(default_factory=dict)
    drafts: dict[str, _Draft] = field(default_factory=dict)  # credential id -> draft
    published_credit: dict[str, str] = field(default_factory=dict)  # credential id -> credit as published, not ECTS
    cred_of_node: dict[str, str] = field(default_factory=dict)
    goals: set[str] = field(default_factory=set)
    member_of: dict[str, list[str]] = field(default_factory=dict)  # node id -> pathway node ids
    pathway_ids: dict[str, str] = field(default_factory=dict)
    pathway_credits: dict[str, list[tuple[float, str, _Node]]] = field(default_factory=dict)
    memo: dict[str, _Expr | None] = field(default_factory=dict)
    # (credential id, referenced node id, node, pointer, field, inverse): ``field`` is "prerequisites" or
    # "recommended"; ``inverse`` when the reference is the credential that requires/recommends this one
    pending_prereqs: list[tuple[str, str, _Node, str, str, bool]] = field(default_factory=list)
    # (credential id, node, ConditionProfile) of each ``isAdvancedStandingFor``, resolved once every node is read
    pending_standing: list[tuple[str, _Node, dict]] = field(default_factory=list)
    used_ids: dict[str, set[str]] = field(default_factory=lambda: {"p": set(), "c": set(), "w": set()})
    _seen_notes: set[tuple[str, str, str, str]] = field(default_factory=set)

    # -------------------------------------------------------- notes and ids

    def note(self, kind: NoteKind, message: str, node: _Node | None = None, pointer: str | None = None,
             entity: str | None = None, file: str | None = None) -> None:
        file = file or (node.file if node else (str(self.files[0]) if self.files else ""))
        pointer = pointer if pointer is not None else (node.pointer if node else "")
        if entity is None and node is not None:
            entity = self.cred_of_node.get(node.id) or self.pathway_ids.get(node.id) \
                or self.provider_of_node.get(node.id)
        signature = (file, pointer, entity or "", message)
        if signature in self._seen_notes:
            return
        self._seen_notes.add(signature)
        self.notes.append(ImportNote(file=file, pointer=pointer, node_id=node.id if node else None,
                                     entity=entity, kind=kind, message=message))

    def claim_id(self, space: str, *candidates: str | None, prefix: str) -> str:
        base = ""
        for candidate in candidates:
            base = _slugify(candidate or "")
            if len(base) >= 2:
                break
        if len(base) < 2:
            base = f"{prefix}-{base}".strip("-") if base else f"{prefix}-item"
        used = self.used_ids[space]
        slug, n = base, 2
        while slug in used:
            suffix = f"-{n}"
            slug = base[: 64 - len(suffix)].rstrip("-") + suffix
            n += 1
        used.add(slug)
        return slug

    def unmapped_properties(self, node: _Node, handled: set[str], what: str) -> None:
        for key in node.data:
            local = term(key)
            if local in handled:
                continue
            self.note(NoteKind.unmapped, f"{key} of {what} not mapped (no catalogue equivalent)", node,
                      node.ptr(key))

    # -------------------------------------------------------- graph

    def load(self) -> None:
        if not self.files:
            raise CtdlImportError("no input files given")
        order: list[str] = []
        for path in self.files:
            file = str(path)
            docs = _read_documents(path)
            read = [self.compact_document(path, doc, d, len(docs)) for d, doc in enumerate(docs)]
            if len(docs) > 1:
                self.note(NoteKind.info, f"file holds {len(docs)} concatenated JSON documents; read each",
                          file=file, pointer="")
            for d, (_prefix, nodes) in enumerate(read):
                for full, data in nodes:
                    node_id = _id_of(data) or f"_:{file}#{full}"
                    node = _Node(node_id, data, file, full, (file, d))
                    if node_id in self.nodes:
                        self.merge(self.nodes[node_id], node)
                    else:
                        self.nodes[node_id] = node
                        order.append(node_id)
        self.nodes = {k: self.nodes[k] for k in order}

    def compact_document(self, path: Path, doc: Any, d: int, count: int) -> tuple[str, list[tuple[str, dict]]]:
        """The node objects of one document, each compacted against the pinned CTDL context (see
        :mod:`knowledge.ctdl.jsonld`); raises :class:`CtdlImportError` when the document is not CTDL."""
        file = str(path)
        prefix = f"doc[{d}]" if count > 1 else ""
        doc_context = doc.get("@context") if isinstance(doc, dict) else None
        problem = invalid_context(doc_context)
        if problem is not None:
            where = f" (document {d + 1} of {count})" if count > 1 else ""
            raise CtdlImportError(f"not valid JSON-LD, so not CTDL: {problem}{where}", path)
        nodes: list[tuple[str, dict]] = []
        later: list[tuple[str, str, str | None]] = []  # (kind, message, pointer) noted once the document is CTDL
        skipped_contexts: list[str] = []
        for pointer, item in _doc_nodes(doc):
            full = prefix + pointer
            if not isinstance(item, dict):
                later.append(("unmapped", f"@graph entry {json.dumps(item)[:60]} is not a node; ignored", full))
                continue
            own = [] if pointer == "" else [item.get("@context")]
            if own and invalid_context(own[0]) is not None:
                later.append(("unmapped", f"{_id_of(item) or 'node'}: {invalid_context(own[0])}; ignored", full))
                continue
            contexts, skipped = source_contexts(doc_context, *own)
            skipped_contexts += [s for s in skipped if s not in skipped_contexts]
            result = compact_node(item, contexts)
            plain = [k for k in item if not k.startswith("@") and ":" not in k]
            if plain and not any(m.startswith("terms without a prefix") for _, m, _ in later):
                later.append(("approximation", f"terms without a prefix ({', '.join(plain[:4])}, ...) read as CTDL "
                              "terms (ceterms:)", full))
            label = _id_of(item) or "node"
            if result.error:
                later.append(("unmapped", f"{label} is not valid JSON-LD ({result.error}); ignored", full))
            for key in result.dropped:
                later.append(("unmapped", f"{key} of {label} is not a JSON-LD term (no @context defines it); "
                              "not read", _ptr(full, key)))
            if result.data is not None:
                nodes.append((full, result.data))
        if not _is_ctdl(doc, [data for _, data in nodes]):
            where = f" (document {d + 1} of {count})" if count > 1 else ""
            raise CtdlImportError(_not_ctdl_reason(doc) + where, path)
        for url in skipped_contexts:
            self.note(NoteKind.approximation, f"@context {url} is not the CTDL context and is not available offline "
                      "(nothing is fetched); terms read with the pinned CTDL context", file=file,
                      pointer=_ptr(prefix, "@context"))
        for kind, message, pointer in later:
            self.note(NoteKind(kind), message, file=file, pointer=pointer)
        return prefix, nodes

    def merge(self, first: _Node, other: _Node) -> None:
        """JSON-LD semantics: two node objects with one @id describe one node."""
        self.note(NoteKind.approximation, f"@id {first.id} is defined again here (first at {first.file}#"
                  f"{first.pointer}); the definitions are merged", other)
        for key, value in other.data.items():
            local = term(key)
            existing = _key(first.data, local)
            if existing is None:
                first.data[key] = value
                first.origins[key] = other.pointer
                continue
            old = first.data[existing]
            if old == value:
                continue
            if local in _MULTI_VALUED:
                merged = list(_as_list(old))
                merged += [v for v in _as_list(value) if v not in merged]
                first.data[existing] = merged
            else:
                self.note(NoteKind.unmapped, f"conflicting {key} for @id {first.id}: kept "
                          f"{json.dumps(old)[:80]}, dropped {json.dumps(value)[:80]}", other, other.ptr(key))

    def resolve(self, ref: str) -> _Node | None:
        return self.nodes.get(ref)

    # -------------------------------------------------------- roles and membership

    def assign_roles(self) -> None:
        pathways = [n for n in self.nodes.values() if _classify(n.types) == "pathway"]
        for pathway in pathways:
            for root in self.roots(pathway, quiet=True):
                if root.types and any(t.endswith("Component") for t in root.types) and self.has_logic(root):
                    self.goals.add(root.id)
        for node in self.nodes.values():
            kind = _classify(node.types)
            if kind == "component":
                role = "goal" if node.id in self.goals else "unit"
            elif kind == "resource":
                role = "unit"
            elif kind == "group":
                if self.has_logic(node):
                    role = "goal" if node.id in self.goals else "group"
                elif node.has("credentialType") or node.has("completionAward"):
                    role = "unit"
                    self.note(NoteKind.approximation, f"{node.type_label} '{node.name}' has no conditions but "
                              "carries an award; imported as a credential", node)
                else:
                    role = "empty"
            else:
                role = kind
            self.roles[node.id] = role
        for pathway in pathways:
            for member in self.members(pathway):
                self.member_of.setdefault(member, []).append(pathway.id)

    def has_logic(self, node: _Node) -> bool:
        return bool(node.get("hasCondition") or node.get("hasChild") or node.get("isParentOf"))

    def roots(self, pathway: _Node, quiet: bool = False) -> list[_Node]:
        roots: list[_Node] = []
        for prop in ("hasDestinationComponent", "hasRootComponent", "hasRoot"):
            for ref in _refs(pathway.get(prop)):
                node = self.resolve(ref)
                if node is None:
                    if not quiet:
                        self.note(NoteKind.unmapped, f"{pathway.key(prop)} {ref} is not in the import",
                                  pathway, pathway.ptr(pathway.key(prop)))
                elif node not in roots:
                    roots.append(node)
        for node in self.nodes.values():
            for prop in ("isDestinationComponentFor", "isDestinationComponentOf", "isRootOf"):
                if pathway.id in _refs(node.get(prop)) and node not in roots:
                    roots.append(node)
        return roots

    def members(self, pathway: _Node) -> list[str]:
        """Nodes of a pathway: reachable from its roots, declared parts, or (one pathway per document)
        every component of its document."""
        seen: dict[str, None] = {}
        stack = [n.id for n in self.roots(pathway, quiet=True)]
        stack += _refs(pathway.get("hasPart")) + _refs(pathway.get("hasChild"))
        stack += [n.id for n in self.nodes.values() if pathway.id in _refs(n.get("isPartOf"))]
        same_doc = [n for n in self.nodes.values() if n.doc == pathway.doc]
        if sum(1 for n in same_doc if _classify(n.types) == "pathway") == 1:
            stack += [n.id for n in same_doc if _classify(n.types) in ("component", "group", "other-component")]
        while stack:
            ref = stack.pop()
            node = self.resolve(ref)
            if node is None or ref in seen or _classify(node.types) in ("pathway", "org"):
                continue
            seen[ref] = None
            for cond in _as_list(node.get("hasCondition")):
                stack += self.condition_targets(cond)
            for prop in ("hasChild", "isParentOf", "prerequisite", "precedes", "preceeds"):
                for value in _as_list(node.get(prop)):
                    stack += self.condition_targets(value) if isinstance(value, dict) and not _id_of(value) \
                        else _refs(value)
        return list(seen)

    def condition_targets(self, cond: Any) -> list[str]:
        if not isinstance(cond, dict):
            return _refs(cond)
        out = _refs(_get(cond, "targetComponent"))
        for sub in _as_list(_get(cond, "hasCondition")):
            out += self.condition_targets(sub)
        return out

    def unit_node(self, node: _Node) -> _Node:
        """The resource a component stands for, when that resource is in the import."""
        for prop in ("sourceItem", "proxyFor", "sourceData"):
            for ref in _refs(node.get(prop)):
                target = self.resolve(ref)
                if target is not None and _classify(target.types) == "resource":
                    return target
        return node
