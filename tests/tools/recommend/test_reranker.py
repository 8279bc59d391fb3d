"""The cross-encoder reranker: the query format, the leak-free candidate lists, a short real training run, reload and scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from whyrec.store.embeddings import pick_device
from whyrec.store.errors import InputError
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.reranker import (
    CARD_NAME,
    QueryFormat,
    Reranker,
    cascade_mix,
    liked_items,
    query_text,
)
from whyrec.tools.recommend.reranker_backends import resolve_backend
from whyrec.tools.training.candidate_lists import build_candidate_lists, split_history
from whyrec.tools.training.reranker_training import train_reranker
from whyrec.tools.training.reranker_validation import DOC_CHARS_CURVE, SHARES

from tests.conftest import DAY, SMALL_CATALOG, history

ITEMS = {item.item_id: item for item in SMALL_CATALOG}


def test_query_text_lists_newest_first_with_request_and_genres():
    recent = [ITEMS["space2"], ITEMS["space1"], ITEMS["rom1"]]  # newest first
    text = query_text(recent, "something with aliens")
    assert text.startswith("Looking for: something with aliens")
    assert "Top genres: Sci-Fi" in text
    assert text.index("Orbit Station (1995)") < text.index("Star Voyage (1990)") < text.index("Paris in Spring (1992)")


def test_query_text_keeps_the_request_when_the_history_is_long():
    long_titles = [Item(str(n), f"A Very Long Title Of A Film Number {n} That Goes On", categories=("Drama", "Comedy"), year=1990) for n in range(50)]
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


def test_the_cross_encoder_reads_only_the_cascade_top_and_adds_its_share_there():
    base = np.array([0.2, 0.9, 0.5, 0.9, 0.1])  # the pipeline's final score, reranker off
    asked = []

    def score(top: np.ndarray) -> np.ndarray:
        asked.append(top.tolist())
        return np.full(len(top), 0.5)

    mixed = cascade_mix(base, 2, 0.4, score)
    assert asked == [[1, 3]]  # the two best by the pipeline, a tie in the given order; the others are never read
    assert mixed.tolist() == pytest.approx([0.2, 1.1, 0.5, 1.1, 0.1])


@pytest.fixture
def list_store(empty_store):
    """Twelve users with ten interactions each over the small catalog: long enough for two cut points per user."""
    ids = [item.item_id for item in SMALL_CATALOG]
    log = [x for n in range(12) for x in history(f"u{n}", [ids[(n * 5 + 3 * j) % len(ids)] for j in range(10)], rating=5.0)]
    empty_store.ingest(Dataset("lists", list(SMALL_CATALOG), log), progress=False)
    return empty_store


def test_candidate_lists_never_touch_the_held_out_tail(list_store):
    built = build_candidate_lists(list_store, list_size=13, cuts_per_user=2, validation_users=3, request_share=0.5, seed=1)
    by_user = {u: sorted(list_store.db.history(u), key=lambda x: x.timestamp) for u in list_store.db.users()}
    assert len(built.validation) == 6 and built.train  # 3 held-out users: a history list and a simulated-request list each
    assert not set(built.validation_users) & set(built.train_users)
    assert any(c.request for c in built.train), "some lists are ranked for a simulated request"
    for c in built.train + built.validation:
        held_out = {x.item_id for x in by_user[c.user_id][-2:]}
        prefix = [x.item_id for x in by_user[c.user_id][:-2]]
        assert not held_out & set(c.candidates), "a held-out item was a candidate"
        assert not any(f"'{ITEMS[i].title}'" in c.query or f"like {ITEMS[i].title}" in c.query for i in held_out), c.query
        assert len(c.positives) == 1 and c.candidates[c.positives[0]] in prefix[-2:]  # the next item, at one of the last two cuts
        assert c.base == sorted(c.base, reverse=True)  # the pipeline's own order, reranker off
        assert c.docs[c.positives[0]].startswith(ITEMS[c.candidates[c.positives[0]]].title)
    for c in built.validation:
        assert c.candidates[c.positives[0]] == by_user[c.user_id][-3].item_id  # validation: the last training-prefix item
        assert (c.kind == "simulated") == (c.request is not None)
    assert {c.kind for c in built.validation} == {"history", "simulated"}  # both serving paths are validated


def test_about_requests_train_on_the_dev_half_only_and_every_acceptable_item_is_a_positive(list_store):
    asks = [
        {"request": "films about space", "split": "dev", "acceptable": ["space1", "space2", "space3"]},
        {"request": "a love story", "split": "dev", "acceptable": ["rom1", "rom2"]},
        {"request": "a heist", "split": "test", "acceptable": ["crime1"]},  # the reported half: never read
    ] * 3
    built = build_candidate_lists(list_store, list_size=13, validation_users=3, request_share=0.0, concept_requests=asks, seed=1)
    about = [c for c in built.train + built.validation if c.kind == "about"]
    assert about and all(c.request != "a heist" for c in about)
    assert {c.request for c in built.validation if c.kind == "about"} <= {"films about space", "a love story"}
    for c in about:
        wanted = {"films about space": {"space1", "space2", "space3"}, "a love story": {"rom1", "rom2"}}[c.request]
        assert {c.candidates[n] for n in c.positives} == wanted & set(c.candidates)


def test_bad_loss_is_refused(small_store):
    with pytest.raises(InputError, match="loss 'hinge' is not one of"):
        train_reranker(small_store, loss="hinge")


@pytest.fixture
def trained(list_store, tmp_path):
    """A short real training run on candidate lists."""
    output = tmp_path / "reranker" / "model"
    report = train_reranker(list_store, output, list_size=5, batch_size=2, progress=False, max_steps=2, validation_users=3, request_share=0.5)
    return output, report


def test_training_saves_a_card_with_the_query_format_and_a_validation_against_no_reranker(trained, list_store):
    output, _ = trained
    card = json.loads((output / CARD_NAME).read_text())
    assert card["dataset"] == "lists" and card["loss"] == "listnet"
    assert {k: v for k, v in card["query_format"].items() if k != "doc_chars"} == {k: v for k, v in QueryFormat().to_dict().items() if k != "doc_chars"}
    assert card["steps"] == 2 and 0 < card["lists_trained"] <= 4
    assert "the last 2 interactions are held out" in card["split_rule"]
    validation = card["validation"]
    for path in ("history", "request"):  # each serving path on its own lists: 3 held-out users, one list each
        assert validation[path]["no_reranker"]["cases"] == 3 and validation[path]["cross_encoder_alone"]["cases"] == 3
        # the mix is tried at each depth the lists have (here the small catalog leaves 4 unseen candidates) and each share
        assert {row["rerank_top"] for row in validation[path]["mix"]} == {4}
        assert {row["share"] for row in validation[path]["mix"]} == set(SHARES[1:])
    assert isinstance(validation["beats_no_reranker"], bool)
    assert [point["doc_chars"] for point in card["doc_chars_curve"]] == list(DOC_CHARS_CURVE)
    assert card["query_format"]["doc_chars"] in DOC_CHARS_CURVE  # the document length validation chose
    assert not list(output.parent.glob(".model.*"))  # no temporary folders left behind
    # the configured backend is exported before the first recommendation needs it (nothing to export for torch on a GPU)
    backend = resolve_backend(list_store.settings.reranker_backend, pick_device(list_store.settings.device))
    exported = {f.name for f in (list_store.settings.cache_dir / "reranker-onnx").rglob("*.onnx")}
    assert exported == {"torch": set(), "onnx-int8": {"model.onnx", "model-int8.onnx"}}.get(backend, {"model.onnx"})

    reranker = Reranker(output)
    assert reranker.trained and reranker.query_format == QueryFormat(doc_chars=card["query_format"]["doc_chars"])
    scores = reranker.score(query_text([ITEMS["space1"], ITEMS["space2"]]), [reranker.doc(ITEMS[i]) for i in ITEMS])
    assert scores.shape == (len(ITEMS),) and scores.dtype == np.float32
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    ranked = reranker.rerank("Top genres: Sci-Fi", [ITEMS["rom1"], ITEMS["space3"]])
    assert {i.item_id for i, _ in ranked} == {"rom1", "space3"} and ranked[0][1] >= ranked[1][1]
    assert reranker.score("anything", []).shape == (0,)


def test_retraining_replaces_the_model_atomically(trained, list_store):
    output, _ = trained
    train_reranker(list_store, output, loss="bce", list_size=4, batch_size=1, progress=False, max_steps=1, validation_users=2)
    card = json.loads((output / CARD_NAME).read_text())
    assert card["loss"] == "bce" and card["steps"] == 1
    assert Reranker(output).trained


def test_serving_reads_the_query_format_from_the_card(trained, list_store):
    output, _ = trained
    card = json.loads((output / CARD_NAME).read_text())
    card["query_format"] = {"version": 2, "max_chars": 60, "max_items": 5}
    (output / CARD_NAME).write_text(json.dumps(card))
    reranker = Reranker(output)
    recommender = Recommender(list_store, reranker)
    context = recommender.rank("u1", RecommendOptions(k=3)).context
    query = recommender.reranker_query(reranker, context, "a tense heist")
    assert query.startswith("Looking for: a tense heist") and len(query) <= 60
    assert reranker.doc(ITEMS["crime1"]) == "The Heist (1994) [Crime, Thriller]"  # title, year and genres: a short pair

    card["validation"]["best_mix"] = {"rerank_top": 3, "share": 1000.0}  # validation said: let the cross-encoder decide
    (output / CARD_NAME).write_text(json.dumps(card))
    decided = Recommender(list_store, Reranker(output), rerank_top=3).recommend("u1", k=3, diversity=0.0)
    assert Reranker(output).mix_share == 1000.0
    assert [r.scores["reranker"] for r in decided] == sorted((r.scores["reranker"] for r in decided), reverse=True)

    card.pop("query_format")  # a card from before the format was recorded: recent titles against the full text
    card["max_query_items"] = 2
    (output / CARD_NAME).write_text(json.dumps(card))
    old = Reranker(output)
    assert old.query_format.version == 1 and old.max_query_items == 2
    query = recommender.reranker_query(old, context, None)
    assert query.count("(") == 2 and "Recently liked:" in query
    assert old.doc(ITEMS["crime1"]) == ITEMS["crime1"].text


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
