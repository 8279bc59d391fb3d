"""The catalog's item vectors, read from the index once and kept: they only change on a re-ingest, which makes a new set."""

from __future__ import annotations

import numpy as np

from whyrec.store.item_index import ItemIndex


class ItemVectors:
    """Item vectors of one catalog, memoised (``Recommender.refresh_catalog`` makes a new one after an ingest)."""

    def __init__(self, index: ItemIndex, catalog: dict):
        self.index = index
        self.catalog = catalog
        self._cache: dict[str, np.ndarray] = {}

    def of(self, item_ids: list[str]) -> dict[str, np.ndarray]:
        """The vectors of those of ``item_ids`` in the catalog with a vector, in their order, each once."""
        missing = [i for i in dict.fromkeys(item_ids) if i in self.catalog and i not in self._cache]
        if missing:
            try:
                self._cache.update(zip(missing, self.index.vectors(missing), strict=True))
            except KeyError:  # an ingest is removing some of them (vectors go before the catalog): keep the others
                for item_id in missing:
                    try:
                        self._cache[item_id] = self.index.vectors([item_id])[0]
                    except KeyError:
                        pass
        return {i: self._cache[i] for i in dict.fromkeys(item_ids) if i in self._cache}
