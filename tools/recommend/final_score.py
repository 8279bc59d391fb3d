"""The final score of each candidate: the signals a ranking has, and how :class:`ScoreWeights` mixes them.

Final score = weighted collaborative, retrieval, short-term, popularity, trending, request, story-word, soft-ask
and cross-encoder signals, the weights renormalised over the signals present so it stays in [0, 1]. The
cross-encoder is the caller's (:class:`~whyrec.tools.recommend.recommender.Recommender` decides whether its model
takes part): it gets the other signals and their weights, and returns its scores and weight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from whyrec.store.records import Item
from whyrec.tools.recommend.candidates import focus
from whyrec.tools.recommend.retrieval import Candidate
from whyrec.tools.recommend.scoring import Recommendation, ScoreWeights
from whyrec.tools.recommend.text_search import ItemTextSearch
from whyrec.tools.recommend.user_context import UserContext
from whyrec.tools.understanding.request import ParsedRequest

CrossEncoderSignal = Callable[[list[Item], dict[str, np.ndarray], dict[str, float]], tuple[np.ndarray, float] | None]
"""(items, the other signals, their weights) → (cross-encoder scores, its weight), or None when it takes no part."""


def score_candidates(
    context: UserContext,
    items: list[Item],
    candidates: list[Candidate],
    vectors: np.ndarray,
    *,
    weights: ScoreWeights,
    popularity: dict[str, float],
    text_search: ItemTextSearch,
    applied: ParsedRequest | None,
    cross_encoder: CrossEncoderSignal,
) -> list[Recommendation]:
    """Each candidate's signals and final score; ``applied``: the request's constraints as applied (its soft asks boost)."""
    if not candidates:
        return []
    profile = context.profile
    retrieval = np.array([max(c.similarity.values(), default=0.0) for c in candidates])
    short = np.asarray(profile.short_term[0].centroid, dtype=np.float32) if profile.short_term else None
    short_term = vectors @ short if short is not None else np.zeros(len(candidates))
    popular = np.array([popularity.get(i.item_id, 0.0) for i in items])
    signals = {"retrieval": retrieval, "short_term": short_term, "popularity": popular}
    if context.recent:
        signals["recent_popularity"] = np.array([context.recent.get(i.item_id, 0.0) for i in items])
    if context.collaborative:
        signals["collaborative"] = np.array([context.collaborative.get(i.item_id, 0.0) for i in items])
    asked = focus(context)
    if asked is not None:
        signals["request"] = vectors @ asked
    mix = {name: getattr(weights, name) for name in signals}
    if not context.queries:  # cold start: popularity is all we know
        signals, mix = {"popularity": popular}, {"popularity": 1.0}
    # what the person asks for is weighed against the other signals together, so it leads however those are tuned
    others = weights.from_history(trending="recent_popularity" in signals)
    if "request" in mix:
        mix["request"] = weights.request * others
    if context.about is not None and weights.about > 0:
        signals["about"] = text_search.score_of(context.about, [i.item_id for i in items])
        mix["about"] = weights.about * others
    if applied is not None and applied.has_soft and weights.asked_for > 0:
        signals["asked_for"] = np.array([applied.soft_match(i) for i in items], dtype=np.float32)
        mix["asked_for"] = weights.asked_for * others
    if context.queries and (reranked := cross_encoder(items, signals, mix)) is not None:
        signals["reranker"], mix["reranker"] = reranked
    # weights renormalised over the signals present, so the final score stays in [0, 1]
    final = sum(mix[name] * values for name, values in signals.items()) / sum(mix.values())
    return [
        Recommendation(0, item, {name: float(values[n]) for name, values in signals.items()} | {"final": float(final[n])}, None, [])
        for n, item in enumerate(items)
    ]
