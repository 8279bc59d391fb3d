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
from whyrec.store.records import Item

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



@dataclass(frozen=True)
class ItemFilter:
    """Which items may be recommended: a Chroma ``where``, and the same test as set operations in ``CatalogFacets.select``.

    ``any_of``: in at least one of these categories (the explicit category filter); ``all_of``:
    for each group, in at least one of its categories ("funny sci-fi" = Comedy and Sci-Fi);
    ``none_of``: in none of these; years inclusive. An item without a year fails a year bound.
    """

    any_of: tuple[str, ...] = ()
    all_of: tuple[tuple[str, ...], ...] = ()
    none_of: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None

    def where(self) -> dict | None:
        """Chroma ``where`` for these conditions, None when there are none."""
        clauses: list[dict] = []
        for group in ((self.any_of,) if self.any_of else ()) + tuple(g for g in self.all_of if g):
            options = [{category_key(c): True} for c in group]
            clauses.append(options[0] if len(options) == 1 else {"$or": options})
        clauses += [{category_key(c): {"$ne": True}} for c in self.none_of]
        if self.year_min is not None:
            clauses.append({"year": {"$gte": int(self.year_min)}})
        if self.year_max is not None:
            clauses.append({"year": {"$lte": int(self.year_max)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class CatalogFacets:
    """Item ids by category and each item's year: answers "how many items pass this filter?" with set operations."""

    by_category: dict[str, frozenset[str]]
    years: dict[str, int | None]

    @classmethod
    def of(cls, items: dict[str, Item]) -> CatalogFacets:
        by_category: dict[str, set[str]] = {}
        for item in items.values():
            for category in item.categories:
                by_category.setdefault(category, set()).add(item.item_id)
        return cls({c: frozenset(ids) for c, ids in by_category.items()}, {i: item.year for i, item in items.items()})

    def select(self, item_filter: ItemFilter, among: set[str] | None = None) -> set[str]:
        """Ids (of ``among``, default all) that pass ``item_filter``: the same test as its Chroma ``where``."""
        ids = set(self.years) if among is None else set(among)
        for group in ((item_filter.any_of,) if item_filter.any_of else ()) + tuple(g for g in item_filter.all_of if g):
            ids &= frozenset().union(*(self.by_category.get(c, frozenset()) for c in group))
        for category in item_filter.none_of:
            ids -= self.by_category.get(category, frozenset())
        lo, hi = item_filter.year_min, item_filter.year_max
        if lo is not None or hi is not None:
            ids = {i for i in ids if (y := self.years.get(i)) is not None and (lo is None or y >= lo) and (hi is None or y <= hi)}
        return ids


def metadata_filter(categories: list[str] | None = None, year_min: int | None = None, year_max: int | None = None) -> dict | None:
    """Chroma ``where`` for category (any of) and year range filters."""
    return ItemFilter(tuple(categories or ()), year_min=year_min, year_max=year_max).where()


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
