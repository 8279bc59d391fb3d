"""The keyword router: questions about one's own taste reach the profile, however they are put."""

from __future__ import annotations

import pytest

from whyrec.agent.router import route
from whyrec.tools.understanding.titles import TitleIndex

from tests.conftest import SMALL_CATALOG

TITLES = TitleIndex({i.item_id: i for i in SMALL_CATALOG})


@pytest.mark.parametrize(
    "text",
    [
        "what genres do I like?",
        "Which categories do I watch the most?",
        "what do I usually watch?",
        "What do I tend to enjoy?",
        "So what would you say my favourite genre is?",
        "what's my preferred kind of film?",
    ],
)
def test_a_question_about_ones_own_taste_goes_to_the_profile(text):
    assert route(text, TITLES).intent == "profile"


@pytest.mark.parametrize("text", ["My favourite genre is sci-fi, any suggestions?", "I like romance, what do you suggest?"])
def test_saying_what_one_likes_is_a_request_not_a_profile_question(text):
    assert route(text, TITLES).intent == "recommend"
