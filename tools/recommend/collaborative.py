"""What people with similar histories went on to like: a collaborative model over the interaction log.

Content similarity alone misses what co-occurs in people's histories (on MovieLens-100K, EASE alone
more than doubles the Recall@10 of popularity), so the recommender uses this model as a candidate
source and as a scoring signal. Three models stand behind one interface, because no one model
suits every catalog size:

* :class:`EASE` (Steck, 2019): the most accurate on MovieLens, but its weights are a dense
  items x items matrix, so its memory grows with the square of the catalog and its fit with the cube.
* :class:`ALS`: latent factors (implicit's ``AlternatingLeastSquares``), a history folded in at
  request time: the model past EASE's limits.
* :class:`ItemKNN`: each item's nearest items by cosine over who interacted with them (implicit's
  ``CosineRecommender``): a sparse matrix, fitted in seconds at 100k items.

:func:`choose_model` picks EASE while its matrix fits in memory and ALS past that; the
setting ``collaborative`` (``WHYREC_COLLABORATIVE``) forces a choice. Every model's score for item
j is a sum of one term per history item h (``w_h * B[h, j]`` for EASE, ``w_h * S[h, j]`` for
item-kNN, and for ALS the exact split of the folded-in score from Hu, Koren & Volinsky 2008, section 5,
that implicit's ``explain`` computes), so the history items with the largest terms are the ones
"people who liked them also liked j" names, whichever model is serving.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, get_args

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction
from whyrec.store.settings import CollaborativeChoice

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = tuple(c for c in get_args(CollaborativeChoice) if c != "auto")

EASE_BYTES_PER_ITEM_PAIR = 10
"""EASE holds one float64 items x items matrix (8 bytes a pair), inverted in place, and the sparse
blocks that build it: the pipeline's fit peaked 3.4 GB above its start at 20,000 items (8.6 a pair,
``benchmarks/scale.json``); 10 leaves room."""

EASE_MEMORY_SHARE = 0.5
"""EASE may take at most this share of the memory available when it is fitted: the rest is the
embedding model's, Chroma's and the app's."""

EASE_MAX_ITEMS = 20_000
"""Past this, EASE's fit (a Cholesky inverse, items^3, on one BLAS thread) takes longer than a
recommender should take to start, even with memory to spare: 2 minutes at 20,000 items on the shared
2-core box (``benchmarks/scale.json``), so about 7 at 30,000."""

LARGE_CATALOG_MODEL = "als"
"""The model past EASE's limits, chosen by measurement (benchmarks/README.md, "Past one small catalog"):
alone, ALS ranks above item-kNN on MovieLens-100K (leave-one-out validation NDCG@10 0.123 against 0.103,
temporal 0.053 against 0.023) and on the synthetic logs (temporal 0.059 against 0.044 at 20k items, 0.025
against 0.021 at 100k); through the whole pipeline it is ahead or level (temporal 0.145 against 0.116, 0.070
against 0.070, 0.052 against 0.048), for about twice item-kNN's fit time."""


def catalog_order(interactions: Sequence[Interaction], items: Sequence[str] | None) -> list[str]:
    """The catalog's item ids, then any item only seen in interactions: the models' column order."""
    ordered = list(items) if items is not None else []
    known = set(ordered)
    for x in interactions:
        if x.item_id not in known:
            known.add(x.item_id)
            ordered.append(x.item_id)
    return ordered


def columns(interactions: Sequence[Interaction], items: Sequence[str] | None, model: str) -> tuple[list[str], dict[str, int]]:
    """A model's item ids in column order (:func:`catalog_order`) and their column numbers; a one-line error when there are none."""
    ordered = catalog_order(interactions, items)
    if not ordered:
        raise ValueError(f"cannot fit {model} on no items — pass train interactions or a catalog")
    return ordered, {item_id: i for i, item_id in enumerate(ordered)}


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


class ItemScorer(Protocol):
    """What the recommender needs of a collaborative model: a score for every item given a history,
    and the per-history-item terms that add up to one item's score."""

    name: str
    items: list[str]
    index: dict[str, int]

    def scores(self, history: Sequence[Interaction]) -> np.ndarray: ...

    def terms(self, history: Sequence[Interaction], column: int) -> tuple[np.ndarray, np.ndarray]: ...


class EASE:
    """EASE (Steck, 2019): ``B = argmin ||X - XB||^2 + l2 ||B||^2`` with ``diag(B) = 0``, in closed form.

    The one implementation: the pipeline's :class:`CollaborativeModel` and the evaluation's
    ``tools.evaluation.baselines.EASERanker`` both use it. Exact, but it inverts an items x items matrix
    (:data:`EASE_BYTES_PER_ITEM_PAIR`). A history scores item j as ``sum_h w_h * B[h, j]``, with
    ``w_h`` decaying with age when ``half_life`` (in interactions) is set.
    """

    name = "ease"

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
        self.items, self.index = columns(interactions, items, "EASE")
        self.weights = ease_weights(implicit_matrix(interactions, self.index), self.l2)
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        """A score for every item (in ``self.items`` order) given this history."""
        idx, w = history_weights(self.index, history, self.half_life)
        if not idx.size:
            return np.zeros(len(self.items))
        return w @ self.weights[idx]

    def terms(self, history: Sequence[Interaction], column: int) -> tuple[np.ndarray, np.ndarray]:
        idx, w = history_weights(self.index, history, self.half_life)
        return idx, w * self.weights[idx, column]


def ease_weights(x: sp.csr_matrix, l2: float, block: int = 1024) -> np.ndarray:
    """EASE's B from the users x items matrix, in one items x items float64 array.

    The Gram matrix is built a block of columns at a time and inverted in place by Cholesky (it is
    symmetric positive definite), so the peak is that one array, not the three that ``np.linalg.inv``
    of a dense product holds at once. Same B as ``-P / diag(P)`` with ``P = inv(X'X + l2 I)``.
    """
    n = x.shape[1]
    gram = np.empty((n, n))
    xt, xc = x.T.tocsr(), x.tocsc()
    for start in range(0, n, block):
        gram[:, start : start + block] = (xt @ xc[:, start : start + block]).toarray()
    gram[np.diag_indices(n)] += l2
    # gram.T is the same (symmetric) matrix in Fortran order, which LAPACK overwrites without a copy.
    # One BLAS thread: scipy's OpenBLAS 0.3.31 threaded dpotrf segfaults on a 20,000 x 20,000 matrix here.
    with threadpool_limits(1, "blas"):
        factor, info = lapack.dpotrf(gram.T, lower=1, overwrite_a=1, clean=0)
        if info == 0:
            factor, info = lapack.dpotri(factor, lower=1, overwrite_c=1)
    if info != 0 or not np.shares_memory(factor, gram):
        raise RuntimeError(f"EASE: inverting the {n} x {n} Gram matrix failed (LAPACK info {info})")
    for start in range(0, n, block):  # the inverse is in the upper triangle: mirror it into the lower
        stop = min(start + block, n)
        gram[stop:, start:stop] = gram[start:stop, stop:].T
        square = gram[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        square[lower] = square.T[lower]
    gram /= -gram.diagonal().copy()  # column j divided by -P[j, j]
    np.fill_diagonal(gram, 0.0)
    return gram


class ItemKNN:
    """Item-item nearest neighbours by cosine over who interacted with each item (implicit's ``CosineRecommender``).

    Row h of ``similarity`` keeps item h's ``neighbours`` most similar items, so the model is a
    sparse items x items matrix (about ``neighbours`` x 12 bytes an item). A history scores item j
    as ``sum_h w_h * S[h, j]``, ``w_h`` decaying with age as for EASE.
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 50, half_life: float | None = 5.0, threads: int = 1) -> None:
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1, got {neighbours}")
        self.neighbours = neighbours
        self.half_life = half_life
        self.threads = threads
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.similarity = sp.csr_matrix((0, 0))

    def fit(self, interactions: Sequence[Interaction], items: Sequence[str] | None = None) -> ItemKNN:
        # implicit's nearest neighbours are CPU code: no GPU path to take
        from implicit.nearest_neighbours import CosineRecommender
        from implicit.utils import ParameterWarning

        interactions = list(interactions)
        self.items, self.index = columns(interactions, items, "item-kNN")
        model = CosineRecommender(K=self.neighbours, num_threads=self.threads)
        with warnings.catch_warnings():  # it normalises into a COO matrix, then warns about converting its own matrix
            warnings.simplefilter("ignore", ParameterWarning)
            model.fit(implicit_matrix(interactions, self.index), show_progress=False)
        self.similarity = model.similarity.tocsr()
        return self

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        idx, w = history_weights(self.index, history, self.half_life)
        if not idx.size:
            return np.zeros(len(self.items))
        return np.asarray(self.similarity[idx].T @ w).ravel()

    def terms(self, history: Sequence[Interaction], column: int) -> tuple[np.ndarray, np.ndarray]:
        idx, w = history_weights(self.index, history, self.half_life)
        return idx, w * self.similarity[idx][:, [column]].toarray().ravel()


class ALS:
    """Implicit-feedback matrix factorisation (implicit's ``AlternatingLeastSquares``, its CPU code).

    A history is folded in as a new user (weights ``alpha * w_h`` as confidences, ``w_h`` decaying
    with age), so any history is scored without refitting; its score for item j splits exactly
    into one term per history item (implicit's ``explain``). Fitted with BLAS on one thread, as
    implicit asks, and ``threads`` of its own.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 5.0,
        iterations: int = 15,
        half_life: float | None = 5.0,
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ValueError(f"factors and iterations must be >= 1, got {factors} and {iterations}")
        self.settings = {"factors": factors, "regularization": regularization, "alpha": alpha, "iterations": iterations}
        self.half_life = half_life
        self.threads = threads
        self.seed = seed
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.model = None
        self._factor: tuple[tuple[bytes, bytes], tuple] | None = None  # (history, its Cholesky factor): one tuple, swapped whole

    def fit(self, interactions: Sequence[Interaction], items: Sequence[str] | None = None) -> ALS:
        # the CPU class itself, not implicit.als's factory, which picks CUDA when it finds it
        from implicit.cpu.als import AlternatingLeastSquares

        interactions = list(interactions)
        self.items, self.index = columns(interactions, items, "ALS")
        with threadpool_limits(1, "blas"):
            self.model = AlternatingLeastSquares(**self.settings, num_threads=self.threads, random_state=self.seed)
            self.model.fit(implicit_matrix(interactions, self.index), show_progress=False)
        return self

    def _folded(self, history: Sequence[Interaction]) -> tuple[np.ndarray, sp.csr_matrix]:
        idx, w = history_weights(self.index, history, self.half_life)
        return idx, sp.csr_matrix((w, (np.zeros(len(idx), dtype=np.int64), idx)), shape=(1, len(self.items)))

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        idx, row = self._folded(history)
        if not idx.size:
            return np.zeros(len(self.items))
        return self.model.item_factors @ self.model.recalculate_user(0, row)

    def terms(self, history: Sequence[Interaction], column: int) -> tuple[np.ndarray, np.ndarray]:
        idx, row = self._folded(history)
        if not idx.size:
            return idx, np.zeros(0)
        # a list's evidence explains up to 10 items for one history: the history's Cholesky factor is kept for the next
        key = (idx.tobytes(), row.data.tobytes())
        last = self._factor
        _, top, factor = self.model.explain(0, row, column, user_weights=last[1] if last and last[0] == key else None, N=len(idx))
        self._factor = (key, factor)
        by_item = dict(top)
        return idx, np.array([by_item.get(int(i), 0.0) for i in idx])


MODEL_CLASSES: dict[str, type] = {"ease": EASE, "item_knn": ItemKNN, "als": ALS}


def known_model(setting: str) -> str:
    """The setting as it is, or a one-line error naming the choices."""
    if setting != "auto" and setting not in MODELS:
        raise InputError(f"unknown collaborative model {setting!r} — use auto, {', '.join(MODELS)}")
    return setting


def available_memory() -> int | None:
    """Bytes this process can still take: the kernel's MemAvailable, or less under a cgroup limit; None where unknown."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return max(min(found), 0)


def ease_memory(items: int) -> int:
    """Bytes EASE needs to fit ``items`` items."""
    return EASE_BYTES_PER_ITEM_PAIR * items * items


@dataclass(frozen=True)
class ModelChoice:
    """Which collaborative model serves, and why (logged, and shown by benchmarks)."""

    name: str
    reason: str


def choose_model(items: int, setting: str = "auto", memory: int | None = None) -> ModelChoice:
    """EASE while it fits (``items`` <= :data:`EASE_MAX_ITEMS` and its matrix within
    :data:`EASE_MEMORY_SHARE` of ``memory``, default: what is available now), else
    :data:`LARGE_CATALOG_MODEL`; a setting other than ``auto`` is obeyed as it is."""
    if known_model(setting) != "auto":
        return ModelChoice(setting, f"the setting collaborative={setting}")
    needed = ease_memory(items)
    if items > EASE_MAX_ITEMS:
        return ModelChoice(LARGE_CATALOG_MODEL, f"{items:,} items is more than EASE's {EASE_MAX_ITEMS:,} (its fit grows with items^3)")
    memory = available_memory() if memory is None else memory
    if memory is not None and needed > EASE_MEMORY_SHARE * memory:
        return ModelChoice(
            LARGE_CATALOG_MODEL,
            f"EASE on {items:,} items needs {needed / 1e9:.1f} GB, more than {EASE_MEMORY_SHARE:.0%} of the {memory / 1e9:.1f} GB available",
        )
    room = "memory unknown" if memory is None else f"{memory / 1e9:.1f} GB available"
    return ModelChoice("ease", f"EASE on {items:,} items needs {needed / 1e9:.1f} GB ({room})")


class CollaborativeModel:
    """A fitted collaborative model: scores and per-history-item contributions for one history."""

    def __init__(self, model: ItemScorer, reason: str = "", fit_seconds: float = 0.0):
        self.model = model
        self.reason = reason
        self.fit_seconds = fit_seconds

    @property
    def name(self) -> str:
        return self.model.name

    @classmethod
    def fit(
        cls, interactions: Sequence[Interaction], items: Sequence[str], model: str = "auto", *, memory: int | None = None
    ) -> CollaborativeModel | None:
        """The model :func:`choose_model` picks for this catalog, fitted; None when there is nothing to learn from.

        ``memory`` (bytes) replaces the memory available now in the choice."""
        known_model(model)  # a bad setting fails even before there is anything to fit
        if not interactions:
            return None
        ordered = catalog_order(interactions, items)
        choice = choose_model(len(ordered), model, memory)
        start = time.perf_counter()
        fitted = MODEL_CLASSES[choice.name]().fit(interactions, ordered)  # each with the defaults the benchmarks chose
        seconds = time.perf_counter() - start
        log.info("collaborative model: %s, because %s; fitted in %.1f s", choice.name, choice.reason, seconds)
        return cls(fitted, choice.reason, seconds)

    def scores(self, history: Sequence[Interaction]) -> dict[str, float]:
        """The items with a positive score for this history, best first, scaled so the best unseen item is 1.

        An item left out scores 0, as a negative score would have been clipped to."""
        raw = self.model.scores(history)
        seen = [self.model.index[x.item_id] for x in history if x.item_id in self.model.index]
        top = float(np.delete(raw, seen).max(initial=0.0))
        if top <= 0:
            return {}
        positive = np.flatnonzero(raw > 0)
        order = positive[np.argsort(-raw[positive], kind="stable")]
        items = self.model.items
        return dict(zip([items[i] for i in order.tolist()], (raw[order] / top).tolist(), strict=True))

    def top(self, history: Sequence[Interaction], n: int, exclude: set[str]) -> list[tuple[str, float]]:
        """The ``n`` best items outside ``exclude``, with their scaled scores."""
        best: list[tuple[str, float]] = []
        for item_id, score in self.scores(history).items():
            if len(best) == n:
                break
            if item_id not in exclude:
                best.append((item_id, score))
        return best

    def contributions(self, history: Sequence[Interaction], item_id: str, n: int = 3) -> list[tuple[str, float]]:
        """The history items that add most to ``item_id``'s score, with their share of what the history adds."""
        if item_id not in self.model.index:
            return []
        idx, terms = self.model.terms(history, self.model.index[item_id])
        if not idx.size:
            return []
        total = float(terms[terms > 0].sum())
        order = [i for i in np.argsort(-terms, kind="stable")[:n] if terms[i] > 0]
        return [(self.model.items[idx[i]], float(terms[i]) / total) for i in order]
