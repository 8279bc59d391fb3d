"""The answer check: lines naming items no tool returned are cut, honest lines are kept."""

from __future__ import annotations

import pytest

from whyrec.agent.grounding import Grounding, ground_answer, mentioned_items
from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex

from tests.conftest import SMALL_CATALOG

CATALOG = {i.item_id: i for i in [*SMALL_CATALOG, Item("heat", "Heat", year=1995), Item("us", "Usual Suspects, The", year=1995)]}
TITLES = TitleIndex(CATALOG)
PROFILE_DATA = '{"summary":"you like Sci-Fi & Action","interests":[{"interest":"Sci-Fi & Action","share":"60%"}]}'


@pytest.fixture
def grounding() -> Grounding:
    returned = [{"item_id": "space3", "title": "Alien Frontier"}, {"item_id": "space4", "title": "Nebula Run"}]
    return Grounding.build(TITLES, returned, [PROFILE_DATA], user_text="I loved Star Voyage, something similar?")


@pytest.mark.parametrize(
    "line",
    [
        "1. Alien Frontier (2001) - first contact, like Star Voyage which you loved.",
        "2. **Nebula Run** - smugglers and starships.",
        "- Sci-Fi & Action: 60% of your history",
        "**Why:** both match your recent Sci-Fi streak.",
        "Here are two picks for tonight:",
        "Feel the heat of summer with these.",
        "1. A tense chase through a nebula",
        "",
    ],
)
def test_lines_naming_only_returned_items_or_plain_words_are_kept(grounding: Grounding, line: str) -> None:
    assert grounding.problems(line) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("3. Inception (2010) - a mind-bending thriller.", "'Inception'"),
        ("4. **The Matrix**: a classic.", "'The Matrix'"),
        ('You would also like "Interstellar".', "'Interstellar'"),
        ("5. Love Letters - a romance.", "'Love Letters' (rom3)"),
        ("Or try The Usual Suspects.", "'Usual Suspects, The'"),
        ("Also item crime2 might fit.", "item id crime2"),
        ("4. Star Wars: Episode VIII", "'Star Wars'"),
    ],
)
def test_lines_naming_anything_else_are_cut(grounding: Grounding, line: str, problem: str) -> None:
    problems = grounding.problems(line)
    assert problems and problem in problems[0]


def test_ground_answer_keeps_the_rest_in_order(grounding: Grounding) -> None:
    answer = "Try these:\n1. Alien Frontier - aliens.\n2. Inception (2010) - dreams.\n3. Nebula Run - speed.\nEnjoy!"
    text, dropped = ground_answer(answer, grounding)
    assert text == "Try these:\n1. Alien Frontier - aliens.\n3. Nebula Run - speed.\nEnjoy!"
    assert dropped == ["2. Inception (2010) - dreams."]


def test_a_title_under_a_second_id_counts_as_the_returned_item() -> None:
    catalog = {"a": Item("a", "Twin Film", year=1990), "b": Item("b", "Twin Film", year=1990)}
    grounding = Grounding.build(TitleIndex(catalog), [{"item_id": "a"}], [])
    assert grounding.problems("1. Twin Film (1990) - good.") == []


def test_mentioned_items_in_order_once() -> None:
    text = "Nebula Run, then Alien Frontier, then Nebula Run again; 'Heat' too."
    assert [i.item_id for i in mentioned_items(text, TITLES)] == ["space4", "space3", "heat"]


def test_an_item_written_by_its_id_is_written_by_its_title(grounding: Grounding) -> None:
    line = grounding.correct("1. Space3 (2001) - first contact; see also space4.")
    assert line == "1. Alien Frontier (2001) - first contact; see also Nebula Run."
    assert grounding.problems(line) == []
    assert grounding.correct("the space3d effects") == "the space3d effects", "only whole ids"


def test_titles_in_the_form_people_read_are_grounded_and_invented_ones_still_cut() -> None:
    fog = Item("fog", "Fog, The", year=1980, categories=("Horror",))
    titles = TitleIndex({**CATALOG, "fog": fog, "thing": Item("thing", "Thing, The", year=1982)})
    # the tools hand out cards with the title as shown ("The Fog"); the catalog stores "Fog, The"
    grounding = Grounding.build(titles, [{"item_id": "fog", "title": "The Fog"}, {"item_id": "us", "title": "The Usual Suspects"}], [])

    for line in (
        "1. The Fog (1980) — fits your long-term interest in Horror",
        "2. **The Usual Suspects** - a twisty crime story.",
        "If you liked 'Fog, The', try it again.",
    ):
        assert grounding.problems(line) == [], line
    assert grounding.problems("3. The Thing (1982) - more horror.")  # in the catalog, but no tool returned it
    assert grounding.problems("4. The Shadow Hunters (1985) - a cult classic.")  # invented
    assert ground_answer("1. The Fog (1980)\n2. The Thing (1982)", grounding)[0] == "1. The Fog (1980)"
