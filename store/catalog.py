"""The store as one object: settings, SQLite, embedder and Chroma index, and ingest."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from whyrec.store.database import Database, StoreStats
from whyrec.store.embeddings import ItemEmbedder
from whyrec.store.item_index import ItemIndex, SyncReport
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    dataset: str
    items: int
    interactions: int
    users: int
    index: SyncReport
    seconds: float

    @property
    def items_per_second(self) -> float:
        return self.index.embedded / self.seconds if self.seconds else 0.0


class Store:
    """Everything ``tools`` reads: the catalog, histories, feedback and item vectors."""

    def __init__(self, settings: Settings, db: Database, embedder: ItemEmbedder, index: ItemIndex):
        self.settings = settings
        self.db = db
        self.embedder = embedder
        self.index = index

    @classmethod
    def open(cls, settings: Settings) -> Store:
        embedder = ItemEmbedder(settings)
        return cls(settings, Database.from_settings(settings), embedder, ItemIndex(settings, embedder))

    def ingest(self, dataset: Dataset, progress: bool = True) -> IngestReport:
        """Replace the catalog and histories with ``dataset``, embedding only new or changed items.

        The dataset is already validated; embedding (the slow part) happens
        before anything is written, then Chroma is brought in line, then SQLite
        swaps in one transaction. Vectors go first because they are the write that
        can fail for reasons outside the data (a Chroma server that went away): when
        they fail, SQLite still holds the previous catalog, histories and feedback.
        Chroma writes are idempotent upserts keyed by text hash, so re-running an
        ingest converges to the same state whichever write stopped it; only items
        whose embedded text changed (catalogue edits, or a new ``ITEM_TEXT_VERSION``)
        are embedded again. After a change of embedding model the vectors are written
        to a new collection that replaces the old one only once it is complete.
        """
        start = time.perf_counter()
        plan = self.index.plan(dataset.items, progress=progress)
        report = self.index.apply(plan, progress=progress)
        self.db.replace_dataset(dataset)
        users = len({x.user_id for x in dataset.interactions} | {u.user_id for u in dataset.users})
        return IngestReport(dataset.name, len(dataset.items), len(dataset.interactions), users, report, time.perf_counter() - start)

    def stats(self) -> tuple[StoreStats, int]:
        """SQLite counts, and the number of vectors in the index."""
        return self.db.stats(), self.index.count()
