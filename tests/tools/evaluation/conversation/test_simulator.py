"""The simulated user and the conversation metrics: never naming the target, constraints, why checks, a smoke run."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.tools.evaluation.conversation.benchmark import (
    RecommenderSystem,
    pick_sessions,
    prepare_simulation_store,
    run_benchmark,
    run_session,
    without_targets,
)
from whyrec.tools.evaluation.conversation.metrics import (
    SessionRecord,
    SystemReply,
    TurnRecord,
    summarize,
    turn_satisfaction,
    why_answer_is_grounded,
)
from whyrec.tools.evaluation.conversation.simulator import (
    Constraints,
    Session,
    SimulatedUser,
    UserTurn,
    names_item,
)
from whyrec.tools.evaluation.splits import leave_one_out, temporal_split
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.understanding.titles import display_title

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS

ITEMS = {i.item_id: i for i in SMALL_CATALOG}


class RandomShowingSystem:
    """Shows 10 random catalog items a turn (sometimes the target), so every kind of follow-up happens."""

    name = "random"

    def __init__(self, items: list[str], seed: int = 0) -> None:
        self.items, self.rng = items, random.Random(seed)
        self.moments: list[float | None] = []

    def start(self, user_id: str, session_id: str, moment: float | None = None) -> None:
        self.moments.append(moment)

    def respond(self, turn: UserTurn) -> SystemReply:
        return SystemReply(self.rng.sample(self.items, 10) if turn.asks_for_items else [], "Because.")


@pytest.fixture(scope="module")
def movielens():
    dataset = load_movielens_100k()
    items = {i.item_id: i for i in dataset.items}
    rng = np.random.default_rng(0)
    vectors = {i: v / np.linalg.norm(v) for i, v in zip(items, rng.normal(size=(len(items), 16)), strict=True)}
    return dataset, items, vectors, leave_one_out(dataset)


def test_the_simulated_user_never_names_the_target_in_any_line(movielens) -> None:
    _, items, vectors, split = movielens
    leaky = lambda line: line + " — " + ", ".join(display_title(s.target.title) for s in sessions)
    sessions = pick_sessions(split, items, 250, seed=3)
    lines = 0
    for paraphrase in (None, leaky):
        user = SimulatedUser(items, vectors, why_rate=0.5, paraphrase=paraphrase)
        system = RandomShowingSystem(list(items))
        for session in sessions:
            record = run_session(user, system, session, 5, lambda _: set(), "s")
            for t in record.turns:
                lines += 1
                assert not names_item(t.turn.text, session.target), f"{t.turn.text!r} names the target {session.target.title!r}"
    assert lines > 1200


def test_each_session_is_asked_at_the_users_own_moment_not_months_later(movielens) -> None:
    _, items, vectors, split = movielens
    sessions = pick_sessions(split, items, 20, seed=3)
    system = RandomShowingSystem(list(items))
    for session in sessions:
        run_session(SimulatedUser(items, vectors, why_rate=0.0), system, session, 1, lambda _: set(), "s")
    newest = [max(float(x.timestamp) for x in s.history) for s in sessions]
    assert system.moments == newest  # right after the newest item the system knows, as leave-one-out replays it
    assert min(newest) < max(float(x.timestamp) for x in split.train_interactions())  # not everyone at the log's end


def test_requests_use_everyday_words_and_vary_in_specificity(movielens) -> None:
    _, items, vectors, split = movielens
    user = SimulatedUser(items, vectors)
    openings = [user.open(s)[0] for s in pick_sessions(split, items, 300, seed=1)]
    texts = " ".join(o.text for o in openings)
    assert "scary" in texts or "horror" in texts
    assert "something funny" in texts or "laugh" in texts
    assert "something like " in texts and "from the " in texts
    sizes = {(len(o.constraints.genres), o.constraints.year_min is not None) for o in openings}
    assert len(sizes) >= 4, "some requests say one thing, others combine genres and years"
    again = [user.open(s)[0].text for s in pick_sessions(split, items, 300, seed=1)]
    assert again == [o.text for o in openings], "seeded: the same sessions say the same lines"


def test_a_genre_word_that_is_the_targets_title_is_never_said() -> None:
    target = Item("t", "Something Funny", categories=("Comedy",), year=1994)
    other = Item("o", "Other", categories=("Comedy",), year=1990)
    user = SimulatedUser({"t": target, "o": other}, {"t": np.ones(2) / 2**0.5, "o": np.ones(2) / 2**0.5})
    session = Session("u", target, [Interaction("u", "o", 1.0, 5.0)], seed=0)
    for seed in range(40):
        turn, _ = user.open(Session("u", target, session.history, seed))
        assert not names_item(turn.text, target), turn.text


def test_a_copy_of_the_target_under_its_title_is_never_rejected_by_name() -> None:
    target = Item("t", "Money Talks", categories=("Comedy",), year=1997)
    copy = Item("c", "Money Talks", categories=("Comedy",), year=1997)  # MovieLens lists some films under two ids
    other = Item("o", "Other", categories=("Comedy",), year=1990)
    unit = np.ones(2) / 2**0.5
    user = SimulatedUser({"t": target, "c": copy, "o": other}, {"t": unit, "c": unit, "o": unit})
    for seed in range(20):
        session = Session("u", target, [Interaction("u", "o", 1.0, 5.0)], seed=seed)
        _, state = user.open(session)
        state.left.clear()  # nothing left to add: the next line rejects a shown item
        turn = user.next_turn(session, state, ["c", "o"])  # before: "I don't like Money Talks." tripped the guard
        assert turn is not None and not names_item(turn.text, target), turn.text


def test_hard_and_soft_constraints_on_hand_made_items() -> None:
    wanted = Constraints(genres=frozenset({"Sci-Fi", "Action"}), year_min=2000, year_max=2009, excluded=frozenset({"space4"}))
    assert wanted.met_by(ITEMS["space3"])  # Sci-Fi + Action, 2001
    assert not wanted.met_by(ITEMS["space4"])  # rejected
    assert not wanted.met_by(ITEMS["space2"])  # Sci-Fi only, 1995
    assert not wanted.met_by(ITEMS["rom3"])  # 2003 but a romance
    assert wanted.softly_met_by(ITEMS["space5"])  # one genre is enough for the soft variant
    assert not wanted.softly_met_by(ITEMS["rom3"])
    assert not wanted.softly_met_by(ITEMS["space1"])  # years stay hard in the soft variant
    assert not wanted.met_by(Item("x", "No Year", categories=("Sci-Fi", "Action")))
    catalog = {**ITEMS, "solo": Item("solo", "Solo Orbit", categories=("Sci-Fi",), year=2004)}
    assert wanted.softly_met_by(catalog["solo"]) and not wanted.met_by(catalog["solo"])
    hard, soft = turn_satisfaction(["space3", "space4", "solo", "rom3"], catalog, wanted, k=10)
    assert (hard, soft) == (0.25, 0.5)
    assert turn_satisfaction(["space3", "space4", "solo", "rom3"], catalog, wanted, k=1) == (1.0, 1.0), "only the first k count"
    assert turn_satisfaction(["space3"], ITEMS, Constraints(), k=10) is None, "nothing asked, nothing to satisfy"
    assert turn_satisfaction([], ITEMS, wanted, k=10) is None


def test_a_why_answer_counts_only_with_true_evidence() -> None:
    history = [ITEMS["rom1"], ITEMS["crime1"], ITEMS["space1"]]
    asked = ITEMS["space2"]
    none = Constraints()
    assert why_answer_is_grounded("It is close to 'Star Voyage', which you rated 5.", asked, history, set(), none)
    assert not why_answer_is_grounded("Why not Orbit Station?", asked, history, set(), none)
    assert not why_answer_is_grounded("It is like 'Nebula Run'.", asked, history, set(), none), "not in the history"
    assert not why_answer_is_grounded("You have already watched it. Like Star Voyage.", asked, history, set(), none), "false status"
    seen = ITEMS["crime1"]
    assert why_answer_is_grounded("You have already interacted with it, so it is not recommended again.", seen, history, set(), none)
    assert not why_answer_is_grounded("The Heist is a great heist film.", seen, history, set(), none), "naming the item itself is no evidence"
    assert why_answer_is_grounded("You marked it as not for you.", asked, history, {"space2"}, none)
    assert not why_answer_is_grounded("You marked it as not for you.", asked, history, set(), none)
    romance_only = Constraints(genres=frozenset({"Romance"}))
    assert why_answer_is_grounded("It is excluded by your request for romance.", asked, history, set(), romance_only)
    assert not why_answer_is_grounded("It is excluded by your filters.", ITEMS["rom2"], history, set(), romance_only)
    both = "You have already interacted with it. Your request rules it out: it is not Romance."
    assert why_answer_is_grounded(both, seen, history, set(), romance_only), "seen and outside the request: both true"
    assert not why_answer_is_grounded(both, seen, history, set(), none), "nothing was asked: 'rules it out' is false"


def _turn(kind: str, item_id: str | None = None, constraints: Constraints | None = None) -> UserTurn:
    return UserTurn(kind, f"{kind} text", constraints or Constraints(), item_id, expected_tool="explain_recommendation" if kind.startswith("why") else "recommend")


def test_summary_scores_scripted_sessions() -> None:
    scifi = Constraints(genres=frozenset({"Sci-Fi"}))
    found_second = SessionRecord("u1", "space3", [
        TurnRecord(_turn("request", constraints=scifi), SystemReply(["space1", "rom1"], tools=["recommend"], seconds=1.0, first_item_seconds=0.5), 1),
        TurnRecord(_turn("why", "space1"), SystemReply([], "x", tools=["explain_recommendation"], seconds=2.0), 0),
        TurnRecord(_turn("reject", "space1", Constraints(genres=scifi.genres, excluded=frozenset({"space1"}))),
                   SystemReply(["space3", "space1"], tools=["recommend"], seconds=3.0, first_item_seconds=1.5), 2),
    ], why_grounded=[True])
    never = SessionRecord("u2", "crime3", [
        TurnRecord(_turn("request", constraints=scifi), SystemReply(["space2"], tools=["search_catalog"], seconds=4.0, first_item_seconds=4.0), 1),
        TurnRecord(_turn("why_not", "crime1"), SystemReply([], "y", tools=["recommend"], seconds=5.0), 0),
    ], why_grounded=[False])
    row = summarize("agent", [found_second, never], ITEMS, turns=3, k=10)
    assert row["sessions"] == 2
    assert row["success@10_1turn"] == 0.0 and row["success@10_3turns"] == 0.5
    assert row["success@10_5turns"] is None, "not measurable with a 3-turn budget"
    assert row["why_answer_rate"] == 0.5
    assert row["right_tool_rate"] == 0.6  # 3 of 5 turns: the search and the recommend-for-why are wrong
    assert row["feedback_respected"] == 0.0, "the rejected item came back"
    assert row["request_satisfaction"] == pytest.approx((0.5 + 0.5 + 1.0) / 3, abs=1e-4)
    assert row["turn_p50_s"] == 3.0 and row["first_items_p50_s"] == 1.5


def test_temporal_sessions_see_only_what_came_before_T_and_are_asked_at_T(settings, small_store: Store, tmp_path) -> None:
    dataset = Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS))
    split = temporal_split(dataset, min_history=3)
    store = prepare_simulation_store(settings, dataset, split)
    assert store.settings.data_dir.name == "simulation-temporal"  # its own store: the leave-one-out one stays as it is
    assert max(x.timestamp for x in store.db.all_interactions()) < split.cutoff, "a system must not see what came after T"
    assert len(store.db.all_interactions()) < len(small_store.db.all_interactions()), "the main store is untouched"
    items = store.db.items()
    sessions = pick_sessions(split, items, 10)
    assert [s.user_id for s in sessions] == ["u1", "u3"] and {s.asked_at for s in sessions} == {split.cutoff}
    rows = run_benchmark([RecommenderSystem(Recommender(store, None), k=3)], store, dataset, users=5, turns=2, output=None, k=3, split=split)
    assert rows[0]["protocol"] == "temporal" and rows[0]["sessions"] == 2


def test_five_sessions_against_the_api_on_a_store_without_the_targets(settings, small_store: Store, tmp_path) -> None:
    dataset = Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS))
    split = leave_one_out(dataset)
    store = prepare_simulation_store(settings, dataset, split)
    for user_id, target in split.test.items():
        assert target.item_id not in {x.item_id for x in store.db.history(user_id)}, "the system must not see the target"
        assert target.item_id in {x.item_id for x in small_store.db.history(user_id)}, "the main store is untouched"
    assert len(without_targets(dataset, split).interactions) == len(SMALL_INTERACTIONS) - len(split.test)
    output = tmp_path / "bench" / "conversation.json"
    rows = run_benchmark([RecommenderSystem(Recommender(store, None), k=3)], store, dataset, users=5, turns=3, output=output, k=3)
    saved = json.loads(output.read_text())
    assert [r["system"] for r in saved["rows"]] == ["api"] and saved["rows"][0]["complete"]
    row = rows[0]
    assert row["sessions"] == len(split.test) == 3
    for key in ("success@10_1turn", "success@10_3turns", "request_satisfaction", "why_answer_rate", "turn_p50_s", "first_items_p50_s", "llm_calls_per_turn"):
        assert key in row
    assert row["llm_calls_per_turn"] == 0.0 and row["turn_p50_s"] > 0
    assert small_store.db.feedback("u1") == [], "dislikes given in a session stay in the simulation store"


def test_a_paraphrasers_preamble_and_quotes_are_not_what_the_person_says() -> None:
    from whyrec.tools.evaluation.conversation.simulator import spoken_line

    assert spoken_line('Sure! Here\'s the line as a person would say it:\n\n"Something scary from the 80s?"') == "Something scary from the 80s?"
    assert spoken_line("Make it from the 90s.") == "Make it from the 90s."
