"""One catalog's own words: its titles, its categories and the keys people write them by, its years.

Built once per catalog version (``Recommender.refresh_catalog``) and read by everything that turns words
into catalog terms: the request parser, the tool answers, the chat and the simulated systems. Before it,
each of those built its own title index (four per catalog) and normalised category names its own way, so
"crimes" was a category to the tools and not to the parser.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex

CATALOG_CATEGORY_NOISE = frozenset({"unknown", "other", "misc", "none", "n/a", ""})
"""Category names a catalog may carry that name no category."""


def category_key(name: str) -> str:
    """How a written category is looked up: letters and digits only, lower case, no plural ("comedies" is Comedy,
    as it is to the request parser).

    >>> [category_key(n) for n in ("Sci-Fi", "sci fi", "Children's", "childrens", "Crimes", "comedies", "Comedy")]
    ['scifi', 'scifi', 'children', 'children', 'crime', 'comedy', 'comedy']
    """
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return key[:-3] + "y" if key.endswith("ies") else key.rstrip("s")


@dataclass
class CatalogVocabulary:
    """The catalog's titles (with their other names), categories (most common first) and year span."""

    items: dict[str, Item]
    titles: TitleIndex = field(init=False)
    categories: list[str] = field(init=False)
    year_min: int | None = field(init=False)
    year_max: int | None = field(init=False)
    old_year: int | None = field(init=False)  # the 20th percentile of release years: "old" ends here
    new_year: int | None = field(init=False)  # the 80th: "new" starts here

    def __post_init__(self) -> None:
        self.titles = TitleIndex(self.items)
        counts = Counter(c for item in self.items.values() for c in item.categories)
        self.categories = [c for c, _ in counts.most_common() if c.strip().lower() not in CATALOG_CATEGORY_NOISE]
        self._by_key = {category_key(c): c for c in reversed(self.categories)}  # a clash keeps the commoner name
        years = sorted(i.year for i in self.items.values() if i.year)
        self.year_min = years[0] if years else None
        self.year_max = years[-1] if years else None
        self.old_year = int(np.percentile(years, 20)) if years else None
        self.new_year = int(np.percentile(years, 80)) if years else None

    def category(self, written: str) -> str | None:
        """The catalog's category a person or a model wrote ("crimes", "sci fi" → "Sci-Fi"), or None."""
        return self._by_key.get(category_key(written))

    def read_categories(self, written: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The catalog's categories that ``written`` names, and the written names that are none of them. The API
        refuses an unknown name and the tools drop it with a note; both read the names here, so they agree on which."""
        names = [(w, self.category(w)) for w in written]
        return tuple(name for _, name in names if name), tuple(w for w, name in names if name is None)

    def coverage(self) -> str:
        """The catalog's span in words, from its own years ("the catalog covers 1922–1998")."""
        if self.year_max is None:
            return f"the catalog has {len(self.items):,} items"
        return f"the catalog covers {self.year_min}–{self.year_max}"
