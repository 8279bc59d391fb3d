"""What a later refinement overrides: when a request both asks for something and rules it out, the last words win.

A chat appends each refinement to its request as a new sentence ("like Toy Story. Not Toy Story, something older"),
so the parser may read a title or a category both ways; these settle each clash in the
:class:`~whyrec.tools.understanding.draft.RequestDraft` by where the request said it (``said_at``: ``("like" | "not" |
"ask", item id or category)`` → character offset).
"""

from __future__ import annotations

from dataclasses import replace

from whyrec.tools.understanding.draft import RequestDraft


def settle_like_and_not(draft: RequestDraft, said_at: dict[tuple[str, str], int]) -> None:
    """An item both liked and left out keeps only what the request said last: a chat's refinements are
    appended to its request, so "like Toy Story. Not Toy Story, something older" must stop asking for more
    like Toy Story (and "not X. Actually, more like X" must stop leaving X out)."""
    for item_id in set(draft.like_item_ids) & set(draft.exclude_item_ids):
        if said_at.get(("like", item_id), -1) > said_at.get(("not", item_id), -1):
            draft.exclude_item_ids.remove(item_id)
        else:
            draft.like_item_ids.remove(item_id)


def settle_asked_and_left_out(draft: RequestDraft, said_at: dict[tuple[str, str], int]) -> None:
    """A category both asked for and left out keeps only what the request said last ("something scary from the
    80s. Not too scary": 80s films that are not Horror or Thriller; "no horror. OK, horror then": Horror). Both at
    once filtered to it and away from it, so nothing matched and the notes said so twice."""
    for asks in (draft.categories, draft.boost_categories):
        for ask in list(asks):
            dropped = {c for c in ask.categories if said_at.get(("not", c), -1) > said_at.get(("ask", c), len(draft.text))}
            if dropped:
                kept = tuple(c for c in ask.categories if c not in dropped)
                asks[asks.index(ask)] = replace(ask, categories=kept)
    draft.categories = [a for a in draft.categories if a.categories]
    draft.boost_categories = [a for a in draft.boost_categories if a.categories]
    for ask in list(draft.exclude_categories):
        kept = tuple(c for c in ask.categories if said_at.get(("ask", c), -1) < said_at.get(("not", c), len(draft.text)))
        if kept != ask.categories:
            draft.exclude_categories[draft.exclude_categories.index(ask)] = replace(ask, categories=kept)
    draft.exclude_categories = [a for a in draft.exclude_categories if a.categories]
