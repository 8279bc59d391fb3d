"""The leave-one-out protocol on crafted datasets, and the baselines against it."""

import logging

import numpy as np
import pytest
from whyrec.store.database import Database
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.tools.evaluation.baselines import (
    EASERanker,
    ItemKNNRanker,
    PopularityRanker,
    RandomRanker,
)
from whyrec.tools.evaluation.splits import evaluate, format_table, leave_one_out


def _x(user, item, ts):
    return Interaction(user_id=user, item_id=item, timestamp=float(ts), rating=4.0)


def _dataset(interactions, n_items=6):
    items = [Item(item_id=f"i{j}", title=f"Item {j}") for j in range(n_items)]
    return Dataset(name="tiny", items=items, interactions=interactions)


def test_split_orders_by_time_not_by_input_order():
    data = _dataset([_x("u", "i3", 30), _x("u", "i1", 10), _x("u", "i4", 40), _x("u", "i2", 20)])
    split = leave_one_out(data)
    assert [x.item_id for x in split.train["u"]] == ["i1", "i2"]
    assert split.valid["u"].item_id == "i3"
    assert split.test["u"].item_id == "i4"


def test_equal_timestamps_keep_their_input_order():
    data = _dataset([_x("u", "i0", 5), _x("u", "i2", 9), _x("u", "i1", 9), _x("u", "i3", 9)])
    split = leave_one_out(data)
    assert [x.item_id for x in split.train["u"]] == ["i0", "i2"]
    assert split.valid["u"].item_id == "i1"
    assert split.test["u"].item_id == "i3"


def test_users_with_fewer_than_three_items_are_train_only():
    data = _dataset(
        [_x("short", "i0", 1), _x("short", "i1", 2), _x("ok", "i0", 1), _x("ok", "i1", 2), _x("ok", "i2", 3)]
    )
    split = leave_one_out(data)
    assert split.users == ["ok"]
    assert split.train_only_users == ["short"]
    assert [x.item_id for x in split.train["short"]] == ["i0", "i1"]  # still there to fit models on
    assert len(split.train_interactions()) == 3


def test_repeated_items_count_once_at_their_first_time():
    data = _dataset([_x("u", "i0", 1), _x("u", "i1", 2), _x("u", "i0", 3), _x("u", "i2", 4), _x("u", "i3", 5)])
    split = leave_one_out(data)
    assert split.dropped_repeats == 1
    assert [x.item_id for x in split.train["u"]] == ["i0", "i1"]
    assert (split.valid["u"].item_id, split.test["u"].item_id) == ("i2", "i3")


def test_min_interactions_below_three_is_refused():
    with pytest.raises(ValueError, match="min_interactions must be >= 3"):
        leave_one_out(_dataset([]), min_interactions=2)


def test_ranker_sees_train_at_valid_stage_and_train_plus_valid_at_test_stage():
    data = _dataset([_x("u", "i0", 1), _x("u", "i1", 2), _x("u", "i2", 3), _x("u", "i3", 4)])
    split = leave_one_out(data)
    calls = []

    def ranker(user_id, history, exclude, n):
        calls.append(([x.item_id for x in history], set(exclude), n))
        return ["i3", "i2", "i4", "i5"][:n]

    valid = evaluate(ranker, split, k=2, stage="valid")
    test = evaluate(ranker, split, k=2, stage="test")
    assert calls[0] == (["i0", "i1"], {"i0", "i1"}, 2)
    assert calls[1] == (["i0", "i1", "i2"], {"i0", "i1", "i2"}, 2)
    assert valid["Recall@2"] == 1.0 and valid["MRR@2"] == pytest.approx(0.5)  # i2 at position 1
    assert test["Recall@2"] == 1.0 and test["MRR@2"] == 1.0  # i3 at position 0


def test_target_beyond_the_top_n_is_a_miss_and_mrr_at_n_is_reported():
    data = _dataset([_x("u", "i0", 1), _x("u", "i1", 2), _x("u", "i2", 3), _x("u", "i3", 4)])
    split = leave_one_out(data)
    order = ["i5", "i4", "i3"]
    result = evaluate(lambda u, h, e, n: order[:n], split, k=2, n=3)
    assert result["Recall@2"] == 0.0
    assert result["MRR@2"] == 0.0
    assert result["MRR@3"] == pytest.approx(1 / 3)
    assert evaluate(lambda u, h, e, n: order[:2], split, k=2)["Recall@2"] == 0.0


def test_coverage_and_ild_come_from_the_top_k_lists():
    data = _dataset([_x(u, f"i{j}", j) for u in ("a", "b") for j in range(3)], n_items=6)
    split = leave_one_out(data)
    vectors = {f"i{j}": np.eye(6)[j] for j in range(6)}
    result = evaluate(lambda u, h, e, n: ["i3", "i4", "i5"][:n], split, k=2, item_vectors=vectors)
    assert result["Coverage@2"] == pytest.approx(2 / 6)
    assert result["ILD@2"] == pytest.approx(1.0)  # one-hot vectors are orthogonal
    assert evaluate(lambda u, h, e, n: ["i3", "i4"], split, k=2)["ILD@2"] is None


def test_user_subsample_is_seeded_and_sized():
    data = _dataset([_x(f"u{i}", f"i{j}", j) for i in range(20) for j in range(4)])
    split = leave_one_out(data)
    seen = []

    def ranker(user_id, history, exclude, n):
        seen.append(user_id)
        return ["i5"]

    first = evaluate(ranker, split, k=1, users=5, seed=3)
    picked = list(seen)
    seen.clear()
    evaluate(ranker, split, k=1, users=5, seed=3)
    assert first["n_users"] == 5 and seen == picked
    with pytest.raises(ValueError, match="user 'nobody' is not evaluated"):
        evaluate(ranker, split, k=1, users=["nobody"])


def test_users_are_listed_and_sampled_in_the_stores_order(tmp_path):
    """"9" comes before "10", as the store lists them: the same seed names the same people everywhere."""
    data = _dataset([_x(u, f"i{j}", j) for u in ("10", "9", "2", "100", "1") for j in range(3)])
    db = Database(tmp_path / "whyrec.db")
    db.replace_dataset(data)
    split = leave_one_out(data)
    assert split.users == db.users() == ["1", "2", "9", "10", "100"]
    scored = evaluate(lambda u, h, e, n: ["i5"], split, k=1, per_user=True)
    assert scored["users"] == ["1", "2", "9", "10", "100"]
    sampled = evaluate(lambda u, h, e, n: ["i5"], split, k=1, users=4, seed=0, per_user=True)["users"]
    assert sampled == [u for u in db.users() if u in sampled]


def test_bad_arguments_are_refused():
    split = leave_one_out(_dataset([_x("u", f"i{j}", j) for j in range(4)]))
    with pytest.raises(ValueError, match='stage must be "valid" or "test"'):
        evaluate(lambda *a: [], split, stage="train")
    with pytest.raises(ValueError, match="need 1 <= k <= n"):
        evaluate(lambda *a: [], split, k=5, n=3)


def test_returning_known_items_is_warned_about(caplog):
    split = leave_one_out(_dataset([_x("u", f"i{j}", j) for j in range(4)]))
    with caplog.at_level(logging.WARNING):
        evaluate(lambda u, h, e, n: ["i0", "i3"], split, k=2)
    assert "already-known items" in caplog.text


def test_format_table_renders_markdown_with_model_first():
    table = format_table([{"Recall@10": 0.12345, "model": "EASE", "ILD@10": None}, {"model": "Pop", "extra": 3}])
    lines = table.splitlines()
    assert lines[0] == "| model | Recall@10 | ILD@10 | extra |"
    assert lines[2] == "| EASE | 0.1235 | – | – |"
    assert lines[3] == "| Pop | – | – | 3 |"


# ---- baselines on a synthetic dataset with an obvious pattern -------------------------

def _tribes(n_users=60, n_tribes=3, per_tribe=4, seed=0):
    """Users belong to one of ``n_tribes`` tribes and interact with all of their tribe's
    items, in a random order, and nothing else.

    After three of the four items the fourth is certain for anyone who learned the
    tribes from other users; a random ranker picks it 1 time in 9.
    """
    rng = np.random.default_rng(seed)
    tribes = [[f"t{t}_{j}" for j in range(per_tribe)] for t in range(n_tribes)]
    items = [Item(item_id=i, title=i) for tribe in tribes for i in tribe]
    interactions = []
    for u in range(n_users):
        for ts, item in enumerate(rng.permutation(tribes[u % n_tribes])):
            interactions.append(_x(f"u{u}", str(item), ts))
    return Dataset(name="tribes", items=items, interactions=interactions)


@pytest.mark.parametrize(
    "ranker", [ItemKNNRanker(neighbours=5), ItemKNNRanker(neighbours=5, half_life=2.0), EASERanker(l2=10.0)]
)
def test_collaborative_baselines_beat_random_on_a_clear_pattern(ranker):
    split = leave_one_out(_tribes())
    train = split.train_interactions()
    random_ = evaluate(RandomRanker(seed=1).fit(train, split.items), split, k=1)
    model = evaluate(ranker.fit(train, split.items), split, k=1)
    assert random_["Recall@1"] < 0.3
    assert model["Recall@1"] > 0.95


def test_popularity_ranks_the_most_interacted_unseen_item_first():
    data = _dataset(
        [_x(f"u{i}", "i5", 1) for i in range(3)] + [_x("u9", "i1", 1), _x("u9", "i4", 2)]
    )
    ranker = PopularityRanker().fit(data.interactions, [it.item_id for it in data.items])
    assert ranker("x", [], set(), 2) == ["i5", "i1"]
    assert ranker("x", [], {"i5"}, 1) == ["i1"]


def test_baselines_never_return_excluded_items_and_handle_tiny_catalogs():
    data = _dataset([_x("u", f"i{j}", j) for j in range(6)])
    items = [it.item_id for it in data.items]
    for ranker in (PopularityRanker(), ItemKNNRanker(neighbours=2), EASERanker(l2=1.0), RandomRanker()):
        ranker.fit(data.interactions, items)
        out = ranker("u", data.interactions[:4], {"i0", "i1", "i2", "i3"}, 10)
        assert sorted(out) == ["i4", "i5"]


def test_unfitted_ranker_says_how_to_fix_it():
    with pytest.raises(RuntimeError, match=r"call \.fit\(train_interactions, items\) first"):
        EASERanker()("u", [], set(), 5)


# --- one split rule, the temporal protocol, paired intervals -------------------------------------

def test_the_reranker_holds_out_exactly_the_evaluation_targets():
    from whyrec.tools.training.candidate_lists import split_history

    history = [_x("u", "i0", 1), _x("u", "i1", 2), _x("u", "i0", 3), _x("u", "i2", 4), _x("u", "i3", 4)]
    split = leave_one_out(_dataset(history))
    prefix, held_out = split_history(history)
    assert prefix == split.train["u"], "the repeat of i0 is dropped in both"
    assert held_out == [split.valid["u"], split.test["u"]]


def _temporal_data():
    return _dataset(
        [_x("a", "i0", 1), _x("a", "i1", 2), _x("a", "i2", 3), _x("a", "i0", 8), _x("a", "i4", 9), _x("a", "i3", 7),  # i0 again after T: not new
         _x("b", "i0", 1), _x("b", "i5", 8),  # too little history before T
         _x("c", "i1", 1), _x("c", "i2", 2), _x("c", "i3", 3), _x("c", "i4", 4),  # nothing after T
         _x("d", "i5", 6)]  # nothing before T
    )


def test_temporal_split_trains_on_the_past_and_tests_each_user_on_their_first_new_item():
    from whyrec.tools.evaluation.splits import temporal_split

    split = temporal_split(_temporal_data(), cutoff_quantile=0.7, min_history=3)
    assert split.cutoff == 6.0
    assert all(x.timestamp < split.cutoff for x in split.train_interactions()), "no interaction from T on is seen"
    assert split.users == ["a"]
    assert split.test["a"].item_id == "i3", "the first new item after T (i0 was seen before)"
    assert [x.item_id for x in split.history("a")] == ["i0", "i1", "i2"]
    assert set(split.train_only_users) == {"b", "c", "d"}
    with pytest.raises(ValueError, match="test stage only"):
        split.history("a", "valid")
    result = evaluate(lambda u, h, e, n: ["i3"], split, k=1)
    assert result["Recall@1"] == 1.0 and result["n_users"] == 1


def test_each_protocol_says_when_its_users_ask():
    from whyrec.tools.evaluation.splits import leave_one_out, temporal_split

    data = _temporal_data()
    temporal = temporal_split(data, cutoff_quantile=0.7, min_history=3)
    assert temporal.request_time(temporal.history("a")) == temporal.cutoff  # everyone asks at T
    loo = leave_one_out(data)
    user = loo.users[0]
    history = loo.history(user, "valid")
    assert loo.request_time(history) == max(x.timestamp for x in history) < loo.target(user, "valid").timestamp
    assert loo.request_time([]) is None


def test_temporal_split_refuses_a_cutoff_outside_the_data():
    from whyrec.tools.evaluation.splits import temporal_split

    with pytest.raises(ValueError, match="cutoff_quantile"):
        temporal_split(_temporal_data(), cutoff_quantile=1.0)


def test_recent_popularity_prefers_what_is_popular_just_before_the_cutoff():
    from whyrec.tools.evaluation.baselines import RecentPopularityRanker

    day = 86400.0
    old = [Interaction(f"u{n}", "i0", 0.0, 4.0) for n in range(5)]  # the all-time favourite, long ago
    recent = [Interaction(f"v{n}", "i1", 100 * day, 4.0) for n in range(2)] + [Interaction("w", "i2", 100 * day, 4.0)]
    ranker = RecentPopularityRanker(window_days=30).fit(old + recent, [f"i{j}" for j in range(4)])
    assert ranker("x", [], set(), 4)[:3] == ["i1", "i2", "i0"]
    assert PopularityRanker().fit(old + recent, [f"i{j}" for j in range(4)])("x", [], set(), 1) == ["i0"]


def test_the_evaluation_ease_is_the_pipelines_ease():
    from whyrec.tools.recommend.collaborative import EASE, CollaborativeModel

    data = [_x(f"u{n}", f"i{(n + j) % 6}", j) for n in range(8) for j in range(3)]
    items = [f"i{j}" for j in range(6)]
    ranker = EASERanker().fit(data, items)
    pipeline = CollaborativeModel.fit(data, items, "ease")
    assert isinstance(ranker.model, EASE) and isinstance(pipeline.model, EASE)
    history = data[:2]
    assert np.allclose(ranker.scores(history), pipeline.model.scores(history))


def test_per_user_ndcg_averages_to_the_reported_ndcg():
    data = _dataset([_x(u, f"i{j}", j) for u in ("a", "b", "c") for j in range(4)])
    split = leave_one_out(data)
    result = evaluate(lambda u, h, e, n: ["i3", "i4"] if u != "b" else ["i4", "i3"], split, k=2, per_user=True)
    assert result["users"] == ["a", "b", "c"]
    assert result["ndcg_per_user"] == pytest.approx([1.0, 1 / np.log2(3), 1.0])
    assert np.mean(result["ndcg_per_user"]) == pytest.approx(result["NDCG@2"])


def test_paired_bootstrap_interval_brackets_a_clear_difference_and_collapses_for_equal_models():
    from whyrec.tools.evaluation.metrics import paired_bootstrap_ci

    rng = np.random.default_rng(0)
    b = rng.random(500)
    delta, low, high = paired_bootstrap_ci(b + 0.1, b)
    assert delta == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    noisy = b + rng.normal(0.05, 0.3, size=500)
    delta, low, high = paired_bootstrap_ci(noisy, b)
    assert low < delta < high and 0 < low, "a +0.05 mean gain over 500 users is resolved"
    _, low, high = paired_bootstrap_ci(b + rng.normal(0, 0.3, size=500), b)
    assert low < 0 < high, "no real difference: the interval contains 0"
    assert paired_bootstrap_ci(noisy, b, seed=1) == paired_bootstrap_ci(noisy, b, seed=1)
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap_ci(b, b[:10])


def test_the_report_writes_both_protocols_into_a_new_folder(tmp_path):
    from whyrec.tools.evaluation.report import add_paired, write_report

    rows = [{"model": "EASE", "NDCG@10": 0.1}, {"model": "popularity", "NDCG@10": 0.05}, {"model": "whyrec: pipeline", "NDCG@10": 0.2}]
    add_paired(rows, {"EASE": {"1": 0.0, "2": 0.2}, "popularity": {"1": 0.1, "2": 0.0}, "whyrec: pipeline": {"1": 0.2, "2": 0.2}})
    assert rows[2]["paired"]["vs"] == "EASE" and rows[2]["paired"]["ndcg_delta"] == pytest.approx(0.1)
    assert "paired" not in rows[0]
    report = {"k": 10, "protocols": {"leave_one_out": {"users": 2, "rows": rows}, "temporal": {"users": 2, "rows": rows}}}
    path = tmp_path / "new" / "folder" / "quality.json"
    table = write_report(report, path)
    assert path.exists() and "### temporal" in table and "+0.1000 vs EASE" in table


def test_a_cross_encoder_row_is_paired_with_the_pipeline_without_it(tmp_path):
    """The reranker's target is against its absence, so its row carries that difference on the users both saw."""
    from whyrec.tools.evaluation.report import NO_RERANKER, paired_delta, write_report

    without = {"1": 0.5, "2": 0.0, "3": 0.3}
    with_it = {"1": 0.6, "3": 0.3}  # scored on a subset of the users
    against = paired_delta(with_it, without, NO_RERANKER)
    assert against["vs"] == NO_RERANKER and against["users"] == 2 and against["ndcg_delta"] == pytest.approx(0.05)
    rows = [{"model": "whyrec + fine-tuned cross-encoder", "NDCG@10": 0.45, "vs_no_reranker": against}]
    table = write_report({"k": 10, "protocols": {"leave_one_out": {"users": 3, "rows": rows}}}, tmp_path / "q.json")
    assert "+0.0500 [" in table
