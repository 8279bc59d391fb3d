"""The evidence behind each recommendation: the interest it serves, the liked items it resembles, and
the people who liked both. Every "why" sentence is built from these, so each claim traces to data."""

from __future__ import annotations

import numpy as np

from whyrec.store.records import Item
from whyrec.tools.recommend.collaborative import CollaborativeModel
from whyrec.tools.recommend.explanation import CoLikedItem, ServedInterest, SimilarPastItem
from whyrec.tools.recommend.profile import InterestProfile
from whyrec.tools.recommend.scoring import Recommendation
from whyrec.tools.understanding.titles import display_title
from whyrec.tools.recommend.user_context import UserContext


def add_evidence(
    context: UserContext,
    recs: list[Recommendation],
    vectors: np.ndarray,
    items: dict[str, Item],
    collaborative: CollaborativeModel | None,
) -> None:
    """Fill in the interest each item serves and the past items it is most similar to.

    Evidence cites what the user liked (rated 4+ or liked in the app) when there is any.
    Done only for the items shown or explained, not for every candidate.
    """
    liked = [x.item_id for x in context.history if x.item_id in context.vectors and x.liked]
    history_ids = liked or [x.item_id for x in context.history if x.item_id in context.vectors]
    history_matrix = np.stack([context.vectors[i] for i in history_ids]) if history_ids else None
    ratings = {x.item_id: x.rating for x in context.history}
    for rec, vector in zip(recs, vectors, strict=True):
        rec.interest = served_interest(context.profile, vector)
        rec.because = similar_past(history_ids, history_matrix, ratings, vector, items, exclude=rec.item.item_id)
        if collaborative and context.collaborative.get(rec.item.item_id, 0.0) > 0:
            rec.liked_together = [
                CoLikedItem(i, display_title(items[i].title), share, ratings.get(i))
                for i, share in collaborative.contributions(context.history, rec.item.item_id)
            ]


def served_interest(profile: InterestProfile, vector: np.ndarray) -> ServedInterest | None:
    """The long- or short-term interest whose centre is closest to the item."""
    options = [("long-term", i) for i in profile.long_term] + [("short-term", i) for i in profile.short_term]
    if not options:
        return None
    sims = [float(np.dot(vector, np.asarray(i.centroid, dtype=np.float32))) for _, i in options]
    best = int(np.argmax(sims))
    term, interest = options[best]
    return ServedInterest(term, interest.label, interest.weight, sims[best], interest.named_by)


def similar_past(ids, matrix, ratings, vector, items: dict[str, Item], exclude: str, n: int = 3) -> list[SimilarPastItem]:
    """The ``n`` past items most similar to the item (cosine), with the user's rating of each.

    Each title is cited once: a catalog may hold one film under two ids (MovieLens-100K has 'Money Talks' as 876
    and 881), and "similar to 'Money Talks', 'Money Talks'" reads as a bug and wastes a place.
    """
    if matrix is None:
        return []
    sims = matrix @ vector
    order, titles = [], set()
    for i in np.argsort(-sims):
        title = items[ids[i]].title
        if ids[i] != exclude and title not in titles and title != items[exclude].title:
            order.append(i)
            titles.add(title)
        if len(order) == n:
            break
    return [SimilarPastItem(ids[i], display_title(items[ids[i]].title), float(sims[i]), ratings.get(ids[i])) for i in order]
