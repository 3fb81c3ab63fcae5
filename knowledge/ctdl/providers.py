"""Organisations -> catalogue providers (kind, country, quality assurance)."""

from __future__ import annotations

import re

from knowledge.ctdl.graph import _Graph
from knowledge.ctdl.jsonld import _as_list, _get, _id_of, _refs, term
from knowledge.ctdl.places import country_code
from knowledge.ctdl.reading import _Node
from knowledge.ctdl.report import NoteKind
from knowledge.ctdl.values import (
    DEFAULT_COUNTRY,
    REVIEW,
    _alignments,
    _text,
    _url,
)
from knowledge.ctdl.vocab import (
    _ORG_HANDLED,
    _QA_PROPERTIES,
)
from knowledge.schema import (
    Provider,
    ProviderKind,
)


class _Providers(_Graph):
    """Mixin of :class:`knowledge.ctdl.importer._Importer`."""

    # -------------------------------------------------------- providers

    def build_providers(self) -> None:
        qa_only: set[str] = set()
        owners: set[str] = set()
        for node in self.nodes.values():
            for prop in ("ownedBy", "offeredBy"):
                owners.update(_refs(node.get(prop)))
            if node.get("owns") or node.get("offers"):
                owners.add(node.id)
            for prop, _ in _QA_PROPERTIES:
                qa_only.update(_refs(node.get(prop)))
        for node in self.nodes.values():
            if self.roles.get(node.id) != "org":
                continue
            if node.id in qa_only and node.id not in owners:
                self.note(NoteKind.info, f"organisation '{node.name}' is only named as a quality-assurance body; "
                          "used in quality_assurance text, not imported as a provider", node)
                continue
            self.provider_from_org(node)

    def provider_from_org(self, node: _Node) -> str:
        if node.id in self.provider_of_node:
            return self.provider_of_node[node.id]
        name = node.name
        pid = self.claim_id("p", name, _text(node.get("ctid")), node.id.rsplit("/", 1)[-1], prefix="provider")
        self.provider_of_node[node.id] = pid
        if not name:
            name = f"Unnamed organisation {node.id}"
            self.note(NoteKind.placeholder, f"organisation has no ceterms:name; named '{name}' — {REVIEW}", node)
        kind = self.provider_kind(node, name)
        country = self.country_of(node)
        places = [place for place in _as_list(node.get("address")) if isinstance(place, dict)]
        locality = next((t for place in places for t in [_text(_get(place, "addressLocality"))] if t), None)
        details = sorted({key for place in places for key in place
                          if term(key) not in ("@id", "@type", "addressCountry", "addressLocality")})
        if details:
            self.note(NoteKind.unmapped, "address details other than addressCountry and addressLocality not mapped "
                      f"({', '.join(details)})",
                      node, node.ptr(node.key("address")))
        qa = self.qa_text(node)
        if not qa:
            qa = "Not stated in the CTDL source — REVIEW"
            self.note(NoteKind.placeholder, f"Annex I element 'quality_assurance' not present in CTDL (no "
                      f"accreditedBy/recognizedBy/approvedBy); set to placeholder — {REVIEW}", node, entity=pid)
        data = {"id": pid, "name": name, "kind": kind, "country": country, "quality_assurance": qa,
                "description": _text(node.get("description")) or "", "website": _url(node.get("subjectWebpage")),
                "locality": locality, "organization_type": organization_type(node)}
        if node.get("subjectWebpage") is not None and data["website"] is None:
            self.note(NoteKind.unmapped, "subjectWebpage is not a valid http(s) URL; dropped", node,
                      node.ptr(node.key("subjectWebpage")))
        self.unmapped_properties(node, _ORG_HANDLED, f"organisation '{name}'")
        self.providers[pid] = Provider.model_validate(data)
        return pid

    def provider_kind(self, node: _Node, name: str) -> ProviderKind:
        """Kind from ``agentType`` (codes and names) first, then from the organisation's name."""
        agent = _alignments(node.get("agentType"))
        agent_text = " ".join([*(_words(c) for c, _ in agent if c), *(n or "" for _, n in agent)]).lower()
        found = _kind_from(agent_text)
        if found is not None:
            kind, why = found[0], f"agentType '{agent_text.strip()}' {found[1]}"
        else:
            found = _kind_from(name.lower())
            if found is not None:
                kind, why = found[0], f"name {found[1]}"
            else:
                kind, why = ProviderKind.industry, f"default; CTDL agentType does not say — {REVIEW}"
        self.note(NoteKind.approximation, f"provider kind set to '{kind.value}' ({why})", node,
                  node.ptr(node.key("agentType")) if node.has("agentType") else None)
        return kind

    def country_of(self, node: _Node) -> str:
        for i, place in enumerate(_as_list(node.get("address"))):
            if isinstance(place, str) and self.resolve(place) is not None:
                place = self.resolve(place).data
            if not isinstance(place, dict):
                continue
            raw = _text(_get(place, "addressCountry"))
            if not raw:
                raw = next(iter(_refs(_get(place, "addressCountry"))), None)
            if not raw:
                continue
            code = country_code(raw)
            if code:
                if code != raw.strip():
                    self.note(NoteKind.info, f"addressCountry '{raw}' read as {code}", node,
                              node.ptr(node.key("address"), i))
                return code
            self.note(NoteKind.placeholder, f"addressCountry '{raw}' not recognised; country set to "
                      f"'{DEFAULT_COUNTRY}' — {REVIEW}", node, node.ptr(node.key("address"), i))
            return DEFAULT_COUNTRY
        self.note(NoteKind.placeholder, f"country not present in CTDL (no address); set to placeholder "
                  f"'{DEFAULT_COUNTRY}' (Credential Engine registry is US-based) — {REVIEW}", node)
        return DEFAULT_COUNTRY

    def qa_text(self, node: _Node) -> str | None:
        parts = []
        for prop, verb in _QA_PROPERTIES:
            names = []
            for value in _as_list(node.get(prop)):
                target = self.resolve(value) if isinstance(value, str) else None
                name = target.name if target else (_text(_get(value, "name")) if isinstance(value, dict) else None)
                name = name or (value if isinstance(value, str) else "an unnamed body")
                if name not in names:
                    names.append(name)
            if names:
                parts.append(f"{verb} {', '.join(names)}")
        return "; ".join(parts) or None

    def provider_for(self, node: _Node) -> str:
        """Awarding body of a credential/pathway node: owner, offerer, pathway owner, else a placeholder."""
        for prop in ("ownedBy", "offeredBy"):
            for ref in _as_list(node.get(prop)):
                target_ref = ref if isinstance(ref, str) else _id_of(ref)
                target = self.resolve(target_ref) if target_ref else None
                if target is not None and self.roles.get(target.id) == "org":
                    return self.provider_from_org(target)
                if target_ref:
                    return self.placeholder_provider(target_ref, node)
        for prop in ("owns", "offers"):  # the inverse links, stated on the organisation
            for org in self.nodes.values():
                if self.roles.get(org.id) == "org" and node.id in _refs(org.get(prop)):
                    return self.provider_from_org(org)
        for pathway_id in self.member_of.get(node.id, []):
            pathway = self.nodes[pathway_id]
            if pathway.has("ownedBy") or pathway.has("offeredBy"):
                return self.provider_for(pathway)
        return self.placeholder_provider(None, node)

    def placeholder_provider(self, ref: str | None, node: _Node) -> str:
        key = ref or ""
        if key in self.placeholder_providers:
            pid = self.placeholder_providers[key]
        else:
            if ref:
                tail = re.sub(r"\.json(ld)?$", "", ref.rstrip("/").rsplit("/", 1)[-1])
                pid = self.claim_id("p", f"unresolved-{tail}", prefix="provider")
                name = f"Unresolved organisation {ref}"
            else:
                pid = self.claim_id("p", "unknown-provider", prefix="provider")
                name = "Unknown provider (not stated in the CTDL source)"
            self.placeholder_providers[key] = pid
            self.providers[pid] = Provider(
                id=pid, name=name, kind=ProviderKind.industry, country=DEFAULT_COUNTRY,
                quality_assurance="Not stated in the CTDL source — REVIEW",
                description="Placeholder created by the CTDL import — REVIEW",
            )
        what = f"owner {ref} is not in the import" if ref else "no ownedBy/offeredBy in the CTDL source"
        self.note(NoteKind.placeholder, f"{what}; awarding body set to placeholder provider '{pid}' "
                  f"(kind, country and quality assurance unknown) — {REVIEW}", node)
        return pid


_UNIVERSITY = re.compile(r"postsecondary|four year|two year|universit|college|polytechnic|institute of technology"
                         r"|school of|hochschule|fachhochschule|universidad|università|higher education")
_PLATFORM = re.compile(r"primarily online|badgr|coursera|edx|udemy|udacity|platform|mooc|futurelearn|online learning")
_INDUSTRY = re.compile(r"business|vendor|training provider|certification body|credentialing organization|professional"
                       r" association|industry|company|corporation|employer|union|chamber|government|\bgmbh\b|\bag\b"
                       r"|\bltd\b|\binc\b")


def organization_type(node: _Node) -> str | None:
    """The organisation's first ``agentType`` in words (its name, else its code: ``orgType:TrainingProvider``
    -> ``training provider``), as the publisher states it."""
    for code, name in _alignments(node.get("agentType")):
        words = (name or (_words(code) if code else "")).strip()
        if words:  # "Training Provider" -> "training provider"; acronyms ("VET") stay
            return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in words.split())
    return None


def _kind_from(text: str) -> tuple[ProviderKind, str] | None:
    if _UNIVERSITY.search(text):
        return ProviderKind.university, "suggests a higher-education institution"
    if _PLATFORM.search(text):
        return ProviderKind.platform, "suggests a learning platform"
    if _INDUSTRY.search(text):
        return ProviderKind.industry, "suggests a business or professional body"
    return None


def _words(code: str) -> str:
    """``orgType:CertificationBody`` -> ``certification body``."""
    tail = re.split(r"[:/#]", code.strip().rstrip("/"))[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", tail).lower()
