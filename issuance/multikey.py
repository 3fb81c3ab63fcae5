"""Multikey / multibase encoding of Ed25519 keys (W3C Controlled Identifiers ``Multikey``; did:key).

* public key:  ``z`` + base58btc( 0xed 0x01 || 32-byte key )   -> ``z6Mk…``
* secret key:  ``z`` + base58btc( 0x80 0x26 || 32-byte seed )  -> ``z3u2…``
  (a 64-byte seed||public form, as in the OB 3.0 implementation guide, is accepted on decode and checked.)
"""

from __future__ import annotations

import base64

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuance.errors import MultikeyError  # noqa: F401  (re-exported)

ED25519_PUB_PREFIX = bytes([0xED, 0x01])  # multicodec ed25519-pub (0xed) as unsigned varint
ED25519_PRIV_PREFIX = bytes([0x80, 0x26])  # multicodec ed25519-priv (0x1300) as unsigned varint


def multibase_base58btc_encode(data: bytes) -> str:
    return "z" + base58.b58encode(data).decode("ascii")


def multibase_base58btc_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z") or len(value) < 2:
        raise MultikeyError("expected a multibase base58btc value starting with 'z'")
    try:
        return base58.b58decode(value[1:])
    except ValueError as exc:
        raise MultikeyError(f"not valid base58btc: {exc}") from None


def multibase_base64url_encode(data: bytes) -> str:
    """Multibase ``u``: base64url without padding (used by Bitstring Status List ``encodedList``)."""
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def multibase_base64url_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("u"):
        raise MultikeyError("expected a multibase base64url value starting with 'u'")
    body = value[1:]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError as exc:
        raise MultikeyError(f"not valid base64url: {exc}") from None


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def encode_public_multikey(key: Ed25519PublicKey | bytes) -> str:
    raw = key if isinstance(key, bytes) else public_key_bytes(key)
    if len(raw) != 32:
        raise MultikeyError(f"an Ed25519 public key has 32 bytes, got {len(raw)}")
    return multibase_base58btc_encode(ED25519_PUB_PREFIX + raw)


def decode_public_multikey(value: str) -> Ed25519PublicKey:
    data = multibase_base58btc_decode(value)
    if not data.startswith(ED25519_PUB_PREFIX):
        raise MultikeyError("not an Ed25519 public Multikey (multicodec prefix 0xed01 expected)")
    raw = data[len(ED25519_PUB_PREFIX) :]
    if len(raw) != 32:
        raise MultikeyError(f"an Ed25519 public key has 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def encode_secret_multikey(key: Ed25519PrivateKey) -> str:
    return multibase_base58btc_encode(ED25519_PRIV_PREFIX + private_key_seed(key))


def decode_secret_multikey(value: str) -> Ed25519PrivateKey:
    data = multibase_base58btc_decode(value)
    if not data.startswith(ED25519_PRIV_PREFIX):
        raise MultikeyError("not an Ed25519 secret Multikey (multicodec prefix 0x8026 expected)")
    raw = data[len(ED25519_PRIV_PREFIX) :]
    if len(raw) not in (32, 64):
        raise MultikeyError(f"an Ed25519 secret key has a 32-byte seed (or seed+public, 64 bytes), got {len(raw)}")
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and public_key_bytes(key.public_key()) != raw[32:]:
        raise MultikeyError("the secret key's appended public key does not match its seed")
    return key


def did_key_from_public(key: Ed25519PublicKey | bytes) -> str:
    return "did:key:" + encode_public_multikey(key)


def did_key_verification_method(key: Ed25519PublicKey | bytes) -> str:
    multikey = encode_public_multikey(key)
    return f"did:key:{multikey}#{multikey}"
