"""Issuance's one public face: what channels (CLI, web, Telegram), the wiring and evals import.

Everything else in ``issuance/`` is internal and may move; import from here. Contents:

- **the service**: :class:`IssuanceService` (issue a passed or approved submission, idempotently; revoke;
  status lists; DID documents and issuer profiles; the learner's public/private credential page,
  :meth:`IssuanceService.set_page_public`; verify against :meth:`IssuanceService.trust_list`). It hears
  the grader queue it was built on once the wiring calls :meth:`IssuanceService.subscribe` (``close`` stops it), and
  :meth:`IssuanceService.on_issued` / ``on_issued=`` are its own listeners. Configured by
  :class:`IssuanceConfig`; :func:`credential_uuid` and :func:`did_web_for_url` parse what users paste.
- **keys and trust**: :func:`load_or_create_issuer_key`, :class:`IssuerKeys`, :class:`IssuerKey`,
  :func:`load_trust_file`, :class:`TrustList`, :class:`TrustedIssuer`.
- **pydantic in/out models**: :class:`IssuedCredential`, :class:`IssuanceAuditEntry`,
  :class:`VerificationReport` (with its :data:`Verdict`), :class:`Check`.
- **badges and documents** (what the channels serve): :func:`badge_png`, :func:`badge_svg`, :func:`badge_thumbnail`,
  :func:`credential_json`, :func:`extract_credential`, :data:`MAX_IMAGE_BYTES`, :func:`context_document`,
  :data:`STACKWISE_EU_MC_V1`, :func:`shape_problem`, :func:`verify_credential`.
- **sharing and plain words**: :func:`credential_facts` (:class:`CredentialFacts`: what a credential claims),
  :func:`linkedin_add_url`; :func:`explain` (:class:`Explanation`, :class:`Finding`, :data:`CHECK_LABELS`): a
  verification report in plain words, facts shown only when verified.
- **forget me**: :func:`credentials_of` (how many a learner holds), :func:`unlink_learner` (re-points
  their credential records to a random ``erased-…`` id).
- **errors**: the root :class:`IssuanceError` and every subclass (:mod:`issuance.errors`).
"""

from __future__ import annotations

from issuance.baking import (
    MAX_IMAGE_BYTES,
    badge_png,
    badge_svg,
    badge_thumbnail,
    credential_json,
    extract_credential,
)
from issuance.erasure import credentials_of, unlink_learner
from issuance.errors import (
    AlreadyRevoked,
    BakingError,
    CanonicalizationError,
    CredentialNotFound,
    DataIntegrityError,
    IssuanceError,
    IssuerNotFound,
    KeyFileError,
    KeyResolutionError,
    MultikeyError,
    NotIssuable,
    NotYourCredential,
    StatusListError,
    StatusListNotFound,
    TrustListInvalid,
    UndefinedTermError,
    UnknownSubmission,
)
from issuance.explain import CHECK_LABELS, Explanation, Finding, explain
from issuance.keys import IssuerKey, IssuerKeys, load_or_create_issuer_key
from issuance.loader import STACKWISE_EU_MC_V1, UnknownContextError, context_document
from issuance.service import (
    IssuanceAuditEntry,
    IssuanceConfig,
    IssuanceService,
    IssuedCredential,
    credential_uuid,
    did_web_for_url,
)
from issuance.sharing import CredentialFacts, credential_facts, linkedin_add_url
from issuance.sources import CredentialSourceError, read_credential
from issuance.trust import TrustedIssuer, TrustList, load_trust_file
from issuance.verify import Check, Verdict, VerificationReport, shape_problem, verify_credential

__all__ = [
    # the service
    "IssuanceService", "IssuanceConfig", "credential_uuid", "did_web_for_url",
    # keys and trust
    "load_or_create_issuer_key", "IssuerKeys", "IssuerKey", "load_trust_file", "TrustList", "TrustedIssuer",
    # pydantic in/out models
    "IssuedCredential", "IssuanceAuditEntry", "VerificationReport", "Verdict", "Check",
    # badges and documents
    "badge_png", "badge_svg", "badge_thumbnail", "credential_json", "extract_credential", "MAX_IMAGE_BYTES",
    "context_document",
    "STACKWISE_EU_MC_V1", "shape_problem", "verify_credential", "read_credential",
    # sharing and plain words
    "CredentialFacts", "credential_facts", "linkedin_add_url", "explain", "Explanation", "Finding", "CHECK_LABELS",
    # forget me
    "credentials_of", "unlink_learner",
    # errors
    "IssuanceError", "NotIssuable", "UnknownSubmission", "CredentialNotFound", "NotYourCredential", "AlreadyRevoked",
    "StatusListNotFound", "IssuerNotFound", "DataIntegrityError", "CanonicalizationError", "UndefinedTermError",
    "KeyResolutionError", "KeyFileError", "MultikeyError", "TrustListInvalid", "StatusListError", "BakingError",
    "UnknownContextError", "CredentialSourceError",
]
