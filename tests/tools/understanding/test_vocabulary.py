"""One catalog's words: titles, categories by the keys people and models write them with, years."""

from __future__ import annotations

from whyrec.store.records import Item
from whyrec.tools.understanding.vocabulary import CatalogVocabulary, category_key

ITEMS = {
    "1": Item("1", "Usual Suspects, The", categories=("Crime", "Thriller"), year=1995),
    "2": Item("2", "Alien", categories=("Sci-Fi", "Horror"), year=1979),
    "3": Item("3", "Toy Story", categories=("Children's", "Comedy", "unknown"), year=1995),
    "4": Item("4", "Heat", categories=("Crime",), year=1995),
}


def test_a_category_is_found_however_it_is_written() -> None:
    words = CatalogVocabulary(ITEMS)

    assert [words.category(w) for w in ("crimes", "CRIME", "sci fi", "scifi", "childrens", "Children's", "comedies", "westerns")] == [
        "Crime", "Crime", "Sci-Fi", "Sci-Fi", "Children's", "Children's", "Comedy", None,
    ]
    assert words.categories[0] == "Crime" and "unknown" not in words.categories
    assert category_key("Film-Noir") == "filmnoir"


def test_titles_and_years_are_the_catalogs_own() -> None:
    words = CatalogVocabulary(ITEMS)

    assert words.titles.resolve("The Usual Suspects").item_id == "1"
    assert (words.year_min, words.year_max) == (1979, 1995)
    assert words.coverage() == "the catalog covers 1979–1995"
    assert CatalogVocabulary({}).coverage() == "the catalog has 0 items"
