"""The one "liked" rule: every part of whyrec agrees on what a rating means."""

from whyrec.store.records import Interaction, Item
from whyrec.tools.recommend.reranker import liked_items


def test_liked_rule_draws_the_line_at_four_stars_and_counts_unrated_events():
    assert Interaction("u", "a", 0.0, 4.0).liked
    assert Interaction("u", "a", 0.0, 5.0).liked
    assert Interaction("u", "a", 0.0, None, "purchase").liked
    assert not Interaction("u", "a", 0.0, 3.5).liked  # once counted as liked by the evidence, not by the reranker
    assert not Interaction("u", "a", 0.0, 1.0).liked


def test_reranker_query_items_follow_the_same_rule():
    items = {i: Item(i, i.upper()) for i in "abc"}
    history = [Interaction("u", "a", 1.0, 3.5), Interaction("u", "b", 2.0, 4.0), Interaction("u", "c", 3.0, None, "view")]
    assert [i.item_id for i in liked_items(history, items)] == ["c", "b"]


def test_an_item_shows_its_title_as_people_say_it_and_stores_the_catalogs_form():
    item = Item("2", "Shining, The (1980)", year=1980)
    assert item.display_title == "The Shining (1980)"
    assert item.title == "Shining, The (1980)", "the stored title, which ids, embeddings and matching use, is unchanged"
    assert Item("3", "Blue Angel, The (Blaue Engel, Der)").display_title == "The Blue Angel (Der Blaue Engel)"
    assert Item("4", "Heat").display_title == "Heat"
