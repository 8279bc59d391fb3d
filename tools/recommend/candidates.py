"""Candidate assembly: the queries a ranking retrieves with, the lists it mixes, and the cut to the k shown.

A ranking asks the index with one query per interest of the profile, the request and each "more like" item
(:func:`retrieval_queries`), and mixes in the lists that are not neighbours of a query: people with similar
histories, what is popular lately, and the request's words in the stories (:func:`gather_candidates`). Near
copies of a disliked item go (:func:`drop_near_disliked`), and after scoring :func:`cut_to_k` ranks them and
picks the k shown, varied by MMR, a tier at a time.
"""

from __future__ import annotations

import numpy as np

from whyrec.store.item_index import ItemIndex
from whyrec.tools.recommend.diversity import mmr
from whyrec.tools.recommend.retrieval import Candidate, RankedList, RetrievalQuery, retrieve_candidates
from whyrec.tools.recommend.scoring import Recommendation
from whyrec.tools.recommend.text_search import ItemTextSearch
from whyrec.tools.recommend.user_context import UserContext
from whyrec.tools.understanding.request import ParsedRequest

NEAR_DUPLICATE = 0.9  # cosine above which a candidate counts as a copy of a disliked item
REQUEST_QUERY = "your request"
COLLABORATIVE_SOURCE = "people with similar histories"
RECENT_SOURCE = "popular lately"
ABOUT_SOURCE = "the words of your request in the stories"


def retrieval_queries(
    context: UserContext, parsed: ParsedRequest | None, request_vector: np.ndarray | None, likes: list[tuple[str, np.ndarray]]
) -> list[RetrievalQuery]:
    """One query per long- and short-term interest, the request's, and one per item or unknown title it is to be like.

    ``request_vector`` embeds an unparsed request (None with a parsed one: the parser embedded it less its
    exclusions, and a request that is all filter asks through its filters alone); ``likes``: (title, vector) of
    the items to be like, the explicit one first."""
    profile = context.profile
    queries = [RetrievalQuery(f"long-term: {i.label}", np.asarray(i.centroid, dtype=np.float32), i.weight) for i in profile.long_term]
    queries += [RetrievalQuery(f"short-term: {i.label}", np.asarray(i.centroid, dtype=np.float32), 1.0) for i in profile.short_term]
    if parsed is not None:
        if parsed.query_vector is not None and parsed.beyond_filters:
            queries.append(RetrievalQuery(REQUEST_QUERY, parsed.query_vector, 2.0))
    elif request_vector is not None:
        queries.append(RetrievalQuery(REQUEST_QUERY, request_vector, 2.0))
    queries += [RetrievalQuery(f"more like '{title}'", vector, 2.0) for title, vector in likes]
    for title, vector in zip(parsed.unknown_titles if parsed else [], parsed.unknown_title_vectors if parsed else [], strict=False):
        queries.append(RetrievalQuery(f"more like '{title}' (not in the catalog: its words)", vector, 1.5))
    return queries


def focus(context: UserContext) -> np.ndarray | None:
    """The direction of an explicit ask (request text and/or "more like this"), if any."""
    asks = [q.vector for q in context.queries if q.name == REQUEST_QUERY or q.name.startswith("more like")]
    if not asks:
        return None
    mean = np.mean(asks, axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def allowed_ids(index: ItemIndex, where: dict | None) -> set[str] | None:
    """Ids that pass the metadata filter, or None when there is no filter (everything passes)."""
    if not where:
        return None
    return index.ids(where)


def gather_candidates(
    context: UserContext,
    index: ItemIndex,
    where: dict | None,
    exclude: set[str],
    n: int,
    text_search: ItemTextSearch,
    popular: list[str],
) -> list[Candidate]:
    """Up to ``n`` candidates: the queries' neighbours mixed with the collaborative, trending and story-word lists;
    for a new user with no request, popular items (the honest fallback)."""
    allowed = allowed_ids(index, where)

    def passes(item_id: str) -> bool:
        return item_id not in exclude and (allowed is None or item_id in allowed)

    if not context.queries:
        return [Candidate(i) for i in popular if passes(i)][:n]
    extra = []
    if context.collaborative:
        ranked = sorted(context.collaborative.items(), key=lambda kv: -kv[1])
        extra.append(RankedList(COLLABORATIVE_SOURCE, [(i, s) for i, s in ranked if s > 0 and passes(i)][:n], 2.0))
    if context.popular_lately:
        extra.append(RankedList(RECENT_SOURCE, [(i, context.recent[i]) for i in context.popular_lately if passes(i)][: n // 4], 1.0))
    if context.about is not None:
        extra.append(RankedList(ABOUT_SOURCE, text_search.hits(context.about, n, allowed, exclude), 2.0))
    return retrieve_candidates(index, context.queries, n, where, exclude, extra)


def drop_near_disliked(context: UserContext, candidates: list[Candidate], vectors: np.ndarray) -> tuple[list[Candidate], np.ndarray]:
    """The candidates (and their vectors) less near copies of an item the user disliked."""
    disliked = [context.vectors[i] for i in context.disliked if i in context.vectors]
    if not disliked or not candidates:
        return candidates, vectors
    keep = (vectors @ np.stack(disliked).T).max(axis=1) < NEAR_DUPLICATE
    return [c for c, k in zip(candidates, keep, strict=True) if k], vectors[keep]


def cut_to_k(
    scored: list[Recommendation], vectors: np.ndarray, tiers: tuple[tuple[str, ...], ...], k: int, diversity: float
) -> tuple[list[Recommendation], list[Recommendation], np.ndarray]:
    """Every candidate ranked (its ``rank`` set), the ``k`` shown (a varied pick, :func:`pick`) and their vectors.

    ``tiers``: category groups relaxed because too few items meet them all; items meeting more of them come first."""
    final = np.array([r.scores["final"] for r in scored])
    tier = np.array([sum(any(c in r.item.categories for c in g) for g in tiers) for r in scored]) if tiers else np.zeros(len(scored))
    order = np.lexsort((-final, -tier)) if len(scored) else np.zeros(0, dtype=int)
    ranked = [scored[i] for i in order]
    for rank, rec in enumerate(ranked, start=1):
        rec.rank = rank
    categories = [r.item.categories for r in ranked]
    picks = pick(final[order], tier[order], vectors[order] if len(order) else vectors, k, diversity, categories)
    shown = [Recommendation(n, ranked[i].item, ranked[i].scores, None, []) for n, i in enumerate(picks, start=1)]
    return ranked, shown, vectors[order][picks] if picks else vectors[:0]


def pick(final: np.ndarray, tier: np.ndarray, vectors: np.ndarray, k: int, diversity: float, categories: list[tuple[str, ...]]) -> list[int]:
    """MMR within each tier, best tier first (one tier unless category asks were relaxed)."""
    picks: list[int] = []
    for level in sorted(set(tier.tolist()), reverse=True):
        index = np.flatnonzero(tier == level)
        picks += [int(index[i]) for i in mmr(final[index], vectors[index], k - len(picks), diversity, categories=[categories[i] for i in index])]
        if len(picks) >= k:
            break
    return picks
