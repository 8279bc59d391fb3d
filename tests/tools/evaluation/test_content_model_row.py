"""The learned content model's row in ``whyrec evaluate``: fitted on the past of a real store's split, never on its test items."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.tools.evaluation.baselines import RandomRanker
from whyrec.tools.evaluation.report import (
    LEARNED_CONTENT,
    UNTRAINED_CONTENT,
    learned_content_row,
    pipeline_rows,
)
from whyrec.tools.evaluation.splits import evaluate, leave_one_out

pytest.importorskip("torch")

THEMES = {
    "space": (("Sci-Fi",), "A starship crew explores a distant galaxy", "Astronauts stranded on a moon base", "Aliens land on a space station"),
    "romance": (("Romance",), "Two strangers fall in love in Paris", "A summer romance on a beach", "Old lovers meet again at a wedding"),
    "crime": (("Crime",), "A gang plans a bank heist", "A detective hunts a killer in the rain", "Mobsters fight for control of the city"),
    "western": (("Western",), "A gunslinger rides into a frontier town", "Cattle drivers cross the desert", "A sheriff faces outlaws at noon"),
}


def themed_catalog() -> tuple[list[Item], list[Interaction]]:
    """Six items a theme; each user stays in one theme, so what comes next follows the content of what came before."""
    items = [
        Item(f"{theme}{n}", f"{theme.title()} story {n}", f"{plots[n % 3]}, part {n}.", genres, 1980 + n)
        for theme, (genres, *plots) in THEMES.items() for n in range(6)
    ]
    rng = np.random.default_rng(0)
    interactions = []
    for user in range(40):
        theme = list(THEMES)[user % len(THEMES)]
        for day, n in enumerate(rng.permutation(6)[:5]):
            interactions.append(Interaction(f"u{user}", f"{theme}{n}", 1_000_000.0 + 86_400.0 * day, 5.0))
    return items, interactions


@pytest.fixture
def themed_store(empty_store):
    items, interactions = themed_catalog()
    dataset = Dataset("themes", items, interactions)
    empty_store.ingest(dataset, progress=False)
    return empty_store, dataset


def test_the_learned_content_row_ranks_the_next_item_of_a_theme_above_chance(themed_store):
    from whyrec.tools.training.content_model_fit import ContentFit

    store, dataset = themed_store
    split = leave_one_out(dataset)
    by_id = {item.item_id: item for item in dataset.items}
    row = learned_content_row(store, split, [by_id[i] for i in split.items], ContentFit(dim=16, epochs=40, learning_rate=0.05, batch_size=64))
    assert row.name == LEARNED_CONTENT and row.against == ("vs_untrained_content", UNTRAINED_CONTENT)
    learned = evaluate(row.make(), split, k=10)["NDCG@10"]
    chance = evaluate(RandomRanker(seed=0).fit(split.train_interactions(), split.items), split, k=10)["NDCG@10"]
    assert learned > 2 * chance and learned > 0.4, (learned, chance)


def test_leave_one_out_lists_the_learned_row_beside_the_untrained_one_and_temporal_does_not(themed_store):
    store, dataset = themed_store
    split = leave_one_out(dataset)
    by_id = {item.item_id: item for item in dataset.items}
    names = [row.name for row in pipeline_rows(store, split, None, [by_id[i] for i in split.items])]
    assert names.index(LEARNED_CONTENT) == names.index(UNTRAINED_CONTENT) + 1
    assert LEARNED_CONTENT not in [row.name for row in pipeline_rows(store, split, None)]


def test_without_torch_the_row_is_skipped_with_a_note(themed_store, monkeypatch, caplog):
    store, dataset = themed_store
    split = leave_one_out(dataset)
    monkeypatch.setitem(sys.modules, "torch", None)  # what importlib sees on a core install
    assert learned_content_row(store, split, dataset.items) is None
    assert "learned content model's row is skipped" in caplog.text and "[train]" in caplog.text
