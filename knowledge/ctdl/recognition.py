"""Credit recognition: CTDL ``TransferValueProfile`` -> ``Pathway.credit_recognition``.

A transfer value profile says that learning recognised by some credentials (``transferValueFrom``) counts
``transferValue`` credits towards something else (``transferValueFor``), as decided by its owner. When what it
is from is an imported pathway, the pathway gets a recognition for completing it; when it is from imported
credentials, each pathway holding them gets a recognition for those credentials. The credits are read with
the same unit rules as every other credit value (:mod:`knowledge.ctdl.units`).
"""

from __future__ import annotations

from typing import Any

from knowledge.ctdl.graph import _Graph
from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _refs
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.values import REVIEW, _text
from knowledge.schema import Prerequisite


class _Recognition(_Graph):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`."""

    def attach_recognitions(self, built: list[tuple[_Node, dict[str, Any]]]) -> None:
        by_node = {node.id: data for node, data in built}
        for node in self.nodes.values():
            if self.roles.get(node.id) != "transfer":
                continue
            self.unmapped_properties(node, _TRANSFER_HANDLED, f"transfer value profile '{node.name}'")
            credit = self.credit_ects(node.get("transferValue"), node, None, node.key("transferValue"))
            if credit is None:
                self.note(NoteKind.unmapped, "transfer value profile without a convertible transferValue; not "
                          "mapped", node)
                continue
            recogniser = self.recogniser(node)
            towards = self.towards(node)
            pathways: dict[str, list[str] | None] = {}
            for ref in _refs(node.get("transferValueFrom")):
                if ref in by_node:
                    pathways[ref] = None
                    continue
                cid = self.cred_of_node.get(ref)
                earned_by = [pid for pid, data in by_node.items() if cid and data.get("destination") == cid]
                for pid in earned_by:  # the certificate a pathway earns: credit for completing the pathway
                    pathways[pid] = None
                if earned_by:
                    continue
                holding = [pid for pid, data in by_node.items() if cid and cid in _credential_ids(data)]
                if not holding:
                    self.note(NoteKind.unmapped, f"transferValueFrom {ref} is not an imported pathway or a credential "
                              "of one; that part of the recognition is not mapped", node)
                for pid in holding:
                    if pathways.get(pid, []) is not None:
                        pathways.setdefault(pid, [])
                        pathways[pid] = [*(pathways[pid] or []), cid]
            for pid, creds in pathways.items():
                data = by_node[pid]
                entry: dict[str, Any] = {"recognised_by": recogniser, "towards": towards, "ects": credit[0]}
                if creds:
                    entry["credentials"] = list(dict.fromkeys(creds))
                description = _text(node.get("description"))
                if description:
                    entry["conditions"] = description
                data.setdefault("credit_recognition", []).append(entry)
                self.note(NoteKind.info, f"transfer value profile '{node.name}' mapped to credit recognition: "
                          f"{credit[0]:g} ECTS towards '{towards}' by '{recogniser}'", node, entity=data["id"])

    def recogniser(self, node: _Node) -> str:
        for prop in ("ownedBy", "offeredBy"):
            for ref in _refs(node.get(prop)):
                target = self.resolve(ref)
                if target is not None and self.roles.get(target.id) == "org":
                    return self.provider_from_org(target)
                return self.placeholder_provider(ref, node)
        return self.placeholder_provider(None, node)

    def towards(self, node: _Node) -> str:
        names = []
        for value in _as_list(node.get("transferValueFor")):
            ref = value if isinstance(value, str) else _id_of(value)
            target = self.resolve(ref) if ref else None
            name = target.name if target is not None else (
                _text(_get(value, "name")) if isinstance(value, dict) else None)
            if name and name not in names:
                names.append(name)
        if names:
            return " / ".join(names)
        name = node.name or "a qualification not named in the CTDL source"
        self.note(NoteKind.placeholder, f"transferValueFor names nothing in the import; 'towards' set to '{name}' "
                  f"— {REVIEW}", node)
        return name


def _credential_ids(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for rule in data["requirements"]:
        out += [rule.credential, *rule.requires] if isinstance(rule, Prerequisite) else list(rule.credentials or [])
    return out


_TRANSFER_HANDLED = {"@id", "@type", "@context", "ctid", "name", "description", "ownedBy", "offeredBy",
                     "transferValue", "transferValueFrom", "transferValueFor"}
