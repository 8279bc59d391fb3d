"""What a request asks for, as a value: :class:`ParsedRequest` with its years, categories, titles and notes.

Hard constraints filter (years, categories, exclusions), soft ones boost (categories a mood word resembles, "like
<title>", "old"), and the notes say in plain words what was understood, so the person sees it. The rule parser
(:class:`~whyrec.tools.understanding.parser.RequestParser`) and the model's structured reading
(:mod:`~whyrec.tools.understanding.structured`) both produce one; the recommender applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from whyrec.store.records import Item

YEAR_BOOST_SPAN = 5.0  # a year preference ("old", or contradicting years) fades to nothing this many years outside its range


@dataclass(frozen=True)
class YearRange:
    """An inclusive year range; an open end is None. ``source`` is the words it came from."""

    start: int | None
    end: int | None
    source: str

    @property
    def label(self) -> str:
        if self.start is not None and self.end is not None:
            return str(self.start) if self.start == self.end else f"{self.start}–{self.end}"
        if self.start is not None:
            return f"{self.start} or later"
        return f"{self.end} or earlier"

    def contains(self, year: int | None) -> bool:
        if year is None:
            return False
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)

    def distance(self, year: int | None) -> float:
        """Years outside the range (0 inside it); unknown years are far."""
        if year is None:
            return 100.0
        if self.start is not None and year < self.start:
            return float(self.start - year)
        if self.end is not None and year > self.end:
            return float(year - self.end)
        return 0.0

    def intersect(self, other: YearRange) -> YearRange | None:
        start = max((y for y in (self.start, other.start) if y is not None), default=None)
        end = min((y for y in (self.end, other.end) if y is not None), default=None)
        if start is not None and end is not None and start > end:
            return None
        return YearRange(start, end, f"{self.source}; {other.source}")


@dataclass(frozen=True)
class CategoryAsk:
    """Categories one phrase asks for, any of them will do: ("Horror", "Thriller") for "scary"."""

    categories: tuple[str, ...]
    source: str  # the words of the request
    how: str  # "name", "lexicon" or "embedding"
    similarity: float | None = None  # for an embedding match

    @property
    def label(self) -> str:
        return " or ".join(self.categories)

    def met_by(self, item: Item) -> bool:
        return any(c in item.categories for c in self.categories)


@dataclass(frozen=True)
class ParsedRequest:
    """A request read into constraints. Hard ones filter, soft ones boost, notes say what was understood.

    Frozen, with tuples and a read-only mapping, because what the parser read is shown as "Understood:" after the
    recommender applied it: a stage that wants a changed request makes a new one (``dataclasses.replace``; lists
    given to it become tuples). The parser writes into a :class:`~whyrec.tools.understanding.draft.RequestDraft`.
    """

    text: str
    query_text: str = ""  # what is embedded as the request: the text less exclusions and noise; "" = nothing
    about: str = ""  # what the request is about, less its filters and filler ("shark", "set on a submarine"); "" = nothing
    years: YearRange | None = None  # hard
    categories: tuple[CategoryAsk, ...] = ()  # hard: each ask any-of, all asks together
    exclude_categories: tuple[CategoryAsk, ...] = ()  # hard
    exclude_item_ids: tuple[str, ...] = ()  # hard
    boost_categories: tuple[CategoryAsk, ...] = ()  # soft
    boost_years: tuple[YearRange, ...] = ()  # soft ("old", or two year asks that contradict)
    like_item_ids: tuple[str, ...] = ()  # soft: more like these
    unknown_titles: tuple[str, ...] = ()  # soft: their words join the request's meaning
    unread: tuple[str, ...] = ()  # phrases read as nothing: another language or no words at all
    unaccounted: tuple[str, ...] = ()  # words (lower case, in order) the rules did not read for sure
    notes: tuple[str, ...] = ()
    problem: str | None = None  # "gibberish", "language", "contradiction", or None
    language: str | None = None  # the language the phrasebook wrote ``text`` out of ("es"), None for English
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    unknown_title_vectors: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    titles: Mapping[str, str] = field(default_factory=dict, repr=False)  # item_id -> title, for the words

    def __post_init__(self) -> None:
        for name in _SEQUENCES:
            if not isinstance(value := getattr(self, name), tuple):
                object.__setattr__(self, name, tuple(value))
        if not isinstance(self.titles, MappingProxyType):
            object.__setattr__(self, "titles", MappingProxyType(dict(self.titles)))

    def __getstate__(self) -> dict:
        """A copy or a pickle holds the titles as a plain dict (a read-only mapping cannot be copied)."""
        return {**self.__dict__, "titles": dict(self.titles)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, titles=MappingProxyType(state["titles"]))

    @property
    def has_hard(self) -> bool:
        return bool(self.years or self.categories or self.exclude_categories or self.exclude_item_ids)

    @property
    def beyond_filters(self) -> bool:
        """Whether the words say more than the filters and boosts read from them (a subject: ``about``). Only then
        is the request's embedding a signal: "a horror movie from the 80s" is all filter, and its embedding would
        only rank the 80s horror films by how much their stories resemble the words "horror movie"."""
        return bool(self.about)

    @property
    def rules_sure(self) -> bool:
        """Whether the rules account for every word, so a chat may act on them alone; otherwise one model call reads
        the message ("something to cheer me up", "una película de terror"). Gibberish counts as sure: no model reads
        "asdkjh" better, and the note already says it made no sense."""
        return self.problem in (None, "gibberish") and not self.unread and not self.unaccounted

    @property
    def has_soft(self) -> bool:
        return bool(self.boost_categories or self.boost_years)

    def quoted(self, limit: int = 60) -> str:
        """The request in quotes; a long one keeps its end, where a chat's newest refinement is (its start is older)."""
        return quoted(self.text, limit)

    def summary(self) -> str:
        """One sentence: what the request filtered and boosted, and why ("because you asked for …")."""
        hard = []
        if self.years:
            hard.append(self.years.label)
        hard += [c.label for c in self.categories]
        parts = []
        if hard:
            parts.append("filtered to " + " and ".join(hard))
        left_out = [c.label for c in self.exclude_categories] + [self.titles.get(i, i) for i in self.exclude_item_ids]
        if left_out:
            parts.append("leaving out " + ", ".join(left_out))
        soft = [c.label for c in self.boost_categories] + [y.label for y in self.boost_years]
        if soft:
            parts.append("favouring " + " and ".join(soft))
        if self.about:
            parts.append(f"searching the stories for '{self.about}'")
        if self.like_item_ids or self.unknown_titles:
            parts.append("more like " + ", ".join([f"'{self.titles.get(i, i)}'" for i in self.like_item_ids] + [f"'{t}'" for t in self.unknown_titles]))
        if not parts:
            return ""
        text = "; ".join(parts)
        return f"{text[0].upper()}{text[1:]} because you asked for {self.quoted()}."

    def to_dict(self) -> dict:
        """What was understood, for a UI or an API caller to show (no vectors)."""
        return {
            "request": self.text,
            "summary": self.summary(),
            "years": {"min": self.years.start, "max": self.years.end, "label": self.years.label, "from": self.years.source} if self.years else None,
            "categories": [_ask_dict(c) for c in self.categories],
            "excluded_categories": [_ask_dict(c) for c in self.exclude_categories],
            "excluded_items": [{"item_id": i, "title": self.titles.get(i, i)} for i in self.exclude_item_ids],
            "boost_categories": [_ask_dict(c) for c in self.boost_categories],
            "boost_years": [{"min": y.start, "max": y.end, "label": y.label, "from": y.source} for y in self.boost_years],
            "like_items": [{"item_id": i, "title": self.titles.get(i, i)} for i in self.like_item_ids],
            "about": self.about,
            "unknown_titles": list(self.unknown_titles),
            "unread": list(self.unread),
            "unaccounted": list(self.unaccounted),
            "notes": list(self.notes),
            "problem": self.problem,
        }

    # --- what an item meets ------------------------------------------------------------

    def soft_match(self, item: Item) -> float | None:
        """Share of the soft asks the item meets (a year ask counts partly when near), None without soft asks."""
        scores = [1.0 if c.met_by(item) else 0.0 for c in self.boost_categories]
        if self.boost_years:
            scores.append(max(max(0.0, 1.0 - y.distance(item.year) / YEAR_BOOST_SPAN) for y in self.boost_years))
        return float(np.mean(scores)) if scores else None

    def item_fit(self, item: Item) -> str | None:
        """How one item stands against the request, in words (for "why?" and "why not?"), said after :meth:`summary`:
        "that request" refers back to it, so a long chat request is not quoted twice in a row."""
        if item.item_id in self.like_item_ids:
            return f"You asked for items like it ({self.quoted()}), so it is not listed itself."
        if not (self.has_hard or self.has_soft):
            return None
        misses = []
        if self.years and not self.years.contains(item.year):
            misses.append(f"it is from {item.year or 'an unknown year'}, outside {self.years.label}")
        misses += [f"it is not {c.label}" for c in self.categories if not c.met_by(item)]
        misses += [f"it is {c.label}, which you asked to leave out" for c in self.exclude_categories if c.met_by(item)]
        if item.item_id in self.exclude_item_ids:
            misses.append("you asked to leave it out")
        if misses:
            return "That request rules it out: " + "; ".join(misses) + "."  # after summary(), which quotes the request
        met = []
        if self.years:
            met.append(f"from {item.year}")
        met += [c for ask in self.categories + self.boost_categories for c in ask.categories if c in item.categories]
        if not met:
            return None
        return "It fits that request: " + ", ".join(dict.fromkeys(met)) + "."


_SEQUENCES = ("categories", "exclude_categories", "exclude_item_ids", "boost_categories", "boost_years", "like_item_ids",
              "unknown_titles", "unread", "unaccounted", "notes", "unknown_title_vectors")  # the tuple fields of ParsedRequest


def quoted(text: str, limit: int = 60) -> str:
    """``text`` in quotes; a long one keeps its end, where a chat's newest refinement is (its start is older)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return f"'{text}'"
    tail = text[-(limit - 1) :]
    return f"'…{tail.split(' ', 1)[-1] if ' ' in tail else tail}'"


def _ask_dict(ask: CategoryAsk) -> dict:
    return {"categories": list(ask.categories), "label": ask.label, "from": ask.source, "how": ask.how}
