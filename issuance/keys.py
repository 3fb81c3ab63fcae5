"""The issuer's Ed25519 signing key: created on first use in a key file outside the repository, loaded afterwards.

The key file is JSON ``{"type": "Multikey", "publicKeyMultibase": "z6Mk…", "secretKeyMultibase": "z3u2…"}``
written with mode 0600 (created atomically with ``O_EXCL``; the parent directory is created 0700). It is refused
inside a git work tree, and a key file readable by group or others is refused on load. The secret key is never
logged, printed or put in a ``repr``.

Verifiers find the public key through the issuer's *controller document* (:func:`controller_document`), served
at the issuer id (``https://…`` URL) or as ``did.json`` for a ``did:web`` issuer (:func:`did_web_document_url`).
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuance.errors import KeyFileError  # noqa: F401  (re-exported)
from issuance.loader import DID_V1, MULTIKEY_V1
from issuance.multikey import (
    MultikeyError,
    decode_public_multikey,
    decode_secret_multikey,
    encode_public_multikey,
    encode_secret_multikey,
)

KEY_FILE_ENV = "STACKWISE_ISSUER_KEY_FILE"


@dataclass(frozen=True)
class IssuerKey:
    """An Ed25519 key pair. ``repr`` shows only the public Multikey."""

    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_multikey(self) -> str:
        """``z6Mk…``: the public key as a Multikey ``publicKeyMultibase``."""
        return encode_public_multikey(self.public_key)

    def verification_method(self, controller: str) -> str:
        """The verification method id ``<controller>#<publicKeyMultibase>``."""
        return f"{controller}#{self.public_multikey}"

    def __repr__(self) -> str:
        return f"IssuerKey(public={self.public_multikey})"

    __str__ = __repr__


def default_key_path() -> Path:
    """``$STACKWISE_ISSUER_KEY_FILE``, else ``$XDG_DATA_HOME/stackwise/issuer-ed25519.json`` (~/.local/share)."""
    configured = os.environ.get(KEY_FILE_ENV)
    if configured:
        return Path(configured).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "stackwise" / "issuer-ed25519.json"


def _inside_git_work_tree(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def load_or_create_issuer_key(path: Path | str | None = None) -> IssuerKey:
    """Load the issuer key from ``path`` (default :func:`default_key_path`), creating it on first use."""
    path = Path(path).expanduser() if path is not None else default_key_path()
    repo = _inside_git_work_tree(path)
    if repo is not None:
        raise KeyFileError(
            f"refusing to keep the issuer key inside the git work tree {repo}; configure a path outside it"
        )
    if path.exists():
        return load_issuer_key(path)
    key = IssuerKey(Ed25519PrivateKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = json.dumps(
        {
            "type": "Multikey",
            "publicKeyMultibase": key.public_multikey,
            "secretKeyMultibase": encode_secret_multikey(key.private_key),
        },
        indent=2,
    ).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile: use theirs
        return load_issuer_key(path)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but be explicit
        os.write(fd, payload + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def load_issuer_key(path: Path | str) -> IssuerKey:
    """Load an existing key file; refuses files readable or writable by group/others."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"no issuer key file at {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"issuer key file {path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = IssuerKey(decode_secret_multikey(data["secretKeyMultibase"]))
    except (OSError, ValueError, KeyError, TypeError, MultikeyError) as exc:
        # never include the file content in the message
        raise KeyFileError(f"issuer key file {path} is not a valid Multikey key file ({type(exc).__name__})") from None
    public = data.get("publicKeyMultibase")
    if public is not None and public != key.public_multikey:
        raise KeyFileError(f"issuer key file {path}: publicKeyMultibase does not match the secret key")
    return key


# ---------------------------------------------------------------- controller documents, did:web


def controller_document(controller: str, public_key: IssuerKey | Ed25519PublicKey | str) -> dict[str, Any]:
    """A controller document (DID document shape) listing the key as a ``Multikey`` for ``assertionMethod``.

    ``controller`` is the issuer id: a ``did:web:…`` DID or an ``https://`` URL. Serve it at
    :func:`did_web_document_url` (did:web) or at the URL itself (content type ``application/did+json`` / JSON).
    """
    if isinstance(public_key, IssuerKey):
        multikey = public_key.public_multikey
    elif isinstance(public_key, Ed25519PublicKey):
        multikey = encode_public_multikey(public_key)
    else:
        decode_public_multikey(public_key)  # validate
        multikey = public_key
    vm_id = f"{controller}#{multikey}"
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": controller,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": multikey}
        ],
        "assertionMethod": [vm_id],
    }


def did_web_from_url(url: str) -> str:
    """``https://host[:port]/path`` -> ``did:web:host%3Aport:path`` (did:web method)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"did:web needs an https URL, got {url!r}")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    path = [quote(unquote(p), safe="") for p in parts.path.strip("/").split("/") if p]
    if path and path[-1] == "did.json":
        path = path[:-1]
    if path and path[-1] == ".well-known":
        path = path[:-1]
    return ":".join(["did:web", host, *path])


def did_web_document_url(did: str) -> str:
    """Where a ``did:web`` DID document lives: ``did:web:example.com`` -> ``https://example.com/.well-known/did.json``."""
    if not did.startswith("did:web:"):
        raise ValueError(f"not a did:web DID: {did!r}")
    segments = did[len("did:web:") :].split("#", 1)[0].split(":")
    host = unquote(segments[0])
    path = "/".join(unquote(s) for s in segments[1:])
    return f"https://{host}/{path}/did.json" if path else f"https://{host}/.well-known/did.json"


# ---------------------------------------------------------------- one key per awarding body

_KEY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


class IssuerKeys:
    """The signing keys of this instance's issuers (one per awarding body), one key file each in ``directory``:
    ``<directory>/<provider id>.json``, created (0600) on first use, loaded and cached afterwards.

    ``directory=None`` signs for every body with ``fallback`` (one key, several DIDs: for tests and scratch runs).
    """

    def __init__(self, directory: Path | str | None, fallback: IssuerKey | None = None):
        if directory is None and fallback is None:
            raise ValueError("give a key directory or a fallback key")
        self.directory = Path(directory).expanduser() if directory is not None else None
        self._fallback = fallback
        self._cache: dict[str, IssuerKey] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path:
        if not _KEY_NAME.match(name):
            raise KeyFileError(f"an issuer key name must be a lowercase slug, got {name!r}")
        assert self.directory is not None
        return self.directory / f"{name}.json"

    def get(self, name: str) -> IssuerKey:
        """The key of issuer ``name`` (a provider id), created on first use."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = (self._fallback if self.directory is None  # type: ignore[assignment]
                                     else load_or_create_issuer_key(self._path(name)))
            return self._cache[name]

    def existing(self, name: str) -> IssuerKey | None:
        """The key of issuer ``name`` if it was ever created (never creates one)."""
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        if self.directory is None:
            return self.get(name)
        path = self._path(name)
        if not path.exists():
            return None
        key = load_issuer_key(path)
        with self._lock:
            return self._cache.setdefault(name, key)
