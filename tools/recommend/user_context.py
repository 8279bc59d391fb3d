"""Everything about one user that a ranking needs, fetched once per request."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from whyrec.store.records import Interaction
from whyrec.tools.recommend.profile import InterestProfile
from whyrec.tools.recommend.retrieval import RetrievalQuery


@dataclass
class UserContext:
    """Everything about one user that a ranking needs, fetched once."""

    profile: InterestProfile
    history: list[Interaction]  # with feedback folded in: likes added, dislikes removed
    vectors: dict[str, np.ndarray]
    seen: set[str]
    disliked: set[str]
    queries: list[RetrievalQuery] = field(default_factory=list)
    collaborative: dict[str, float] = field(default_factory=dict)  # item_id -> score in [0, 1]
    recent: dict[str, float] = field(default_factory=dict)  # item_id -> popular lately at the user's moment, in [0, 1]
    popular_lately: list[str] = field(default_factory=list)  # those items, most popular first
    about: np.ndarray | None = None  # how well each item's text matches what the request is about (ItemTextSearch order), in [0, 1]
