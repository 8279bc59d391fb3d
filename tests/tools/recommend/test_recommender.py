"""The pipeline end to end on a real small store: retrieval, reranking, diversity, feedback, explanations."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, Item
from whyrec.tools.recommend.popularity import PopularityTimeline, continues_session
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.scoring import ScoreWeights

from tests.conftest import SMALL_INTERACTIONS


def ids(recs) -> list[str]:
    return [r.item.item_id for r in recs]


def test_recommends_unseen_items_near_the_users_interests(small_store, reranker):
    # three users make co-occurrence meaningless here, so rank on content alone
    recommender = Recommender(small_store, reranker, weights=ScoreWeights(collaborative=0.0, popularity=0.0, recent_popularity=0.0))
    recs = recommender.recommend("u3", k=4, diversity=0.0)
    seen = {x.item_id for x in small_store.db.history("u3")}
    assert len(recs) == 4 and not set(ids(recs)) & seen
    assert ids(recs)[0] == "space5"  # the one sci-fi film u3 has not seen
    assert [r.rank for r in recs] == [1, 2, 3, 4]
    assert all(r.because and r.because[0].item_id in seen for r in recs)


def test_request_text_steers_the_list(recommender):
    recs = recommender.recommend("u3", request="gangsters planning a bank robbery", k=3, diversity=0.0)
    assert ids(recs)[0] == "crime1"


def test_category_and_year_filters(recommender):
    recs = recommender.recommend("u1", k=10, categories=["Crime"])
    assert recs and all("Crime" in r.item.categories for r in recs)
    recs = recommender.recommend("u1", k=10, year_min=2000, year_max=2006)
    assert recs and all(2000 <= r.item.year <= 2006 for r in recs)


def test_dislike_drops_the_item_and_its_near_duplicates(recommender):
    before = ids(recommender.recommend("u2", k=20, diversity=0.0))
    assert {"space4", "space5"} <= set(before)
    recommender.feedback("u2", "space4", "disliked")
    after = ids(recommender.recommend("u2", k=20, diversity=0.0))
    assert len(after) == len(before) - 2
    assert "space4" not in after and "space5" not in after
    assert recommender.explain("u2", "space5").status == "disliked"


def test_like_feedback_moves_the_profile(recommender):
    before = recommender.profile("u2").short_term_distribution.get("Romance", 0.0)
    recommender.feedback("u2", "rom4", "liked")
    assert recommender.profile("u2").short_term_distribution.get("Romance", 0.0) > before


def test_diversity_knob_makes_the_list_more_varied(small_store, reranker):
    def similarity(recs) -> float:
        v = small_store.index.vectors(ids(recs))
        sim = v @ v.T
        return float((sim.sum() - np.trace(sim)) / (len(v) * (len(v) - 1)))

    recommender = Recommender(small_store, reranker, weights=ScoreWeights(collaborative=0.0))
    request = "smugglers racing a starship"
    focused = recommender.recommend("u2", request, k=3, diversity=0.0)
    varied = recommender.recommend("u2", request, k=3, diversity=0.9)
    assert {"space4", "space5"} <= set(ids(focused))  # the two near-copies are both very relevant
    assert not {"space4", "space5"} <= set(ids(varied))
    assert similarity(varied) < similarity(focused)


def test_more_like_this(recommender):
    recs = recommender.recommend("u2", k=2, like_item_id="rom1", diversity=0.0)
    assert any("Romance" in r.item.categories for r in recs)


def test_new_user_gets_popular_items(recommender):
    recs = recommender.recommend("newcomer", k=3)
    assert ids(recs)[0] in {"space1", "space2", "rom1", "crime1", "space3"}  # items with the most interactions
    assert recommender.explain("newcomer", ids(recs)[0]).status == "cold_start"


def test_explanation_cites_only_real_history(recommender, small_store):
    top = recommender.recommend("u1", k=3)[0]
    explanation = recommender.explain("u1", top.item.item_id)
    history = {x.item_id: x for x in small_store.db.history("u1")}
    assert explanation.status == "recommended" and explanation.rank == 1
    assert explanation.scores == top.scores
    for past in explanation.similar_past_items:
        assert past.item_id in history and past.title == small_store.db.item(past.item_id).title
    assert set(explanation.matched_categories) <= set(top.item.categories)
    assert explanation.interest.label in {i.label for i in recommender.profile("u1").long_term + recommender.profile("u1").short_term}
    for past in explanation.similar_past_items:
        assert f"'{past.title}'" in explanation.text
    for together in explanation.liked_together:
        assert together.item_id in history and f"'{together.title}'" in explanation.text


def test_why_not_for_a_seen_and_a_filtered_item(recommender):
    assert recommender.explain("u1", "rom1").status == "seen"
    assert recommender.explain("u1", "rom1").rank is None
    assert recommender.explain("u1", "crime2", categories=["Romance"]).status == "filtered"


def test_bad_arguments_are_clear(recommender, small_store):
    before = small_store.db.stats()
    with pytest.raises(InputError, match="item 'nope' is not in the catalog"):
        recommender.explain("u1", "nope")
    with pytest.raises(InputError, match="diversity=2"):
        recommender.recommend("u1", diversity=2)
    with pytest.raises(InputError, match="k=0"):
        recommender.recommend("u1", k=0)
    with pytest.raises(InputError, match="feedback 'love' is not known"):
        recommender.feedback("u1", "rom1", "love")
    assert small_store.db.stats() == before


def test_trending_counts_distinct_users_in_the_logs_last_window():
    day = 86400.0
    log = [Interaction(u, "classic", n * day) for n, u in enumerate("abcde")]  # popular, but long ago
    log += [Interaction("a", "hit", 95 * day), Interaction("b", "hit", 99 * day), Interaction("c", "hit", 100 * day)]
    log += [Interaction("a", "cult", 90 * day, 5.0), Interaction("a", "cult", 91 * day, 4.0)]  # one person twice counts once
    scores, order = PopularityTimeline(log, window_days=30).at()
    assert "classic" not in scores  # "recent" is the last 30 days before the log's newest event, not the wall clock
    assert order == ["hit", "cult"] and scores["hit"] == 1.0 and 0.0 < scores["cult"] < scores["hit"]
    assert PopularityTimeline([]).at() == ({}, [])
    assert PopularityTimeline(log[-5:], window_days=30).at() == ({}, [])  # 10 days of log: no "lately" apart from "ever"


def test_a_new_release_trends_above_an_old_favourite_as_busy_this_month():
    day = 86400.0
    log = [Interaction(f"old{n}", "favourite", n * day) for n in range(20)]  # twenty people over the years
    log += [Interaction(f"now{n}", "favourite", (90 + n) * day) for n in range(4)]  # and four this month
    log += [Interaction(f"new{n}", "release", (90 + n) * day) for n in range(4)]  # four this month, all new
    timeline = PopularityTimeline(log, window_days=30)
    scores, order = timeline.at()
    assert order == ["release", "favourite"] and scores["release"] > 4 * scores["favourite"]
    trend = timeline.trend("release")
    assert (trend.recent_users, trend.all_users, trend.window_days) == (4, 4, 30)
    assert timeline.trend("favourite").all_users == 24 and timeline.trend("nobody") is None


def test_popular_lately_reaches_a_user_whose_taste_it_does_not_match(small_store):
    last = max(x.timestamp for x in SMALL_INTERACTIONS)
    watched_now = [Interaction(f"fan{n}", "cook1", last + 90 * 86400.0 + n) for n in range(5)]  # three months on, everyone watches the documentary
    plain = Recommender(small_store, None, weights=ScoreWeights(collaborative=0.0, popularity=0.0, recent_popularity=0.0))
    lately = Recommender(small_store, None, weights=ScoreWeights(collaborative=0.0, recent_popularity=5.0))
    for rec in (plain, lately):
        rec.fit_interactions(SMALL_INTERACTIONS + watched_now)
    assert ids(plain.recommend("u3", k=3, diversity=0.0))[0] == "space5"  # sci-fi fan: the sci-fi film first
    top = lately.recommend("u3", k=3, diversity=0.0)
    assert ids(top)[0] == "cook1" and top[0].scores["recent_popularity"] == 1.0
    assert top[0].to_dict()["trend"]["recent_users"] == 5  # the card carries the counts behind the score
    why = lately.explain("u3", "cook1").text
    assert "It is trending: 5 people took it up in the 30 days up to" in why and ", out of 5 so far (trending score 1.00)." in why
    assert "trending" not in plain.explain("u3", "cook1").text  # no trending signal, no trending claim


def test_a_request_made_earlier_counts_what_was_popular_then(small_store):
    last = max(x.timestamp for x in SMALL_INTERACTIONS)
    watched_now = [Interaction(f"fan{n}", "cook1", last + 90 * 86400.0 + n) for n in range(5)]
    lately = Recommender(small_store, None, weights=ScoreWeights(collaborative=0.0, recent_popularity=5.0))
    lately.fit_interactions(SMALL_INTERACTIONS + watched_now)
    assert ids(lately.recommend("u3", k=1, diversity=0.0)) == ["cook1"]  # asked now: the documentary everyone watches
    before = lately.recommend("u3", k=1, diversity=0.0, now=last)  # asked before anyone watched it
    assert ids(before) != ["cook1"]


def test_a_replayed_conversation_is_asked_at_its_own_moment_in_every_verb(small_store):
    last = max(x.timestamp for x in SMALL_INTERACTIONS)
    watched_now = [Interaction(f"fan{n}", "cook1", last + 90 * 86400.0 + n) for n in range(5)]
    lately = Recommender(small_store, None, weights=ScoreWeights(collaborative=0.0, recent_popularity=5.0))
    lately.fit_interactions(SMALL_INTERACTIONS + watched_now)
    lately.moment = last  # a conversation replayed before anyone watched the documentary
    assert ids(lately.recommend("u3", k=1, diversity=0.0)) != ["cook1"]
    assert "trending" not in lately.explain("u3", "cook1").text  # nor does the why claim a trend of later months
    lately.moment = None  # the present
    assert ids(lately.recommend("u3", k=1, diversity=0.0)) == ["cook1"]


def test_mid_session_the_users_taste_leads_and_trending_waits_for_their_return(small_store):
    last = max(x.timestamp for x in SMALL_INTERACTIONS)
    back_at = last + 91 * 86400.0
    watched_now = [Interaction(f"fan{n}", "cook1", last + 90 * 86400.0 + n) for n in range(5)]  # everyone watches the documentary
    lately = Recommender(small_store, None, weights=ScoreWeights(collaborative=0.0, popularity=0.0, recent_popularity=5.0))
    lately.fit_interactions(SMALL_INTERACTIONS + watched_now)
    history = [x for x in SMALL_INTERACTIONS if x.user_id == "u3"]
    returning = lately.recommend("u3", k=1, diversity=0.0, history=history, now=back_at)  # away for months
    assert ids(returning) == ["cook1"] and returning[0].trend is not None
    rated_just_now = [*history, Interaction("u3", "rom2", back_at - 600.0)]  # ten minutes ago, in this session
    going_on = lately.recommend("u3", k=1, diversity=0.0, history=rated_just_now, now=back_at)
    assert ids(going_on) != ["cook1"]
    assert "recent_popularity" not in going_on[0].scores and going_on[0].trend is None  # no trending signal, no trending claim


def test_a_request_within_an_hour_of_the_last_interaction_continues_the_session():
    history = [Interaction("u", "a", 1000.0), Interaction("u", "b", 5000.0)]
    assert continues_session(history, 5000.0) and continues_session(history, 5000.0 + 3599)
    assert not continues_session(history, 5000.0 + 3600) and not continues_session([], 5000.0)
    assert not continues_session(history, None)  # asked now, decades after the log
    assert not continues_session(history, 100.0)  # a moment before the history (a replay): not its session


def test_popular_at_the_time_of_the_users_history():
    day = 86400.0
    log = [Interaction(f"a{n}", "spring_hit", (5 + n) * day) for n in range(4)]  # everyone watched it in the first weeks
    log += [Interaction(f"b{n}", "autumn_hit", (95 + n) * day) for n in range(3)]  # and this one three months later
    timeline = PopularityTimeline(log, window_days=30)
    then, order_then = timeline.at(10 * day)  # asked about a moment in spring
    now, order_now = timeline.at()  # the log's present
    assert order_then == ["spring_hit"] and "autumn_hit" not in then  # nothing from after that moment is used
    assert order_now == ["autumn_hit"] and now["autumn_hit"] == 1.0


def test_a_why_answer_quotes_the_request_once_and_speaks_plainly(recommender):
    why = recommender.explain("u3", "crime1", "a crime film before 2000").text
    assert why.count("'a crime film before 2000'") == 1  # before: quoted again in "It fits your request '…'"
    assert "It fits that request: " in why
    assert "of that profile" not in why and "collaborative score" not in why and "shares of that score" not in why


def test_a_request_about_a_subject_finds_the_story_that_tells_it_and_quotes_it(recommender):
    recs = recommender.recommend("u3", "a movie about a bank robbery", k=3)

    assert recs[0].item.item_id == "crime1", "The Heist's story is the one about a bank robbery"
    assert recs[0].story == "A gang plans a bank robbery."
    assert "about 'bank robbery'" in " ".join(recs.notes)
    why = recommender.explain("u3", "crime1", request="a movie about a bank robbery")
    assert "Its story says what you asked about ('bank robbery'" in why.text and "“A gang plans a bank robbery.”" in why.text


def test_a_why_without_a_request_quotes_the_story_it_rests_on(recommender):
    why = recommender.explain("u1", "space3")

    assert "Its story: “First contact with aliens on a faraway planet.”" in why.sentences


def test_a_request_that_is_all_filter_ranks_by_taste_within_it(recommender):
    asked = recommender.recommend("u2", "a sci-fi movie", k=4)
    filtered = recommender.recommend("u2", k=4, categories=["Sci-Fi"])

    assert not asked.understood.beyond_filters
    assert [r.item.item_id for r in asked] == [r.item.item_id for r in filtered]
    assert "request" not in asked[0].scores, "the words 'sci-fi movie' are not matched against the stories"
    assert recommender.understand("a sci-fi movie about smugglers").beyond_filters


def test_a_why_names_the_keywords_that_matched_when_the_story_does_not_say_it(small_store, reranker):
    from whyrec.store.records import Dataset

    from tests.conftest import SMALL_CATALOG

    tagged = Item("vault", "Clockwork", "Four friends meet every Sunday.", ("Crime",), 1999, keywords=("heist", "friendship"))
    small_store.ingest(Dataset("tagged", [*SMALL_CATALOG, tagged], list(SMALL_INTERACTIONS)), progress=False)
    why = Recommender(small_store, reranker).explain("u1", "vault", request="a heist movie")

    assert "Its keywords say what you asked about: heist." in why.sentences
    assert "Its story: “Four friends meet every Sunday.”" in why.sentences


def test_applying_a_request_leaves_the_parsed_request_as_it_was_read(recommender, monkeypatch):
    read = []
    parse = recommender.understand

    def understand(text):
        parsed = parse(text)
        read.append((parsed, copy.deepcopy(parsed)))
        return parsed

    monkeypatch.setattr(recommender, "understand", understand)
    recs = recommender.recommend("u3", "a crime film from the 90s", k=10, year_min=2000)  # the year filter wins over the 90s
    (parsed, before), = read
    assert parsed == before and parsed.notes == before.notes and parsed.years == before.years
    assert recs.understood is parsed and parsed.years.label == "1990–1999"
    assert recs.request.applied.years is None and parsed.years in recs.request.applied.boost_years


def test_understood_says_what_was_read_and_what_was_applied_instead(recommender):
    recs = recommender.recommend("u3", "a crime film from the 90s", k=10, year_min=2000)
    read, applied = recs.notes[0], recs.notes[1]
    assert read.startswith("Understood: years 1990–1999") and "Crime" in read
    assert applied == "Applied: years 1990–1999 as a preference, not a filter."
    assert recs.notes[2].startswith("Your year filter (2000 or later) wins over 1990–1999")
    plain = recommender.recommend("u3", "a crime film from the 90s", k=2)  # nothing widened: no "Applied:" line
    assert not any(n.startswith("Applied:") for n in plain.notes)
