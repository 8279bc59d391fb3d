"""The request being read: :class:`RequestDraft`, the one mutable form of a request, written only during parsing.

The readers (years, categories, languages, moods, titles) each add what they find to the draft while
:meth:`~whyrec.tools.understanding.parser.RequestParser.parse` runs; it then hands out the frozen
:class:`~whyrec.tools.understanding.request.ParsedRequest` made once from it, so nothing downstream (the
recommender, the chat, the API) can change what was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from whyrec.tools.understanding.request import CategoryAsk, ParsedRequest, YearRange, quoted


@dataclass
class RequestDraft:
    """The fields of :class:`~whyrec.tools.understanding.request.ParsedRequest` (see it for what each means), as
    lists and a dict the readers append to."""

    text: str
    query_text: str = ""
    about: str = ""
    years: YearRange | None = None
    categories: list[CategoryAsk] = field(default_factory=list)
    exclude_categories: list[CategoryAsk] = field(default_factory=list)
    exclude_item_ids: list[str] = field(default_factory=list)
    boost_categories: list[CategoryAsk] = field(default_factory=list)
    boost_years: list[YearRange] = field(default_factory=list)
    like_item_ids: list[str] = field(default_factory=list)
    unknown_titles: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    language: str | None = None
    query_vector: np.ndarray | None = field(default=None, repr=False)
    unknown_title_vectors: list[np.ndarray] = field(default_factory=list, repr=False)
    titles: dict[str, str] = field(default_factory=dict, repr=False)

    def quoted(self, limit: int = 60) -> str:
        """The request in quotes, as :meth:`ParsedRequest.quoted` writes it (for a note written while reading)."""
        return quoted(self.text, limit)

    def freeze(self) -> ParsedRequest:
        """What was read, as the value nobody changes (its lists become tuples, its titles a read-only mapping)."""
        return ParsedRequest(**{f.name: getattr(self, f.name) for f in fields(self)})
