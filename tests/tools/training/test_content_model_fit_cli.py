"""``whyrec train-content-model``: fits on the store's interactions and saves a model that loads and scores; without torch, one line says what to install."""

from __future__ import annotations

import sys

import pytest
from whyrec.store.catalog import Store
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.recommend.content_model import ContentModel
from whyrec.ui.cli import main

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS


def test_without_torch_the_command_says_which_extra_to_install_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # a core install
    assert main(["--data-dir", str(tmp_path), "train-content-model"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "torch" in error and "pip install 'whyrec[" in error
    assert not (tmp_path / "content_model.npz").exists()


def test_the_command_saves_a_model_fitted_on_the_stores_interactions(tmp_path, capsys):
    pytest.importorskip("torch")
    store = Store.open(Settings(data_dir=tmp_path))
    store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    assert main(["--data-dir", str(tmp_path), "train-content-model"]) == 0
    assert "content model saved to" in capsys.readouterr().out
    model = ContentModel.load(tmp_path / "content_model.npz")
    features = model.item_features(SMALL_CATALOG, store.index.vectors([item.item_id for item in SMALL_CATALOG]))
    assert model.scores(features[:2], features).shape == (len(SMALL_CATALOG),)
    assert model.card["best_epoch"] >= 1
