"""Whom the verifier trusts: a list of issuers, each with the keys it publishes.

A credential is *from a trusted issuer* only when its issuer id is on the list and every proof was made by a
key that the list's entry for that issuer holds. Everything else that verifies is at most "valid signature,
issuer not trusted": a ``did:key`` credential proves only that someone holding that key signed it, and the
``issuer.name`` inside it is whatever the signer wrote.

The list is this instance's own issuers (one per awarding body, plus the instance DID that signed credentials
before per-body issuers existed) and the issuers an operator adds in a file (``STACKWISE_TRUSTED_ISSUERS``,
YAML, JSON or TOML)::

    issuers:
      - id: did:web:badges.example.org
        name: Example University
        did_document: {...}            # its DID document (or did_document_file: path, relative to this file)
        status_required: true          # default: its credentials must carry a status entry
      - id: did:key:z6Mk...            # a did:key needs no document: the key is the id
        name: Example Academy

Nothing is fetched: a ``did:web`` issuer is trusted with the document given here, never one from the network.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from issuance.dataintegrity import (
    ControllerDocumentResolver,
    KeyResolutionError,
    ResolvedKey,
    is_issuer_id,
    resolve_did_key,
)
from issuance.errors import TrustListInvalid  # noqa: F401  (re-exported)

__all__ = ["TrustList", "TrustListInvalid", "TrustedIssuer", "load_trust_file"]


class TrustedIssuer(BaseModel):
    """One trusted issuer. ``document`` is its controller (DID) document; ``None`` only for a ``did:key``.

    ``own``: one of this instance's issuers. ``status_required``: its credentials always carry a status entry,
    so one without is not valid (a stripped or never-revocable credential must not pass silently).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=5, max_length=2000)
    name: str = Field(min_length=1, max_length=300)
    document: dict[str, Any] | None = None
    own: bool = False
    status_required: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not is_issuer_id(value):
            raise ValueError("an issuer id is a DID (did:web:…, did:key:…) or an https:// URL")
        return value

    @model_validator(mode="after")
    def _keys(self) -> TrustedIssuer:
        if self.document is None:
            if not self.id.startswith("did:key:"):
                raise ValueError(f"{self.id}: only a did:key issuer may come without its DID document")
            try:
                resolve_did_key(self.id)
            except KeyResolutionError as exc:
                raise ValueError(str(exc)) from None
        elif self.document.get("id") != self.id:
            raise ValueError(f"{self.id}: the DID document's id is {self.document.get('id')!r}, not the issuer id")
        return self


class TrustList:
    """Trusted issuers by id; :meth:`resolver` resolves keys for verification (see module docstring)."""

    def __init__(self, issuers: Iterable[TrustedIssuer] = (), *, authoritative_prefixes: Iterable[str] = ()):
        """``authoritative_prefixes``: DID namespaces this list speaks for in full (this instance's
        ``did:web:<host>:issuers:``): a DID there that the list does not hold has no keys at all."""
        self._prefixes = tuple(authoritative_prefixes)
        self._issuers: dict[str, TrustedIssuer] = {}
        documents = []
        for issuer in issuers:
            self._issuers.setdefault(issuer.id, issuer)  # the first entry wins: own issuers come first
        for issuer in self._issuers.values():
            if issuer.document is not None:
                documents.append(issuer.document)
        self._documents = ControllerDocumentResolver(documents)

    def __iter__(self):
        return iter(self._issuers.values())

    def __len__(self) -> int:
        return len(self._issuers)

    def get(self, issuer_id: str | None) -> TrustedIssuer | None:
        return self._issuers.get(issuer_id) if issuer_id else None

    def extended(self, issuers: Iterable[TrustedIssuer]) -> TrustList:
        """This list with ``issuers`` added after its own entries."""
        return TrustList([*self._issuers.values(), *issuers], authoritative_prefixes=self._prefixes)

    def resolve(self, vm_id: str) -> ResolvedKey | None:
        """A key from a trusted issuer's document, or any ``did:key`` (self-certifying: it proves who signed,
        not that the signer is trusted); ``None`` when neither knows the method."""
        resolved = self._documents(vm_id)
        if resolved is not None:
            return resolved
        if vm_id.startswith("did:key:"):
            return resolve_did_key(vm_id)
        return None

    def authoritative(self, did: str) -> bool:
        """True when the list speaks for ``did`` in full (its document, or its namespace): a key it does not
        list is not that issuer's."""
        issuer = self._issuers.get(did)
        if issuer is not None:
            return issuer.document is not None
        return bool(self._prefixes) and did.startswith(self._prefixes)

    def holds_key(self, issuer_id: str | None, vm_id: str) -> bool:
        """Is ``vm_id`` a key the trusted issuer ``issuer_id`` controls (per its entry here)?"""
        issuer = self.get(issuer_id)
        if issuer is None or vm_id.partition("#")[0] != issuer.id:
            return False
        if issuer.document is None:
            try:
                resolved = resolve_did_key(vm_id)
            except KeyResolutionError:
                return False
            return resolved is not None and resolved.controller == issuer.id
        try:
            resolved = self._documents(vm_id)
        except KeyResolutionError:
            return False
        return resolved is not None and resolved.controller == issuer.id


# ---------------------------------------------------------------- the operator's file


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustListInvalid(f"cannot read trusted-issuers file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)  # YAML, and JSON (a subset)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise TrustListInvalid(f"trusted-issuers file {path} cannot be parsed: {str(exc).splitlines()[0]}") from None


def _entry(raw: Any, number: int, path: Path) -> TrustedIssuer:
    if not isinstance(raw, Mapping):
        raise TrustListInvalid(f"{path}: entry {number} is not a mapping")
    data = dict(raw)
    document_file = data.pop("did_document_file", None)
    if "did_document" in data:
        data["document"] = data.pop("did_document")
    if document_file is not None:
        where = (path.parent / str(document_file)).expanduser()
        try:
            data["document"] = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrustListInvalid(f"{path}: entry {number}: cannot read the DID document {where} "
                                   f"({type(exc).__name__})") from None
    if data.pop("own", False):
        raise TrustListInvalid(f"{path}: entry {number}: 'own' is for this instance's issuers, not for the file")
    try:
        return TrustedIssuer.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "entry"
        raise TrustListInvalid(f"{path}: entry {number} ({where}): {error['msg']}") from None


def load_trust_file(path: Path | str) -> list[TrustedIssuer]:
    """The issuers an operator trusts, from a YAML/JSON/TOML file with a list ``issuers``."""
    path = Path(path).expanduser()
    data = _read(path)
    entries = data.get("issuers") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TrustListInvalid(f"trusted-issuers file {path} must have a list named 'issuers'")
    issuers = [_entry(raw, i + 1, path) for i, raw in enumerate(entries)]
    seen: set[str] = set()
    for issuer in issuers:
        if issuer.id in seen:
            raise TrustListInvalid(f"{path}: issuer {issuer.id} appears twice")
        seen.add(issuer.id)
    return issuers
