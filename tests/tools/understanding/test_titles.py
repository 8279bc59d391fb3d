"""Titles as people say them: one function shows a catalog title, and every spelling still finds the item."""

from __future__ import annotations

import pytest
from whyrec.store.records import Item
from whyrec.tools.recommend.explanation import item_card
from whyrec.tools.understanding.titles import TitleIndex, display_title, normalise_title
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


def test_a_short_form_in_a_title_is_found_spelled_out_and_the_other_way_round() -> None:
    films = {
        "sb": Item("sb", "Sunset Blvd. (1950)", year=1950, categories=("Drama",)),
        "mh": Item("mh", "Mr. Holland's Opus (1995)", year=1995, categories=("Drama",)),
        "rj": Item("rj", "Romeo and Juliet (1968)", year=1968, categories=("Drama",)),
    }
    index = TitleIndex(films)
    for typed, item in (("Sunset Boulevard", "sb"), ("sunset blvd", "sb"), ("Mister Holland's Opus", "mh"), ("Romeo & Juliet", "rj")):
        assert index.resolve(typed) is films[item], typed
    # "anything but Sunset Boulevard?" (a paraphrased rejection) named no film, and it was shown again
    assert [item.item_id for _, _, item in index.mentions("Sure, anything but Sunset Boulevard?")] == ["sb"]


def test_a_title_with_another_name_is_found_by_either_name_or_both() -> None:
    water = Item("1", "Like Water For Chocolate (Como agua para chocolate) (1992)")
    index = TitleIndex({"1": water, "2": Item("2", "Seven (Se7en) (1995)")})
    for said in ("Like Water For Chocolate", "Como agua para chocolate", "like water for chocolate (como agua para chocolate)"):
        assert index.resolve(said) is water, said
    assert index.resolve("Se7en").item_id == "2" and index.resolve("Seven").item_id == "2"
    assert index.resolve("Chocolate") is None


def test_punctuation_inside_a_named_title_is_kept_whole_and_nothing_else_moves() -> None:
    index = TitleIndex({"1": Item("1", "Hot Shots! Part Deux (1993)"), "2": Item("2", "Heat (1995)")})
    text = "no, not Hot Shots! Part Deux. Heat! Wow."
    kept = index.keep_titles_whole(text)
    assert len(kept) == len(text) and "Hot Shots! Part Deux" not in kept and kept.endswith(". Heat! Wow.")
    assert index.resolve(kept[8:28]).item_id == "1"  # the twins normalise back: the span still names the film
