"""The conversation-state scenarios: they fail a chat that carries an old topic or ignores a dislike."""

from __future__ import annotations

import pytest
from whyrec.agent.chat import ChatAgent
from whyrec.tools.evaluation.conversation.state_suite import run_state_suite


@pytest.fixture
def router(recommender, settings):
    agent = ChatAgent(recommender, settings, fallback_only=True)
    yield agent
    agent.close()


def test_the_chat_keeps_no_stale_topic_respects_dislikes_and_points_at_the_cards(router) -> None:
    rates = run_state_suite(router, ["u1", "u2", "u3"], seed=1)
    assert rates["stale_constraint_rate"] == 0.0
    assert rates["dislike_respected"] == 1.0
    assert rates["why_nth_on_cards"] == 1.0


def test_the_suite_catches_a_chat_that_piles_requests_up(router, monkeypatch) -> None:
    # the old behaviour: every message refines the last request, whatever its topic
    monkeypatch.setattr("whyrec.agent.planning.names_new_topic", lambda *args: False)
    monkeypatch.setattr("whyrec.agent.planning._FRESH_REQUEST", __import__("re").compile(r"(?!)"))
    rates = run_state_suite(router, ["u1", "u2", "u3"], seed=1)
    assert rates["stale_constraint_rate"] > 0


def test_a_subject_said_outright_is_a_new_topic_even_when_its_word_looks_like_a_mood(router) -> None:
    # "weapon" is also an embedding guess at War; "a movie about weapon" still names its own subject
    router.reply("u1", "topic", "a romance from the 90s")
    reply = router.reply("u1", "topic", "a movie about a weapon")
    assert reply.tool_calls[0]["args"]["request"] == "a movie about a weapon"


def test_the_cards_on_screen_do_not_hide_what_that_one_means(router) -> None:
    # the app hands over its cards with every message; "more like that" after a dislike still means the disliked item
    first = router.reply("u2", "cards", "recommend me some romance")
    disliked = first.items[0]
    router.reply("u2", "cards", f"I didn't like {disliked['title']}", first.items[1:])
    more = router.reply("u2", "cards", "more like that", first.items[1:])
    assert more.text.startswith(f"You said you did not like '{disliked['title']}'")
