"""W3C Bitstring Status List v1.0: revocation bits, the status list credential, and status entries.

* A :class:`StatusList` is a bitstring of at least 131,072 bits (16 KiB), all 0 at first. Index 0 is the
  left-most (most significant) bit of the first byte. A set bit means *revoked* (``statusPurpose: revocation``).
* ``encodedList`` = multibase base64url (``u``, no padding) of the GZIP-compressed bitstring.
* Each issued credential carries a ``BitstringStatusListEntry`` (:func:`status_entry`) naming the status list
  credential URL and its index; allocating indexes is the caller's job (the submission store, later).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuance.dataintegrity import format_datetime, sign
from issuance.errors import StatusListError  # noqa: F401  (re-exported)
from issuance.loader import VC_V2
from issuance.multikey import MultikeyError, multibase_base64url_decode, multibase_base64url_encode

MIN_BITS = 131_072
#: a decompressed list larger than this is refused (a GZIP bomb guard): 16 MiB = 134 million entries
MAX_BYTES = 16 * 1024 * 1024
REVOCATION = "revocation"
SUSPENSION = "suspension"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusList"
CREDENTIAL_TYPE = "BitstringStatusListCredential"


class StatusList:
    """A mutable bitstring; ``list[index]`` is ``True`` when the status (e.g. revoked) is set."""

    def __init__(self, size: int = MIN_BITS, *, data: bytes | None = None):
        if data is not None:
            size = len(data) * 8
        if size < MIN_BITS or size % 8:
            raise StatusListError(f"a status list has at least {MIN_BITS} bits, in whole bytes; got {size}")
        self._bits = bytearray(data) if data is not None else bytearray(size // 8)

    @property
    def size(self) -> int:
        return len(self._bits) * 8

    def _position(self, index: int) -> tuple[int, int]:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise IndexError(f"status list index {index!r} is outside 0..{self.size - 1}")
        return index // 8, 7 - index % 8

    def __getitem__(self, index: int) -> bool:
        byte, bit = self._position(index)
        return bool(self._bits[byte] >> bit & 1)

    def __setitem__(self, index: int, value: bool) -> None:
        byte, bit = self._position(index)
        if value:
            self._bits[byte] |= 1 << bit
        else:
            self._bits[byte] &= ~(1 << bit) & 0xFF

    def get(self, index: int) -> bool:
        return self[index]

    def set(self, index: int, value: bool = True) -> None:
        self[index] = value

    def revoke(self, index: int) -> None:
        self[index] = True

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        """The ``encodedList`` value (deterministic: GZIP with mtime 0)."""
        return multibase_base64url_encode(gzip.compress(self.to_bytes(), compresslevel=9, mtime=0))

    @classmethod
    def decode(cls, encoded: str) -> StatusList:
        try:
            compressed = multibase_base64url_decode(encoded)
        except MultikeyError as exc:
            raise StatusListError(f"encodedList: {exc}") from None
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = inflater.decompress(compressed, MAX_BYTES + 1)
        except zlib.error as exc:
            raise StatusListError(f"encodedList is not GZIP data: {exc}") from None
        if len(data) > MAX_BYTES:
            raise StatusListError(f"encodedList expands to more than {MAX_BYTES} bytes")
        if len(data) * 8 < MIN_BITS:
            raise StatusListError(f"the status list has {len(data) * 8} bits, fewer than the minimum {MIN_BITS}")
        return cls(data=data)

    def __repr__(self) -> str:
        return f"StatusList(size={self.size}, set={sum(bin(b).count('1') for b in self._bits)})"


def status_entry(status_list_credential: str, index: int, *, purpose: str = REVOCATION) -> dict[str, Any]:
    """The ``credentialStatus`` value for a credential at ``index`` of the list at ``status_list_credential``."""
    if not isinstance(index, int) or index < 0:
        raise StatusListError(f"status list index must be a non-negative integer, got {index!r}")
    return {
        "id": f"{status_list_credential}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": status_list_credential,
    }


def status_list_credential(
    url: str,
    issuer: str,
    status_list: StatusList,
    *,
    purpose: str = REVOCATION,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` published at ``url``."""
    credential: dict[str, Any] = {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from or datetime.now(UTC)),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": LIST_TYPE,
            "statusPurpose": purpose,
            "encodedList": status_list.encode(),
        },
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    return credential


def signed_status_list_credential(
    url: str,
    issuer: str,
    status_list: StatusList,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`status_list_credential` signed with ``eddsa-rdfc-2022``."""
    return sign(status_list_credential(url, issuer, status_list, **kwargs), private_key, verification_method)


@dataclass(frozen=True)
class StatusResult:
    """``is_set`` is the bit (True = revoked for a revocation list); ``detail`` in plain words."""

    is_set: bool
    purpose: str
    detail: str


def parse_entry(entry: Any) -> tuple[str, int, str]:
    """``(statusListCredential URL, index, purpose)`` of a ``BitstringStatusListEntry``."""
    if not isinstance(entry, Mapping):
        raise StatusListError("credentialStatus is not an object")
    if entry.get("type") != ENTRY_TYPE:
        raise StatusListError(f"unsupported credentialStatus type {entry.get('type')!r} (expected {ENTRY_TYPE})")
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or not url:
        raise StatusListError("credentialStatus names no statusListCredential")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isdigit():
        raise StatusListError(f"statusListIndex must be a string of digits, got {raw_index!r}")
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise StatusListError("credentialStatus has no statusPurpose")
    return url, int(raw_index), purpose


def check_status(entry: Mapping[str, Any], list_credential: Mapping[str, Any]) -> StatusResult:
    """Read the bit an entry points at from a status list credential (whose proof the caller has verified)."""
    url, index, purpose = parse_entry(entry)
    if list_credential.get("id") != url:
        raise StatusListError(f"the status list credential is {list_credential.get('id')!r}, expected {url!r}")
    types = list_credential.get("type")
    if not isinstance(types, list) or CREDENTIAL_TYPE not in types:
        raise StatusListError(f"{url} is not a {CREDENTIAL_TYPE}")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_TYPE:
        raise StatusListError(f"{url} has no {LIST_TYPE} subject")
    if subject.get("statusPurpose") != purpose:
        raise StatusListError(
            f"the status list's purpose is {subject.get('statusPurpose')!r} but the entry's is {purpose!r}"
        )
    bits = StatusList.decode(subject.get("encodedList"))
    if index >= bits.size:
        raise StatusListError(f"statusListIndex {index} is outside the list of {bits.size} entries")
    is_set = bits[index]
    state = f"{purpose} bit is set" if is_set else f"{purpose} bit is not set"
    return StatusResult(is_set=is_set, purpose=purpose, detail=f"entry {index} of {url}: {state}")
