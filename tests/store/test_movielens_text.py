"""MovieLens-100K films carry TMDB's plot overview and keywords, and a film without them still loads."""

import gzip
import json
import logging

import pytest

from whyrec.store import movielens
from whyrec.store.movielens import ItemText, load_movielens_100k, movielens_100k_text


@pytest.fixture(scope="module")
def items():
    return {item.title: item for item in load_movielens_100k().items}


def test_most_films_have_a_plot_overview(items):
    with_text = [item for item in items.values() if item.description]
    assert len(with_text) >= 0.9 * len(items)


def test_known_films_read_as_their_story(items):
    crimson_tide = items["Crimson Tide"]
    assert "mutiny" in crimson_tide.description and "sub" in crimson_tide.description
    assert "submarine" in crimson_tide.keywords
    assert "shark" in items["Jaws"].description.lower()
    assert "Woody" in items["Toy Story"].description


def test_keywords_are_tuples_of_words(items):
    assert all(isinstance(item.keywords, tuple) for item in items.values())
    assert all(isinstance(k, str) and k for item in items.values() for k in item.keywords)


def test_overview_reaches_the_embedded_text(items):
    assert "nuclear missile sub" in items["Crimson Tide"].text


def test_a_film_missing_from_the_table_keeps_an_empty_description(monkeypatch):
    table = dict(movielens_100k_text())
    crimson_tide_id = next(i for i, t in table.items() if "mutiny" in t.overview and "sub" in t.overview)
    del table[crimson_tide_id]
    monkeypatch.setattr(movielens, "movielens_100k_text", lambda: table)

    loaded = {item.item_id: item for item in load_movielens_100k().items}

    assert len(loaded) == 1682
    assert loaded[crimson_tide_id].title == "Crimson Tide"
    assert loaded[crimson_tide_id].description == ""
    assert loaded[crimson_tide_id].keywords == ()
    assert sum(1 for item in loaded.values() if item.description) == len(table)


def test_a_missing_file_gives_an_empty_table_and_a_warning(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(movielens.importlib.resources, "files", lambda package: tmp_path)
    with caplog.at_level(logging.WARNING, logger="whyrec.store.movielens"):
        table = movielens_100k_text.__wrapped__()
    assert dict(table) == {}
    assert "cannot read the MovieLens plot overviews" in caplog.text
    assert "build_item_text.py" in caplog.text


def test_a_malformed_row_is_skipped_and_the_others_kept(monkeypatch, caplog, tmp_path):
    (tmp_path / "data").mkdir()
    lines = [
        json.dumps({"item_id": "1", "overview": "Toys come alive.", "keywords": ["toy"]}),
        "{not json",
        json.dumps({"item_id": "2"}),  # no overview
        json.dumps({"item_id": "3", "overview": "A second film.", "keywords": []}),
    ]
    (tmp_path / "data" / movielens.ITEM_TEXT_FILE).write_bytes(gzip.compress("\n".join(lines).encode()))
    monkeypatch.setattr(movielens.importlib.resources, "files", lambda package: tmp_path)

    with caplog.at_level(logging.WARNING, logger="whyrec.store.movielens"):
        table = movielens_100k_text.__wrapped__()

    assert dict(table) == {"1": ItemText("Toys come alive.", ("toy",)), "3": ItemText("A second film.", ())}
    assert "line 2: skipped" in caplog.text and "line 3: skipped" in caplog.text
