"""Maximal marginal relevance: trade a little relevance for a list that is not ten of the same.

The product rule (issue #12): diversity may reorder and swap items, but it never reaches
far below the relevance of the list. Plain MMR at ``diversity=1`` ignores relevance and
picks whatever is least like the picks so far (in MovieLens: *Nemesis 2*, *Super Mario
Bros.*, scores 0.13-0.16). So only candidates whose relevance is within
``MAX_RELEVANCE_DROP`` of the best one (on the min-max scale of this candidate set) may be
picked for variety; when fewer than ``k`` candidates are that close, the rest of the list
is filled by relevance alone. The cap was chosen on the recall/ILD curve of
``benchmarks/diversity.py`` (MovieLens-100K, leave-one-out by time): it keeps Recall@10 at
``diversity=1`` close to the plain top-k while the list still gets more varied as the knob
goes up.
"""

from __future__ import annotations

import numpy as np

# How far below the best candidate's relevance (0-1, min-max scaled) a pick made for variety may fall.
MAX_RELEVANCE_DROP = 0.5


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, diversity: float, *, max_relevance_drop: float = MAX_RELEVANCE_DROP) -> list[int]:
    """Indices of ``k`` picks; each maximises (1-d)·relevance − d·(max similarity to the picks so far).

    ``scores`` are min-max scaled first so ``diversity`` means the same whatever the scorer's scale.
    ``diversity=0`` returns the plain top-k. Only candidates within ``max_relevance_drop`` of the
    best relevance compete on variety (``1.0`` lifts the cap: classic MMR); if fewer than ``k``
    are that close, the list is topped up with the next most relevant candidates, best first.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    span = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(n)
    eligible = relevance >= 1.0 - max_relevance_drop - 1e-12
    similarity = vectors @ vectors.T
    picked: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = eligible.copy()
    for _ in range(min(k, int(eligible.sum()))):
        redundancy = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = (1 - diversity) * relevance - diversity * redundancy
        value[~available] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, similarity[best])
    if len(picked) < k:
        rest = [int(i) for i in np.argsort(-relevance, kind="stable") if not eligible[i]]
        picked += rest[: k - len(picked)]
    return picked
