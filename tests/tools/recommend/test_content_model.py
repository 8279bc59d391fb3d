"""The learned content model: what it learns from histories reaches items it never saw, through their content alone."""

from __future__ import annotations

import numpy as np
import pytest
from whyrec.store.records import Item
from whyrec.tools.recommend.content_model import (
    ContentModel,
    content_scores,
    history_summaries,
)

torch = pytest.importorskip("torch")  # fitting is the [train] extra's

from whyrec.tools.training.content_model_fit import ContentFit, fit_content_model

WIDTH = 16


def catalog(n: int = 40, seed: int = 0) -> tuple[list[Item], np.ndarray]:
    """Half westerns from the 1950s, half space films from the 1990s, each kind's text vectors around its own direction."""
    rng = np.random.default_rng(seed)
    kinds = np.eye(WIDTH)[:2]
    items, vectors = [], []
    for n_item in range(n):
        kind = n_item % 2
        items.append(Item(str(n_item), f"film {n_item}", categories=("Western",) if kind == 0 else ("Sci-Fi",), year=1955 if kind == 0 else 1995))
        vector = kinds[kind] + 0.3 * rng.normal(size=WIDTH)
        vectors.append(vector / np.linalg.norm(vector))
    return items, np.array(vectors, dtype=np.float32)


def histories(items: list[Item], held_out: set[str], users: int = 60, seed: int = 0) -> dict[str, list[str]]:
    """Each person watches one kind only, in a random order, never the held-out films."""
    rng = np.random.default_rng(seed)
    by_kind = [[i.item_id for i in items if i.categories == kind and i.item_id not in held_out] for kind in (("Western",), ("Sci-Fi",))]
    return {f"u{u}": rng.permutation(by_kind[u % 2]).tolist()[:10] for u in range(users)}


@pytest.fixture(scope="module")
def fitted() -> tuple[ContentModel, list[Item], np.ndarray, set[str]]:
    items, vectors = catalog()
    held_out = {"0", "2", "1", "3"}  # two westerns, two space films: never in training
    train = histories(items, held_out)
    validation = {user: seq.pop() for user, seq in train.items()}
    model = fit_content_model(items, vectors, train, validation, held_out, ContentFit(dim=8, epochs=20, learning_rate=0.02, batch_size=64, text_dims=8))
    return model, items, vectors, held_out


def test_a_history_of_westerns_ranks_unseen_westerns_above_unseen_space_films(fitted):
    model, items, vectors, held_out = fitted
    features = model.item_features(items, vectors)
    westerns_watched = [n for n, i in enumerate(items) if i.categories == ("Western",) and i.item_id not in held_out][:5]
    scores = model.scores(features[westerns_watched], features)
    cold = {i.item_id: scores[n] for n, i in enumerate(items) if i.item_id in held_out}
    assert min(cold["0"], cold["2"]) > max(cold["1"], cold["3"])


def test_the_card_says_how_it_was_fitted_and_which_epoch_was_kept(fitted):
    model = fitted[0]
    assert model.card["held_out_items"] == 4
    assert 1 <= model.card["best_epoch"] <= 20
    assert model.card["fit"]["text_dims"] == 8


def test_a_saved_model_scores_as_before(fitted, tmp_path):
    model, items, vectors, _ = fitted
    model.save(tmp_path / "content_model.npz")
    loaded = ContentModel.load(tmp_path / "content_model.npz")
    features = model.item_features(items, vectors)
    assert np.allclose(loaded.scores(features[:3], loaded.item_features(items, vectors)), model.scores(features[:3], features))
    assert loaded.card == model.card and loaded.genres == model.genres


def test_a_new_user_with_no_history_gets_scores_from_content_alone(fitted):
    model, items, vectors, _ = fitted
    features = model.item_features(items, vectors)
    scores = model.scores(features[:0], features)
    assert scores.shape == (len(items),) and np.isfinite(scores).all()


def test_training_and_serving_score_with_the_same_rule(fitted):
    model, items, vectors, _ = fitted
    features = model.item_features(items, vectors)
    summaries = history_summaries(features[:6])
    served = content_scores(summaries, features, model.history_map, model.item_map, model.appeal)
    trained = content_scores(*(torch.from_numpy(a) for a in (summaries, features, model.history_map, model.item_map, model.appeal)))
    assert np.allclose(served, trained.numpy(), atol=1e-4)


def test_a_summary_is_the_mean_content_of_the_last_items():
    features = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]], dtype=np.float32)
    summaries = history_summaries(features, windows=(1, 2, 0))
    assert np.allclose(summaries[-1], [3.0, 3.0, 1.5, 2.0, 4 / 3, 4 / 3])  # last one, last two, all three
    assert np.allclose(summaries[0], [1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # a one-item history is that item


def test_vectors_that_do_not_match_the_items_are_refused(fitted):
    model, items, vectors, _ = fitted
    with pytest.raises(ValueError, match=r"for 40 items — pass one 16-number vector per item"):
        model.item_features(items, vectors[:-1])
    with pytest.raises(ValueError, match="pass one 16-number vector"):
        model.item_features(items, vectors[:, :8])


def test_fitting_on_histories_of_one_item_says_what_it_needs():
    items, vectors = catalog()
    with pytest.raises(ValueError, match="no training history has two items"):
        fit_content_model(items, vectors, {"u": ["4"]}, {"u": "6"})
