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
import scipy.sparse as sp
from whyrec.store.records import Interaction

log = logging.getLogger(__name__)

MAX_ITEMS = 12_000
"""EASE inverts an items × items matrix: about 1 GB of float64 at this size. Larger catalogs go without."""

def catalog_order(interactions: Sequence[Interaction], items: Sequence[str] | None) -> list[str]:
    """The catalog's item ids, then any item only seen in interactions: the models' column order."""
    ordered = list(items) if items is not None else []
    known = set(ordered)
    for x in interactions:
        if x.item_id not in known:
            known.add(x.item_id)
            ordered.append(x.item_id)
    return ordered


def implicit_matrix(interactions: Sequence[Interaction], index: dict[str, int]) -> sp.csr_matrix:
    """Users x items, 1 where the user interacted with the item (every interaction an implicit positive)."""
    users: dict[str, int] = {}
    rows = [users.setdefault(x.user_id, len(users)) for x in interactions]
    cols = [index[x.item_id] for x in interactions]
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(max(len(users), 1), len(index)))
    m.data[:] = 1.0  # duplicates collapse to a single implicit positive
    return m


def history_weights(
    index: dict[str, int], history: Sequence[Interaction], half_life: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights of the history items: 1 each, or ``0.5 ** (age / half_life)``
    where age is how many interactions ago the item was (0 = most recent)."""
    weights: dict[int, float] = {}
    known = [index[h.item_id] for h in history if h.item_id in index]
    for age, i in enumerate(reversed(known)):
        w = 1.0 if half_life is None else 0.5 ** (age / half_life)
        weights[i] = max(weights.get(i, 0.0), w)
    idx = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
    return idx, np.fromiter(weights.values(), dtype=np.float64, count=len(weights))


class EASE:
    """EASE (Steck, 2019): ``B = argmin ||X - XB||^2 + l2 ||B||^2`` with ``diag(B) = 0``, in closed form.

    The one implementation: the pipeline's :class:`CollaborativeModel` and the evaluation's
    ``tools.baselines.EASERanker`` both use it. Exact on catalogs up to a few tens of thousands
    of items (it inverts an items x items matrix). A history scores item j as
    ``sum_h w_h * B[h, j]``, with ``w_h`` decaying with age when ``half_life`` (in interactions) is set.
    """

    def __init__(self, l2: float = 500.0, half_life: float | None = 5.0) -> None:
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        self.l2 = l2
        self.half_life = half_life
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.weights = np.zeros((0, 0))

    def fit(self, interactions: Sequence[Interaction], items: Sequence[str] | None = None) -> EASE:
        interactions = list(interactions)
        self.items = catalog_order(interactions, items)
        if not self.items:
            raise ValueError("cannot fit EASE on no items — pass train interactions or a catalog")
        self.index = {item_id: i for i, item_id in enumerate(self.items)}
        x = implicit_matrix(interactions, self.index)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.weights = b
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        """A score for every item (in ``self.items`` order) given this history."""
        idx, w = history_weights(self.index, history, self.half_life)
        if not idx.size:
            return np.zeros(len(self.items))
        return w @ self.weights[idx]


class CollaborativeModel:
    """EASE fitted on interactions; scores and per-history-item contributions for one history."""

    def __init__(self, interactions: Sequence[Interaction], items: Sequence[str], l2: float = 500.0, half_life: float = 5.0):
        self.ease = EASE(l2=l2, half_life=half_life).fit(interactions, items)

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
        ranked = sorted((i for i in self.ease.items if i not in exclude), key=lambda i: (-scores[i], self.ease.index[i]))[:n]
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
