"""Classical baselines as rankers for :func:`tools.evaluation.evaluate`.

Each class is fitted on the train interactions only (``fit(interactions, items)``) and
then called as ``ranker(user_id, history, exclude, n) -> list[str]``. Scoring uses the
``history`` passed in (so at the test stage the validation item counts), never stored
per-user state. All of them treat every interaction as an implicit positive.

* :class:`RandomRanker`: uniform random order, the floor.
* :class:`PopularityRanker`: most-interacted items first.
* :class:`ItemKNNRanker`: item-item cosine on the binary user-item matrix, top-``neighbours``
  per item, optional recency weighting of the history.
* :class:`EASERanker`: EASE (Steck, 2019), closed-form linear item-item model; exact on
  catalogs up to a few tens of thousands of items (inverts an items x items matrix).

Defaults are the settings picked on MovieLens-100K *validation* NDCG@10 by
``benchmarks/classical_baselines.py`` (``half_life=None`` gives the classic, order-blind
models; recency weighting is worth +30% NDCG@10 on this time-ordered split).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from whyrec.store.records import Interaction

__all__ = ["RandomRanker", "PopularityRanker", "ItemKNNRanker", "EASERanker"]


class _ScoreRanker:
    """Shared plumbing: item index, implicit matrix, masking and top-n."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def _index_items(self, interactions: Sequence[Interaction], items: Sequence[str] | None) -> None:
        ordered = list(items) if items is not None else []
        known = set(ordered)
        for x in interactions:
            if x.item_id not in known:
                known.add(x.item_id)
                ordered.append(x.item_id)
        if not ordered:
            raise ValueError("cannot fit a ranker on no items — pass train interactions or a catalog")
        self.items = ordered
        self.index = {item_id: i for i, item_id in enumerate(ordered)}

    def _matrix(self, interactions: Sequence[Interaction]) -> sp.csr_matrix:
        users: dict[str, int] = {}
        rows = [users.setdefault(x.user_id, len(users)) for x in interactions]
        cols = [self.index[x.item_id] for x in interactions]
        m = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, cols)),
            shape=(max(len(users), 1), len(self.items)),
        )
        m.data[:] = 1.0  # duplicates collapse to a single implicit positive
        return m

    def _check_fitted(self) -> None:
        if not self.items:
            raise RuntimeError(f"{type(self).__name__} is not fitted — call .fit(train_interactions, items) first")

    def top_n(self, scores: np.ndarray, exclude: set[str], n: int) -> list[str]:
        scores = np.array(scores, dtype=np.float64, copy=True)
        masked = [self.index[i] for i in exclude if i in self.index]
        scores[masked] = -np.inf
        available = len(scores) - len(masked)
        n = min(n, available)
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        # ties broken by item index so results are deterministic
        top = top[np.lexsort((top, -scores[top]))]
        return [self.items[i] for i in top]

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        self._check_fitted()
        return self.top_n(self.scores(history), exclude, n)


class RandomRanker(_ScoreRanker):
    """Random order, seeded per call sequence; the floor any model must beat."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> RandomRanker:
        self._index_items(list(interactions), items)
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        return self.rng.random(len(self.items))


class PopularityRanker(_ScoreRanker):
    """Items ranked by how many distinct train users interacted with them."""

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> PopularityRanker:
        interactions = list(interactions)
        self._index_items(interactions, items)
        self.popularity = np.asarray(self._matrix(interactions).sum(axis=0)).ravel()
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        return self.popularity


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


class ItemKNNRanker(_ScoreRanker):
    """Item-item cosine neighbourhood model on the binary user-item matrix.

    ``score(j) = sum_h w_h * sim(h, j)`` over history items ``h``, where ``sim`` keeps the
    ``neighbours`` most similar items of each ``h`` (cosine with ``shrink`` added to the
    denominator) and ``w_h`` decays with age if ``half_life`` (in interactions) is set.
    """

    def __init__(self, neighbours: int = 20, shrink: float = 0.0, half_life: float | None = 5.0) -> None:
        super().__init__()
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1, got {neighbours}")
        self.neighbours = neighbours
        self.shrink = shrink
        self.half_life = half_life

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> ItemKNNRanker:
        interactions = list(interactions)
        self._index_items(interactions, items)
        x = self._matrix(interactions)
        co = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(co))
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-12)
        np.fill_diagonal(sim, 0.0)
        k = min(self.neighbours, sim.shape[1] - 1)
        if 0 < k < sim.shape[1] - 1:
            # keep each row's k largest similarities (row h = neighbours of item h)
            cut = np.argpartition(-sim, k, axis=1)[:, k:]
            np.put_along_axis(sim, cut, 0.0, axis=1)
        self.similarity = sp.csr_matrix(sim)
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        idx, w = history_weights(self.index, history, self.half_life)
        if not idx.size:
            return np.zeros(len(self.items))
        return np.asarray(self.similarity[idx].T @ w).ravel()


class EASERanker(_ScoreRanker):
    """EASE: ``B = argmin ||X - XB||^2 + l2 ||B||^2`` with ``diag(B) = 0``, solved in closed form."""

    def __init__(self, l2: float = 500.0, half_life: float | None = 5.0) -> None:
        super().__init__()
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        self.l2 = l2
        self.half_life = half_life

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> EASERanker:
        interactions = list(interactions)
        self._index_items(interactions, items)
        x = self._matrix(interactions)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.weights = b
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        idx, w = history_weights(self.index, history, self.half_life)
        if not idx.size:
            return np.zeros(len(self.items))
        return w @ self.weights[idx]
