"""The cross-encoder reranker: the user text, the leak-free training pairs, a short real training run, reload and scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from whyrec.store.embeddings import pick_device
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, Item
from tests.conftest import DAY, SMALL_CATALOG, SMALL_INTERACTIONS
from whyrec.tools.reranker import CARD_NAME, Reranker, liked_items, query_text
from whyrec.tools.reranker_backends import resolve_backend
from whyrec.tools.reranker_training import build_training_pairs, split_history, train_reranker

ITEMS = {item.item_id: item for item in SMALL_CATALOG}


def test_query_text_lists_newest_first_with_request_and_genres():
    recent = [ITEMS["space2"], ITEMS["space1"], ITEMS["rom1"]]  # newest first
    text = query_text(recent, "something with aliens")
    assert text.startswith("Looking for: something with aliens")
    assert "Top genres: Sci-Fi" in text
    assert text.index("Orbit Station (1995)") < text.index("Star Voyage (1990)") < text.index("Paris in Spring (1992)")


def test_query_text_keeps_the_request_when_the_history_is_long():
    long_titles = [Item(str(n), "A Very Long Title Of A Film Number %d That Goes On" % n, categories=("Drama", "Comedy"), year=1990) for n in range(50)]
    text = query_text(long_titles, "a funny film for a rainy day", max_items=50)
    assert "Looking for: a funny film for a rainy day" in text
    assert len(text) < 800  # well within 256 word pieces together with an item's text
    assert "Number 0 " in text and "Number 49 " not in text  # the oldest titles are the ones dropped


def test_query_text_max_items_and_empty_history():
    recent = [ITEMS[i] for i in ("space1", "space2", "space3")]
    assert "Alien Frontier" not in query_text(recent, max_items=2)
    assert query_text([], None)  # never an empty string


def test_liked_items_are_newest_first_and_skip_low_ratings():
    history = [
        Interaction("u", "rom1", 1.0, 5.0),
        Interaction("u", "crime1", 2.0, 2.0),  # disliked
        Interaction("u", "space1", 3.0, None),  # unrated events count as liked
        Interaction("u", "missing", 4.0, 5.0),  # not in the catalog
    ]
    assert [i.item_id for i in liked_items(history, ITEMS)] == ["space1", "rom1"]


def test_split_history_holds_out_the_last_two_by_time_then_insertion_order():
    history = [Interaction("u", "a", 3 * DAY), Interaction("u", "b", 1 * DAY), Interaction("u", "c", 3 * DAY), Interaction("u", "d", 2 * DAY)]
    prefix, held_out = split_history(history)
    assert [x.item_id for x in prefix] == ["b", "d"]
    assert [x.item_id for x in held_out] == ["a", "c"]  # same timestamp: insertion order decides


def test_held_out_interactions_never_reach_training(small_store):
    built = build_training_pairs(small_store, examples_per_user=10, negatives_per_positive=3, validation_users=0, seed=1)
    by_user: dict[str, list[Interaction]] = {}
    for x in SMALL_INTERACTIONS:
        by_user.setdefault(x.user_id, []).append(x)
    held_out = {u: {x.item_id for x in h[-2:]} for u, h in by_user.items()}
    held_out_titles = {u: {ITEMS[i].title for i in ids} for u, ids in held_out.items()}
    assert built.positives > 0
    for pair in built.pairs:
        if pair.label == 1.0:
            assert pair.item_id not in held_out[pair.user_id], f"{pair.user_id} trained on a held-out item {pair.item_id}"
        assert not any(t in pair.query for t in held_out_titles[pair.user_id]), "a held-out item leaked into a query"
    # u1 liked rom1, rom2, rom3, crime1, rom4 before the held-out space1, space2; with 2 items of context
    # the positives can only be rom3, crime1 and rom4
    assert {p.item_id for p in built.pairs if p.user_id == "u1" and p.label == 1.0} == {"rom3", "crime1", "rom4"}
    for pair in built.pairs:
        if pair.label == 0.0:  # negatives: items unseen in the training prefix (the held-out tail is invisible to training)
            assert pair.item_id not in {x.item_id for x in by_user[pair.user_id][:-2]}


def test_bad_negative_count_is_refused(small_store):
    with pytest.raises(InputError, match="negatives_per_positive is 0"):
        build_training_pairs(small_store, negatives_per_positive=0)


@pytest.fixture
def trained(small_store, tmp_path):
    """A short real training run on the small store."""
    output = tmp_path / "reranker" / "model"
    report = train_reranker(small_store, output, negatives_per_positive=2, batch_size=8, progress=False, max_steps=2, validation_users=1)
    return output, report


def test_training_saves_a_model_that_reloads_as_trained(trained, small_store):
    output, report = trained
    card = json.loads((output / CARD_NAME).read_text())
    assert card["dataset"] == "small"
    assert card["positives"] == report.positives > 0
    assert card["negatives"] == 2 * card["positives"]
    assert card["pairs"] == card["positives"] + card["negatives"]
    assert card["steps"] == 2 and 0 < card["pairs_trained"] <= 16
    assert "last 2 interactions are held out" in card["split_rule"]
    assert card["validation"] and card["baseline_validation"]
    assert not list(output.parent.glob(".model.*"))  # no temporary folders left behind
    # the configured backend is exported before the first recommendation needs it (nothing to export for torch on a GPU)
    backend = resolve_backend(small_store.settings.reranker_backend, pick_device(small_store.settings.device))
    exported = {f.name for f in (small_store.settings.cache_dir / "reranker-onnx").rglob("*.onnx")}
    assert exported == {"torch": set(), "onnx-int8": {"model.onnx", "model-int8.onnx"}}.get(backend, {"model.onnx"})

    reranker = Reranker(output)
    assert reranker.trained
    scores = reranker.score(query_text([ITEMS["space1"], ITEMS["space2"]]), [ITEMS[i].text for i in ITEMS])
    assert scores.shape == (len(ITEMS),) and scores.dtype == np.float32
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    ranked = reranker.rerank("Top genres: Sci-Fi", [ITEMS["rom1"], ITEMS["space3"]])
    assert {i.item_id for i, _ in ranked} == {"rom1", "space3"} and ranked[0][1] >= ranked[1][1]
    assert reranker.score("anything", []).shape == (0,)


def test_retraining_replaces_the_model_atomically(trained, small_store):
    output, _ = trained
    train_reranker(small_store, output, negatives_per_positive=1, batch_size=4, progress=False, max_steps=1, validation_users=0)
    card = json.loads((output / CARD_NAME).read_text())
    assert card["negatives"] == card["positives"] and card["steps"] == 1
    assert Reranker(output).trained


def test_for_settings_falls_back_to_the_untrained_base_model(settings, caplog):
    with caplog.at_level("WARNING"):
        reranker = Reranker.for_settings(settings)
    assert not reranker.trained
    assert "whyrec train-reranker" in caplog.text
    scores = reranker.score("Top genres: Sci-Fi", [ITEMS["space1"].text])
    assert 0.0 <= float(scores[0]) <= 1.0


def test_for_settings_uses_the_trained_model(trained, settings):
    output, _ = trained
    assert Reranker.for_settings(settings.model_copy(update={"reranker_path": output})).trained
