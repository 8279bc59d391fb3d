"""What people with similar histories went on to like: EASE over the interaction log.

Content similarity alone misses what co-occurs in people's histories (on
MovieLens-100K, EASE alone more than doubles the Recall@10 of popularity), so
the recommender uses this model as a candidate source and as a scoring signal.
Its evidence is explainable: item j's score is a sum over the user's history
items h of ``w_h * B[h, j]``, so the past items with the largest terms are the
ones that "people who liked them also liked j" refers to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from whyrec.store.records import Interaction
from whyrec.tools.baselines import EASERanker, history_weights

log = logging.getLogger(__name__)

MAX_ITEMS = 12_000
"""EASE inverts an items × items matrix: about 1 GB of float64 at this size. Larger catalogs go without."""


class CollaborativeModel:
    """EASE fitted on interactions; scores and per-history-item contributions for one history."""

    def __init__(self, interactions: Sequence[Interaction], items: Sequence[str], l2: float = 500.0, half_life: float = 5.0):
        self.ease = EASERanker(l2=l2, half_life=half_life).fit(interactions, items)

    @classmethod
    def fit(cls, interactions: Sequence[Interaction], items: Sequence[str]) -> CollaborativeModel | None:
        """None when there is nothing to learn from or the catalog is too large for EASE."""
        if not interactions or len(items) > MAX_ITEMS:
            if len(items) > MAX_ITEMS:
                log.warning("%d items is more than EASE's limit of %d: no collaborative signal", len(items), MAX_ITEMS)
            return None
        return cls(interactions, items)

    def scores(self, history: Sequence[Interaction]) -> dict[str, float]:
        """Score of every catalog item for this history, scaled so the best unseen item is 1."""
        raw = self.ease.scores(history)
        seen = {self.ease.index[x.item_id] for x in history if x.item_id in self.ease.index}
        unseen = np.delete(raw, list(seen)) if seen else raw
        top = float(unseen.max()) if unseen.size else 0.0
        scaled = np.clip(raw / top, 0.0, None) if top > 0 else np.zeros_like(raw)
        return dict(zip(self.ease.items, scaled.tolist(), strict=True))

    def top(self, history: Sequence[Interaction], n: int, exclude: set[str]) -> list[tuple[str, float]]:
        scores = self.scores(history)
        ranked = self.ease.top_n(np.array([scores[i] for i in self.ease.items]), exclude, n)
        return [(i, scores[i]) for i in ranked if scores[i] > 0]

    def contributions(self, history: Sequence[Interaction], item_id: str, n: int = 3) -> list[tuple[str, float]]:
        """The history items that add most to ``item_id``'s score, with their share of it."""
        if item_id not in self.ease.index:
            return []
        idx, weights = history_weights(self.ease.index, history, self.ease.half_life)
        if not idx.size:
            return []
        terms = weights * self.ease.weights[idx, self.ease.index[item_id]]
        total = float(terms[terms > 0].sum())
        order = [i for i in np.argsort(-terms)[:n] if terms[i] > 0]
        return [(self.ease.items[idx[i]], float(terms[i]) / total) for i in order]
