"""Typed records that every layer passes around: catalog items, interactions, users."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, get_args


@dataclass(frozen=True)
class Item:
    """A catalog entry. ``item_id`` is a string so any catalog's ids fit."""

    item_id: str
    title: str
    description: str = ""
    categories: tuple[str, ...] = ()
    year: int | None = None
    keywords: tuple[str, ...] = field(default=(), kw_only=True)
    """Short subject tags ("time travel", "heist"), in the catalogue's order. Keyword-only, so the
    positional ``Item(id, title, description, categories, year, metadata)`` keeps its meaning."""
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def text(self) -> str:
        """The text we embed: title, year, categories, then the free description."""
        head = f"{self.title} ({self.year})" if self.year else self.title
        parts = [head]
        if self.categories:
            parts.append("Genres: " + ", ".join(self.categories))
        if self.description:
            parts.append(self.description)
        return ". ".join(parts)

    @property
    def text_hash(self) -> str:
        """Identifies the embedded text, so an unchanged item is never embedded again."""
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


LIKED_RATING = 4.0
"""A rating at or above this counts as "liked" (so 3.5 does not); an unrated event always does."""


@dataclass(frozen=True)
class Interaction:
    """One thing a user did with an item. ``timestamp`` is Unix seconds (UTC)."""

    user_id: str
    item_id: str
    timestamp: float
    rating: float | None = None
    event: str = "rating"

    @property
    def liked(self) -> bool:
        """The one "liked" rule every part of whyrec uses: profiles, evidence, reranker training."""
        return self.rating is None or self.rating >= LIKED_RATING


@dataclass(frozen=True)
class User:
    user_id: str
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


FeedbackKind = Literal["liked", "disliked", "not_interested"]
"""What a user can tell whyrec about an item. The one declaration of the kinds: SQLite's CHECK
constraint, the tools' argument schema and the API endpoint's type all import it."""
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
NEGATIVE_FEEDBACK: tuple[FeedbackKind, ...] = ("disliked", "not_interested")
"""Kinds that take an item (and its near-duplicates) out of the user's profile and recommendations."""


@dataclass
class Dataset:
    """What an ingest reads before anything is written: validated, self-consistent."""

    name: str
    items: list[Item]
    interactions: list[Interaction]
    users: list[User] = field(default_factory=list)
