"""Classical baselines as rankers for :func:`tools.evaluation.splits.evaluate`.

Each class is fitted on the train interactions only (``fit(interactions, items)``) and
then called as ``ranker(user_id, history, exclude, n) -> list[str]``. Scoring uses the
``history`` passed in (so at the test stage the validation item counts), never stored
per-user state. All of them treat every interaction as an implicit positive.

* :class:`RandomRanker`: uniform random order, the floor.
* :class:`PopularityRanker`: most-interacted items first.
* :class:`ItemKNNRanker`: item-item cosine on the binary user-item matrix, top-``neighbours``
  per item, optional recency weighting of the history; the pipeline's own
  :class:`tools.recommend.collaborative.ItemKNN`.
* :class:`EASERanker`: EASE (Steck, 2019), closed-form linear item-item model; the
  implementation is the pipeline's own, :class:`tools.recommend.collaborative.EASE`.
* :class:`RecentPopularityRanker`: most-interacted items in the last window before the
  newest train interaction (the time-honest protocol's "what is popular right now").

Defaults are the settings picked on MovieLens-100K *validation* NDCG@10 by
``benchmarks/classical_baselines.py`` (``half_life=None`` gives the classic, order-blind
models; recency weighting is worth +30% NDCG@10 on this time-ordered split).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Self

import numpy as np
import scipy.sparse as sp
from whyrec.store.records import Interaction
from whyrec.tools.recommend.collaborative import (
    EASE,
    ItemKNN,
    catalog_order,
    history_weights,
    implicit_matrix,
)

__all__ = ["EASERanker", "ItemKNNRanker", "PopularityRanker", "RandomRanker", "RecentPopularityRanker", "history_weights"]


class _ScoreRanker:
    """Shared plumbing: item index, implicit matrix, masking and top-n."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def _index_items(self, interactions: Sequence[Interaction], items: Sequence[str] | None) -> None:
        ordered = catalog_order(interactions, items)
        if not ordered:
            raise ValueError("cannot fit a ranker on no items — pass train interactions or a catalog")
        self.items = ordered
        self.index = {item_id: i for i, item_id in enumerate(ordered)}

    def _matrix(self, interactions: Sequence[Interaction]) -> sp.csr_matrix:
        return implicit_matrix(interactions, self.index)

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


class RecentPopularityRanker(_ScoreRanker):
    """Items ranked by distinct users in the last ``window_days`` before the newest train interaction.

    On a split that ends at a point in time, what is popular *now* is a much harder baseline than
    all-time popularity (new releases dominate what people rate next). Ties, and items with no
    recent interaction, fall back to all-time popularity.
    """

    def __init__(self, window_days: float = 30.0) -> None:
        super().__init__()
        if window_days <= 0:
            raise ValueError(f"window_days must be > 0, got {window_days}")
        self.window_days = window_days

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> RecentPopularityRanker:
        interactions = list(interactions)
        self._index_items(interactions, items)
        end = max((x.timestamp for x in interactions), default=0.0)
        recent = [x for x in interactions if x.timestamp > end - self.window_days * 86400.0]
        all_time = np.asarray(self._matrix(interactions).sum(axis=0)).ravel()
        now = np.asarray(self._matrix(recent).sum(axis=0)).ravel() if recent else np.zeros(len(self.items))
        self.popularity = now + all_time / (all_time.max() + 1.0)  # all-time count only breaks ties
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        return self.popularity


class _PipelineModelRanker(_ScoreRanker):
    """One of the pipeline's own collaborative models (``self.model``) behind the ranker interface, so the
    baseline row measures exactly the model that serves."""

    model: ItemKNN | EASE

    def fit(self, interactions: Iterable[Interaction], items: Sequence[str] | None = None) -> Self:
        self.model.fit(list(interactions), items)
        self.items, self.index = self.model.items, self.model.index
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        return self.model.scores(history)


class ItemKNNRanker(_PipelineModelRanker):
    """Item-kNN as an evaluation ranker: :class:`tools.recommend.collaborative.ItemKNN` (the pipeline's own model,
    implicit's cosine neighbours) behind the ranker interface.

    ``score(j) = sum_h w_h * sim(h, j)`` over history items ``h``, where ``sim`` keeps the
    ``neighbours`` most similar items of each ``h`` and ``w_h`` decays with age if ``half_life``
    (in interactions) is set.
    """

    def __init__(self, neighbours: int = 20, half_life: float | None = 5.0) -> None:
        super().__init__()
        self.model = ItemKNN(neighbours=neighbours, half_life=half_life)  # checks neighbours at once


class EASERanker(_PipelineModelRanker):
    """EASE as an evaluation ranker: :class:`tools.recommend.collaborative.EASE` (the pipeline's own model) behind the ranker interface."""

    def __init__(self, l2: float = 500.0, half_life: float | None = 5.0) -> None:
        super().__init__()
        self.model = EASE(l2=l2, half_life=half_life)  # checks l2 at once
