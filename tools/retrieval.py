"""Candidate retrieval: several queries against Chroma, merged with reciprocal-rank fusion.

Each long-term interest, the short-term interest, the user's request and a
"more like this" item each ask the index for neighbours; RRF merges the lists
so that an item near several interests rises, and no single query's score
scale dominates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from whyrec.store.item_index import ItemIndex, category_key

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks


@dataclass(frozen=True)
class RetrievalQuery:
    """One source of candidates: a name the explanation can cite, a vector and a weight."""

    name: str
    vector: np.ndarray
    weight: float = 1.0


@dataclass
class Candidate:
    item_id: str
    fused: float = 0.0
    similarity: dict[str, float] = field(default_factory=dict)  # query name -> cosine similarity
    ranks: dict[str, int] = field(default_factory=dict)  # query name -> 1-based rank



def metadata_filter(categories: list[str] | None = None, year_min: int | None = None, year_max: int | None = None) -> dict | None:
    """Chroma ``where`` for category (any of) and year range filters."""
    clauses: list[dict] = []
    if categories:
        options = [{category_key(c): True} for c in categories]
        clauses.append(options[0] if len(options) == 1 else {"$or": options})
    if year_min is not None:
        clauses.append({"year": {"$gte": int(year_min)}})
    if year_max is not None:
        clauses.append({"year": {"$lte": int(year_max)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class RankedList:
    """Candidates from a source that is not a vector query (e.g. the collaborative model)."""

    name: str
    hits: list[tuple[str, float]]  # (item_id, score), best first
    weight: float = 1.0


def retrieve_candidates(
    index: ItemIndex,
    queries: list[RetrievalQuery],
    n: int = 100,
    where: dict | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
    extra: list[RankedList] = (),
) -> list[Candidate]:
    """Up to ``n`` candidates, best fused score first, none of them in ``exclude``.

    ``extra`` lists are fused by rank like the queries' results; they must already
    respect ``where`` and ``exclude``. Only vector queries fill ``Candidate.similarity``.
    """
    hits = index.query(np.stack([q.vector for q in queries]), n=n, where=where, exclude=exclude) if queries else []
    candidates: dict[str, Candidate] = {}
    for query, results in zip(queries, hits, strict=True):
        for rank, (item_id, similarity) in enumerate(results, start=1):
            candidate = candidates.setdefault(item_id, Candidate(item_id))
            candidate.fused += query.weight / (RRF_K + rank)
            candidate.similarity[query.name] = similarity
            candidate.ranks[query.name] = rank
    for ranked in extra:
        for rank, (item_id, _) in enumerate(ranked.hits[:n], start=1):
            candidate = candidates.setdefault(item_id, Candidate(item_id))
            candidate.fused += ranked.weight / (RRF_K + rank)
            candidate.ranks[ranked.name] = rank
    return sorted(candidates.values(), key=lambda c: -c.fused)[:n]
