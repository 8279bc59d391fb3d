"""Maximal marginal relevance: trade a little relevance for a list that is not ten of the same."""

from __future__ import annotations

import numpy as np


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, diversity: float) -> list[int]:
    """Indices of ``k`` picks; each maximises (1-d)·relevance − d·(max similarity to the picks so far).

    ``scores`` are min-max scaled first so ``diversity`` means the same whatever the scorer's scale.
    ``diversity=0`` returns the plain top-k.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return []
    span = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(n)
    similarity = vectors @ vectors.T
    picked: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(k):
        redundancy = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = (1 - diversity) * relevance - diversity * redundancy
        value[~available] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, similarity[best])
    return picked

