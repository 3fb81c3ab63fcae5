"""An offline JSON-LD document loader for pyld: serves the documents it is given and nothing else.

Both the CTDL import (:mod:`knowledge.ctdl.jsonld`, the pinned CTDL context) and issuance
(:mod:`issuance.loader`, the pinned VC / OB / Data Integrity contexts) read JSON-LD without ever fetching a
context: a URL that is not one of the loader's documents raises the error the owner chose, naming the URL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from pyld.context_resolver import ContextResolver


class OfflineDocumentLoader:
    """A pyld ``documentLoader``: ``loader(url, options) -> RemoteDocument`` for known URLs only.

    ``documents`` maps each URL to a function returning its parsed JSON (a fresh copy each call);
    ``unknown(url, known_urls)`` builds the exception raised for any other URL (it should be a
    ``pyld.jsonld.JsonLdError`` so pyld passes it through).
    """

    def __init__(self, documents: Mapping[str, Callable[[], dict[str, Any]]],
                 unknown: Callable[[str, list[str]], Exception]):
        self._documents = dict(documents)
        self._unknown = unknown
        # Our own resolved-context cache: never shared with other pyld users in the process (whose loaders
        # might fetch), so a context resolved here always came from this loader.
        self._cache = _BoundedCache(maxsize=256)

    @property
    def urls(self) -> list[str]:
        return sorted(self._documents)

    def __call__(self, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        source = self._documents.get(url)
        if source is None:
            raise self._unknown(url, self.urls)
        # tag "static": the documents never change, so pyld may keep the resolved context in our cache.
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": source(), "tag": "static"}

    def context_resolver(self) -> ContextResolver:
        """A fresh pyld ContextResolver bound to this loader and its private cache (one per operation)."""
        return ContextResolver(self._cache, self)

    def options(self) -> dict[str, Any]:
        """pyld options selecting this loader (pass to ``jsonld.expand`` / ``normalize`` / ``to_rdf``)."""
        return {"documentLoader": self, "contextResolver": self.context_resolver()}


class _BoundedCache:
    """The part of a mapping pyld's ContextResolver uses; thread-safe, oldest entry evicted first.

    Inline contexts of documents being read are cached too (keyed by their JSON), hence the bound.
    """

    def __init__(self, maxsize: int):
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)
