"""Evidence for a recommendation: the past items it resembles, cited as a person would read them."""

from __future__ import annotations

import numpy as np
from whyrec.store.records import Item
from whyrec.tools.recommend.evidence import similar_past
from whyrec.tools.recommend.explanation import Explanation, ServedInterest, explanation_sentences
from whyrec.tools.recommend.profile import share_of_history


def test_a_film_stored_under_two_ids_is_cited_once() -> None:
    # MovieLens-100K holds 'Money Talks' as items 876 and 881; the list said "similar to 'Money Talks', 'Money Talks'"
    items = {
        "876": Item("876", "Money Talks", year=1997),
        "881": Item("881", "Money Talks", year=1997),
        "50": Item("50", "Star Wars", year=1977),
        "1": Item("1", "Toy Story", year=1995),
    }
    ids = ["876", "881", "50"]
    matrix = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)

    cited = similar_past(ids, matrix, {"876": 5.0, "881": 5.0, "50": 4.0}, np.array([1.0, 0.0], dtype=np.float32), items, exclude="1")

    assert [p.title for p in cited] == ["Money Talks", "Star Wars"]


def test_an_interest_that_is_all_of_the_recent_history_says_so_in_words() -> None:
    fog = Item("fog", "Fog, The", year=1980, categories=("Horror",))
    explanation = Explanation("u", fog, "recommended", 1, {"final": 0.9}, [], ServedInterest("short-term", "Horror", 1.0, 0.66), {})

    text = " ".join(explanation_sentences(explanation))

    # was "(100% of your recent history, similarity 0.66)"
    assert "It fits your short-term interest in Horror (all of your recent history, similarity 0.66)." in text
    assert "100%" not in text
    assert share_of_history(0.24) == "24% of your history" and share_of_history(0.997, recent=True) == "nearly all of your recent history"


def test_an_item_nearest_to_an_interest_it_shares_no_category_with_is_not_said_to_fit_it() -> None:
    shining = Item("shine", "Shining, The", year=1980, categories=("Horror",))
    nearest = ServedInterest("long-term", "Children's & Drama", 0.34, 0.66, ("Children's", "Drama"))
    text = " ".join(explanation_sentences(Explanation("u", shining, "recommended", 1, {"final": 0.9}, [], nearest, {})))

    assert "It fits your" not in text  # was "It fits your long-term interest in Children's & Drama (34% ...)"
    assert (
        "Of your interests it is nearest to your long-term interest in Children's & Drama (34% of your history, "
        "similarity 0.66), though it is neither Children's nor Drama." in text
    )
