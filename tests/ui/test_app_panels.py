"""The app's panels without a browser: what a card, a profile and a chat turn show, and the chat's line."""

from __future__ import annotations

import threading
import time

import pytest

from whyrec.store.records import Interaction
from whyrec.ui.cards_panel import (
    card_markdown,
    check_years,
    explanation_markdown,
    mirrored_filters,
    model_read_names,
    reordered_note,
    request_chips,
    with_relevance_rank,
    with_seen_marks,
    without_chips,
)
from whyrec.agent.events import ItemsShown
from whyrec.ui.chat import SharedAgent, read_by_the_model
from whyrec.ui.notices import Problem
from whyrec.ui.plots import evolution
from whyrec.ui.profile_panel import profile_markdown
from whyrec.ui.user_picker import check_new_user_id, user_choices

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


def test_the_scores_line_names_each_score_and_says_when_content_search_did_not_find_the_item():
    explanation = {
        "item": {"title": "Ace Ventura"},
        "sentences": ["It fits your long-term interest in Drama & Comedy (39% of your history, similarity 0.33)."],
        "scores": {"retrieval": 0.0, "short_term": 0.27, "popularity": 0.73, "recent_popularity": 0.02, "collaborative": 1.0, "final": 0.17},
    }
    line = explanation_markdown(explanation).splitlines()[-1]
    assert "content match" not in line and "0.00" not in line
    assert "relevance score (final) 0.17" in line and "content search did not find it" in line
    assert "similarity to your recent taste 0.27" in line and "trending score 0.02" in line
    found = explanation_markdown({**explanation, "scores": {"retrieval": 0.64, "final": 0.2}})
    assert "content-search similarity 0.64" in found and "did not find" not in found


def test_a_card_of_a_film_in_the_history_says_it_was_seen_and_how_it_was_rated():
    shown = with_seen_marks([rec(1, "Heat", 0.9), rec(2, "Ronin", 0.8)], {"heat": 4.0})
    assert "✓ seen — you rated it 4" in card_markdown(shown[0])
    assert "seen" not in card_markdown(shown[1])
    assert "✓ seen<" in card_markdown(with_seen_marks([rec(1, "Heat", 0.9)], {"heat": None})[0])  # watched, not rated


def test_new_user_ids_follow_one_rule_said_in_one_line():
    assert check_new_user_id("  alice_2-b ") == "alice_2-b" and check_new_user_id("99999") == "99999"
    for bad in ("-1", "<b>x</b>", "a b", "x" * 41, "", "é"):
        with pytest.raises(Problem, match="cannot be a user id — use letters, digits, - and _, up to 40 characters") as caught:
            check_new_user_id(bad)
        assert "\n" not in str(caught.value) and "<b>" not in str(caught.value)


def test_the_picker_names_each_user_by_how_much_they_rated_and_what_they_like(recommender):
    db = recommender.store.db
    labels = dict((v, label) for label, v in user_choices(db.users(), db.all_interactions(), recommender.items))
    assert labels["u1"].startswith("u1 · a few ratings · mostly Romance")
    assert labels["u2"].startswith("u2 · a few ratings · mostly Crime")
    assert not any(ch.isdigit() for label in labels.values() for ch in label.split(" · ", 1)[1]), "typing an id must not match another user's label"


def test_a_reversed_year_range_is_said_in_the_users_words():
    with pytest.raises(Problem, match="“From year” 1998 is after “To year” 1930"):
        check_years(1998, 1930)
    check_years(1930, 1998)


# --- the request in force ------------------------------------------------------------------


def test_the_request_in_force_shows_one_removable_chip_per_constraint_and_a_dropped_one_is_gone_from_the_request(recommender):
    from whyrec.tools.understanding.structured import ModelRequest, english_request

    parsed = recommender.understand("a sci-fi film from the 90s, not comedy, about a starship, like 'Star Voyage'")
    chips = dict(request_chips(parsed))
    assert list(chips) == ["Sci-Fi ✕", "1990–1999 ✕", "not Comedy ✕", "like 'Star Voyage' ✕", "about: starship ✕"]
    assert request_chips(None) == []

    without_years = english_request(ModelRequest(), without_chips(parsed, [chips["1990–1999 ✕"]]), recommender.vocabulary)
    read_again = recommender.understand(without_years)
    assert read_again.years is None  # the dropped constraint is gone ...
    assert [a.categories for a in read_again.categories] == [("Sci-Fi",)] and [a.categories for a in read_again.exclude_categories] == [("Comedy",)]
    assert read_again.like_item_ids == ("space1",) and read_again.about == "starship"  # ... and every other one stays
    assert parsed.years is not None, "the parse the chips were drawn from is left as it was"

    everything = without_chips(parsed, [key for _, key in request_chips(parsed)])
    assert english_request(ModelRequest(), everything, recommender.vocabulary) == ""


def test_a_chip_says_whether_the_model_read_it_or_the_person_wrote_it(recommender):
    """'The active request (its constraints, each with where it came from)': the model's reading of "gets my pulse going"
    (Action) is marked as the model's, "sci-fi" is the person's own, and the mark follows the constraint while it holds."""
    from whyrec.tools.understanding.structured import ModelRequest, english_request

    message = "a sci-fi film that gets my pulse going"
    rules = recommender.understand(message)
    yours = recommender.understand(english_request(ModelRequest(), rules, recommender.vocabulary))
    assert [label for label, _ in request_chips(yours)] == ["Sci-Fi ✕"], "the rules read 'sci-fi' and nothing else for sure"
    merged = recommender.understand(english_request(ModelRequest(genres=["Action"]), rules, recommender.vocabulary))
    model = model_read_names(merged, yours, None, [])
    assert model == ["Action"]
    assert [label for label, _ in request_chips(merged, model)] == ["Sci-Fi ✕", "🤖 Action ✕"]

    # a refinement the rules read ("from the 2000s") is the person's; the model's Action keeps its mark
    refined = recommender.understand("sci-fi, Action. from the 2000s")
    assert model_read_names(refined, refined, merged, model) == ["Action"]
    # the same words in force before, but written by the person (the model read nothing then): no mark
    assert model_read_names(refined, refined, merged, []) == []


def test_a_turn_is_read_by_the_model_when_the_model_planned_it_or_called_the_tools_itself():
    from whyrec.agent.chat import Reply

    def reply(planned_by, llm_calls, fallback=False):
        return Reply("", [], ["recommend"], llm_calls, fallback, 0.1, planned_by=planned_by)

    assert read_by_the_model(reply("model", 1)) and read_by_the_model(reply(None, 2))
    assert not read_by_the_model(reply("rules", 0)) and not read_by_the_model(reply("default", 0))
    assert not read_by_the_model(reply(None, 0, fallback=True)) and not read_by_the_model(None)


def test_the_filters_mirror_the_years_and_a_single_category_ask_of_the_request(recommender):
    known = ["Action", "Romance", "Sci-Fi", "Thriller"]
    assert mirrored_filters(recommender.understand("a sci-fi film from the 90s"), (1990, 2010), known) == ((1990, 1999), ["Sci-Fi"])
    # two asks must both hold; the any-of category filter cannot say that, so it is left to the request
    assert mirrored_filters(recommender.understand("sci-fi, only action"), (1990, 2010), known) == ((1990, 2010), [])
    # an open end or an end outside the catalog's years is the slider's edge; no request: no limit
    assert mirrored_filters(recommender.understand("romance before 2000"), (1990, 2010), known) == ((1990, 1999), ["Romance"])
    assert mirrored_filters(recommender.understand("a romance from 1985 to 1995"), (1990, 2010), known)[0] == (1990, 1995)
    assert mirrored_filters(None, (1990, 2010), known) == ((1990, 2010), [])


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
    assert by_month.x == "when" and by_month.x_title == "month (UTC)"
    assert list(by_month.frame["when"].unique()) == ["1970-02", "1970-04", "1970-05"]  # the first month alone is one rating: left out
    # the last point is the last two ratings, both sci-fi films (one also Adventure): no romance left
    last = dict(zip(*by_month.frame[by_month.frame["when"] == "1970-05"][["category", "share"]].values.T, strict=True))
    assert last == {"Romance": 0.0, "Sci-Fi": 0.75}
    one_sitting = [Interaction("s", i, 1_000_000.0 + n * 60.0, 5.0) for n, i in enumerate(["rom1", "rom2", "space1", "space2"])]
    assert evolution(profile, one_sitting, items).x_title in ("10 minutes (UTC, 1970)", "hour (UTC, 1970)")
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


def test_a_turn_waits_for_the_previous_turn_of_its_own_conversation_only():
    agent = SharedAgent(lambda: object(), max_turns=1)
    agent.enter_conversation(("u1", "c1"))
    agent.enter_conversation(("u2", "c2"))  # another conversation goes at once
    went = threading.Event()

    def next_message() -> None:
        agent.enter_conversation(("u1", "c1"))
        went.set()
        agent.leave_conversation(("u1", "c1"))

    thread = threading.Thread(target=next_message)
    thread.start()
    deadline = time.monotonic() + 10
    while agent._conversations[("u1", "c1")][1] < 2 and time.monotonic() < deadline:  # the next message has arrived
        thread.join(0.01)
    assert agent._conversations[("u1", "c1")][1] == 2 and not went.is_set(), "the next message of c1 waits until the answer before it is saved"
    agent.leave_conversation(("u1", "c1"))
    assert went.wait(2)
    thread.join()
    agent.leave_conversation(("u2", "c2"))
    assert agent._conversations == {}  # nothing kept for finished conversations


def test_the_shared_agent_passes_the_cards_and_the_request_on_the_page_to_the_agent():
    calls: list[tuple] = []

    class Agent:
        def stream(self, user_id, conversation_id, text, cards=None, request=None):
            calls.append((cards, request))
            return iter(["ok"])

    agent = SharedAgent(Agent)
    cards = [{"item_id": "a", "title": "A"}]
    for given, expected in (({}, (None, None)), ({"cards": cards}, (cards, None)), ({"request": ""}, (None, "")),
                            ({"cards": cards, "request": "sci-fi"}, (cards, "sci-fi"))):
        assert list(agent.stream("u1", "c1", "why the second one?", **given)) == ["ok"]
        assert calls[-1] == expected, given


def test_the_recommend_tools_cards_are_there_before_the_answer_ends(recommender):
    from whyrec.agent.chat import ChatAgent

    agent = ChatAgent(recommender, recommender.settings, fallback_only=True)
    stream = agent.stream("u1", "c1", "recommend me something")
    chunks = iter(stream)
    early = next(chunks)  # before the first piece of the answer: the list the page draws as cards
    assert isinstance(early, ItemsShown) and not early.answered
    assert early.items and all({"rank", "title", "scores"} <= set(card) for card in early.items)
    rest = list(chunks)
    answer = "".join(chunk for chunk in rest if isinstance(chunk, str))
    assert early.items[0]["title"] in answer  # the cards are the items the answer recommends
    answered = rest[-1]  # what the endpoint lists after the text: the same items
    assert isinstance(answered, ItemsShown) and answered.answered
    assert [card["item_id"] for card in answered.items] == [card["item_id"] for card in early.items]
    assert list(answered.items) == stream.reply.items


def test_the_page_says_when_it_ranks_without_the_reranker(small_store):
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.ui.page import RERANKER_TRAINING_THREAD, ranking_status_text

    from whyrec.ui.page import ranking_setup

    recommender = Recommender(small_store)
    assert ranking_status_text(recommender) == ""  # a setting is for the server's log, not for the people using the page
    assert "WHYREC_RERANK_TOP=0" in ranking_setup(recommender)
    recommender.settings = recommender.settings.model_copy(update={"rerank_top": 30})  # turned on: uses a trained one once saved
    assert ranking_status_text(recommender) == "" and "none is trained yet" in ranking_setup(recommender)
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


def test_one_rating_never_reads_as_a_whole_share_and_the_time_axis_shows_a_24_hour_clock_in_utc(recommender):
    """One rating an hour, alternating genres: each point is a moving window of several ratings, not one rating at 100 %."""
    profile = {"distribution": {"Romance": 0.5, "Sci-Fi": 0.5}, "short_term_distribution": {"Sci-Fi": 1.0}}
    ids = ["rom1", "space2", "rom4", "space2"] * 3  # one genre each
    start = 1_000_000.0 + 5 * 3600  # 1970-01-12 18:46 UTC: the hours run past midnight
    hourly = [Interaction("h", i, start + n * 3600.0, 5.0) for n, i in enumerate(ids)]
    plot = evolution(profile, hourly, recommender.items)
    assert plot.x_title == "hour (UTC, 1970)" and plot.title == "Interest over time, by hour"
    assert plot.y_title == "share of last 4 ratings" and "moving window" in plot.caption and "1970-01-12 18:46" in plot.caption
    assert set(plot.frame["share"]) == {0.5}, "alternating genres read as half each, never 0 % and 100 %"
    when = list(dict.fromkeys(plot.frame["when"]))
    assert when[:2] == ["01-12 21:00", "01-12 22:00"]  # the first three hours fill the window
    assert "01-13 00:00" in when and when[-1] == "01-13 05:00"  # a 24-hour clock: midnight is 00:00, not 12:00

