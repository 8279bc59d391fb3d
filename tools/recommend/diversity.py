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

import math

import numpy as np

# How far below the best candidate's relevance (0-1, min-max scaled) a pick made for variety may fall.
MAX_RELEVANCE_DROP = 0.5
# Two items this similar (cosine of their vectors) are "more of the same": sequels, remakes, one franchise.
# Random MovieLens pairs: median 0.45, 99th percentile 0.67; Star Trek films with each other: 0.68-0.85.
SERIES_SIMILARITY = 0.7
# With diversity on, at most this share of the list (rounded up) may come from one such series, while
# other candidates are left; three Star Trek ratings then give two or so Star Trek films, not six.
MAX_SHARE_PER_SERIES = 1 / 3


def mmr(
    scores: np.ndarray,
    vectors: np.ndarray,
    k: int,
    diversity: float,
    *,
    max_relevance_drop: float = MAX_RELEVANCE_DROP,
    series_similarity: float = SERIES_SIMILARITY,
    max_share_per_series: float | None = MAX_SHARE_PER_SERIES,
) -> list[int]:
    """Indices of ``k`` picks; each maximises (1-d)·relevance − d·(max similarity to the picks so far).

    ``scores`` are min-max scaled first so ``diversity`` means the same whatever the scorer's scale.
    ``diversity=0`` returns the plain top-k. Otherwise:

    - only candidates within ``max_relevance_drop`` of the best relevance compete on variety
      (``1.0`` lifts the cap: classic MMR);
    - a candidate with ``series_similarity`` or more to ``ceil(max_share_per_series·k)`` picks
      already is held back (``None`` turns this off);
    - when no candidate is left under those rules, the list is topped up with the most relevant
      candidates that are not held back, and only then with the held-back ones, best first.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    span = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(n)
    by_relevance = np.argsort(-relevance, kind="stable")
    if diversity <= 0:
        return [int(i) for i in by_relevance[:k]]
    eligible = relevance >= 1.0 - max_relevance_drop - 1e-12
    similarity = vectors @ vectors.T
    per_series = k if max_share_per_series is None else max(1, math.ceil(max_share_per_series * k))
    series_picks = np.zeros(n, dtype=int)  # how many picks each candidate is "more of the same" as
    picked: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)

    def take(best: int) -> None:
        nonlocal max_sim
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, similarity[best])
        series_picks[:] += similarity[best] >= series_similarity

    while len(picked) < k:
        open_ = available & (series_picks < per_series)
        contenders = open_ & eligible
        if contenders.any():
            redundancy = np.where(np.isfinite(max_sim), max_sim, 0.0)
            value = (1 - diversity) * relevance - diversity * redundancy
            value[~contenders] = -np.inf
            take(int(np.argmax(value)))
            continue
        pool = open_ if open_.any() else available
        take(int(next(i for i in by_relevance if pool[i])))
    return picked
