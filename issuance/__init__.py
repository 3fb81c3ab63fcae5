"""Issuance and verification of signed Open Badges 3.0 credentials carrying the EU micro-credential elements.

Public face::

    key = load_or_create_issuer_key(path)                  # Ed25519, key file 0600 outside the repo
    doc = issue_credential(credential, provider, issuer=IssuerConfig(...), key=key, learner=Learner(...),
                           results={criterion_id: level_id}, evidence=[EvidenceItem(...)],
                           credential_status=status_entry(list_url, index))
    report = verify_credential(doc, resolve_key=ControllerDocumentResolver([controller_document(issuer_id, key)]),
                               fetch_status_list=lambda url: ...)
    report.ok, report.checks                               # schema, proof, status, validity - in plain words

Adapters (CLI, web, Telegram) use :class:`issuance.service.IssuanceService`: issue a passed or approved submission
(idempotent), revoke, the signed status list, the DID document, verify with the live status list. Built by
``stackwise.wiring.issuance_service``, which subscribes it to the grader's ready-to-issue event.

Modules: :mod:`issuance.dataintegrity` (eddsa-rdfc-2022), :mod:`issuance.loader` (offline JSON-LD contexts),
:mod:`issuance.keys`, :mod:`issuance.status` (Bitstring Status List), :mod:`issuance.credential`,
:mod:`issuance.verify` (four verdicts), :mod:`issuance.trust` (whom the verifier trusts),
:mod:`issuance.multikey`, :mod:`issuance.service` (with :mod:`issuance.store`, its tables),
:mod:`issuance.baking` (SVG/PNG badges with the credential inside); the web routes and tabs are channels
(:mod:`stackwise.web.routes`, :mod:`stackwise.web.issuance_tabs`).
``MAPPING.md`` maps the EU Annex I elements.
"""

from __future__ import annotations

from issuance.credential import (
    EvidenceItem,
    IssuanceError,
    IssuerConfig,
    Learner,
    build_credential,
    identity_matches,
    issue_credential,
)
from issuance.dataintegrity import (
    ControllerDocumentResolver,
    ResolvedKey,
    canonicalize,
    resolve_did_key,
    sign,
    static_resolver,
    verify_proof,
)
from issuance.keys import IssuerKey, controller_document, load_or_create_issuer_key
from issuance.loader import OfflineDocumentLoader, UnknownContextError, default_loader
from issuance.status import StatusList, signed_status_list_credential, status_entry, status_list_credential
from issuance.verify import Check, VerificationReport, schema_errors, verify_credential

__all__ = [
    "Check",
    "ControllerDocumentResolver",
    "EvidenceItem",
    "IssuanceError",
    "IssuerConfig",
    "IssuerKey",
    "Learner",
    "OfflineDocumentLoader",
    "ResolvedKey",
    "StatusList",
    "UnknownContextError",
    "VerificationReport",
    "build_credential",
    "canonicalize",
    "controller_document",
    "default_loader",
    "identity_matches",
    "issue_credential",
    "load_or_create_issuer_key",
    "resolve_did_key",
    "schema_errors",
    "sign",
    "signed_status_list_credential",
    "static_resolver",
    "status_entry",
    "status_list_credential",
    "verify_credential",
    "verify_proof",
]
