"""W3C Data Integrity ``eddsa-rdfc-2022`` (vc-di-eddsa): create and verify proofs with Ed25519 over RDFC-1.0.

Create (vc-di-eddsa §3.3):

1. proof options = ``{type, cryptosuite, created, verificationMethod, proofPurpose}`` (no ``proofValue``) with the
   document's ``@context``;
2. canonicalize the options and the document *without* ``proof`` with RDFC-1.0 (pyld ``URDNA2015``, the same
   algorithm) to N-Quads;
3. ``hashData = SHA-256(canonical options) || SHA-256(canonical document)`` (64 bytes);
4. ``proofValue = 'z' + base58btc(Ed25519.sign(hashData))``.

Verify recomputes ``hashData`` and checks the signature with the key the ``verificationMethod`` resolves to
(see :class:`ResolvedKey` and the resolvers below), after checking type, cryptosuite and purpose.

Undefined terms are a canonicalization hazard: JSON-LD silently drops a property its ``@context`` does not define,
so a signature would not cover it and it could be changed freely. :func:`canonicalize` is strict by default: it
refuses documents with dropped properties or relative (unresolvable) ``@type`` / ``@id`` IRIs.

Why one module (~670 lines): it follows the eddsa-rdfc-2022 specification section by section (transformation,
hashing, proof configuration, serialization, verification), and keeping the sections together is what lets it be
read against the spec and its test vectors.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld
from pyld.canon import URDNA2015
from pyld.jsonld import JsonLdError, JsonLdProcessor

from issuance.errors import CanonicalizationError, DataIntegrityError, KeyResolutionError, UndefinedTermError  # noqa: F401  (re-exported)
from issuance.loader import OfflineDocumentLoader, UnknownContextError, default_loader, find_unknown_context
from issuance.multikey import (
    MultikeyError,
    decode_public_multikey,
    decode_secret_multikey,
    did_key_from_public,
    did_key_verification_method,
    encode_public_multikey,
    encode_secret_multikey,
    multibase_base58btc_decode,
    multibase_base58btc_encode,
)

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
#: verification relationships of a controller document
RELATIONSHIPS = ("assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation", "keyAgreement")

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
#: Expansion base for the strict check. pyld resolves relative IRIs against a made-up default base
#: (http://example.org/base/) where the JSON-LD spec leaves them relative (and other processors then drop them);
#: expanding against this sentinel lets us find and refuse every relative ``@id`` / ``@type``.
_RELATIVE_BASE = "https://relative-iri.invalid/"
_MADE_UP_BASES = (_RELATIVE_BASE, "http://example.org/base/")
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# ---------------------------------------------------------------- canonicalization


def _loader(loader: OfflineDocumentLoader | None) -> OfflineDocumentLoader:
    return loader if loader is not None else default_loader()


def _pyld_error(exc: Exception, what: str) -> DataIntegrityError:
    unknown = find_unknown_context(exc)
    if unknown is not None:
        return CanonicalizationError(f"cannot canonicalize the {what}: {unknown}")
    # pyld wraps the real reason in generic errors ("Could not expand input ..."): report the innermost one
    messages: list[str] = []
    current: BaseException | None = exc
    for _ in range(10):  # a cause chain is short; never loop on a malformed one
        if current is None:
            break
        if current.args and isinstance(current.args[0], str):
            messages.append(current.args[0])
        current = current.__cause__
    detail = messages[-1] if messages else type(exc).__name__
    return CanonicalizationError(f"cannot canonicalize the {what}: invalid JSON-LD ({detail})")


#: pyld raises these besides JsonLdError on some malformed input; for untrusted documents they mean "invalid".
_PYLD_FAILURES = (JsonLdError, TypeError, ValueError, KeyError, AttributeError, RecursionError)
#: pyld is not thread-safe: its inverse-context cache and each resolved context's cache are shared ``cachetools``
#: LRU caches, mutated on every read. Expansion and RDF conversion hold this lock (they are pure Python, so the
#: GIL serialises them anyway; RDFC-1.0 hashing itself runs outside it).
_PYLD_LOCK = threading.RLock()


def expand(document: Mapping[str, Any], *, loader: OfflineDocumentLoader | None = None) -> tuple[list, list[str]]:
    """JSON-LD expansion with the offline loader; returns ``(expanded, problems)``.

    ``problems`` lists dropped properties (undefined terms) and ``@type`` / ``@id`` values that did not expand
    to absolute IRIs - everything RDF conversion would silently leave out.
    """
    loader = _loader(loader)
    dropped: list[str] = []

    def on_dropped(prop: str | None) -> None:
        dropped.append(str(prop))

    try:
        with _PYLD_LOCK:
            expanded = JsonLdProcessor(on_property_dropped=on_dropped).expand(
                copy.deepcopy(dict(document)), {**loader.options(), "base": _RELATIVE_BASE}
            )
    except _PYLD_FAILURES as exc:
        raise _pyld_error(exc, "document") from None
    problems = [f"property {name!r} is not defined" for name in dict.fromkeys(dropped)]
    problems += _relative_iris(expanded)
    return expanded, problems


def _relative_iris(expanded: Any) -> list[str]:
    found: dict[str, None] = {}

    def ok(iri: Any) -> bool:
        if not isinstance(iri, str):
            return False
        if iri.startswith(_MADE_UP_BASES):
            return False
        return iri.startswith("_:") or bool(_ABSOLUTE_IRI.match(iri))

    def shown(iri: Any) -> str:
        if isinstance(iri, str):
            for base in _MADE_UP_BASES:
                if iri.startswith(base):
                    return repr(iri[len(base) :])
        return repr(iri)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if "@value" in node:
            if "@type" in node and node["@type"] != "@json" and not ok(node["@type"]):
                found[f"datatype {shown(node['@type'])} is not an absolute IRI"] = None
            return
        if "@id" in node and not ok(node["@id"]):
            found[f"id {shown(node['@id'])} is not an absolute IRI"] = None
        for value in node.get("@type", []) if isinstance(node.get("@type"), list) else [node.get("@type")]:
            if value is not None and not ok(value):
                found[f"type {shown(value)} is not defined"] = None
        for key, value in node.items():
            if key not in ("@id", "@type", "@value"):
                walk(value)

    walk(expanded)
    return list(found)


def undefined_terms(document: Mapping[str, Any], *, loader: OfflineDocumentLoader | None = None) -> list[str]:
    """Plain-words problems that would make canonicalization lose information (empty list = safe)."""
    return expand(document, loader=loader)[1]


def canonicalize(
    document: Mapping[str, Any], *, loader: OfflineDocumentLoader | None = None, strict: bool = True
) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, using only the pinned offline contexts.

    ``strict`` (default) raises :class:`UndefinedTermError` instead of silently dropping undefined terms or
    signing relative IRIs. It costs nothing extra: the checks ride along the one expansion RDF conversion does.
    """
    loader = _loader(loader)
    if not strict:
        options = {"algorithm": "URDNA2015", "format": "application/n-quads", **loader.options()}
        try:
            with _PYLD_LOCK:
                return jsonld.normalize(copy.deepcopy(dict(document)), options)
        except _PYLD_FAILURES as exc:
            raise _pyld_error(exc, "document") from None
    dropped: list[str] = []
    processor = JsonLdProcessor(on_property_dropped=lambda prop: dropped.append(str(prop)))
    rdf_options = {**loader.options(), "base": _RELATIVE_BASE, "produceGeneralizedRdf": False}
    try:
        with _PYLD_LOCK:
            dataset = processor.to_rdf(copy.deepcopy(dict(document)), rdf_options)
    except _PYLD_FAILURES as exc:
        raise _pyld_error(exc, "document") from None
    problems = [f"property {name!r} is not defined" for name in dict.fromkeys(dropped)]
    problems += _relative_in_dataset(dataset)
    if problems:
        raise UndefinedTermError(problems)
    return _BoundedRDFC().main(dataset, {"algorithm": "URDNA2015", "format": "application/n-quads"})


#: RDFC-1.0 can take exponential time on crafted, highly symmetric blank-node graphs ("poison graphs"); the
#: spec asks implementations to bound the work. Real credentials need a handful of n-degree hashes at most.
MAX_N_DEGREE_HASHES = 1_000


class _BoundedRDFC(URDNA2015):
    def __init__(self) -> None:
        super().__init__()
        self._n_degree_calls = 0

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._n_degree_calls += 1
        if self._n_degree_calls > MAX_N_DEGREE_HASHES:
            raise CanonicalizationError(
                "the document's blank nodes are too symmetric to canonicalize within the work limit "
                f"({MAX_N_DEGREE_HASHES} n-degree hashes): refusing it (possible denial-of-service graph)"
            )
        return super().hash_n_degree_quads(id_, issuer)


def _relative_in_dataset(dataset: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """IRIs in an RDF dataset that came from resolving a relative IRI against the sentinel base."""
    found: dict[str, None] = {}

    def relative(term: Mapping[str, Any] | None, key: str = "value") -> str | None:
        value = term.get(key) if term else None
        if isinstance(value, str):
            for base in _MADE_UP_BASES:
                if value.startswith(base):
                    return value[len(base) :]
        return None

    for graph_name, triples in dataset.items():
        if relative({"value": graph_name}) is not None:
            found[f"graph {relative({'value': graph_name})!r} is not an absolute IRI"] = None
        for triple in triples:
            obj = triple.get("object")
            name = relative(obj)
            if name is not None and obj.get("type") == "IRI":
                if triple["predicate"].get("value") == _RDF_TYPE:
                    found[f"type {name!r} is not defined"] = None
                else:
                    found[f"id {name!r} is not an absolute IRI"] = None
            datatype = relative(obj, "datatype")
            if datatype is not None:
                found[f"datatype {datatype!r} is not an absolute IRI"] = None
            subject = relative(triple.get("subject"))
            if subject is not None:
                found[f"id {subject!r} is not an absolute IRI"] = None
    return list(found)


# ---------------------------------------------------------------- hashing


@dataclass(frozen=True)
class HashData:
    canonical_document: str
    canonical_proof_config: str
    document_hash: bytes
    proof_hash: bytes

    @property
    def hash_data(self) -> bytes:
        """``proofHash || documentHash``: the 64 bytes that are signed."""
        return self.proof_hash + self.document_hash


def proof_configuration(proof_options: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """The proof options without ``proofValue``, with the document's ``@context`` (vc-di-eddsa §3.3.5)."""
    config = {k: copy.deepcopy(v) for k, v in proof_options.items() if k not in ("proofValue", "@context")}
    if "@context" not in document:
        raise DataIntegrityError("the document has no @context")
    config["@context"] = copy.deepcopy(document["@context"])
    return config


def hash_data(
    document: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    *,
    loader: OfflineDocumentLoader | None = None,
    strict: bool = True,
) -> HashData:
    """Canonicalize and hash the unsecured document (``proof`` removed) and the proof configuration."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = proof_configuration(proof_options, unsecured)
    canonical_document = canonicalize(unsecured, loader=loader, strict=strict)
    try:
        canonical_config = canonicalize(config, loader=loader, strict=strict)
    except UndefinedTermError as exc:
        raise UndefinedTermError([f"in the proof: {p}" for p in exc.problems]) from None
    return HashData(
        canonical_document=canonical_document,
        canonical_proof_config=canonical_config,
        document_hash=hashlib.sha256(canonical_document.encode("utf-8")).digest(),
        proof_hash=hashlib.sha256(canonical_config.encode("utf-8")).digest(),
    )


# ---------------------------------------------------------------- create


def format_datetime(moment: datetime) -> str:
    """XML Schema dateTimeStamp in UTC with seconds precision, e.g. ``2026-01-31T09:30:00Z``."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime:
    """Parse an XML Schema dateTimeStamp (timezone required). Raises ``ValueError`` in plain words."""
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise ValueError(f"{value!r} is not a date-time with a timezone, like 2026-01-31T09:30:00Z")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def create_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: datetime | str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
    options: Mapping[str, Any] | None = None,
    loader: OfflineDocumentLoader | None = None,
) -> dict[str, Any]:
    """A ``DataIntegrityProof`` (eddsa-rdfc-2022) over ``document`` (any existing ``proof`` is not covered).

    ``options`` adds optional proof properties (``expires``, ``domain``, ``challenge``, ``nonce``).
    """
    if isinstance(created, datetime):
        created = format_datetime(created)
    elif created is None:
        created = format_datetime(datetime.now(UTC))
    else:
        parse_datetime(created)
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    for key, value in (options or {}).items():
        if key in proof or key in ("proofValue", "@context"):
            raise ValueError(f"proof option {key!r} cannot be set here")
        proof[key] = value
    data = hash_data(document, proof, loader=loader)
    proof["proofValue"] = multibase_base58btc_encode(private_key.sign(data.hash_data))
    return proof


def sign(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    proof_as_list: bool = False,
    **proof_kwargs: Any,
) -> dict[str, Any]:
    """A copy of ``document`` with a new proof added (see :func:`create_proof`).

    If the document already has proofs the new one joins them as a proof set (a list). ``proof_as_list`` writes
    even a single proof as a one-element list (the OB 3.0 JSON Schema requires ``proof`` to be an array).
    """
    proof = create_proof(document, private_key, verification_method, **proof_kwargs)
    signed = copy.deepcopy(dict(document))
    existing = signed.get("proof")
    if existing is None:
        signed["proof"] = [proof] if proof_as_list else proof
    else:
        signed["proof"] = [*(existing if isinstance(existing, list) else [existing]), proof]
    return signed


# ---------------------------------------------------------------- key resolution


@dataclass(frozen=True)
class ResolvedKey:
    """What a verification method resolved to.

    ``controller`` is the identifier (DID or URL) that controls the key. ``purposes`` are the verification
    relationships the controller document lists the key under; ``None`` means the resolver does not know, and
    no purpose check is made.
    """

    id: str
    public_key: Ed25519PublicKey
    controller: str | None = None
    purposes: frozenset[str] | None = None


#: ``resolve_key(verification_method_id)`` -> ResolvedKey (or a bare public key / public Multikey string).
#: Return ``None`` or raise :class:`KeyResolutionError` when the method is unknown.
KeyResolver = Callable[[str], "ResolvedKey | Ed25519PublicKey | str | None"]


def _as_resolved(vm_id: str, value: ResolvedKey | Ed25519PublicKey | str | None) -> ResolvedKey:
    if value is None:
        raise KeyResolutionError(f"verification method {vm_id!r} could not be resolved to a key")
    if isinstance(value, ResolvedKey):
        return value
    if isinstance(value, Ed25519PublicKey):
        return ResolvedKey(id=vm_id, public_key=value)
    if isinstance(value, str):
        try:
            return ResolvedKey(id=vm_id, public_key=decode_public_multikey(value))
        except MultikeyError as exc:
            raise KeyResolutionError(f"verification method {vm_id!r}: {exc}") from None
    raise KeyResolutionError(f"verification method {vm_id!r}: the resolver returned {type(value).__name__}")


def resolve_did_key(vm_id: str) -> ResolvedKey | None:
    """Resolve ``did:key:z6Mk…#z6Mk…`` (Ed25519) from the identifier itself; ``None`` for anything else."""
    if not vm_id.startswith("did:key:"):
        return None
    did, _, fragment = vm_id.partition("#")
    multikey = did[len("did:key:") :]
    if fragment and fragment != multikey:
        raise KeyResolutionError(f"did:key verification method {vm_id!r}: the fragment must repeat the key")
    try:
        key = decode_public_multikey(multikey)
    except MultikeyError as exc:
        raise KeyResolutionError(f"did:key {did!r}: {exc}") from None
    # A did:key document lists its one key under every relationship except keyAgreement.
    purposes = frozenset(r for r in RELATIONSHIPS if r != "keyAgreement")
    return ResolvedKey(id=did_key_verification_method(key), public_key=key, controller=did, purposes=purposes)


def is_issuer_id(value: str) -> bool:
    """An issuer id is a DID (``did:web:…``, ``did:key:…``) or an https:// URL."""
    return value.startswith("did:") or value.startswith("https://")


class ControllerDocumentResolver:
    """Resolves verification methods listed in known controller documents (DID documents or CID documents).

    Only ``Multikey`` (and ``Ed25519VerificationKey2020``) methods with an Ed25519 ``publicKeyMultibase`` whose
    ``controller`` is the document's ``id`` are accepted. ``allow_did_key`` also resolves ``did:key`` methods.
    """

    def __init__(self, documents: Iterable[Mapping[str, Any]] = (), *, allow_did_key: bool = False):
        self._methods: dict[str, ResolvedKey] = {}
        self._problems: dict[str, str] = {}
        self.allow_did_key = allow_did_key
        for document in documents:
            self.add(document)

    def add(self, document: Mapping[str, Any]) -> None:
        doc_id = document.get("id")
        if not isinstance(doc_id, str):
            raise ValueError("a controller document needs an 'id'")
        methods: dict[str, Mapping[str, Any]] = {}
        for vm in _as_list(document.get("verificationMethod")):
            if isinstance(vm, Mapping) and isinstance(vm.get("id"), str):
                methods[_absolute(vm["id"], doc_id)] = vm
        purposes: dict[str, set[str]] = {}
        for relationship in RELATIONSHIPS:
            for entry in _as_list(document.get(relationship)):
                if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                    ref = _absolute(entry["id"], doc_id)
                    methods.setdefault(ref, entry)
                elif isinstance(entry, str):
                    ref = _absolute(entry, doc_id)
                else:
                    continue
                purposes.setdefault(ref, set()).add(relationship)
        for vm_id, vm in methods.items():
            problem = None
            if vm.get("type") not in ("Multikey", "Ed25519VerificationKey2020"):
                problem = f"verification method {vm_id!r} has unsupported type {vm.get('type')!r}"
            elif vm.get("controller") != doc_id:
                problem = f"verification method {vm_id!r} is not controlled by {doc_id!r}"
            else:
                try:
                    key = decode_public_multikey(vm.get("publicKeyMultibase", ""))
                except MultikeyError as exc:
                    problem = f"verification method {vm_id!r}: {exc}"
            if problem:
                self._problems[vm_id] = problem
                continue
            self._methods[vm_id] = ResolvedKey(
                id=vm_id, public_key=key, controller=doc_id, purposes=frozenset(purposes.get(vm_id, ()))
            )

    def __call__(self, vm_id: str) -> ResolvedKey | None:
        if vm_id in self._methods:
            return self._methods[vm_id]
        if vm_id in self._problems:
            raise KeyResolutionError(self._problems[vm_id])
        if self.allow_did_key and vm_id.startswith("did:key:"):
            return resolve_did_key(vm_id)
        return None


def static_resolver(keys: Mapping[str, Ed25519PublicKey | str], *, controller: str | None = None) -> KeyResolver:
    """Resolve a fixed set of verification method ids to keys (public key objects or public Multikeys)."""

    def resolve(vm_id: str) -> ResolvedKey | None:
        if vm_id not in keys:
            return None
        resolved = _as_resolved(vm_id, keys[vm_id])
        owner = controller or vm_id.partition("#")[0]
        return ResolvedKey(id=vm_id, public_key=resolved.public_key, controller=owner, purposes=None)

    return resolve


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _absolute(ref: str, base: str) -> str:
    return base + ref if ref.startswith("#") else ref


# ---------------------------------------------------------------- verify


@dataclass
class ProofVerification:
    """The outcome of verifying a document's proof(s); ``reason`` is in plain words."""

    ok: bool
    reason: str
    verification_methods: list[str] = field(default_factory=list)
    controllers: list[str | None] = field(default_factory=list)
    #: the verification method no resolver knew (the key is unreachable, not proven wrong); ``None`` otherwise
    unresolved: str | None = None


def verify_proof(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    *,
    expected_purpose: str = ASSERTION_METHOD,
    loader: OfflineDocumentLoader | None = None,
    now: datetime | None = None,
) -> ProofVerification:
    """Verify every ``eddsa-rdfc-2022`` proof on ``document`` (a single proof or a proof set)."""
    proofs = document.get("proof")
    if proofs is None:
        return ProofVerification(False, "the document has no proof: it is not signed")
    proof_list = proofs if isinstance(proofs, list) else [proofs]
    if not proof_list:
        return ProofVerification(False, "the document has no proof: it is not signed")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    result = ProofVerification(True, "")
    for index, proof in enumerate(proof_list):
        label = "the proof" if len(proof_list) == 1 else f"proof {index + 1} of {len(proof_list)}"
        ok, reason, resolved = _verify_one(unsecured, proof, resolve_key, expected_purpose, loader, now)
        if not ok:
            unresolved = proof.get("verificationMethod") if reason.endswith(_UNRESOLVED) else None
            return ProofVerification(False, f"{label}: {reason}", result.verification_methods, result.controllers,
                                     unresolved=unresolved if isinstance(unresolved, str) else None)
        result.verification_methods.append(resolved.id if resolved else "")
        result.controllers.append(resolved.controller if resolved else None)
    methods = ", ".join(result.verification_methods)
    result.reason = f"valid {CRYPTOSUITE} signature by {methods}"
    return result


_UNRESOLVED = "could not be resolved to a key"


def _verify_one(
    unsecured: Mapping[str, Any],
    proof: Any,
    resolve_key: KeyResolver,
    expected_purpose: str,
    loader: OfflineDocumentLoader | None,
    now: datetime | None,
) -> tuple[bool, str, ResolvedKey | None]:
    if not isinstance(proof, Mapping):
        return False, "the proof is not an object", None
    if proof.get("type") != PROOF_TYPE:
        return False, f"unsupported proof type {proof.get('type')!r} (expected {PROOF_TYPE})", None
    if proof.get("cryptosuite") != CRYPTOSUITE:
        return False, f"unsupported cryptosuite {proof.get('cryptosuite')!r} (expected {CRYPTOSUITE})", None
    if proof.get("proofPurpose") != expected_purpose:
        return False, f"the proof purpose is {proof.get('proofPurpose')!r}, expected {expected_purpose!r}", None
    if "previousProof" in proof:
        return False, "proof chains (previousProof) are not supported", None
    vm_id = proof.get("verificationMethod")
    if not isinstance(vm_id, str) or not vm_id:
        return False, "the proof names no verificationMethod", None
    try:
        signature = multibase_base58btc_decode(proof.get("proofValue"))
    except MultikeyError:
        return False, "the proofValue is missing or is not multibase base58btc ('z…')", None
    if len(signature) != 64:
        return False, f"the proofValue decodes to {len(signature)} bytes, an Ed25519 signature has 64", None
    moment = now or datetime.now(UTC)
    for name in ("created", "expires"):
        if name in proof:
            try:
                when = parse_datetime(proof[name])
            except ValueError as exc:
                return False, f"the proof's {name}: {exc}", None
            if name == "expires" and moment >= when:
                return False, f"the proof expired on {proof[name]}", None
    if "@context" in proof:
        doc_ctx = _as_list(unsecured.get("@context"))
        proof_ctx = _as_list(proof["@context"])
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            return False, "the proof's @context does not match the start of the document's @context", None
        unsecured = {**unsecured, "@context": proof["@context"]}
    try:
        found = resolve_key(vm_id)
        if found is None:
            return False, f"verification method {vm_id!r} {_UNRESOLVED}", None
        resolved = _as_resolved(vm_id, found)
    except KeyResolutionError as exc:
        return False, str(exc), None
    if resolved.purposes is not None and expected_purpose not in resolved.purposes:
        return False, f"key {vm_id!r} is not listed under {expected_purpose} by its controller", resolved
    try:
        data = hash_data(unsecured, proof, loader=loader)
    except DataIntegrityError as exc:
        return False, str(exc), resolved
    try:
        resolved.public_key.verify(signature, data.hash_data)
    except InvalidSignature:
        return (
            False,
            f"the signature does not match: the document or its proof was changed after signing, "
            f"or it was not signed by {vm_id}",
            resolved,
        )
    return True, "ok", resolved


__all__ = [
    "ASSERTION_METHOD",
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "CanonicalizationError",
    "ControllerDocumentResolver",
    "DataIntegrityError",
    "HashData",
    "KeyResolutionError",
    "KeyResolver",
    "MultikeyError",
    "ProofVerification",
    "ResolvedKey",
    "UndefinedTermError",
    "UnknownContextError",
    "canonicalize",
    "create_proof",
    "decode_public_multikey",
    "decode_secret_multikey",
    "did_key_from_public",
    "did_key_verification_method",
    "encode_public_multikey",
    "encode_secret_multikey",
    "expand",
    "format_datetime",
    "hash_data",
    "multibase_base58btc_decode",
    "multibase_base58btc_encode",
    "parse_datetime",
    "proof_configuration",
    "resolve_did_key",
    "sign",
    "static_resolver",
    "undefined_terms",
    "verify_proof",
]
