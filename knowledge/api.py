"""The knowledge domain's one public face: what channels (CLI, web, Telegram), the wiring, the other domains'
callers and evals import.

Everything else in ``knowledge/`` is internal and may move; import from here. Contents:

- **the catalogue**: :func:`load_catalogue` (raises :class:`CatalogueInvalid` listing every :class:`Problem`),
  :func:`validate_catalogue`; the schema (:class:`Catalogue`, :class:`Provider`, :class:`Credential`,
  :class:`Pathway`, :class:`Rubric`, :class:`RubricCriterion`, :class:`RubricLevel`, :class:`RoutingPolicy`) and
  :func:`meets_pass_rule`, the one pass rule.
- **CTDL import**: :func:`import_ctdl` (a :class:`CtdlImport`, or :class:`CtdlImportError`),
  :func:`write_catalogue`.
- **index and search**: :class:`CatalogueIndex` (:class:`IndexNotBuilt` before the first build),
  :func:`search` (:class:`Hit`; :data:`Mode`; :class:`SearchError`), :func:`get_embeddings`,
  :func:`entity_id`, :func:`unique_entities`, :func:`catalogue_documents`.
- **errors**: the root :class:`KnowledgeError` (:mod:`knowledge.errors`) and the four above.

The CTDL importer (pyld), the index and search (langchain-core, numpy) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from knowledge import load_catalogue, validate_catalogue
from knowledge.documents import catalogue_documents
from knowledge.errors import KnowledgeError
from knowledge.loading import CatalogueInvalid, Problem
from knowledge.schema import (
    Catalogue,
    Credential,
    Pathway,
    Provider,
    RoutingPolicy,
    Rubric,
    RubricCriterion,
    RubricLevel,
    meets_pass_rule,
)

if TYPE_CHECKING:
    from knowledge.ctdl import CtdlImport, CtdlImportError, import_ctdl, write_catalogue
    from knowledge.index import (
        CatalogueIndex,
        IndexNotBuilt,
        IndexUnavailable,
        entity_id,
        get_embeddings,
        unique_entities,
    )
    from knowledge.search import Hit, Mode, SearchError, search

_LAZY = {
    "CtdlImport": "knowledge.ctdl",
    "CtdlImportError": "knowledge.ctdl",
    "import_ctdl": "knowledge.ctdl",
    "write_catalogue": "knowledge.ctdl",
    "CatalogueIndex": "knowledge.index",
    "IndexNotBuilt": "knowledge.index",
    "IndexUnavailable": "knowledge.index",
    "entity_id": "knowledge.index",
    "get_embeddings": "knowledge.index",
    "unique_entities": "knowledge.index",
    "Hit": "knowledge.search",
    "Mode": "knowledge.search",
    "SearchError": "knowledge.search",
    "search": "knowledge.search",
}

__all__ = [
    # the catalogue
    "load_catalogue", "validate_catalogue", "Problem", "Catalogue", "Provider", "Credential", "Pathway", "Rubric",
    "RubricCriterion", "RubricLevel", "RoutingPolicy", "meets_pass_rule",
    # CTDL import
    "import_ctdl", "write_catalogue", "CtdlImport",
    # index and search
    "CatalogueIndex", "search", "Hit", "Mode", "get_embeddings", "entity_id", "unique_entities",
    "catalogue_documents",
    # errors
    "KnowledgeError", "CatalogueInvalid", "CtdlImportError", "IndexNotBuilt", "IndexUnavailable", "SearchError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
