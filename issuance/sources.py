"""Where a credential to verify comes from: a file (JSON, or a badge SVG/PNG with the credential baked in), one
stored here, or this app's own URL of it.

Nothing else is fetched: :func:`is_own_url` is the guard (http or https, and a loopback host or a URL under the
instance's public URL), so a verifier cannot be made to send requests to addresses the operator did not
publish. A credential stored here is read from the database without any request.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from issuance.baking import BakingError, extract_credential
from issuance.credential import IssuanceError
from issuance.service import CredentialNotFound, credential_uuid

if TYPE_CHECKING:
    from issuance.service import IssuanceService

FETCH_TIMEOUT_SECONDS = 15


class CredentialSourceError(IssuanceError):
    """The credential cannot be read from where it was said to be (the message says why, on one line)."""


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (names are not resolved)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_own_url(target: str, public_url: str) -> bool:
    """Whether ``target`` may be fetched: an http(s) URL on a loopback host, or ``public_url`` or below it."""
    parts = urlsplit(target)
    return parts.scheme in ("http", "https") and (
        is_loopback(parts.hostname or "") or target == public_url or target.startswith(public_url + "/"))


def read_credential(target: str, service: IssuanceService, public_url: str) -> dict[str, Any]:
    """The credential document at ``target``: a file path, or this app's own URL (read from the database when
    it is stored here; otherwise fetched from the app itself, never from anywhere else).

    Raises :class:`CredentialSourceError` when it cannot be read or the URL is not this app's own.
    """
    try:
        if "://" not in target:
            path = Path(target)
            if not path.is_file():
                raise CredentialSourceError(f"no such file: {target}")
            return extract_credential(path.read_bytes(), path.name)
        parts = urlsplit(target)
        if not is_own_url(target, public_url):
            raise CredentialSourceError(
                f"refusing to fetch {target}: only this app's own URLs ({public_url}/… or a loopback address) are "
                "read; download the credential and give the file instead")
        ident = credential_uuid(target)
        if ident is not None:
            try:
                return service.get(ident).document
            except CredentialNotFound:
                target = f"{parts.scheme}://{parts.netloc}/credentials/{ident}"  # ask the app that serves it
        import httpx

        try:
            response = httpx.get(target, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise CredentialSourceError(f"could not read {target}: {exc}") from exc
        if response.status_code != 200:
            raise CredentialSourceError(f"{target} answered HTTP {response.status_code}")
        return extract_credential(response.content, parts.path)
    except BakingError as exc:
        raise CredentialSourceError(f"{target}: {exc}") from exc
