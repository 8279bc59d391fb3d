"""Item vectors in a Chroma collection (cosine space).

Embedded ``PersistentClient`` under the data directory by default; an
``HttpClient`` when the settings name a Chroma server. We compute vectors
ourselves (Chroma's default embedding function downloads a model), and keep
each item's text hash and text format (:data:`ITEM_TEXT_VERSION`) in its
metadata, so a re-ingest embeds only the items whose text changed, whatever
changed it: the catalogue, or the format of :attr:`Item.text`.

The collection records the embedding model it was built with by what it is, not where it was
installed: its name, the version of the package that shipped it, and a fingerprint (its vector
of a fixed probe text). The same model found at another path (a second virtualenv, a moved
checkout, ONNX Runtime in one install and sentence-transformers in another) embeds the probe
within :data:`SAME_MODEL_COSINE` of the fingerprint and keeps the index. A truly different model
is refused in one line until the ingest is told to re-embed (``Settings.reembed``,
``whyrec ingest --reembed``); then the old collection stays as it is while a new one is built
beside it (``<collection>-rebuild``) and swapped in only once every vector is written, so a
failed rebuild leaves the old index whole, and the next try resumes it. Nothing is deleted
before the replacement is complete.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar
from urllib.parse import urlparse

import numpy as np
from tqdm.auto import tqdm

from whyrec.store.embeddings import SAME_MODEL_COSINE, ItemEmbedder, same_vectors
from whyrec.store.errors import SetupError
from whyrec.store.packaged_vectors import packaged_vectors
from whyrec.store.records import ITEM_TEXT_VERSION, Item
from whyrec.store.settings import Settings

log = logging.getLogger(__name__)

UPSERT_BATCH = 1000  # keeps each Chroma write well under its max batch size

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    removed: int
    unchanged: int
    retagged: int = 0
    """Of the unchanged, items whose vector was kept and only its recorded text format updated."""
    packaged: int = 0
    """Of the added and updated, items whose vector came from the packaged catalog's vectors, not the model."""

    @property
    def embedded(self) -> int:
        return self.added + self.updated


@dataclass
class SyncPlan:
    """What a sync will write; computing it touches nothing stored."""

    changed: list[Item]
    vectors: np.ndarray
    removed: list[str]
    added: int
    total: int
    retagged: list[Item] = field(default_factory=list)
    """Items whose text is unchanged but was recorded under another :data:`ITEM_TEXT_VERSION`."""
    packaged: int = 0

    @property
    def report(self) -> SyncReport:
        updated = len(self.changed) - self.added
        return SyncReport(
            added=self.added, updated=updated, removed=len(self.removed), unchanged=self.total - len(self.changed),
            retagged=len(self.retagged), packaged=self.packaged,
        )


def category_key(category: str) -> str:
    """The boolean metadata key that lets Chroma's ``where`` filter by category."""
    return f"cat:{category}"


def item_metadata(item: Item) -> dict:
    metadata: dict = {"title": item.title, "hash": item.text_hash, "text_version": ITEM_TEXT_VERSION}
    if item.year is not None:
        metadata["year"] = item.year
    metadata.update({category_key(c): True for c in item.categories})
    return metadata


MODEL_CHECK_ITEMS = 3


def encode_fingerprint(vector: np.ndarray) -> str:
    """A fingerprint as Chroma metadata can hold it (a string): float32, base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_fingerprint(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


def model_metadata(embedder: ItemEmbedder) -> dict:
    """What a collection records about the model that made its vectors."""
    return {
        "embedding_model": embedder.name,
        "embedding_model_version": embedder.version,
        "embedding_model_path": embedder.model_path,
        "embedding_fingerprint": encode_fingerprint(embedder.fingerprint),
    }


def different_model(settings: Settings, collection, embedder: ItemEmbedder) -> SetupError:
    """The one line for an index made by another embedding model: nothing was changed, and how to re-embed."""
    recorded = collection.metadata or {}
    was = recorded.get("embedding_model") or "another model"
    if recorded.get("embedding_model_version"):
        was += f" {recorded['embedding_model_version']}"
    return SetupError(
        f"the item index in {settings.chroma_url or settings.chroma_path} was built with the embedding model {was}, which "
        f"embeds differently from {embedder.model_path} — run `whyrec ingest --reembed` to embed the catalog again "
        "(the old index is kept until the new one is complete), or set WHYREC_EMBEDDING_MODEL back"
    )


def rebuild_collection_name(collection: str) -> str:
    """Where a rebuild for a new embedding model is written before it replaces ``collection``."""
    return f"{collection}-rebuild"


def server_unreachable(settings: Settings) -> SetupError:
    """The one-line error for a configured Chroma server that does not answer: the fix is to start it or stop using it."""
    url = urlparse(settings.chroma_url or "")
    port = url.port or (443 if url.scheme == "https" else 8000)
    return SetupError(
        f"Chroma server at {settings.chroma_url} is not reachable — start it with "
        f"`chroma run --path {settings.chroma_path} --host {url.hostname or 'localhost'} --port {port}` or unset WHYREC_CHROMA_URL"
    )


def _is_connection_failure(err: BaseException) -> bool:
    """True for "the server did not answer", as httpx raises it or as chromadb rewraps it (a ValueError)."""
    import httpx

    if isinstance(err, httpx.TransportError):
        return True
    return isinstance(err, ValueError) and (
        isinstance(err.__context__, httpx.TransportError) or "Could not connect to a Chroma server" in str(err)
    )


@contextmanager
def server_calls(settings: Settings) -> Iterator[None]:
    """Turn a dead Chroma server into :func:`server_unreachable`; other errors pass through unchanged."""
    try:
        yield
    except Exception as err:
        if settings.chroma_url and _is_connection_failure(err):
            raise server_unreachable(settings) from err
        raise


def make_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        with server_calls(settings):  # the HttpClient asks the server for its tenant at once
            return chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def _to_server(method: Callable[P, R]) -> Callable[P, R]:
    """An :class:`ItemIndex` method that talks to Chroma: a dead server becomes one actionable line."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with server_calls(args[0].settings):  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return call


class ItemIndex:
    """The catalog's vectors, searchable by vector with metadata filters."""

    def __init__(self, settings: Settings, embedder: ItemEmbedder, client=None):
        self.settings = settings
        self.embedder = embedder
        self.client = client or make_client(settings)
        with server_calls(settings):
            self._open_collection(settings, embedder)

    def _open_collection(self, settings: Settings, embedder: ItemEmbedder) -> None:
        """Point :attr:`collection` at the vectors of this embedding model.

        That is the collection named in the settings when it was built with this model. When it was
        built with another model, opening refuses (:func:`different_model`) unless ``settings.reembed``:
        then the rebuild beside it (empty, or partly written by a failed ingest), which :meth:`apply`
        swaps in once it is complete. The old collection is never deleted before then.
        """
        name, rebuild_name = settings.collection, rebuild_collection_name(settings.collection)
        live, rebuild = self._existing(name), self._existing(rebuild_name)
        if live is None and rebuild is not None:  # a swap stopped between its two steps: finish it
            rebuild.modify(name=name)
            live, rebuild = rebuild, None
        if live is None:
            live = self._create(name)
        self._replaces: str | None = None
        if self._same_model(live, embedder):
            self.collection = live
            return
        if not settings.reembed:
            raise different_model(settings, live, embedder)
        log.warning(
            "re-embedding: the item index was built with %s; this ingest embeds all %d items again with %s into %s, "
            "which replaces it once complete",
            self._model_of(live), live.count(), embedder.model_path, rebuild_name,
        )
        if rebuild is not None and not self._same_model(rebuild, embedder):
            self.client.delete_collection(rebuild_name)  # a rebuild for yet another model, never swapped in
            rebuild = None
        self.collection = rebuild if rebuild is not None else self._create(rebuild_name)
        self._replaces = name

    def _existing(self, name: str):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return None
        except ValueError as err:  # how older chromadb releases say "no such collection", and "no server"
            if _is_connection_failure(err):
                raise
            return None

    def _create(self, name: str):
        return self.client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=model_metadata(self.embedder),
        )

    @staticmethod
    def _model_of(collection) -> str | None:
        recorded = collection.metadata or {}
        return recorded.get("embedding_model_path") or recorded.get("embedding_model")

    def _same_model(self, collection, embedder: ItemEmbedder) -> bool:
        """Whether ``collection`` holds vectors of ``embedder``'s model, judged by what the model does, not where it lies.

        The path it was built with says so at once (the same install; no model load). Another path (a second
        virtualenv, a moved checkout, a reinstall) may hold the same model: its vector of the probe text must come
        out within :data:`SAME_MODEL_COSINE` of the recorded fingerprint. An index recorded before fingerprints is
        checked on a few stored texts embedded again instead. An empty collection suits any model.
        """
        if self._model_of(collection) == embedder.model_path:
            return True
        if collection.count() == 0:  # nothing to disagree with: it becomes this model's
            collection.modify(metadata=model_metadata(embedder))
            return True
        recorded = (collection.metadata or {}).get("embedding_fingerprint")
        try:
            if recorded:
                similarity = same_vectors(embedder.fingerprint, decode_fingerprint(recorded))
            else:
                stored = collection.get(limit=MODEL_CHECK_ITEMS, include=["documents", "embeddings"])
                documents, vectors = stored.get("documents") or [], stored.get("embeddings")
                if not documents or vectors is None or not all(documents):
                    return False
                similarity = same_vectors(embedder.encode(list(documents)), np.asarray(vectors))
        except SetupError:
            raise
        except Exception as err:  # noqa: BLE001 - a model that cannot run here is not shown to be the same one
            log.warning("could not check whether %s is the model collection %s was built with: %s", embedder.model_path, collection.name, err)
            return False
        if similarity >= SAME_MODEL_COSINE:
            log.info("collection %s was built with %s: the same model as %s (cosine %.5f), kept", collection.name, self._model_of(collection), embedder.model_path, similarity)
            return True
        return False

    @property
    def rebuilding(self) -> bool:
        """True while this index is a rebuild for a new embedding model, not yet swapped in."""
        return self._replaces is not None

    @_to_server
    def count(self) -> int:
        return self.collection.count()

    @_to_server
    def stored_metadata(self) -> dict[str, dict]:
        """Each stored item's metadata: its text hash, text format version, title, year, categories."""
        got = self.collection.get(include=["metadatas"])
        return {i: m or {} for i, m in zip(got["ids"], got["metadatas"], strict=True)}

    def stored_hashes(self) -> dict[str, str]:
        return {i: m.get("hash", "") for i, m in self.stored_metadata().items()}

    def plan(self, items: list[Item], progress: bool = False) -> SyncPlan:
        """Embed what is new or changed, without writing: the slow, failure-prone half of a sync.

        "Changed" means the embedded text changed (its hash differs). An item whose text reads
        the same under a new :data:`ITEM_TEXT_VERSION` keeps its vector; only its record is updated.
        """
        stored = self.stored_metadata()
        wanted = {item.item_id for item in items}
        changed, retagged = [], []
        for item in items:
            record = stored.get(item.item_id)
            if record is None or record.get("hash") != item.text_hash:
                changed.append(item)
            elif record.get("text_version") != ITEM_TEXT_VERSION:
                retagged.append(item)
        shipped = packaged_vectors(self.embedder, (item.text_hash for item in changed))
        to_embed = [item for item in changed if item.text_hash not in shipped]
        if shipped:
            log.info("%d of %d item vectors taken from the packaged catalog's vectors, %d embedded", len(changed) - len(to_embed), len(changed), len(to_embed))
        fresh = iter(self.embedder.encode([item.text for item in to_embed], progress=progress))
        vectors = [shipped[item.text_hash] if item.text_hash in shipped else next(fresh) for item in changed]
        return SyncPlan(
            changed=changed,
            vectors=np.asarray(vectors, dtype=np.float32) if vectors else np.zeros((0, 0), dtype=np.float32),
            removed=[item_id for item_id in stored if item_id not in wanted],
            added=sum(1 for item in changed if item.item_id not in stored),
            total=len(items),
            retagged=retagged,
            packaged=len(changed) - len(to_embed),
        )

    @_to_server
    def apply(self, plan: SyncPlan, progress: bool = False) -> SyncReport:
        """Write a plan: upsert changed vectors, update retagged records, delete removed items.

        A rebuild for a new embedding model then replaces the old collection (delete, then
        rename; if that stops half way, the next open finishes it).
        """
        batches = range(0, len(plan.changed), UPSERT_BATCH)
        for start in tqdm(batches, desc="writing vectors", disable=not progress or len(batches) < 2):
            chunk = plan.changed[start : start + UPSERT_BATCH]
            self.collection.upsert(
                ids=[item.item_id for item in chunk],
                embeddings=plan.vectors[start : start + UPSERT_BATCH],
                metadatas=[item_metadata(item) for item in chunk],
                documents=[item.text for item in chunk],
            )
        for start in range(0, len(plan.retagged), UPSERT_BATCH):
            chunk = plan.retagged[start : start + UPSERT_BATCH]
            self.collection.update(ids=[item.item_id for item in chunk], metadatas=[item_metadata(item) for item in chunk])
        for start in range(0, len(plan.removed), UPSERT_BATCH):
            self.collection.delete(ids=plan.removed[start : start + UPSERT_BATCH])
        if self._replaces is not None:
            self.client.delete_collection(self._replaces)
            self.collection.modify(name=self._replaces)
            log.info("swapped the rebuilt collection in as %s", self._replaces)
            self._replaces = None
        return plan.report

    @_to_server
    def ids(self, where: dict) -> set[str]:
        """Ids of the items whose metadata pass a Chroma ``where`` filter (e.g. a year range)."""
        return set(self.collection.get(where=where, include=[])["ids"])

    @_to_server
    def vectors(self, item_ids: list[str]) -> np.ndarray:
        """Stored vectors in the order asked; unknown ids raise KeyError."""
        if not item_ids:
            return np.zeros((0, 0), dtype=np.float32)
        got = self.collection.get(ids=list(item_ids), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        missing = [i for i in item_ids if i not in by_id]
        if missing:
            raise KeyError(f"items not in the index: {missing[:5]}")
        return np.asarray([by_id[i] for i in item_ids], dtype=np.float32)

    @_to_server
    def query(
        self,
        vectors: np.ndarray,
        n: int,
        where: dict | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> list[list[tuple[str, float]]]:
        """For each query vector, up to ``n`` (item_id, cosine similarity) pairs, best first."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        total = self.count()
        if total == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        fetch = min(total, n + len(exclude))
        got = self.collection.query(query_embeddings=vectors, n_results=fetch, where=where or None, include=["distances"])
        results = []
        for ids, distances in zip(got["ids"], got["distances"], strict=True):
            hits = [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True) if i not in exclude]
            results.append(hits[:n])
        return results
