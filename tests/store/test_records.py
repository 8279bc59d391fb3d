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
