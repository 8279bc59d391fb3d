import logging

import numpy as np
import pytest
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction
from whyrec.store.synthetic import synthetic_dataset
from whyrec.tools.recommend.collaborative import (
    EASE_MAX_ITEMS,
    LARGE_CATALOG_MODEL,
    MODELS,
    CollaborativeModel,
    choose_model,
    ease_weights,
    implicit_matrix,
)
from whyrec.tools.recommend.recommender import Recommender

GB = 10**9


def test_people_who_liked_a_also_liked_b():
    log = []
    for n in range(20):  # twenty people watched A then B; ten watched C then D
        log += [Interaction(f"p{n}", "A", 1.0), Interaction(f"p{n}", "B", 2.0)]
    for n in range(10):
        log += [Interaction(f"q{n}", "C", 1.0), Interaction(f"q{n}", "D", 2.0)]
    model = CollaborativeModel.fit(log, ["A", "B", "C", "D"])
    history = [Interaction("me", "A", 5.0)]
    top = model.top(history, n=2, exclude={"A"})
    assert top[0] == ("B", 1.0)
    assert model.contributions(history, "B") == [("A", 1.0)]
    assert model.scores(history).get("D", 0.0) == 0.0


def test_no_interactions_means_no_model():
    assert CollaborativeModel.fit([], ["A"]) is None


@pytest.fixture(scope="module")
def small_log():
    data = synthetic_dataset(items=300, interactions=20_000, seed=3)
    return data.interactions, [i.item_id for i in data.items]


@pytest.mark.parametrize("name", MODELS)
def test_each_model_names_history_items_whose_removal_lowers_the_score(name, small_log):
    interactions, items = small_log
    model = CollaborativeModel.fit(interactions, items, name)
    assert model.name == name
    checked = 0
    for user in ("u1", "u2", "u3", "u5", "u8"):
        history = [x for x in interactions if x.user_id == user][-15:]
        seen = {x.item_id for x in history}
        best = next((i for i in model.scores(history) if i not in seen), None)
        if len(history) < 3 or best is None:
            continue
        named = model.contributions(history, best)
        assert named and {i for i, _ in named} <= seen
        assert sum(share for _, share in named) <= 1.0 + 1e-9
        column = model.model.index[best]
        before = model.model.scores(history)[column]
        without = [x for x in history if x.item_id != named[0][0]]
        assert model.model.scores(without)[column] < before, f"{name}: removing {named[0][0]} did not lower {best}'s score"
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", MODELS)
def test_each_model_recommends_what_similar_people_took_up(name):
    log = []
    for n in range(30):  # thirty people watched A, B, C; twenty watched D, E, F
        log += [Interaction(f"p{n}", i, float(t)) for t, i in enumerate("ABC")]
    for n in range(20):
        log += [Interaction(f"q{n}", i, float(t)) for t, i in enumerate("DEF")]
    model = CollaborativeModel.fit(log, list("ABCDEF"), name)
    history = [Interaction("me", "A", 1.0), Interaction("me", "B", 2.0)]
    assert model.top(history, n=1, exclude={"A", "B"})[0][0] == "C"
    assert {i for i, _ in model.contributions(history, "C")} <= {"A", "B"}


def test_the_memory_lean_ease_equals_the_textbook_formula():
    rng = np.random.default_rng(0)
    log = [Interaction(f"u{u}", f"i{i}", 0.0) for u in range(40) for i in rng.choice(30, 6, replace=False)]
    index = {f"i{i}": i for i in range(30)}
    x = implicit_matrix(log, index)
    p = np.linalg.inv((x.T @ x).toarray() + 7.0 * np.eye(30))
    textbook = -p / np.diag(p)
    np.fill_diagonal(textbook, 0.0)
    assert np.allclose(ease_weights(x, 7.0, block=8), textbook)


def test_auto_picks_ease_while_it_fits_and_the_large_catalog_model_past_that():
    assert choose_model(1_682, "auto", memory=20 * GB).name == "ease"
    tight = choose_model(20_000, "auto", memory=2 * GB)
    assert tight.name == LARGE_CATALOG_MODEL and "GB" in tight.reason
    huge = choose_model(EASE_MAX_ITEMS + 1, "auto", memory=10_000 * GB)
    assert huge.name == LARGE_CATALOG_MODEL and f"{EASE_MAX_ITEMS:,}" in huge.reason


def test_fit_follows_the_memory_it_is_given_and_logs_why(small_log, caplog):
    interactions, items = small_log
    with caplog.at_level(logging.INFO, logger="whyrec.tools.recommend.collaborative"):
        roomy = CollaborativeModel.fit(interactions, items, memory=100 * GB)
        tight = CollaborativeModel.fit(interactions, items, memory=1_000_000)
    assert roomy.name == "ease"
    assert tight.name == LARGE_CATALOG_MODEL
    assert f"collaborative model: {LARGE_CATALOG_MODEL}, because EASE on 300 items needs" in caplog.text


def test_a_forced_model_is_used_whatever_the_size(small_log):
    interactions, items = small_log
    assert CollaborativeModel.fit(interactions, items, "als", memory=100 * GB).name == "als"
    assert CollaborativeModel.fit(interactions, items, "ease", memory=1).name == "ease"


def test_an_unknown_model_is_a_one_line_error(small_log):
    interactions, items = small_log
    with pytest.raises(InputError, match=r"^unknown collaborative model 'knn' — use auto, ease, item_knn, als$"):
        CollaborativeModel.fit(interactions, items, "knn")


def test_the_setting_reaches_the_recommender(small_store):
    small_store.settings = small_store.settings.model_copy(update={"collaborative": "item_knn"})
    recommender = Recommender(small_store, None)
    assert recommender.collaborative.name == "item_knn"
    assert recommender.recommend("u1", k=3)
