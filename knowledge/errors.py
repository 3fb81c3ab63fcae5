"""The knowledge domain's typed errors: one root, :class:`KnowledgeError`, that every catalogue error derives from.

Each is defined beside what raises it and keeps the built-in base it had:

- ``knowledge.loading.CatalogueInvalid``: the catalogue has problems (``problems`` lists each, file:line)
- ``knowledge.ctdl.CtdlImportError``: a CTDL file cannot be imported at all
- ``knowledge.index.IndexNotBuilt``: the search index has no catalogue yet
- ``knowledge.index.IndexUnavailable``: the Chroma server cannot be reached or its URL is malformed
- ``knowledge.search.SearchError`` (also a ``ValueError``): the query cannot be searched
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of every catalogue, import, index and search error; the message is for the person at the other end."""
