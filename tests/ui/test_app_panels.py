"""The app's panels without a browser: what a card, a profile and a chat turn show, and the chat's line."""

from __future__ import annotations

import threading

import pytest

from whyrec.store.records import Interaction
from whyrec.ui.cards_panel import card_markdown, check_years, explanation_markdown, reordered_note, with_relevance_rank
from whyrec.ui.chat import SharedAgent, ToolResults, watch_tools
from whyrec.ui.notices import Problem
from whyrec.ui.plots import evolution
from whyrec.ui.profile_panel import profile_markdown

DAY = 86400.0


# --- cards ------------------------------------------------------------------------------------


def rec(rank: int, title: str, final: float) -> dict:
    return {"rank": rank, "item_id": title.lower(), "title": title, "year": 1995, "categories": ["Drama"], "scores": {"final": final}, "because": []}


def test_a_reordered_list_says_so_and_each_moved_card_gives_its_place_by_relevance():
    shown = with_relevance_rank([rec(1, "A", 0.9), rec(2, "B", 0.83), rec(3, "C", 0.72), rec(4, "D", 0.78)])
    assert "Diversity reordered this list" in reordered_note(shown)
    assert "relevance score 0.72 · 4th by relevance" in card_markdown(shown[2])
    assert "relevance score 0.78 · 3rd by relevance" in card_markdown(shown[3])
    assert "by relevance" not in card_markdown(shown[0])
    in_order = with_relevance_rank([rec(1, "A", 0.9), rec(2, "B", 0.8)])
    assert reordered_note(in_order) == ""


def test_a_card_quotes_its_story_and_names_its_keywords_as_text():
    card = card_markdown({**rec(1, "Jaws", 0.9), "story": "A great white shark <b>terrorizes</b> Amity.", "keywords": ["shark", "beach"]})

    assert "“A great white shark &lt;b&gt;terrorizes&lt;/b&gt; Amity.”" in card
    assert "about: shark, beach" in card
    assert "about:" not in card_markdown(rec(1, "Heat", 0.9)), "a card without text shows no empty line"


def test_a_trending_card_says_how_many_people_took_it_up_lately():
    trend = {"item_id": "a", "recent_users": 12, "all_users": 15, "window_days": 30.0, "until": 0.0, "score": 0.8}
    assert "trending: 12 people in the last 30 days" in card_markdown({**rec(1, "A", 0.9), "trend": trend})
    assert "trending" not in card_markdown({**rec(1, "A", 0.9), "trend": {**trend, "score": 0.05}})


def test_a_title_with_html_is_shown_as_text_on_its_card():
    assert "<img" not in card_markdown(rec(1, "<img src=x onerror=alert(1)>", 0.5))


def test_why_shows_each_piece_of_evidence_once():
    explanation = {
        "item": {"title": "Heat"},
        "sentences": ["It is #2 in your current recommendations.", "'Heat' is most similar to 'Ronin'.", "Reranker score 0.40, final score 0.80."],
        "text": "It is #2 in your current recommendations. 'Heat' is most similar to 'Ronin'. Reranker score 0.40, final score 0.80.",
        "scores": {"final": 0.8, "reranker": 0.4, "collaborative": 0.6},
    }
    shown = explanation_markdown(explanation)
    assert shown.count("It is #2 in your current recommendations.") == 1
    assert shown.count("0.40") == 1  # the scores line, not the sentence again
    assert "people like you 0.60" in shown


def test_a_reversed_year_range_is_said_in_the_users_words():
    with pytest.raises(Problem, match="“From year” 1998 is after “To year” 1930"):
        check_years(1998, 1930)
    check_years(1930, 1998)


# --- profile ----------------------------------------------------------------------------------


def test_drift_is_not_shown_until_the_history_is_longer_than_the_recent_window():
    new = {"interactions": 3, "summary": {}, "drift": -0.0001}
    assert "Drift** -0.00" not in profile_markdown(new, 20)
    assert "not measured yet" in profile_markdown(new, 20)
    long = {"interactions": 50, "summary": {}, "drift": 0.25, "rising": ["Sci-Fi"]}
    assert "**Drift** 0.25" in profile_markdown(long, 20)
    assert "rising: Sci-Fi" in profile_markdown(long, 20)


def test_evolution_is_plotted_over_calendar_time_with_the_bucket_the_history_needs(recommender):
    items = recommender.items
    profile = {"distribution": {"Romance": 0.6, "Sci-Fi": 0.4}, "short_term_distribution": {"Sci-Fi": 1.0}}
    months = [Interaction("m", i, 1_000_000.0 + n * 40 * DAY, 5.0) for n, i in enumerate(["rom1", "rom2", "space1", "space2"])]
    by_month = evolution(profile, months, items)
    assert by_month.x == "when" and by_month.x_title == "month"
    assert by_month.frame["when"].nunique() == 4
    # the last month was all sci-fi
    last = by_month.frame[by_month.frame["when"] == by_month.frame["when"].max()]
    assert dict(zip(last["category"], last["share"], strict=True))["Sci-Fi"] == 1.0
    one_sitting = [Interaction("s", i, 1_000_000.0 + n * 60.0, 5.0) for n, i in enumerate(["rom1", "rom2", "space1", "space2"])]
    assert evolution(profile, one_sitting, items).x_title in ("10 minutes", "hour")
    no_time = [Interaction("t", i, 0.0, 5.0) for i in ["rom1", "rom2", "space1"]]
    assert evolution({**profile, "evolution": []}, no_time, items).x == "slice"


# --- chat -------------------------------------------------------------------------------------


def test_a_second_turn_waits_in_line_and_knows_it_is_next():
    agent = SharedAgent(lambda: object(), max_turns=1)
    assert list(agent.wait_turn()) == []  # the first turn goes at once
    seen: list[int] = []
    waiting, went = threading.Event(), threading.Event()

    def second() -> None:
        for ahead in agent.wait_turn(poll_seconds=0.05):
            seen.append(ahead)
            waiting.set()
        went.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert waiting.wait(2), "the second turn says where it stands in line"
    assert not went.is_set() and set(seen) == {1}
    agent.end_turn()
    assert went.wait(2)
    agent.end_turn()
    thread.join()
    assert agent.busy == 0


def test_the_recommend_tools_cards_are_there_before_the_answer_ends(recommender):
    from whyrec.agent.chat import ChatAgent

    agent = ChatAgent(recommender, recommender.settings, fallback_only=True)
    results = ToolResults()
    stream = agent.stream("u1", "c1", "recommend me something")
    chunks = watch_tools(stream, results)
    first = next(chunks)  # the first piece of the answer
    early = results.recommendations()
    assert early and all({"rank", "title", "scores"} <= set(card) for card in early)
    answer = first + "".join(chunks)
    assert early[0]["title"] in answer  # the cards are the items the answer recommends


def test_the_page_says_when_it_ranks_without_the_reranker(small_store):
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.ui.app import RERANKER_TRAINING_THREAD, ranking_status_text

    recommender = Recommender(small_store)
    assert "it is off (`WHYREC_RERANK_TOP=0`, the default" in ranking_status_text(recommender)
    recommender.settings = recommender.settings.model_copy(update={"rerank_top": 30})  # turned on: uses a trained one once saved
    assert "none is trained yet" in ranking_status_text(recommender)
    stop = threading.Event()
    training = threading.Thread(target=stop.wait, name=RERANKER_TRAINING_THREAD)
    training.start()
    try:
        assert "training in the background" in ranking_status_text(recommender)
    finally:
        stop.set()
        training.join()


def test_a_history_from_one_sitting_says_so_instead_of_an_empty_time_plot(recommender):
    profile = {"distribution": {"Sci-Fi": 1.0}, "short_term_distribution": {"Sci-Fi": 1.0}}
    three = [Interaction("new", i, 1_000_000.0 + n * 1e-3, 5.0) for n, i in enumerate(["space1", "space2", "space3"])]
    one_sitting = evolution(profile, three, recommender.items)
    assert not one_sitting.drawable
    assert "all 3 ratings are from one sitting" in one_sitting.note
    days = [Interaction("old", i, 1_000_000.0 + n * DAY, 5.0) for n, i in enumerate(["space1", "space2", "space3"])]
    assert evolution(profile, days, recommender.items).drawable
