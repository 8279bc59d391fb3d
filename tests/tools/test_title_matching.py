"""Titles as people say them: one function shows a catalog title, and every spelling still finds the item."""

from __future__ import annotations

import pytest
from whyrec.store.records import Item
from whyrec.tools.explanation import item_card
from whyrec.tools.title_matching import TitleIndex, display_title, normalise_title
from whyrec.tools.tool_text import card


@pytest.mark.parametrize(
    ("catalog", "shown"),
    [
        ("Fog, The (1980)", "The Fog (1980)"),
        ("Usual Suspects, The", "The Usual Suspects"),
        ("American Werewolf in London, An", "An American Werewolf in London"),
        ("Postino, Il", "Il Postino"),
        ("Good, The Bad and The Ugly, The", "The Good, The Bad and The Ugly"),
        ("Blue Angel, The (Blaue Engel, Der)", "The Blue Angel (Der Blaue Engel)"),
        ("Star Maker, The (Uomo delle stelle, L')", "The Star Maker (L'Uomo delle stelle)"),
        ("Die xue shuang xiong (Killer, The)", "Die xue shuang xiong (The Killer)"),
        # already natural, or no article to move: unchanged
        ("The Fog", "The Fog"),
        ("Seven (Se7en)", "Seven (Se7en)"),
        ("Heat (1995)", "Heat (1995)"),
        ("Live and Let Die", "Live and Let Die"),
    ],
)
def test_a_catalog_title_is_shown_the_way_people_say_it(catalog: str, shown: str) -> None:
    assert display_title(catalog) == shown
    assert display_title(shown) == shown  # showing twice changes nothing
    assert normalise_title(shown) == normalise_title(catalog)  # both spellings are one title


def test_every_spelling_a_person_types_finds_the_item_and_the_catalog_keeps_its_own() -> None:
    fog = Item("fog", "Fog, The", year=1980, categories=("Horror",))
    index = TitleIndex({"fog": fog})
    for typed in ("the fog", "fog, the", "The Fog (1980)", "Fog, The (1980)", "THE FOG"):
        assert index.resolve(typed) is fog, typed
    assert fog.title == "Fog, The"  # the stored record is untouched
    assert card(fog)["title"] == item_card(fog)["title"] == "The Fog"
    assert card(fog)["item_id"] == item_card(fog)["item_id"] == "fog"
