"""An offline JSON-LD document loader for pyld: serves the pinned contexts in ``issuance/contexts`` and nothing else.

A signature over RDF-canonicalized JSON-LD covers whatever the ``@context`` URLs *meant* when it was made, so
those documents must never come from the network at run time (a context host could change them, and this
platform is offline anyway). Any other URL raises :class:`UnknownContextError`, naming the URL.

Usage::

    from issuance.loader import default_loader
    jsonld.expand(doc, {"documentLoader": default_loader(), "contextResolver": default_loader().context_resolver()})

:func:`issuance.dataintegrity.canonicalize` does this for you.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from pyld.jsonld import JsonLdError

from issuance.errors import IssuanceError
from knowledge.jsonld_loader import OfflineDocumentLoader as BaseLoader

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
OB_V3P0_3_0_3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
#: Our extension context for the EU Annex I elements with no OB 3.0 field (served later by the app).
STACKWISE_EU_MC_V1 = "https://stackwise.example/ns/eu-mc/v1"
#: Vocabulary base of the terms that context defines.
STACKWISE_EU_MC_VOCAB = "https://stackwise.example/ns/eu-mc#"

#: URL -> file in ``issuance/contexts``.
PINNED_CONTEXTS: Mapping[str, str] = {
    VC_V2: "credentials-v2.jsonld",
    VC_EXAMPLES_V2: "credentials-examples-v2.jsonld",
    OB_V3P0_3_0_3: "ob-v3p0-context-3.0.3.json",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
    DID_V1: "did-v1.jsonld",
    STACKWISE_EU_MC_V1: "stackwise-eu-mc-v1.jsonld",
}


class UnknownContextError(JsonLdError, IssuanceError):
    """A document names a JSON-LD context (or other document) that is not pinned in ``issuance/contexts``."""

    def __init__(self, url: str, known: list[str]):
        message = (
            f"JSON-LD document {url!r} is not available offline: only the pinned contexts in issuance/contexts "
            f"are served and nothing is fetched from the network. Known: {', '.join(known)}"
        )
        super().__init__(message, "jsonld.LoadDocumentError", {"url": url}, code="loading document failed")
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


def context_document(url: str) -> dict[str, Any]:
    """The parsed pinned document for ``url`` (a fresh copy). Raises :class:`UnknownContextError`."""
    return json.loads(_context_text(url))


@cache
def _context_text(url: str) -> str:
    filename = PINNED_CONTEXTS.get(url)
    if filename is None:
        raise UnknownContextError(url, sorted(PINNED_CONTEXTS))
    return resources.files("issuance.contexts").joinpath(filename).read_text(encoding="utf-8")


class OfflineDocumentLoader(BaseLoader):
    """A pyld ``documentLoader`` for the pinned contexts (and ``extra`` documents, e.g. in tests; they cannot
    replace a pinned URL); any other URL raises :class:`UnknownContextError`."""

    def __init__(self, extra: Mapping[str, dict[str, Any]] | None = None):
        overlap = set(extra or {}) & set(PINNED_CONTEXTS)
        if overlap:
            raise ValueError(f"cannot override pinned contexts: {sorted(overlap)}")
        texts = {url: json.dumps(doc) for url, doc in (extra or {}).items()}
        documents: dict[str, Any] = {url: (lambda u=url: context_document(u)) for url in PINNED_CONTEXTS}
        documents.update({url: (lambda t=text: json.loads(t)) for url, text in texts.items()})
        super().__init__(documents, UnknownContextError)


@cache
def default_loader() -> OfflineDocumentLoader:
    """The process-wide loader for the pinned contexts."""
    return OfflineDocumentLoader()


def find_unknown_context(error: BaseException) -> UnknownContextError | None:
    """The :class:`UnknownContextError` behind a pyld error (pyld wraps loader errors), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, UnknownContextError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
