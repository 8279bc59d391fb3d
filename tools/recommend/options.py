"""What one recommendation is asked with: the one type every front end builds.

The tool answers, the LangChain tools, the JSON API and the page each take their own public argument names
(``like_item``, ``exclude``, ``like_item_id``…), because models and clients already call them so; each maps
them to a :class:`RecommendOptions` once, at its edge, and :class:`~whyrec.tools.recommend.recommender.Recommender`
reads nothing else. Bad values are refused here, where the options are made, with the one-line error a person
can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from whyrec.store.errors import InputError
from whyrec.store.records import Interaction


@dataclass(frozen=True)
class RecommendOptions:
    """A request for a list: what is asked (``request``), how many (``k``), and the knobs that filter and shape it.

    ``categories``: only items in at least one of them; ``year_min``/``year_max``: inclusive years;
    ``diversity``: 0 (most relevant) to 1 (most varied), None for ``settings.diversity``; ``exclude_seen``: leave
    out what the user rated; ``like_item_id``: "more like this" (the item itself is left out);
    ``exclude_item_ids``: items to leave out, e.g. those already shown when a chat asks for more; ``history``:
    interactions used instead of the stored history and feedback (evaluation, or a chatbot that keeps its own);
    ``now``: the moment of the request in Unix seconds ("popular lately" is counted before it; None is the
    recommender's moment, the present for a live user).
    """

    request: str | None = None
    k: int = 10
    categories: Sequence[str] | None = ()  # kept as a tuple (None: no filter)
    year_min: int | None = None
    year_max: int | None = None
    diversity: float | None = None
    exclude_seen: bool = True
    like_item_id: str | None = None
    exclude_item_ids: Sequence[str] = ()  # kept as a tuple of str
    history: Sequence[Interaction] | None = field(default=None, repr=False)  # kept as a tuple
    now: float | None = None

    def __post_init__(self) -> None:
        # lists are welcome (a JSON caller has no tuples); kept as tuples so that the options stay frozen and hashable
        object.__setattr__(self, "categories", tuple(self.categories or ()))
        object.__setattr__(self, "exclude_item_ids", tuple(str(i) for i in self.exclude_item_ids or ()))
        if self.history is not None:
            object.__setattr__(self, "history", tuple(self.history))
        if self.like_item_id is not None:
            object.__setattr__(self, "like_item_id", str(self.like_item_id))
        if self.k < 1:
            raise InputError(f"k={self.k} — ask for at least one recommendation")
        if self.diversity is not None and not 0.0 <= self.diversity <= 1.0:
            raise InputError(f"diversity={self.diversity} — use a number from 0 (most relevant) to 1 (most varied)")

    @property
    def asked(self) -> str | None:
        """The request, or None when it is empty or only spaces (nothing asked: the history alone decides)."""
        return self.request if self.request and self.request.strip() else None

