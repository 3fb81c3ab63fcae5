"""Issuance's public face: issue a signed credential for a passed or approved submission, revoke it, publish the
status list and the issuer's key, and verify credentials - all against the one database the grader uses.

Adapters (CLI, Gradio routes and tabs, Telegram) call only :class:`IssuanceService` (through :mod:`issuance.api`)::

    config = IssuanceConfig.for_public_url("https://credentials.example.org", issuer_name="Example")
    service = IssuanceService(queue, catalogue, key=key, config=config, database_url=database_url)
    service.subscribe()                      # issue automatically on a pass or an approval (the composition root)
    issued = service.issue(submission_id)    # idempotent: the same stored credential every time
    service.revoke(issued.id, reason="...", actor="root", via="cli")   # actor: an authenticated issuer-admin
    report = service.verify(document)        # one of four verdicts against service.trust_list()

Each awarding body issues under its own DID (``did:web:<host>:issuers:<provider id>``), key
(:class:`issuance.keys.IssuerKeys`), profile and status lists; the instance DID signs nothing new and stays
trusted for what it signed before. The learner's name is in a credential only with ``include_name``.

Only submissions the grader made issuable (``passed`` by the AI grader or ``approved`` by an assessor, see
:data:`grader.models.ISSUABLE_STATUSES`) are issued; anything else raises :class:`NotIssuable` naming why.
The credential's rubric results are the submission's final per-criterion levels; its evidence is a narrative
and the learner's links (never their files). Status-list slots are random indexes in lists of
:data:`issuance.status.MIN_BITS` entries (a list is filled to half before the next one is used), allocated under
unique constraints so concurrent issuers never share a slot (:mod:`issuance.store`).

Why one module (~730 lines): issuing, revoking and status-list updates share one transaction and audit discipline
over the same store; the signing, status and verification algorithms already live in their own modules.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from grader.api import (
    ISSUABLE_STATUSES,
    Assessor,
    GraderQueue,
    InvalidTransition,
    Listeners,
    ReadyToIssue,
    Status,
    SubmissionDetail,
    SubmissionNotFound,
)
from issuance import visibility
from issuance.credential import EvidenceItem, IssuerConfig, Learner, issue_credential
from issuance.dataintegrity import format_datetime, sign
from issuance.errors import (  # noqa: F401  (re-exported)
    AlreadyRevoked,
    CredentialNotFound,
    IssuanceError,
    IssuerNotFound,
    NotIssuable,
    NotYourCredential,
    StatusListNotFound,
    UnknownSubmission,
)
from issuance.keys import IssuerKey, IssuerKeys, controller_document
from issuance.loader import OB_V3P0_3_0_3, VC_V2
from issuance.status import MIN_BITS, StatusList, status_entry, status_list_credential
from issuance.store import AuditRow, CredentialRow, append_audit, ensure_tables, utcnow
from issuance.trust import TrustedIssuer, TrustList
from issuance.verify import VerificationReport, verify_credential
from knowledge.schema import Catalogue, Provider
from storage import engine_for, session_factory

__all__ = [
    "AlreadyRevoked", "CredentialNotFound", "IssuanceAuditEntry", "IssuanceConfig", "IssuanceService",
    "IssuedCredential", "IssuerNotFound", "NotIssuable", "NotYourCredential", "StatusListNotFound",
    "UnknownSubmission", "credential_uuid",
    "did_web_for_url",
]

log = logging.getLogger(__name__)

LIST_SIZE = MIN_BITS
LIST_FILL = LIST_SIZE // 2  # move on to the next list when this many slots of the current one are taken
_ALLOCATION_ATTEMPTS = 40
#: validFrom of a status list that nothing has been allocated in yet
LIST_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM_READER = Assessor(username="system:issuance", display_name="Issuance")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LINK = re.compile(r"^https?://\S+$")

WHY_NOT = {
    Status.received: "has not been graded yet",
    Status.grading: "is being graded; it is issued automatically if it passes",
    Status.failed: "did not pass",
    Status.review: "is waiting for an assessor's review; it is issued automatically if approved",
    Status.rejected: "was not approved by an assessor",
    Status.resubmission_requested: "was sent back for resubmission by an assessor",
    Status.error: "could not be graded",
}


# ---------------------------------------------------------------- configuration and views


def did_web_for_url(url: str) -> str:
    """The ``did:web`` DID for a base URL: ``https://host[:port]/path`` -> ``did:web:host%3Aport:path``.

    Accepts ``http://`` too (a local development URL), although did:web resolvers fetch over https only.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a did:web needs an http(s) URL, got {url!r}")
    host = quote(parts.hostname, safe="") + (f"%3A{parts.port}" if parts.port else "")
    path = [quote(unquote(p), safe="") for p in parts.path.strip("/").split("/") if p]
    return ":".join(["did:web", host, *path])


class IssuanceConfig(BaseModel):
    """Where the app is published and who the issuers are (the composition root builds it from its settings).

    ``issuer_id`` / ``issuer_name`` are the *instance's* DID and name (the platform, ``/issuer``). Credentials
    are issued by one issuer per awarding body: ``<instance did:web>:issuers:<provider id>`` named as the
    catalogue's provider (:meth:`provider_issuer_id`). ``include_name``: put the learner's name in credentials
    (off: the learner is identified by salted hashes only).
    """

    model_config = ConfigDict(frozen=True)

    public_url: str
    issuer_id: str
    issuer_name: str = "Stackwise"
    issuer_country: str | None = None
    include_name: bool = False

    @classmethod
    def for_public_url(cls, public_url: str, *, issuer_id: str | None = None, issuer_name: str = "Stackwise",
                       issuer_country: str | None = None, include_name: bool = False) -> IssuanceConfig:
        """The configuration of an app published at ``public_url``; the instance DID defaults to its did:web
        (``ValueError`` for a URL that is not http(s))."""
        public_url = public_url.rstrip("/")
        return cls(public_url=public_url, issuer_id=issuer_id or did_web_for_url(public_url),
                   issuer_name=issuer_name, issuer_country=issuer_country, include_name=include_name)

    @property
    def issuer(self) -> IssuerConfig:
        """The instance issuer (signs nothing new; kept so its earlier credentials stay verifiable)."""
        return IssuerConfig(issuer_id=self.issuer_id, achievement_base_url=f"{self.public_url}/achievements")

    def provider_issuer_id(self, provider_id: str) -> str:
        """The awarding body's DID: ``did:web:<host>:issuers:<provider id>`` (its document is served at
        ``/issuers/<provider id>/did.json``). Under a did:web ``issuer_id``; else under the public URL's did:web."""
        base = self.issuer_id if self.issuer_id.startswith("did:web:") else did_web_for_url(self.public_url)
        return f"{base}:issuers:{quote(provider_id, safe='')}"

    def provider_issuer(self, provider_id: str) -> IssuerConfig:
        return IssuerConfig(issuer_id=self.provider_issuer_id(provider_id),
                            achievement_base_url=f"{self.public_url}/achievements")

    def provider_of(self, issuer_id: str) -> str | None:
        """The provider id in one of our awarding-body DIDs (``None`` for any other id)."""
        prefix = self.provider_issuer_id("x")[:-1]
        tail = issuer_id[len(prefix):] if issuer_id.startswith(prefix) else ""
        return tail if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", tail) else None

    def status_list_url(self, number: int, provider: str | None = None) -> str:
        """Status list ``number`` of an awarding body (``provider``) or, with ``None``, of the instance DID."""
        if provider is not None:
            return f"{self.public_url}/issuers/{provider}/status/{number}"
        return f"{self.public_url}/status/{number}"

    def provider_profile_url(self, provider_id: str) -> str:
        return f"{self.public_url}/issuers/{provider_id}"

    def credential_url(self, credential_uuid: str) -> str:
        return f"{self.public_url}/credentials/{credential_uuid}"

    def page_url(self, credential_uuid: str) -> str:
        """The credential's public page (HTML, Open Graph tags; shown when the learner made it public)."""
        return f"{self.public_url}/credentials/{credential_uuid}/page"

    def badge_url(self, credential_uuid: str, kind: str = "png") -> str:
        return f"{self.public_url}/credentials/{credential_uuid}/badge.{kind}"

    @property
    def profile_url(self) -> str:
        return f"{self.public_url}/issuer"


class IssuedCredential(BaseModel):
    """An issued credential: the signed ``document`` exactly as issued, and its lifecycle."""

    id: str  # urn:uuid:<uuid>, the credential's "id"
    uuid: str
    submission_id: str
    learner_id: str
    credential_id: str  # the catalogue credential
    title: str
    issued_at: datetime
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None
    status_list: int
    status_index: int
    issuer: str | None = None  # the awarding body (provider id) whose DID signed it; None: the instance DID
    public: bool = False  # the learner made its page public (:mod:`issuance.visibility`; private by default)
    document: dict[str, Any]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        return self.valid_until is not None and (now or datetime.now(UTC)) >= self.valid_until


class IssuanceAuditEntry(BaseModel):
    id: int
    event_type: str
    credential_id: str | None
    submission_id: str | None
    actor: str
    details: dict
    created_at: datetime


def credential_uuid(text: str) -> str | None:
    """The UUID in a credential id as a user may give it: ``urn:uuid:…``, the bare UUID, or a credential URL."""
    text = (text or "").strip()
    if text.lower().startswith("urn:uuid:"):
        text = text[len("urn:uuid:"):]
    elif "/" in text:
        path = urlsplit(text).path if "://" in text else text
        match = re.search(r"/credentials/([^/?#]+)", path)
        text = match.group(1) if match else ""
        text = text.removesuffix(".json")
    return text.lower() if _UUID.fullmatch(text) else None


@dataclass(frozen=True)
class _Reservation:
    uuid: str
    submission_id: str
    status_list: int
    status_index: int
    reserved_at: datetime
    document: str | None
    marked_issued: bool
    issuer: str | None = None


# ---------------------------------------------------------------- the service


class IssuanceService:
    """Issues, stores, revokes and verifies credentials for one grader queue and database (see module docstring)."""

    def __init__(self, queue: GraderQueue, catalogue: Catalogue, *, key: IssuerKey, config: IssuanceConfig,
                 database_url: str, clock: Callable[[], datetime] = utcnow, keys: IssuerKeys | None = None,
                 trusted: Iterable[TrustedIssuer] = (), on_issued: Iterable[Callable[[IssuedCredential], None]] = ()):
        """``key``: the instance DID's key; ``keys``: the awarding bodies' keys (default: ``key`` for every body);
        ``trusted``: issuers the operator trusts besides this instance's own; ``on_issued``: listeners for newly
        issued credentials (more with :meth:`on_issued`)."""
        ensure_tables(engine_for(database_url))
        self.queue = queue
        self.catalogue = catalogue
        self.config = config
        self._key = key
        self._keys = keys or IssuerKeys(None, fallback=key)
        self._trusted = list(trusted)
        self._sessions = session_factory(database_url)
        self._clock = clock
        self._issued = Listeners[IssuedCredential]("issued-credential", on_issued)
        self._lock = threading.Lock()
        self._list_cache: dict[tuple[str | None, int], tuple[tuple, dict[str, Any]]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    # ---- the issuer --------------------------------------------------------------------------------

    @property
    def issuer_id(self) -> str:
        return self.config.issuer_id

    @property
    def verification_method(self) -> str:
        return self._key.verification_method(self.issuer_id)

    @property
    def public_multikey(self) -> str:
        return self._key.public_multikey

    def _provider(self, provider_id: str) -> Provider:
        provider = self.catalogue.providers.get(provider_id)
        if provider is None:
            raise IssuerNotFound(f"no awarding body {provider_id!r} in the catalogue")
        return provider

    def did_document(self, provider_id: str | None = None) -> dict[str, Any]:
        """A controller (DID) document with its Multikey: the instance's (``/.well-known/did.json``) or, with
        ``provider_id``, that awarding body's (``/issuers/<provider id>/did.json``; its key is made on first use).
        Raises :class:`IssuerNotFound` for a provider not in the catalogue."""
        if provider_id is None:
            return controller_document(self.issuer_id, self._key)
        self._provider(provider_id)
        return controller_document(self.config.provider_issuer_id(provider_id), self._keys.get(provider_id))

    def issuer_profile(self, provider_id: str | None = None) -> dict[str, Any]:
        """An OB 3.0 ``Profile``: the instance's (``/issuer``) or an awarding body's (``/issuers/<id>``), named
        exactly as the credentials its DID signs."""
        context = [VC_V2, OB_V3P0_3_0_3]
        if provider_id is not None:
            provider = self._provider(provider_id)
            profile: dict[str, Any] = {"@context": context, "id": self.config.provider_issuer_id(provider_id),
                                       "type": ["Profile"], "name": provider.name}
            if provider.website:
                profile["url"] = str(provider.website)
            if provider.description:
                profile["description"] = provider.description
            profile["address"] = {"type": ["Address"], "addressCountryCode": provider.country}
            return profile
        profile = {"@context": context, "id": self.issuer_id, "type": ["Profile"],
                   "name": self.config.issuer_name, "url": self.config.public_url,
                   "description": "The platform that runs these awarding bodies' issuers; credentials are issued "
                                  "under each body's own DID (see /issuers)."}
        if self.config.issuer_country:
            profile["address"] = {"type": ["Address"], "addressCountryCode": self.config.issuer_country}
        if self.issuer_id == self.config.profile_url:  # an https issuer id: the profile is the controller document
            document = self.did_document()
            profile["verificationMethod"] = document["verificationMethod"]
            profile["assertionMethod"] = document["assertionMethod"]
        return profile

    def issuers(self) -> list[dict[str, str]]:
        """This instance's awarding-body issuers: provider id, DID, name and profile URL."""
        return [{"provider": pid, "id": self.config.provider_issuer_id(pid), "name": provider.name,
                 "profile": self.config.provider_profile_url(pid)}
                for pid, provider in sorted(self.catalogue.providers.items())]

    def trust_list(self) -> TrustList:
        """Whom :meth:`verify` trusts: the awarding bodies' DIDs (a body without a key yet has signed nothing),
        the instance DID (for the credentials it signed before), then the operator's issuers. Own issuers always
        require a status entry; the ``did:web:<host>:issuers:`` namespace is ours in full (an unknown body there
        is a forgery, not an unreachable key)."""
        own = []
        for pid, provider in sorted(self.catalogue.providers.items()):
            did, key = self.config.provider_issuer_id(pid), self._keys.existing(pid)
            document = (controller_document(did, key) if key is not None  # no key yet: it signed nothing
                        else {"id": did, "verificationMethod": [], "assertionMethod": []})
            own.append(TrustedIssuer(id=did, name=provider.name, own=True, document=document))
        own.append(TrustedIssuer(id=self.issuer_id, name=self.config.issuer_name, own=True,
                                 document=self.did_document()))
        namespace = self.config.provider_issuer_id("x")[:-1]  # did:web:<host>:issuers: is ours alone
        return TrustList([*own, *self._trusted], authoritative_prefixes=[namespace])

    # ---- events ------------------------------------------------------------------------------------

    def subscribe(self) -> Callable[[], None]:
        """Issue automatically whenever *this service's* grader queue makes a submission issuable (a pass or an
        approval): :meth:`on_ready_to_issue` becomes a listener of ``self.queue`` (no other queue is heard).

        Idempotent; returns the unsubscribe function (also :meth:`close`).
        """
        with self._lock:
            if self._unsubscribe is None:
                self._unsubscribe = self.queue.subscribe(self.on_ready_to_issue)
        return self.close

    def close(self) -> None:
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def on_ready_to_issue(self, event: ReadyToIssue) -> None:
        """The grader's event (from the queue this service was wired to): issue the submission."""
        try:
            issued = self.issue(event.submission_id, actor=f"auto:{event.source}")
        except IssuanceError as exc:
            log.error("automatic issuance of submission %s failed: %s", event.submission_id, exc)
            return
        log.info("issued credential %s for submission %s (%s)", issued.id, event.submission_id, event.source)

    def on_issued(self, callback: Callable[[IssuedCredential], None]) -> Callable[[], None]:
        """Call ``callback`` (in the issuing thread) once for every newly issued credential; returns unsubscribe.

        Callback exceptions are logged, never propagated.
        """
        return self._issued.subscribe(callback)

    def _announce(self, issued: IssuedCredential) -> None:
        self._issued.emit(issued, issued.id)

    # ---- issuing -----------------------------------------------------------------------------------

    def issue(self, submission_id: str, *, actor: str = "issuance") -> IssuedCredential:
        """The signed credential for a ``passed`` or ``approved`` submission, issued on the first call and the
        same stored credential on every later one. Raises :class:`NotIssuable` (:class:`UnknownSubmission`)
        for any other submission; the submission is marked issued in the grader (``mark_issued``)."""
        existing = self._reservation(submission_id)
        if existing is not None and existing.document is not None:
            if not existing.marked_issued:
                self._mark_issued(existing, actor)
            return self.get(existing.uuid)
        detail = self._issuable(submission_id)
        credential = self.catalogue.credentials.get(detail.credential_id)
        if credential is None:
            raise NotIssuable(submission_id, detail.status.value,
                              f"credential {detail.credential_id!r} is no longer in the catalogue")
        provider = self.catalogue.providers.get(credential.awarding_body)
        if provider is None:
            raise NotIssuable(submission_id, detail.status.value,
                              f"the awarding body {credential.awarding_body!r} is not in the catalogue")
        results = {c.criterion_id: c.level_id for c in detail.criteria}
        reservation = existing or self._reserve(detail, credential.title, provider.id)
        try:
            document = issue_credential(
                credential, provider, issuer=self.config.provider_issuer(provider.id), key=self._keys.get(provider.id),
                learner=_learner(detail, include_name=self.config.include_name),
                results=results, evidence=_evidence(detail), issued_at=reservation.reserved_at,
                credential_status=status_entry(self.config.status_list_url(reservation.status_list, provider.id),
                                               reservation.status_index),
                credential_id=f"urn:uuid:{reservation.uuid}",
                require_pass=detail.status is not Status.approved)  # an assessor may approve against the rubric
        except IssuanceError as exc:
            raise NotIssuable(submission_id, detail.status.value, str(exc)) from exc
        won = self._store(reservation, document, actor, detail, provider.id)
        stored = self._reservation(submission_id)
        assert stored is not None and stored.document is not None
        if not stored.marked_issued:
            self._mark_issued(stored, actor)
        issued = self.get(stored.uuid)
        if won:
            self._announce(issued)
        return issued

    def issue_pending(self, *, actor: str = "issuance") -> list[IssuedCredential]:
        """Issue every submission the grader made issuable that is not issued yet (a catch-up after a crash or a
        failed automatic issuance). Failures are logged and skipped."""
        issued = []
        for submission_id in self.queue.ready_to_issue():
            try:
                issued.append(self.issue(submission_id, actor=actor))
            except IssuanceError as exc:
                log.error("could not issue submission %s: %s", submission_id, exc)
        return issued

    def _issuable(self, submission_id: str) -> SubmissionDetail:
        try:
            detail = self.queue.get_submission(submission_id, assessor=SYSTEM_READER)
        except SubmissionNotFound:
            raise UnknownSubmission(submission_id) from None
        assert isinstance(detail, SubmissionDetail)
        if detail.status not in ISSUABLE_STATUSES:
            reason = WHY_NOT.get(detail.status, f"its status is {detail.status.value!r}")
            raise NotIssuable(submission_id, detail.status.value,
                              f"it {reason} (status {detail.status.value}); only passed or approved submissions "
                              "are issued")
        if not detail.ready_to_issue:
            raise NotIssuable(submission_id, detail.status.value, "the grader has not marked it ready to issue")
        if not detail.criteria:
            raise NotIssuable(submission_id, detail.status.value, "no per-criterion results are recorded")
        return detail

    def _reservation(self, submission_id: str) -> _Reservation | None:
        with self._sessions() as session:
            row = session.scalars(select(CredentialRow).where(CredentialRow.submission_id == submission_id)).first()
            return _snapshot(row) if row is not None else None

    def _reserve(self, detail: SubmissionDetail, title: str, issuer: str) -> _Reservation:
        """A credential id and a free status-list slot for the submission (or the reservation another issuer
        made for it first). Each attempt is one transaction that starts with its INSERT."""
        with self._sessions() as session:
            taken = session.scalar(select(func.count()).select_from(CredentialRow)) or 0
        number = taken // LIST_FILL
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        for _ in range(_ALLOCATION_ATTEMPTS):
            row = CredentialRow(id=str(uuid.uuid4()), submission_id=detail.id, learner_id=detail.learner_id,
                                catalogue_id=detail.credential_id, title=title[:300], status_list=number,
                                status_index=secrets.randbelow(LIST_SIZE), reserved_at=now, document=None,
                                marked_issued=False, issuer=issuer)
            try:
                with self._sessions.begin() as session:
                    session.add(row)
                    session.flush()
            except IntegrityError:
                existing = self._reservation(detail.id)
                if existing is not None:  # a concurrent issuer reserved this submission first
                    return existing
                continue  # the slot was taken: draw another index
            return _snapshot(row)
        raise IssuanceError(f"could not find a free slot in status list {number}; try again")

    def _store(self, reservation: _Reservation, document: dict[str, Any], actor: str,
               detail: SubmissionDetail, issuer: str) -> bool:
        """Store the signed document unless another issuer stored one first; True when this one was stored."""
        valid_until = document.get("validUntil")
        with self._sessions.begin() as session:
            result = session.execute(
                update(CredentialRow)
                .where(CredentialRow.id == reservation.uuid, CredentialRow.document.is_(None))
                .values(document=json.dumps(document, ensure_ascii=False), issued_at=reservation.reserved_at,
                        issuer=issuer,
                        valid_until=datetime.fromisoformat(valid_until.replace("Z", "+00:00")) if valid_until
                        else None))
            if result.rowcount != 1:
                return False
            append_audit(session, "issued", actor, credential_id=reservation.uuid, submission_id=detail.id,
                         details={"credential": f"urn:uuid:{reservation.uuid}", "achievement": detail.credential_id,
                                  "submission_status": detail.status.value, "learner_id": detail.learner_id,
                                  "status_list": reservation.status_list, "status_index": reservation.status_index,
                                  "issuer": document["issuer"]["id"], "valid_until": valid_until},
                         at=self._clock())
        return True

    def _mark_issued(self, reservation: _Reservation, actor: str) -> None:
        try:
            self.queue.mark_issued(reservation.submission_id, actor=actor,
                                   details={"credential_id": f"urn:uuid:{reservation.uuid}"})
        except InvalidTransition as exc:
            if "already issued" not in str(exc):
                log.warning("could not mark submission %s issued: %s", reservation.submission_id, exc)
                return
        with self._sessions.begin() as session:
            session.execute(update(CredentialRow).where(CredentialRow.id == reservation.uuid)
                            .values(marked_issued=True))

    # ---- reading -----------------------------------------------------------------------------------

    def get(self, credential_id: str) -> IssuedCredential:
        """An issued credential by id (``urn:uuid:…``, the UUID, or its URL). Raises :class:`CredentialNotFound`."""
        key = credential_uuid(credential_id)
        with self._sessions() as session:
            row = session.get(CredentialRow, key) if key else None
            if row is None or row.document is None:
                raise CredentialNotFound(credential_id)
            return _view(row, row.id in visibility.public_ids(session, [row.id]))

    def for_submission(self, submission_id: str) -> IssuedCredential | None:
        """The credential issued for a submission, if any."""
        with self._sessions() as session:
            row = session.scalars(select(CredentialRow).where(CredentialRow.submission_id == submission_id,
                                                              CredentialRow.document.is_not(None))).first()
            return _view(row) if row is not None else None

    def for_learner(self, learner_id: str) -> list[IssuedCredential]:
        """This learner's credentials, newest first (revoked ones included; see ``revoked``)."""
        with self._sessions() as session:
            rows = session.scalars(select(CredentialRow)
                                   .where(CredentialRow.learner_id == learner_id, CredentialRow.document.is_not(None))
                                   .order_by(CredentialRow.issued_at.desc(), CredentialRow.id)).all()
            public = visibility.public_ids(session, [row.id for row in rows])
            return [_view(row, row.id in public) for row in rows]

    def set_page_public(self, credential_id: str, *, learner_id: str, public: bool) -> IssuedCredential:
        """Make a credential's public page (and badge images) public or private; only the learner it was issued
        to may (``learner_id``: the caller's authenticated learner id). Pages are private until made public
        (:mod:`issuance.visibility` says why). Each change is audited. Raises :class:`CredentialNotFound` or
        :class:`NotYourCredential`; the credential JSON and its verification are unaffected."""
        key = credential_uuid(credential_id)
        if key is None:
            raise CredentialNotFound(credential_id)
        with self._sessions.begin() as session:
            visibility.set_public(session, key, learner_id=learner_id, public=public, at=self._clock())
        return self.get(key)

    def audit_log(self, credential_id: str | None = None) -> list[IssuanceAuditEntry]:
        """Issuance audit entries (issued, revoked), oldest first; for one credential or all."""
        query = select(AuditRow).order_by(AuditRow.id)
        if credential_id is not None:
            query = query.where(AuditRow.credential_id == (credential_uuid(credential_id) or credential_id))
        with self._sessions() as session:
            return [IssuanceAuditEntry(id=a.id, event_type=a.event_type, credential_id=a.credential_id,
                                       submission_id=a.submission_id, actor=a.actor, details=dict(a.details or {}),
                                       created_at=a.created_at) for a in session.scalars(query)]

    # ---- revocation and the status list ------------------------------------------------------------

    def revoke(self, credential_id: str, reason: str, actor: str, *, via: str | None = None) -> IssuedCredential:
        """Revoke a credential: its status-list bit is set and the reason goes into the audit log.

        ``actor`` is who revokes: adapters pass the *authenticated* issuer-admin (the CLI and the web check the
        account's password or session and its ``issuer-admin`` role, :mod:`grader.accounts`); ``via`` names the
        channel (``cli``, ``web``) in the audit entry.
        Raises :class:`CredentialNotFound`, :class:`AlreadyRevoked`, or :class:`IssuanceError` without a reason.
        """
        reason = " ".join((reason or "").split())
        if not reason:
            raise IssuanceError("a revocation needs a reason")
        if not (actor or "").strip():
            raise IssuanceError("a revocation needs an actor (who revokes)")
        current = self.get(credential_id)
        now = self._clock()
        with self._sessions.begin() as session:
            result = session.execute(
                update(CredentialRow)
                .where(CredentialRow.id == current.uuid, CredentialRow.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=actor[:200], revocation_reason=reason))
            if result.rowcount == 1:
                append_audit(session, "revoked", actor[:200], credential_id=current.uuid,
                             submission_id=current.submission_id,
                             details={"credential": current.id, "reason": reason,
                                      "status_list": current.status_list, "status_index": current.status_index,
                                      **({"via": via} if via else {})},
                             at=now)
        if result.rowcount != 1:
            again = self.get(current.uuid)
            raise AlreadyRevoked(f"credential {again.id} was already revoked on "
                                 f"{format_datetime(again.revoked_at)} by {again.revoked_by}: "
                                 f"{again.revocation_reason}")
        log.info("credential %s revoked by %s", current.id, actor)
        return self.get(current.uuid)

    def status_list_numbers(self, provider: str | None = None) -> list[int]:
        """The numbers of an issuer's published status lists (list 0 always exists). ``provider``: an awarding
        body's id; ``None``: the instance DID's lists (credentials issued before per-body issuers)."""
        with self._sessions() as session:
            numbers = set(session.scalars(select(CredentialRow.status_list).where(_of_issuer(provider)).distinct()))
        return sorted(numbers | {0})

    def status_list_ref(self, url: str) -> tuple[str | None, int] | None:
        """``(provider or None, number)`` of our status list at ``url``; ``None`` when the URL is not ours."""
        base = self.config.public_url + "/"
        tail = url[len(base):] if url.startswith(base) else ""
        match = re.fullmatch(r"(?:issuers/([a-z0-9][a-z0-9-]{0,63})/)?status/(\d{1,8})", tail)
        if match is None:
            return None
        return match.group(1), int(match.group(2))

    def status_list_number(self, url: str) -> int | None:
        """The number of our status list at ``url``, or ``None`` when the URL is not one of ours."""
        ref = self.status_list_ref(url)
        return ref[1] if ref is not None else None

    def status_list_credential(self, number: int = 0, provider: str | None = None) -> dict[str, Any]:
        """The signed ``BitstringStatusListCredential`` of an issuer's list ``number`` (revocation bits as they
        are now); ``provider`` as in :meth:`status_list_numbers`.

        Its ``validFrom`` (and the proof's ``created``) is when the list last changed, so the same state always
        gives the same document. Raises :class:`StatusListNotFound` for a list that was never used (except 0)
        and :class:`IssuerNotFound` for a provider not in the catalogue.
        """
        if provider is not None:
            self._provider(provider)
            issuer_id, key = self.config.provider_issuer_id(provider), self._keys.get(provider)
        else:
            issuer_id, key = self.issuer_id, self._key
        with self._sessions() as session:
            rows = session.execute(select(CredentialRow.status_index, CredentialRow.reserved_at,
                                          CredentialRow.revoked_at)
                                   .where(CredentialRow.status_list == number, _of_issuer(provider))).all()
        if not rows and number != 0:
            raise StatusListNotFound(f"no status list {number}")
        revoked = sorted(index for index, _reserved, revoked_at in rows if revoked_at is not None)
        changes = [min(r for _i, r, _v in rows)] if rows else [LIST_EPOCH]
        changes += [v for _i, _r, v in rows if v is not None]
        valid_from = max(changes).astimezone(UTC).replace(microsecond=0)
        verification_method = key.verification_method(issuer_id)
        state = (valid_from, tuple(revoked), verification_method)
        with self._lock:
            cached = self._list_cache.get((provider, number))
        if cached is not None and cached[0] == state:
            return json.loads(json.dumps(cached[1]))
        bits = StatusList(LIST_SIZE)
        for index in revoked:
            bits.revoke(index)
        unsigned = status_list_credential(self.config.status_list_url(number, provider), issuer_id, bits,
                                          valid_from=valid_from)
        document = sign(unsigned, key.private_key, verification_method, created=valid_from)
        with self._lock:
            self._list_cache[(provider, number)] = (state, document)
        return json.loads(json.dumps(document))

    # ---- verification ------------------------------------------------------------------------------

    def verify(self, document: Any, *, now: datetime | None = None) -> VerificationReport:
        """Verify a credential against :meth:`trust_list`: OB 3.0 schema, the proof, the status entry against
        this app's live status lists (nothing is fetched from the network), the validity window at ``now``, and
        whether the issuer is trusted. The verdict is one of four (:class:`issuance.verify.Verdict`): a did:key
        copy is at most "valid signature, issuer not trusted", a key or list out of reach "cannot check"."""

        def fetch(url: str) -> Mapping[str, Any] | None:
            ref = self.status_list_ref(url)
            if ref is None:
                raise IssuanceError("it is not published by this app, and nothing is fetched from the network")
            try:
                return self.status_list_credential(ref[1], ref[0])
            except (StatusListNotFound, IssuerNotFound):
                return None

        return verify_credential(document, trust=self.trust_list(), fetch_status_list=fetch,
                                 now=now or self._clock())


# ---------------------------------------------------------------- helpers


def _of_issuer(provider: str | None) -> Any:
    return CredentialRow.issuer.is_(None) if provider is None else CredentialRow.issuer == provider


def _snapshot(row: CredentialRow) -> _Reservation:
    return _Reservation(uuid=row.id, submission_id=row.submission_id, status_list=row.status_list,
                        status_index=row.status_index, reserved_at=row.reserved_at, document=row.document,
                        marked_issued=bool(row.marked_issued), issuer=row.issuer)


def _view(row: CredentialRow, public: bool = False) -> IssuedCredential:
    assert row.document is not None and row.issued_at is not None
    return IssuedCredential(id=f"urn:uuid:{row.id}", uuid=row.id, submission_id=row.submission_id,
                            learner_id=row.learner_id, credential_id=row.catalogue_id, title=row.title,
                            issued_at=row.issued_at, valid_until=row.valid_until, revoked_at=row.revoked_at,
                            revoked_by=row.revoked_by, revocation_reason=row.revocation_reason,
                            status_list=row.status_list, status_index=row.status_index, issuer=row.issuer,
                            public=public, document=json.loads(row.document))


def _learner(detail: SubmissionDetail, *, include_name: bool = False) -> Learner:
    """The learner as the credential names them: platform id and e-mail as salted hashes; the name (in clear)
    only when the issuer's configuration says so (``include_name``)."""
    email = (detail.learner_email or "").strip()
    email_ok = bool(re.fullmatch(r"[^@\s]+@[^@\s]+", email))
    name = " ".join((detail.learner_name or "").split()) if include_name else ""
    return Learner(system_id=detail.learner_id, email=email if email_ok else None, name=name or None)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _evidence(detail: SubmissionDetail) -> list[EvidenceItem]:
    """A narrative of what was assessed (no file content, names or reflection text) and the learner's links."""
    parts = []
    if detail.files:
        parts.append(_plural(len(detail.files), "file"))
    links = list(dict.fromkeys(link for link in detail.links if _LINK.match(link)))
    if links:
        parts.append(_plural(len(links), "link"))
    if detail.reflection.strip():
        parts.append("a reflective statement")
    what = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else "evidence"
    by = ("by the AI grader and approved by an assessor" if detail.status is Status.approved
          else "by the AI grader")
    narrative = (f"Evidence submitted on {detail.created_at:%Y-%m-%d} ({what}) was assessed against the "
                 f"credential's rubric {by}. The files themselves are not published.")
    items = [EvidenceItem(name="Assessed evidence", narrative=narrative, genre="Portfolio")]
    items += [EvidenceItem(url=link, name="Evidence link") for link in links]
    return items
