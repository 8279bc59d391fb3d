"""Top-k recommendation metrics as plain functions on arrays (RecBole / implicit style).

The setting is leave-one-out: every user has exactly **one** held-out target item.

* ``ranked`` is an integer array ``[n_users, width]`` of item indices, best first.
  ``width`` may exceed ``k``; positions past ``k`` are ignored by the ``@k`` metrics.
  Negative entries are padding (a ranker that returned fewer items) and never match.
* ``targets`` is an integer array ``[n_users]``: the held-out item index of each user.

Every metric returns the mean over users as a Python ``float`` (``0.0`` for zero users).
With one target per user, ``recall_at_k`` and ``hit_rate_at_k`` are the same number;
both are provided so tables can use the name their readers expect.

Scored candidate lists (the reranker's training and validation) are the other setting: each case is
a list of scores with one or more positives (:func:`per_case_ndcg`, :func:`ranking_metrics`); they use
the same NDCG rule, :func:`ndcg_at_positions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "intra_list_diversity",
    "mrr",
    "ndcg_at_k",
    "ndcg_at_positions",
    "ndcg_gains",
    "paired_bootstrap_ci",
    "per_case_ndcg",
    "positive_places",
    "ranking_metrics",
    "recall_at_k",
    "target_positions",
]


def _check(ranked: np.ndarray, targets: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    ranked = np.asarray(ranked)
    targets = np.asarray(targets)
    if ranked.ndim != 2:
        raise ValueError(f"ranked must be 2-D [n_users, width], got shape {ranked.shape}")
    if targets.shape != (ranked.shape[0],):
        raise ValueError(
            f"targets must have shape ({ranked.shape[0]},) to match ranked, got {targets.shape}"
        )
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if ranked.shape[1] < k:
            raise ValueError(
                f"ranked has {ranked.shape[1]} columns but k={k}; pass at least k items per user"
            )
    return ranked, targets


def target_positions(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based position of each user's target in its ranked row, ``-1`` where it is absent."""
    ranked, targets = _check(ranked, targets, None)
    hits = (ranked == targets[:, None]) & (ranked >= 0)
    found = hits.any(axis=1)
    return np.where(found, hits.argmax(axis=1), -1)


def _positions_at_k(ranked: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    ranked, targets = _check(ranked, targets, k)
    return target_positions(ranked[:, :k], targets)


def recall_at_k(ranked: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    """Share of users whose target is in their top ``k`` (one target per user)."""
    pos = _positions_at_k(ranked, targets, k)
    return float((pos >= 0).mean()) if pos.size else 0.0


def hit_rate_at_k(ranked: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    """Same as :func:`recall_at_k` when each user has a single target."""
    return recall_at_k(ranked, targets, k)


def ndcg_at_positions(positions: np.ndarray, k: int = 10) -> np.ndarray:
    """NDCG@k of one relevant item at each 0-based position (``-1`` = not ranked): ``1 / log2(position + 2)``
    inside the top k, else 0. The one NDCG rule: ranked lists here and scored candidate lists in training use it."""
    positions = np.asarray(positions)
    inside = (positions >= 0) & (positions < k)
    return np.where(inside, 1.0 / np.log2(np.maximum(positions, 0) + 2.0), 0.0)


def ndcg_gains(ranked: np.ndarray, targets: np.ndarray, k: int = 10) -> np.ndarray:
    """Each user's NDCG@k (one relevant item): ``1 / log2(position + 2)`` if in the top k, else 0."""
    return ndcg_at_positions(_positions_at_k(ranked, targets, k), k)


def ndcg_at_k(ranked: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    """NDCG@k with one relevant item, averaged over users.

    The ideal DCG is 1 (the target at position 0), so no further normalisation is needed.
    """
    gains = ndcg_gains(ranked, targets, k)
    return float(gains.mean()) if gains.size else 0.0


def positive_places(scores: np.ndarray, positives: list[int]) -> np.ndarray:
    """0-based places of the positives when ``scores`` orders the list, ties counted against the positives."""
    relevant = np.zeros(len(scores), dtype=bool)
    relevant[positives] = True
    order = np.lexsort((relevant, -np.asarray(scores, dtype=np.float64)))  # on a tie the negatives go first
    return np.flatnonzero(relevant[order])


def per_case_ndcg(scores_per_case: list[np.ndarray], positives: list[list[int]], k: int = 10) -> np.ndarray:
    """Each list's NDCG@k of its positives (one for a next item, several for an "about" request), ties counted against them."""
    out = np.zeros(len(scores_per_case))
    for n, (s, p) in enumerate(zip(scores_per_case, positives, strict=True)):
        if p:
            ideal = ndcg_at_positions(np.arange(min(len(p), k)), k).sum()
            out[n] = ndcg_at_positions(positive_places(s, p), k).sum() / ideal
    return out


def ranking_metrics(scores_per_case: list[np.ndarray], positives: list[list[int]], k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR (of the first positive), hit@1 and hit@k of scored lists; ties count against the positives, a list without one is a miss."""
    if not scores_per_case:
        return {}
    per = per_case_ndcg(scores_per_case, positives, k)
    first = np.array([(positive_places(s, p)[0] + 1) if p else 10**9 for s, p in zip(scores_per_case, positives, strict=True)])
    return {
        f"ndcg@{k}": round(float(np.mean(per)), 4),
        "mrr": round(float(np.mean(1.0 / first)), 4),
        "hit@1": round(float(np.mean(first <= 1)), 4),
        f"hit@{k}": round(float(np.mean(first <= k)), 4),
        "cases": len(first),
    }


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired per-user scores, and its percentile bootstrap interval.

    ``a[i]`` and ``b[i]`` must be the same user's scores under two models. Users are resampled
    with replacement (the same resample for both models), so the interval reflects how much
    the difference depends on which users were drawn. Returns ``(delta, low, high)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    if not a.size:
        raise ValueError("no paired scores — evaluate both models on the same users first")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n_resamples, diff.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(diff.mean()), float(low), float(high)


def mrr(ranked: np.ndarray, targets: np.ndarray, k: int | None = None) -> float:
    """Mean reciprocal rank, ``1 / (position + 1)``, 0 where the target is missing.

    With ``k`` this is **MRR@k** (only the first k columns count), as RecBole reports it.
    Without ``k`` it is computed over the whole row: pass the full ranking of every
    candidate to get the full-rank MRR, or a top-n list to get MRR@n.
    """
    if k is not None:
        pos = _positions_at_k(ranked, targets, k)
    else:
        pos = target_positions(ranked, targets)
    if not pos.size:
        return 0.0
    return float(np.where(pos >= 0, 1.0 / (np.maximum(pos, 0) + 1.0), 0.0).mean())


def catalog_coverage(rec_lists: Iterable[Iterable], n_items: int) -> float:
    """Share of the catalog (``n_items``) that appears in at least one recommendation list.

    Lists may hold item indices or item ids; negative indices and ``None`` are padding.
    """
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    seen = set()
    for row in rec_lists:
        for item in row:
            if item is None:
                continue
            if isinstance(item, (int, np.integer)) and item < 0:
                continue
            seen.add(item.item() if isinstance(item, np.generic) else item)
    return len(seen) / n_items


def intra_list_diversity(rec_lists: Iterable[Sequence[int]], item_vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance ``1 - cos(a, b)`` within each list, averaged over lists.

    ``rec_lists`` hold row indices into ``item_vectors`` (``[n_items, dim]``); negative
    indices are padding and skipped. Lists with fewer than two items are skipped; returns
    ``0.0`` if no list has two items. Vectors need not be normalised; zero vectors count
    as orthogonal to everything (distance 1).
    """
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-D [n_items, dim], got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    per_list = []
    for row in rec_lists:
        idx = np.asarray([i for i in row if i is not None and i >= 0], dtype=np.int64)
        m = idx.size
        if m < 2:
            continue
        sims = unit[idx] @ unit[idx].T
        upper = sims[np.triu_indices(m, k=1)]
        per_list.append(float(np.mean(1.0 - upper)))
    return float(np.mean(per_list)) if per_list else 0.0
