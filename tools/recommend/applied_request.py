"""A parsed request applied to the catalog: the filter it became, what ranks in tiers, and what was widened or dropped.

The parser's :class:`~whyrec.tools.understanding.request.ParsedRequest` says what the words asked; it is never
changed afterwards. Applying it for one list (:func:`apply_request`) meets the person's explicit filters and the
unseen part of the catalog: an explicit filter wins a conflict, and when nothing unseen meets every hard
constraint they are relaxed one at a time into preferences. The :class:`AppliedRequest` keeps both, so
"Understood:" shows what was read and an "Applied:" line what was used instead, next to the note saying why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.retrieval import CatalogFacets, ItemFilter
from whyrec.tools.understanding.request import CategoryAsk, ParsedRequest, YearRange


def _items(n: int) -> str:
    return f"{n} unseen item" if n == 1 else f"{n} unseen items"


def explicit_filter(options: RecommendOptions) -> ItemFilter:
    """The person's own filters (categories, years), before any request is read."""
    return ItemFilter(options.categories, year_min=options.year_min, year_max=options.year_max)


@dataclass(frozen=True)
class AppliedRequest:
    """What a request did to one list: ``parsed`` as read, ``applied`` the same constraints as they were used.

    ``applied`` is ``parsed`` with the asks that were widened or dropped moved from hard to soft (a year ask
    the person's filter overrode becomes a boost, a relaxed set of category asks one any-of ask); it is what
    scores the soft asks and what "why?" judges an item against. ``tiers``: the category groups whose items rank
    first when several asks were relaxed into one. ``notes``: the parser's notes, then an "Applied:" line and why,
    when the application changed anything.
    """

    parsed: ParsedRequest
    applied: ParsedRequest
    filter: ItemFilter
    tiers: tuple[tuple[str, ...], ...] = ()

    @property
    def notes(self) -> list[str]:
        return list(self.applied.notes)

    def to_dict(self) -> dict:
        """The request as applied, for a UI or an API caller to show (its notes say what was read)."""
        return self.applied.to_dict()


def changes(parsed: ParsedRequest, applied: ParsedRequest) -> list[str]:
    """What the application used differently from what was read, in the words of the "Understood:" line."""
    said = []
    if parsed.years and not applied.years:
        said.append(f"years {parsed.years.label} as a preference, not a filter")
    relaxed = [a for a in applied.categories if a.how == "relaxed"]
    if relaxed:
        said.append(f"{relaxed[0].label}, items that are {' and '.join(a.label for a in parsed.categories)} first")
    else:
        said += [f"{a.label} as a preference, not a filter" for a in parsed.categories if a not in applied.categories]
    said += [f"'not {a.source}' not applied" for a in parsed.exclude_categories if a not in applied.exclude_categories]
    return said


def apply_request(
    parsed: ParsedRequest, options: RecommendOptions, facets: CatalogFacets, catalog: Collection[str], exclude: set[str]
) -> AppliedRequest:
    """The filter: ``options``' explicit filters merged with the request's hard constraints, over ``catalog`` less ``exclude``.

    Explicit filters win a conflict (and a note says so). When nothing unseen meets every hard constraint, they
    are relaxed one at a time into preferences, each with a note: several category asks first ("funny sci-fi":
    items that are both come first, then either), then the request's years, then its categories.
    """
    explicit = explicit_filter(options)
    if not parsed.has_hard:
        return AppliedRequest(parsed, parsed, explicit)
    k, categories = options.k, options.categories
    year_min, year_max = options.year_min, options.year_max
    asked_years = parsed.years
    asks, boost_asks, boost_years = list(parsed.categories), list(parsed.boost_categories), list(parsed.boost_years)
    notes: list[str] = []
    if asked_years and (year_min is not None or year_max is not None):
        yours = YearRange(year_min, year_max, "your year filter")
        both = yours.intersect(asked_years)
        if both is None:
            notes.append(f"Your year filter ({yours.label}) wins over {asked_years.label} from '{asked_years.source}' in your request.")
            boost_years.append(asked_years)
            asked_years = None
        else:
            year_min, year_max = both.start, both.end
    elif asked_years:
        year_min, year_max = asked_years.start, asked_years.end
    chosen = set(categories)
    clashing = [a for a in parsed.exclude_categories if chosen & set(a.categories)]
    for ask in clashing:
        notes.append(f"Your category filter includes {ask.label}, so 'not {ask.source}' in your request was not applied.")
    excluded = [a for a in parsed.exclude_categories if a not in clashing]
    none_of = tuple(c for a in excluded for c in a.categories)
    blocked = exclude | set(parsed.exclude_item_ids) | set(parsed.like_item_ids)
    pool = set(catalog) - blocked

    def build() -> ItemFilter:
        return ItemFilter(categories, tuple(a.categories for a in asks), none_of, year_min, year_max)

    def count(f: ItemFilter) -> int:
        return len(facets.select(f, pool))

    def soften(softened: list[CategoryAsk]) -> None:
        for ask in softened:
            asks.remove(ask)
            boost_asks.append(ask)

    item_filter, tiers = build(), []
    matching = count(item_filter)
    if matching < k and len(asks) > 1:
        several = list(asks)
        union = tuple(dict.fromkeys(c for a in several for c in a.categories))
        relaxed = replace(item_filter, all_of=(union,))
        if count(relaxed) > matching:
            both = " and ".join(a.label for a in several)
            notes.append(
                f"Only {_items(matching)} {'is' if matching == 1 else 'are'} {both} at once: they come first, then items that are some of these."
                if matching
                else f"No unseen item is {both} at once, so these are items that are some of these."
            )
            tiers = [a.categories for a in several]
            soften(several)
            item_filter = relaxed
            asks.append(CategoryAsk(union, " / ".join(a.source for a in several), "relaxed"))
            matching = count(item_filter)
    if matching == 0 and categories and asks:
        notes.append(f"Your category filter ({', '.join(categories)}) wins over {' and '.join(a.label for a in asks)} from your request.")
        soften([a for a in asks if a.how != "relaxed"])
        asks = [a for a in asks if a.how != "relaxed"]
        item_filter, tiers = build(), []
        matching = count(item_filter)
    if matching == 0 and asked_years and asks:
        wanted = " and ".join([asked_years.label] + [a.label for a in asks])
        notes.append(f"Nothing you have not seen is {wanted}, so these are the closest: {asks[0].label} from other years first.")
        boost_years.append(asked_years)
        asked_years = None
        year_min, year_max = explicit.year_min, explicit.year_max
        item_filter = replace(item_filter, year_min=year_min, year_max=year_max)
        matching = count(item_filter)
    if matching == 0 and asks:
        notes.append(f"Nothing you have not seen is {' and '.join(a.label for a in asks)} here, so these lean towards it instead.")
        asks = [a for a in asks if a.how != "relaxed"]
        soften(list(asks))
        tiers = []
        item_filter = replace(item_filter, any_of=explicit.any_of, all_of=())
        matching = count(item_filter)
    if matching == 0 and asked_years:
        notes.append(f"Nothing you have not seen is from {asked_years.label}, so these are from the nearest years.")
        boost_years.append(asked_years)
        asked_years = None
        item_filter = replace(item_filter, year_min=explicit.year_min, year_max=explicit.year_max)
        matching = count(item_filter)
    if 0 < matching < k:
        notes.append(f"Only {_items(matching)} {'matches' if matching == 1 else 'match'} what you asked for.")
    applied = replace(
        parsed, years=asked_years, categories=asks, exclude_categories=excluded, boost_categories=boost_asks, boost_years=boost_years
    )
    said = changes(parsed, applied)
    applied = replace(applied, notes=[*parsed.notes, *(["Applied: " + "; ".join(said) + "."] if said else []), *notes])
    return AppliedRequest(parsed, applied, item_filter, tuple(tiers))
