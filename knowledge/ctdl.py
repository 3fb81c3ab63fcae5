"""Import Credential Engine CTDL JSON-LD into catalogue entities (providers, credentials, pathways).

Public face::

    import_ctdl(paths) -> CtdlImport            # entities + a report of every gap; raises CtdlImportError
    write_catalogue(result, out_dir) -> [Path]  # providers.yaml, credentials/<id>.yaml, pathways/<id>.yaml

CTDL describes credentials for discovery. The catalogue also needs the EU Annex I elements (ECTS, EQF
level, assessment type, form of participation, quality assurance) and a rubric, which CTDL mostly lacks.
Where a value cannot be taken from the source the importer sets a clearly marked placeholder and says so
in the report; every CTDL property it does not map is reported as well. Nothing is dropped silently.

What maps to what
=================================================  ==============================================
CTDL                                               catalogue
=================================================  ==============================================
Organization, CredentialOrganization, ...          ``Provider`` (kind from agentType/name, country
                                                   from address)
credential classes (Certification, Badge,          ``Credential``
BachelorDegree, ...), LearningOpportunityProfile,
LearningProgram, Course, AssessmentProfile
CredentialComponent, CourseComponent,              ``Credential`` (one per learning unit: a component
AssessmentComponent; BasicComponent with an award  whose ``sourceItem``/``proxyFor`` is in the import
                                                   becomes that resource's credential)
ceterms:Pathway                                    ``Pathway``; destination component -> ``leads_to``
ComponentCondition N of M targets                  ``n_of_m`` (1<N<M), ``any_of`` (N=1, M>=2),
                                                   ``all_of`` (N=M)
ComponentCondition / ConditionProfile with         ``min_credits`` (credits converted to ECTS)
creditValue
ceterms:prerequisite / precedes between            ``prerequisite`` rules
components; conditions of an earnable component
requires/entryCondition -> targetCredential,       ``Credential.prerequisites`` (when the target is
targetLearningOpportunity, targetAssessment        in the import)
=================================================  ==============================================

Nested conditions are flattened where that is sound (everything under an all-of); a choice over
sub-groups cannot be expressed by the flat rule set and is relaxed to the strongest single
``n_of_m`` rule every valid completion satisfies - reported as an approximation.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, HttpUrl, TypeAdapter, ValidationError

from knowledge.schema import (
    AllOf,
    AnyOf,
    AssessmentType,
    Credential,
    DeliveryMode,
    MinCredits,
    NOfM,
    Participation,
    Pathway,
    Prerequisite,
    Provider,
    ProviderKind,
)

__all__ = ["CtdlImport", "CtdlImportError", "ImportNote", "NoteKind", "import_ctdl", "write_catalogue"]

MAX_FILE_BYTES = 20_000_000
HOURS_PER_ECTS = 27.5  # 1 ECTS = 25-30 hours of notional workload
PLACEHOLDER_ECTS = 5.0
PLACEHOLDER_EQF = 5
DEFAULT_COUNTRY = "US"  # the Credential Engine registry is US-based
DEFAULT_CURRENCY = "USD"
MAX_ECTS = 60.0
REVIEW = "REVIEW"
_RELAXATION_BUDGET = 200_000


# ---------------------------------------------------------------- public models


class CtdlImportError(Exception):
    """The input cannot be imported at all (unreadable, not JSON, not CTDL, nothing importable)."""

    def __init__(self, message: str, path: Path | str | None = None):
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class NoteKind(StrEnum):
    unmapped = "unmapped"  # source content that has no place in the catalogue
    placeholder = "placeholder"  # a required value CTDL does not give; an invented default
    approximation = "approximation"  # mapped, but the meaning changes
    info = "info"


class ImportNote(BaseModel):
    """One thing the import could not carry over faithfully."""

    model_config = ConfigDict(frozen=True)

    file: str
    pointer: str = ""  # JSON pointer into the file ("doc[i]" first when a file holds several documents)
    node_id: str | None = None  # the CTDL @id concerned
    entity: str | None = None  # the catalogue id concerned
    kind: NoteKind
    message: str

    def __str__(self) -> str:
        where = f"{self.file}#{self.pointer}" if self.pointer else self.file
        about = f" [{self.entity}]" if self.entity else ""
        return f"{where}:{about} {self.kind.value}: {self.message}"


class CtdlImport(BaseModel):
    """The result of an import: catalogue entities plus the report of everything not mapped 1:1."""

    model_config = ConfigDict(frozen=True)

    providers: list[Provider]
    credentials: list[Credential]
    pathways: list[Pathway]
    report: list[ImportNote]
    sources: dict[str, str] = {}  # catalogue id -> the CTDL @id it was imported from

    def notes_for(self, entity_id: str) -> list[ImportNote]:
        return [note for note in self.report if note.entity == entity_id]


# ---------------------------------------------------------------- JSON-LD helpers

_PREFIX = re.compile(r"^[A-Za-z][\w.-]*:(?!//)")


def _local(key: str) -> str:
    """``ceterms:name`` -> ``name``; keywords (``@id``) and plain names are kept."""
    if key.startswith("@"):
        return key
    match = _PREFIX.match(key)
    return key[match.end():] if match else key


def _key(obj: dict[str, Any], name: str) -> str | None:
    """The key under which ``obj`` holds the property ``name`` (whatever its prefix)."""
    if name in obj:
        return name
    for key in obj:
        if _local(key) == name:
            return key
    return None


def _get(obj: dict[str, Any], name: str) -> Any:
    key = _key(obj, name)
    return None if key is None else obj[key]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _id_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        value = obj.get("@id", obj.get("id"))
        return value if isinstance(value, str) and value.strip() else None
    return None


def _types_of(obj: dict[str, Any]) -> tuple[str, ...]:
    raw = obj.get("@type", obj.get("type"))
    return tuple(_local(t) for t in _as_list(raw) if isinstance(t, str))


def _refs(value: Any) -> list[str]:
    """Node references in a property value: strings or objects with an @id."""
    out = []
    for item in _as_list(value):
        ref = item.strip() if isinstance(item, str) else _id_of(item)
        if ref and ref not in out:
            out.append(ref)
    return out


def _ptr(base: str, *parts: str | int) -> str:
    return base + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_PREFERRED_LANGS = ("en-US", "en", "en-GB")


def _lang_value(value: dict[str, Any]) -> Any:
    langs = {str(k).lstrip("@"): v for k, v in value.items()}
    for lang in _PREFERRED_LANGS:
        if lang in langs:
            return langs[lang]
    for lang, v in langs.items():
        if lang.lower().startswith("en"):
            return v
    return next(iter(langs.values()), None)


def _texts(value: Any) -> list[str]:
    """Every text in a literal value: strings, language maps (English preferred), @value objects."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        text = " ".join(value.split())
        return [text] if text else []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        if "@value" in value:
            return _texts(value["@value"])
        if "@id" in value or "@type" in value:
            return []
        return _texts(_lang_value(value))
    return []


def _text(value: Any) -> str | None:
    texts = _texts(value)
    return texts[0] if texts else None


def _alignments(value: Any) -> list[tuple[str | None, str | None]]:
    """(code, name) of CredentialAlignmentObjects, or (uri, None) for plain references."""
    out: list[tuple[str | None, str | None]] = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, dict):
            node = _get(item, "targetNode")
            code = node if isinstance(node, str) else _id_of(node)
            name = _text(_get(item, "targetNodeName")) or _text(_get(item, "name"))
            out.append((code, name))
    return out


def _code(code: str) -> str:
    """Last segment of a vocabulary term: ``audLevel:BachelorsDegreeLevel`` -> ``bachelorsdegreelevel``."""
    return re.split(r"[:/#]", code.strip().rstrip("/"))[-1].lower()


def _number(value: Any) -> float | None:
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _slugify(text: str, max_len: int = 64) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2:] else cut
    return slug.strip("-")


_URL = TypeAdapter(HttpUrl)


def _url(value: Any) -> str | None:
    for text in [*(_refs(value)), *_texts(value)]:
        try:
            return str(_URL.validate_python(text))
        except ValidationError:
            continue
    return None


def _sentences(text: str, limit: int = 3) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if len(p.strip()) > 3 and not p.strip().endswith("?")]
    return [p[:500] for p in parts[:limit]]


# ---------------------------------------------------------------- vocabularies

_ORG_TYPES = {"Organization", "CredentialOrganization", "QACredentialOrganization", "Agent"}
_LEARNING_TYPES = {
    "LearningOpportunityProfile", "LearningOpportunity", "LearningProgram", "Course",
    "AssessmentProfile", "Assessment",
}
_CREDENTIAL_SUFFIXES = (
    "Degree", "Certificate", "Certification", "Diploma", "Badge", "Doctorate", "License", "Credential",
)
_CREDENTIAL_TYPES = {"GeneralEducationDevelopment", "MicroCredential", "ApprenticeshipCertificate"}
_EARNABLE_COMPONENTS = {"CredentialComponent", "CourseComponent", "AssessmentComponent"}
_GROUP_COMPONENTS = {"BasicComponent", "SelectionComponent", "MultiComponent", "Basic", "PathwayComponent"}
_OTHER_COMPONENTS = {
    "JobComponent", "WorkExperienceComponent", "CompetencyComponent", "CocurricularComponent",
    "ExtracurricularComponent",
}
_KNOWN_CTDL = (
    _ORG_TYPES | _LEARNING_TYPES | _CREDENTIAL_TYPES | _EARNABLE_COMPONENTS | _GROUP_COMPONENTS
    | _OTHER_COMPONENTS | {"Pathway", "PathwaySet", "ComponentCondition", "ConditionProfile", "ProgressionModel",
                           "ProgressionLevel", "CompetencyFramework", "Competency", "TransferValueProfile"}
)
_CTDL_PREFIXES = ("ceterms:", "ceasn:", "asn:", "qdata:")

_EQF_BY_LEVEL = {
    "lowersecondarylevel": 2, "middleschool": 2,
    "secondarylevel": 4, "secondaryschool": 4, "highschool": 4, "uppersecondarylevel": 4,
    "9": 3, "10": 4, "11": 4, "12": 4,
    "postsecondarylevel": 5, "associatesdegreelevel": 5, "associatedegreelevel": 5, "lowerdivisionlevel": 5,
    "bachelorsdegreelevel": 6, "bachelordegreelevel": 6, "upperdivisionlevel": 6,
    "graduatelevel": 7, "mastersdegreelevel": 7, "masterdegreelevel": 7,
    "doctoraldegreelevel": 8, "doctoratelevel": 8,
}
_EQF_BY_TYPE = (
    ("SecondarySchoolDiploma", 4), ("GeneralEducationDevelopment", 4), ("AssociateDegree", 5),
    ("AssociateOf", 5), ("BachelorDegree", 6), ("BachelorOf", 6), ("MasterDegree", 7), ("MasterOf", 7),
    ("DoctoralDegree", 8), ("Doctorate", 8),
)

# ECTS per unit; US semester credit ~ 2 ECTS (a US full-time year is ~30 semester credits, 60 ECTS)
_CREDIT_UNITS = {
    "semesterhour": 2.0, "semestercredit": 2.0, "semesterhours": 2.0, "degreecredit": 2.0, "credithour": 2.0,
    "academiccredit": 2.0, "quarterhour": 4 / 3, "quartercredit": 4 / 3, "quarterhours": 4 / 3,
    "ects": 1.0, "ectscredit": 1.0, "europeancredittransfersystem": 1.0,
    "continuingeducationunit": 0.4, "ceu": 0.4,
    "clockhour": 1 / HOURS_PER_ECTS, "contacthour": 1 / HOURS_PER_ECTS, "hour": 1 / HOURS_PER_ECTS,
}

_COUNTRIES = {
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US",
    "america": "US", "canada": "CA", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "ireland": "IE", "germany": "DE", "deutschland": "DE",
    "france": "FR", "spain": "ES", "italy": "IT", "netherlands": "NL", "the netherlands": "NL",
    "belgium": "BE", "austria": "AT", "switzerland": "CH", "sweden": "SE", "norway": "NO", "denmark": "DK",
    "finland": "FI", "poland": "PL", "portugal": "PT", "greece": "GR", "czech republic": "CZ",
    "czechia": "CZ", "hungary": "HU", "romania": "RO", "luxembourg": "LU", "estonia": "EE", "latvia": "LV",
    "lithuania": "LT", "slovenia": "SI", "slovakia": "SK", "croatia": "HR", "bulgaria": "BG", "malta": "MT",
    "cyprus": "CY", "iceland": "IS", "australia": "AU", "new zealand": "NZ", "india": "IN", "mexico": "MX",
    "brazil": "BR", "japan": "JP", "china": "CN", "south africa": "ZA", "singapore": "SG",
}
_CURRENCIES = {
    "us dollar": "USD", "us dollars": "USD", "u.s. dollar": "USD", "dollar": "USD", "dollars": "USD",
    "euro": "EUR", "euros": "EUR", "british pound": "GBP", "pound sterling": "GBP", "pound": "GBP",
    "canadian dollar": "CAD", "australian dollar": "AUD", "swiss franc": "CHF",
}

# properties that are pure structure (ids, inverse links) and carry nothing to map
_STRUCTURAL = {"@id", "@type", "@context", "id", "type", "isChildOf", "isPartOf", "isDestinationComponentFor",
               "isRootOf", "isDestinationComponentOf"}
_UNIT_HANDLED = _STRUCTURAL | {
    "ctid", "name", "description", "subjectWebpage", "availableOnlineAt", "inLanguage", "ownedBy",
    "offeredBy", "audienceLevelType", "educationLevel", "creditValue", "creditUnitValue", "creditUnitType",
    "creditHourValue", "creditHourType", "estimatedCost", "estimatedDuration", "deliveryType",
    "learningDeliveryType", "assessmentDeliveryType", "assessmentMethodType", "teaches", "assesses",
    "requires", "entryCondition", "recognizedBy", "accreditedBy", "approvedBy", "regulatedBy", "keyword",
    "subject", "credentialType", "sourceData", "sourceItem", "proxyFor", "hasCondition", "hasChild",
    "isParentOf", "prerequisite", "precedes", "preceeds", "requiredNumber",
}
_GROUP_HANDLED = _STRUCTURAL | {"ctid", "name", "hasCondition", "hasChild", "isParentOf", "requiredNumber",
                                "prerequisite", "precedes", "preceeds"}
_PATHWAY_HANDLED = _STRUCTURAL | {"name", "description", "ownedBy", "offeredBy", "hasDestinationComponent",
                                  "hasRootComponent", "hasRoot", "hasPart", "hasChild"}
_ORG_HANDLED = _STRUCTURAL | {"ctid", "name", "description", "subjectWebpage", "address", "agentType",
                              "accreditedBy", "recognizedBy", "approvedBy", "regulatedBy"}
_CONDITION_HANDLED = _STRUCTURAL | {"ctid", "name", "description", "targetComponent", "requiredNumber",
                                    "hasCondition", "logicalOperand", "leftOperand", "operand", "rightOperand",
                                    "hasRuleSet", "creditValue"}
_MULTI_VALUED = {"@type", "type", "hasCondition", "hasChild", "isChildOf", "isPartOf", "hasPart",
                 "targetComponent", "prerequisite", "precedes", "preceeds", "ownedBy", "offeredBy", "keyword",
                 "teaches", "assesses", "requires", "entryCondition", "isParentOf", "subject", "accreditedBy",
                 "recognizedBy", "approvedBy", "regulatedBy", "inLanguage", "address"}
_QA_PROPERTIES = (("accreditedBy", "Accredited by"), ("recognizedBy", "Recognised by"),
                  ("approvedBy", "Approved by"), ("regulatedBy", "Regulated by"))
_TARGET_PROPERTIES = ("targetCredential", "targetLearningOpportunity", "targetAssessment")


def _is_credential_type(local_type: str) -> bool:
    if local_type.endswith("Organization"):
        return False
    return local_type in _CREDENTIAL_TYPES or local_type.endswith(_CREDENTIAL_SUFFIXES)


def _classify(types: Iterable[str]) -> str:
    types = list(types)
    for kind, test in (
        ("org", lambda t: t in _ORG_TYPES),
        ("pathway", lambda t: t == "Pathway"),
        ("component", lambda t: t in _EARNABLE_COMPONENTS),
        ("group", lambda t: t in _GROUP_COMPONENTS),
        ("other-component", lambda t: t in _OTHER_COMPONENTS),
        ("resource", lambda t: t in _LEARNING_TYPES or _is_credential_type(t)),
        ("condition", lambda t: t == "ComponentCondition"),
    ):
        if any(test(t) for t in types):
            return kind
    return "unknown"


# ---------------------------------------------------------------- reading


@dataclass
class _Node:
    id: str
    data: dict[str, Any]
    file: str
    pointer: str
    doc: tuple[str, int]
    origins: dict[str, str] = field(default_factory=dict)  # key -> pointer of the definition it came from

    @property
    def types(self) -> tuple[str, ...]:
        return _types_of(self.data)

    @property
    def type_label(self) -> str:
        raw = self.data.get("@type", self.data.get("type"))
        return ", ".join(str(t) for t in _as_list(raw)) or "(untyped)"

    def get(self, name: str) -> Any:
        return _get(self.data, name)

    def key(self, name: str) -> str:
        return _key(self.data, name) or name

    def ptr(self, *parts: str | int) -> str:
        base = self.origins.get(str(parts[0]), self.pointer) if parts else self.pointer
        return _ptr(base, *parts)

    @property
    def name(self) -> str | None:
        return _text(self.get("name")) or _text(self.get("title"))

    def has(self, name: str) -> bool:
        return _key(self.data, name) is not None


def _read_documents(path: Path) -> list[Any]:
    """Every JSON document in ``path`` (a file may hold several concatenated documents)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CtdlImportError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", path)
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CtdlImportError(f"not UTF-8 text ({exc.reason}); expected CTDL JSON-LD", path) from exc
    except OSError as exc:
        raise CtdlImportError(f"cannot read file: {exc.strerror or exc}", path) from exc
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            doc, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise CtdlImportError(
                f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; expected CTDL JSON-LD", path
            ) from exc
        docs.append(doc)
    if not docs:
        raise CtdlImportError("file is empty; expected CTDL JSON-LD", path)
    return docs


def _doc_nodes(doc: Any) -> list[tuple[str, Any]]:
    """(pointer, item) of the node objects a document holds."""
    if isinstance(doc, list):
        return [(f"/{i}", item) for i, item in enumerate(doc)]
    if isinstance(doc, dict):
        graph_key = "@graph" if "@graph" in doc else None
        if graph_key is not None:
            items = [(_ptr("", "@graph", i), item) for i, item in enumerate(_as_list(doc[graph_key]))]
            if _types_of(doc):
                items.insert(0, ("", {k: v for k, v in doc.items() if k != "@graph"}))
            return items
        return [("", doc)]
    return []


def _is_ctdl(doc: Any) -> bool:
    if isinstance(doc, dict):
        context = json.dumps(doc.get("@context", ""))
        if "credreg.net" in context or "ctdl" in context.lower():
            return True
    for _, item in _doc_nodes(doc):
        if not isinstance(item, dict):
            continue
        raw = [t for t in _as_list(item.get("@type", item.get("type"))) if isinstance(t, str)]
        if any(t.startswith(_CTDL_PREFIXES) or _local(t) in _KNOWN_CTDL for t in raw):
            return True
    return False


def _not_ctdl_reason(doc: Any) -> str:
    if isinstance(doc, dict) and {"elementId", "requirements"} <= doc.keys():
        return ("JSON but not CTDL: this looks like a Badgr pathway export (elementId/requirements); "
                "export the pathway as CTDL JSON-LD instead")
    if isinstance(doc, dict):
        keys = ", ".join(list(doc)[:8])
        return f"JSON but not CTDL: no CTDL @context or ceterms:/ceasn: @type found (top-level keys: {keys})"
    return f"JSON but not CTDL: the document is a {type(doc).__name__}, expected a JSON-LD object or @graph"


# ---------------------------------------------------------------- requirement expressions


@dataclass(frozen=True)
class _Unit:
    """Earning credential ``cred`` (and meeting ``requires``, the component's own conditions)."""

    cred: str
    requires: tuple[_Expr, ...] = ()


@dataclass(frozen=True)
class _Group:
    """At least ``n`` of ``children`` (or, with ``credits``, that many ECTS from them)."""

    n: int
    children: tuple[_Expr, ...]
    label: str
    credits: float | None = None


_Expr = _Unit | _Group


def _satisfied(expr: _Expr, chosen: frozenset[str], ects: dict[str, float]) -> bool:
    if isinstance(expr, _Unit):
        return expr.cred in chosen and all(_satisfied(r, chosen, ects) for r in expr.requires)
    if expr.credits is not None:
        total = sum(ects.get(c.cred, 0.0) for c in expr.children
                    if isinstance(c, _Unit) and _satisfied(c, chosen, ects))
        return total >= expr.credits
    return sum(1 for c in expr.children if _satisfied(c, chosen, ects)) >= expr.n


def _leaves(expr: _Expr, out: dict[str, None] | None = None) -> list[str]:
    out = {} if out is None else out
    if isinstance(expr, _Unit):
        out.setdefault(expr.cred, None)
        for r in expr.requires:
            _leaves(r, out)
    else:
        for c in expr.children:
            _leaves(c, out)
    return list(out)


def _min_credentials(expr: _Expr, pool: list[str], ects: dict[str, float]) -> int | None:
    """Fewest credentials from ``pool`` that satisfy ``expr`` (None when the search is too large)."""
    evaluations = 0
    for k in range(len(pool) + 1):
        for combo in itertools.combinations(pool, k):
            evaluations += 1
            if evaluations > _RELAXATION_BUDGET:
                return None
            if _satisfied(expr, frozenset(combo), ects):
                return k
    return None


def _direct_necessary(expr: _Expr) -> tuple[set[str], bool]:
    """Credentials ``expr`` always needs (not looking past another earnable unit), and whether that is all."""
    if isinstance(expr, _Unit):
        return {expr.cred}, True
    if expr.credits is None and expr.n >= len(expr.children):
        needed: set[str] = set()
        exact = True
        for child in expr.children:
            sub, sub_exact = _direct_necessary(child)
            needed |= sub
            exact = exact and sub_exact
        return needed, exact
    return set(), False


def _units(expr: _Expr, out: list[_Unit] | None = None) -> list[_Unit]:
    out = [] if out is None else out
    if isinstance(expr, _Unit):
        if expr not in out:
            out.append(expr)
        for r in expr.requires:
            _units(r, out)
    else:
        for c in expr.children:
            _units(c, out)
    return out


# ---------------------------------------------------------------- the importer


@dataclass
class _Draft:
    """A credential under construction (a dict that becomes a :class:`Credential`)."""

    node: _Node
    data: dict[str, Any]


@dataclass
class _Importer:
    files: list[Path]
    notes: list[ImportNote] = field(default_factory=list)
    nodes: dict[str, _Node] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    provider_of_node: dict[str, str] = field(default_factory=dict)
    placeholder_providers: dict[str, str] = field(default_factory=dict)
    drafts: dict[str, _Draft] = field(default_factory=dict)  # credential id -> draft
    cred_of_node: dict[str, str] = field(default_factory=dict)
    goals: set[str] = field(default_factory=set)
    member_of: dict[str, list[str]] = field(default_factory=dict)  # node id -> pathway node ids
    pathway_ids: dict[str, str] = field(default_factory=dict)
    pathway_credits: dict[str, list[tuple[float, str, _Node]]] = field(default_factory=dict)
    memo: dict[str, _Expr | None] = field(default_factory=dict)
    pending_prereqs: list[tuple[str, str, _Node, str]] = field(default_factory=list)
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
            local = _local(key)
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
            for d, doc in enumerate(docs):
                if not _is_ctdl(doc):
                    where = f" (document {d + 1} of {len(docs)})" if len(docs) > 1 else ""
                    raise CtdlImportError(_not_ctdl_reason(doc) + where, path)
            if len(docs) > 1:
                self.note(NoteKind.info, f"file holds {len(docs)} concatenated JSON documents; read each",
                          file=file, pointer="")
            for d, doc in enumerate(docs):
                prefix = f"doc[{d}]" if len(docs) > 1 else ""
                if isinstance(doc, dict):
                    context = json.dumps(doc.get("@context", ""))
                    if "@context" in doc and "credreg.net" not in context:
                        self.note(NoteKind.approximation,
                                  f"@context {context} is not the CTDL context; terms read by their CTDL names",
                                  file=file, pointer=_ptr(prefix, "@context"))
                for pointer, item in _doc_nodes(doc):
                    full = prefix + pointer
                    if not isinstance(item, dict):
                        self.note(NoteKind.unmapped, f"@graph entry {json.dumps(item)[:60]} is not a node; ignored",
                                  file=file, pointer=full)
                        continue
                    node_id = _id_of(item) or f"_:{file}#{full}"
                    node = _Node(node_id, dict(item), file, full, (file, d))
                    if node_id in self.nodes:
                        self.merge(self.nodes[node_id], node)
                    else:
                        self.nodes[node_id] = node
                        order.append(node_id)
        self.nodes = {k: self.nodes[k] for k in order}

    def merge(self, first: _Node, other: _Node) -> None:
        """JSON-LD semantics: two node objects with one @id describe one node."""
        self.note(NoteKind.approximation, f"@id {first.id} is defined again here (first at {first.file}#"
                  f"{first.pointer}); the definitions are merged", other)
        for key, value in other.data.items():
            local = _local(key)
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
        for prop in ("sourceItem", "proxyFor"):
            for ref in _refs(node.get(prop)):
                target = self.resolve(ref)
                if target is not None and _classify(target.types) == "resource":
                    return target
        return node

    # -------------------------------------------------------- providers

    def build_providers(self) -> None:
        qa_only: set[str] = set()
        owners: set[str] = set()
        for node in self.nodes.values():
            for prop in ("ownedBy", "offeredBy"):
                owners.update(_refs(node.get(prop)))
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
        if node.has("address"):
            self.note(NoteKind.unmapped, "address details other than addressCountry not mapped", node,
                      node.ptr(node.key("address")))
        qa = self.qa_text(node)
        if not qa:
            qa = "Not stated in the CTDL source — REVIEW"
            self.note(NoteKind.placeholder, f"Annex I element 'quality_assurance' not present in CTDL (no "
                      f"accreditedBy/recognizedBy/approvedBy); set to placeholder — {REVIEW}", node, entity=pid)
        data = {"id": pid, "name": name, "kind": kind, "country": country, "quality_assurance": qa,
                "description": _text(node.get("description")) or "", "website": _url(node.get("subjectWebpage"))}
        if node.get("subjectWebpage") is not None and data["website"] is None:
            self.note(NoteKind.unmapped, "subjectWebpage is not a valid http(s) URL; dropped", node,
                      node.ptr(node.key("subjectWebpage")))
        self.unmapped_properties(node, _ORG_HANDLED, f"organisation '{name}'")
        self.providers[pid] = Provider.model_validate(data)
        return pid

    def provider_kind(self, node: _Node, name: str) -> ProviderKind:
        codes = " ".join(_code(c) for c, _ in _alignments(node.get("agentType")) if c)
        labels = " ".join(n or "" for _, n in _alignments(node.get("agentType")))
        text = f"{codes} {labels} {name}".lower()
        if re.search(r"postsecondary|universit|college|polytechnic|institute of technology|school of", text):
            kind, why = ProviderKind.university, "agentType/name suggests a higher-education institution"
        elif re.search(r"badgr|coursera|edx|udemy|udacity|platform|mooc|futurelearn", text):
            kind, why = ProviderKind.platform, "name suggests a learning platform"
        else:
            kind, why = ProviderKind.industry, f"default; CTDL agentType does not say — {REVIEW}"
        self.note(NoteKind.approximation, f"provider kind set to '{kind.value}' ({why})", node,
                  node.ptr(node.key("agentType")) if node.has("agentType") else None)
        return kind

    def country_of(self, node: _Node) -> str:
        for i, place in enumerate(_as_list(node.get("address"))):
            if not isinstance(place, dict):
                continue
            raw = _text(_get(place, "addressCountry"))
            if not raw:
                continue
            code = _COUNTRIES.get(raw.strip().lower())
            if code is None and re.fullmatch(r"[A-Za-z]{2}", raw.strip()):
                code = raw.strip().upper()
            if code:
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
                    self.note(NoteKind.info, f"component '{node.name}' stands for '{source.name}' (sourceItem/"
                              "proxyFor); imported once, from that resource", node)
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
        ects, from_source = self.ects(node, cid)
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
            "price": self.price(node, cid),
            "duration": self.duration(node, cid, ects, from_source),
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

    def credit_ects(self, values: Any, node: _Node, cid: str | None, where: str) -> float | None:
        """ECTS from CTDL ValueProfiles (``creditValue``); None when absent or not convertible."""
        profiles = [p for p in _as_list(values) if isinstance(p, dict)]
        if len(profiles) > 1:
            self.note(NoteKind.unmapped, f"{where}: {len(profiles)} value profiles; only the first is mapped", node,
                      entity=cid)
        for profile in profiles:
            amount = _number(_get(profile, "value"))
            if amount is None:
                amount = _number(_get(profile, "maxValue")) or _number(_get(profile, "minValue"))
            units = [c for c, _ in _alignments(_get(profile, "creditUnitType")) if c]
            return self.convert_credits(amount, units, node, cid, where)
        return None

    def convert_credits(self, amount: float | None, units: list[str], node: _Node, cid: str | None,
                        where: str) -> float | None:
        if amount is None or amount <= 0:
            self.note(NoteKind.unmapped, f"{where} has no positive value; not mapped", node, entity=cid)
            return None
        unit = _code(units[0]) if units else ""
        factor = _CREDIT_UNITS.get(unit)
        if factor is None:
            self.note(NoteKind.unmapped, f"{where} unit '{units[0] if units else '(none)'}' cannot be converted "
                      "to ECTS; not mapped", node, entity=cid)
            return None
        ects = round(amount * factor, 2)
        if factor != 1.0:
            self.note(NoteKind.approximation, f"{where} {amount:g} {units[0]} converted to {ects:g} ECTS "
                      f"(1 US semester credit ≈ 2 ECTS; 1 quarter credit ≈ 1.33; 1 CEU ≈ 0.4; "
                      f"{HOURS_PER_ECTS:g} h ≈ 1 ECTS)", node, entity=cid)
        return ects

    def ects(self, node: _Node, cid: str) -> tuple[float | None, bool]:
        ects = None
        if node.has("creditValue"):
            ects = self.credit_ects(node.get("creditValue"), node, cid, node.key("creditValue"))
        for value_prop, unit_prop in (("creditUnitValue", "creditUnitType"), ("creditHourValue", "creditHourType")):
            if ects is None and node.has(value_prop):
                units = [c for c, _ in _alignments(node.get(unit_prop))] or ["SemesterHour"]
                ects = self.convert_credits(_number(node.get(value_prop)), units, node, cid, node.key(value_prop))
        if ects is None:
            return None, False
        if ects > MAX_ECTS:
            self.note(NoteKind.approximation, f"{ects:g} ECTS exceeds the micro-credential maximum of "
                      f"{MAX_ECTS:g}; capped — {REVIEW}", node, entity=cid)
            ects = MAX_ECTS
        return ects, True

    def levels(self, node: _Node) -> list[tuple[str, int | None]]:
        found = []
        for prop in ("audienceLevelType", "educationLevel"):
            for code, name in _alignments(node.get(prop)):
                label = code or name or ""
                found.append((label, _EQF_BY_LEVEL.get(_code(label)) if label else None))
        return found

    def eqf(self, node: _Node, cid: str | None) -> int | None:
        levels = self.levels(node)
        mapped = [eqf for _, eqf in levels if eqf is not None]
        if mapped:
            eqf = min(mapped)
            sources = ", ".join(label for label, value in levels if value is not None)
            self.note(NoteKind.approximation, f"eqf_level {eqf} mapped from audience level {sources} (approximate "
                      f"US-to-EQF mapping) — {REVIEW}", node, entity=cid)
            return eqf
        for local_type in node.types:
            for needle, eqf in _EQF_BY_TYPE:
                if needle in local_type:
                    self.note(NoteKind.approximation, f"eqf_level {eqf} inferred from type {local_type} — {REVIEW}",
                              node, entity=cid)
                    return eqf
        if levels:
            self.note(NoteKind.unmapped, "audience level " + ", ".join(label for label, _ in levels)
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

    def price(self, node: _Node, cid: str) -> dict[str, Any]:
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
            self.note(NoteKind.placeholder, f"price not present in CTDL; set to placeholder 0 {DEFAULT_CURRENCY} "
                      f"— {REVIEW}", node, entity=cid)
            return {"amount": Decimal("0"), "currency": DEFAULT_CURRENCY}
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
            currency = DEFAULT_CURRENCY
            self.note(NoteKind.placeholder, f"currency '{chosen[2]}' not recognised; set to {DEFAULT_CURRENCY} — "
                      f"{REVIEW}", node, entity=cid)
        try:
            value = Decimal(str(amount)).quantize(Decimal("0.01"))
        except InvalidOperation:
            value = Decimal("0")
        self.note(NoteKind.info, "cost details other than price and currency (costDetails, directCostType, "
                  "description) are not mapped", node, node.ptr(node.key("estimatedCost")), entity=cid)
        return {"amount": value, "currency": currency}

    def duration(self, node: _Node, cid: str, ects: float, from_source: bool) -> dict[str, Any]:
        weeks = hours = None
        texts = []
        for profile in _as_list(node.get("estimatedDuration")):
            if not isinstance(profile, dict):
                continue
            texts += _texts(_get(profile, "description"))
            for prop in ("exactDuration", "maximumDuration", "minimumDuration", "timeRequired"):
                parsed = _iso_duration(_text(_get(profile, prop)) or "")
                if parsed is not None:
                    weeks, hours = parsed
                    break
            if weeks or hours:
                break
        workload = ects * HOURS_PER_ECTS
        if weeks:
            total_weeks = max(1, min(260, round(weeks)))
            hpw = round(min(60.0, max(0.5, (hours or workload) / total_weeks)), 1)
            if not from_source and not hours:
                self.note(NoteKind.placeholder, f"hours per week derived from the placeholder ECTS ({hpw:g} h over "
                          f"{total_weeks} weeks) — {REVIEW}", node, entity=cid)
            if texts:
                self.note(NoteKind.unmapped, f"estimatedDuration description not mapped: '{texts[0][:120]}'", node,
                          entity=cid)
            return {"weeks": total_weeks, "hours_per_week": hpw}
        if hours:
            total_weeks = max(1, min(260, math.ceil(hours / 10)))
            self.note(NoteKind.approximation, f"estimatedDuration of {hours:g} hours spread over {total_weeks} "
                      "week(s)", node, entity=cid)
            return {"weeks": total_weeks, "hours_per_week": round(min(60.0, hours / total_weeks), 1)}
        total_weeks = max(1, min(260, math.ceil(workload / 10)))
        hpw = round(min(60.0, workload / total_weeks), 1)
        detail = f" (description only: '{texts[0][:120]}')" if texts else ""
        self.note(NoteKind.placeholder, f"duration not present in CTDL{detail}; set to {total_weeks} weeks × "
                  f"{hpw:g} h from the ECTS workload — {REVIEW}", node, entity=cid)
        return {"weeks": total_weeks, "hours_per_week": hpw}

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
                    ects = self.credit_ects(_get(profile, "creditValue"), node, cid, f"{key} '{label}' creditValue")
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
                rest = [k for k in profile if _local(k) not in (*_STRUCTURAL, *_TARGET_PROPERTIES, "name",
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
            credits = self.credit_ects(_get(cond, "creditValue"), owner, None, "ComponentCondition creditValue")
        for profile in _as_list(_get(cond, "hasRuleSet")):
            if isinstance(profile, dict) and "credit" in json.dumps(_get(profile, "countRuleType") or "").lower():
                credits = self.convert_credits(float(n), ["SemesterHour"], owner, None, "credit count rule")
        for key in cond:
            local = _local(key)
            if local == "hasConstraint":
                self.note(NoteKind.unmapped, f"ComponentCondition with {key} not mapped (constraints have no "
                          "catalogue equivalent)", owner, _ptr(pointer, key))
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
        return data

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

    # -------------------------------------------------------- run

    def run(self) -> CtdlImport:
        self.load()
        self.assign_roles()
        self.build_providers()
        self.build_credentials()
        credentials = self.finish_credentials()
        pathways = self.build_pathways()
        valid = {c.id for c in credentials}
        credentials = [c for c in credentials if c.id in self.drafts and c.id in valid]
        credentials = [self._with_prereqs(c) for c in credentials]
        used_providers = {c.awarding_body for c in credentials} | {p.awarding_body for p in pathways}
        providers = [p for pid, p in self.providers.items()
                     if pid in used_providers or pid not in self.placeholder_providers.values()]
        if not providers and not credentials and not pathways:
            types = sorted({n.type_label for n in self.nodes.values()})
            raise CtdlImportError("nothing importable: no organisation, credential, learning opportunity or pathway "
                                  f"found (types present: {', '.join(types) or 'none'})",
                                  ", ".join(str(f) for f in self.files))
        for path in self.files:
            file = str(path)
            if not any(n.file == file and n.id in self.cred_of_node | self.pathway_ids | self.provider_of_node
                       for n in self.nodes.values()):
                self.note(NoteKind.unmapped, "nothing importable in this file", file=file, pointer="")
        sources = {cid: d.node.id for cid, d in self.drafts.items()}
        sources |= {pid: node_id for node_id, pid in self.provider_of_node.items()}
        sources |= {pid: node_id for node_id, pid in self.pathway_ids.items()}
        kept = {e.id for e in [*providers, *credentials, *pathways]}
        return CtdlImport(providers=providers, credentials=credentials, pathways=pathways, report=self.notes,
                          sources={k: v for k, v in sources.items() if k in kept})

    def _with_prereqs(self, credential: Credential) -> Credential:
        prereqs = self.drafts[credential.id].data.get("prerequisites", [])
        if list(credential.prerequisites) == prereqs:
            return credential
        return Credential.model_validate({**credential.model_dump(), "prerequisites": prereqs})


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


_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def _iso_duration(text: str) -> tuple[float, float] | None:
    """(weeks, hours) of an ISO 8601 duration such as ``P9M`` or ``PT40H``."""
    match = _ISO_DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        return None
    g = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    weeks = g["y"] * 52 + g["mo"] * 52 / 12 + g["w"] + g["d"] / 7
    hours = g["h"] + g["mi"] / 60 + g["s"] / 3600
    if weeks == 0 and hours == 0:
        return None
    return weeks, hours


# ---------------------------------------------------------------- public functions


def import_ctdl(paths: Iterable[Path | str]) -> CtdlImport:
    """Convert CTDL JSON-LD files into catalogue providers, credentials and pathways.

    All files are read as one graph, so references between them resolve (an organisation in one file,
    its credentials in another). The returned entities validate against :mod:`knowledge.schema`; the
    ``report`` lists every CTDL property not mapped, every placeholder and every approximation.

    Raises :class:`CtdlImportError` when a file cannot be read, is not JSON, is JSON but not CTDL, or
    when nothing at all can be imported.
    """
    return _Importer([Path(p) for p in paths]).run()


def _plain(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    price = data.get("price")
    if isinstance(price, dict) and isinstance(price.get("amount"), str):
        amount = Decimal(price["amount"])
        price["amount"] = int(amount) if amount == amount.to_integral_value() else float(amount)
    return data


def _header(result: CtdlImport, entities: list[str], what: str) -> str:
    lines = [f"# {what} imported from CTDL by `stackwise catalogue import-ctdl`.",
             "# Placeholders and approximations are listed below: REVIEW them before publishing."]
    for entity in entities:
        for note in result.notes_for(entity):
            if note.kind in (NoteKind.placeholder, NoteKind.approximation, NoteKind.unmapped):
                text = " ".join(note.message.split())
                lines.append(f"# - {entity}: {note.kind.value}: {text}")
    return "\n".join(lines) + "\n"


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def write_catalogue(result: CtdlImport, out_dir: Path | str) -> list[Path]:
    """Write ``providers.yaml``, ``credentials/<id>.yaml`` and ``pathways/<id>.yaml`` under ``out_dir``.

    Each file starts with comments listing the placeholders and approximations for its entity. Existing
    files with the same names are overwritten; other files in ``out_dir`` are left alone. Returns the
    paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if result.providers:
        path = out / "providers.yaml"
        body = _dump({"providers": [_plain(p) for p in result.providers]})
        header = _header(result, [p.id for p in result.providers], "Providers")
        path.write_text(header + body, encoding="utf-8")
        written.append(path)
    for folder, key, items in (("credentials", "credentials", result.credentials),
                               ("pathways", "pathways", result.pathways)):
        if not items:
            continue
        (out / folder).mkdir(exist_ok=True)
        for item in items:
            path = out / folder / f"{item.id}.yaml"
            path.write_text(_header(result, [item.id], f"{key[:-1].capitalize()} '{item.id}'")
                            + _dump({key: [_plain(item)]}), encoding="utf-8")
            written.append(path)
    return written
