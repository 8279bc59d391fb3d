"""Where one item stands against a ranking ("why?" and "why not?"): its status, and the evidence put into an Explanation.

The ranking is the one the person saw (same request and options); :func:`status_of` says why an item is not in
it (seen, disliked, filtered, not retrieved…) and :func:`explanation_for` gathers the scores, similar past items,
interest, trend, the request's notes and the story's words into an
:class:`~whyrec.tools.recommend.explanation.Explanation` with its sentences.
"""

from __future__ import annotations

import numpy as np

from whyrec.store.item_index import ItemIndex
from whyrec.store.records import Item
from whyrec.tools.recommend.candidates import NEAR_DUPLICATE, allowed_ids
from whyrec.tools.recommend.explanation import Explanation, explanation_sentences, story_quote
from whyrec.tools.recommend.popularity import PopularityTimeline
from whyrec.tools.recommend.scoring import Ranking, Recommendation
from whyrec.tools.recommend.text_search import stems


def status_of(item: Item, ranking: Ranking, vector: np.ndarray, index: ItemIndex) -> str:
    """Why ``item`` is not in the list shown: cold_start, disliked, seen, filtered, candidate or not_retrieved."""
    context = ranking.context
    if context.profile.is_empty and not context.queries:
        return "cold_start"
    disliked = [context.vectors[i] for i in context.disliked if i in context.vectors]
    if item.item_id in context.disliked or (disliked and float((np.stack(disliked) @ vector).max()) >= NEAR_DUPLICATE):
        return "disliked"
    if item.item_id in context.seen:
        return "seen"
    applied = ranking.request.applied if ranking.request else None
    if applied and item.item_id in applied.exclude_item_ids + applied.like_item_ids:
        return "filtered"  # "more like X" leaves X itself out: not "not among the candidates retrieved"
    if ranking.where and item.item_id not in allowed_ids(index, ranking.where):
        return "filtered"
    if any(r.item.item_id == item.item_id for r in ranking.ranked):
        return "candidate"
    return "not_retrieved"


def explanation_for(
    user_id: str, item: Item, status: str, rec: Recommendation, ranking: Ranking, timeline: PopularityTimeline, about_terms: list[str]
) -> Explanation:
    """The Explanation of ``item``'s place (``status``, its scored ``rec``) in ``ranking``; ``about_terms``: the stemmed
    words of what the request is about that some item's story contains."""
    context = ranking.context
    matched = {c: context.profile.distribution[c] for c in item.categories if c in context.profile.distribution}
    applied = ranking.request.applied if ranking.request else None
    request_notes = [applied.summary()] if applied and applied.summary() else []
    if applied and (fit := applied.item_fit(item)):
        request_notes.append(fit)
    story_says = bool(about_terms) and bool(set(about_terms) & set(stems(item.description)))
    explanation = Explanation(
        user_id=str(user_id),
        item=item,
        status=status,
        rank=rec.rank or None,
        scores=rec.scores,
        similar_past_items=rec.because,
        liked_together=rec.liked_together,
        interest=rec.interest,
        matched_categories=matched,
        request_notes=request_notes,
        understood=ranking.request.to_dict() if ranking.request else None,
        trend=rec.trend or (timeline.trend(item.item_id, ranking.now) if "recent_popularity" in rec.scores else None),
        story=story_quote(item, about_terms),
        story_matches=applied.about if story_says and applied else None,
        keywords_match=[k for k in item.keywords if set(about_terms) & set(stems(k))],
    )
    explanation.sentences = explanation_sentences(explanation)
    return explanation
