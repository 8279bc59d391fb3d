"""The no-LLM router: which tool a request reaches, and with what."""

from __future__ import annotations

import pytest

from whyrec.agent.router import feedback_kind, find_item, gives_feedback, route
from whyrec.agent.templates import phrase
from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex

from tests.conftest import SMALL_CATALOG

TITLES = TitleIndex({i.item_id: i for i in [*SMALL_CATALOG, Item("jaws", "Jaws", year=1975)]})


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("Recommend me something", "recommend", {}),
        ("what should I watch next?", "recommend", {}),
        ("Something funny with aliens", "recommend", {"request": "Something funny with aliens"}),
        ("More like Nebula Run please", "recommend", {"like_item": "space4"}),
        ("I like sci-fi, any tips?", "recommend", {"request": "I like sci-fi, any tips?"}),
        ("Why Alien Frontier?", "explain_recommendation", {"item_id": "space3"}),
        ("why not love letters", "explain_recommendation", {"item_id": "rom3"}),
        ("Explain item crime2", "explain_recommendation", {"item_id": "crime2"}),
        ("Summarise my interests", "get_interest_profile", {}),
        ("What do I like?", "get_interest_profile", {}),
        ("I loved The Heist", "record_feedback", {"item_id": "crime1", "kind": "liked"}),
        ("I didn't like Mob Ties", "record_feedback", {"item_id": "crime3", "kind": "disliked"}),
        ("I didn't like Jaws.", "record_feedback", {"item_id": "jaws", "kind": "disliked"}),  # was: more like Jaws
        ("I loved Jaws", "record_feedback", {"item_id": "jaws", "kind": "liked"}),
        ("Not interested in Summer Kiss", "record_feedback", {"item_id": "rom4", "kind": "not_interested"}),
        ("Search for a bank robbery", "search_catalog", {"text": "a bank robbery"}),
        ("find kitchen films", "search_catalog", {"text": "kitchen films"}),
    ],
)
def test_route(text: str, tool: str, args: dict) -> None:
    chosen = route(text, TITLES)
    assert (chosen.tool, chosen.args) == (tool, args)


def test_why_without_an_item_goes_nowhere() -> None:
    assert route("why?", TITLES).tool == ""


def test_feedback_words() -> None:
    assert feedback_kind("I really loved it") == "liked"
    assert feedback_kind("something like Star Voyage") is None
    assert feedback_kind("don't show me romance") == "not_interested"
    # a past verdict in other words is a dislike, not only a film left out of this list
    for said in ("I wasn't a fan of it.", "It wasn't for me.", "It didn't do it for me.", "I was never really a fan of it"):
        assert feedback_kind(said) == "disliked", said
    assert gives_feedback("please mark Nebula Run as a favourite")
    assert not gives_feedback("Find me starship films")


def test_find_item_prefers_ids_then_titles() -> None:
    assert find_item("item space2 or Star Voyage", TITLES).item_id == "space2"
    assert find_item("the 'Detective Noir' one", TITLES).item_id == "crime2"
    assert find_item("nothing here", TITLES) is None


def test_templates_restate_tool_errors_with_suggestions() -> None:
    text = phrase("explain_recommendation", {"error": "no catalog item has the id or exact title 'x'", "items": [{"item_id": "space1", "title": "Star Voyage", "year": 1990}]})
    assert text == "Sorry — no catalog item has the id or exact title 'x'. Did you mean: Star Voyage (1990) [id space1]?"


def test_a_recommendation_answer_lists_the_items_first_then_what_the_request_was_taken_to_mean():
    artifact = {
        "recommendations": [{"rank": 1, "item_id": "h1", "title": "The Thing", "year": 1982}],
        "understood": ["Filtered to 1980–1989 and Horror because you asked for 'scary from the 80s'."],
    }
    lines = phrase("recommend", artifact).splitlines()
    assert lines[1] == "1. The Thing (1982)"
    assert lines[-1] == "(Filtered to 1980–1989 and Horror because you asked for 'scary from the 80s'.)"
    nothing = phrase("recommend", {"recommendations": [], "understood": ["Nothing is both from the 1950s and from 1995."]})
    assert nothing.startswith("Nothing is both from the 1950s and from 1995.")


def test_a_trending_item_says_so_with_its_counts_and_a_barely_trending_one_does_not():
    trend = {"item_id": "h1", "recent_users": 12, "all_users": 15, "window_days": 30.0, "until": 0.0, "score": 0.8}
    artifact = {"recommendations": [
        {"rank": 1, "item_id": "h1", "title": "The Thing", "year": 1982, "trend": trend},
        {"rank": 2, "item_id": "h2", "title": "The Fog", "year": 1980, "trend": {**trend, "item_id": "h2", "score": 0.05}},
    ]}
    lines = phrase("recommend", artifact).splitlines()
    assert lines[1] == "1. The Thing (1982) — trending: 12 people took it up in the last 30 days"
    assert lines[2] == "2. The Fog (1980)"


def test_a_list_says_an_item_fits_an_interest_only_when_it_shares_a_category_with_it():
    drama = {"term": "long-term", "label": "Children's & Drama", "weight": 0.34, "similarity": 0.66, "categories": ["Children's", "Drama"]}
    artifact = {"recommendations": [
        {"rank": 1, "item_id": "h1", "title": "The Shining", "year": 1980, "categories": ["Horror"], "interest": drama},
        {"rank": 2, "item_id": "d1", "title": "Ghost", "year": 1990, "categories": ["Drama", "Romance"], "interest": drama},
    ]}
    lines = phrase("recommend", artifact).splitlines()
    assert lines[1] == "1. The Shining (1980)"  # was "— fits your long-term interest in Children's & Drama"
    assert lines[2] == "2. Ghost (1990) — fits your long-term interest in Children's & Drama"
