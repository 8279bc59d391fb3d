"""Loading the user's own catalog and interactions, and every bad input we guard against."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from whyrec.store.errors import InputError
from whyrec.store.files import load_catalog, load_dataset, load_interactions

CATALOG_CSV = """item_id,title,description,categories,year,director
a1,Star Voyage,A crew explores galaxies.,Sci-Fi|Adventure,1990,Kim
a2,Paris in Spring,Two strangers fall in love.,Romance,,
"""
INTERACTIONS_CSV = """user_id,item_id,timestamp,rating,event
u1,a1,2024-05-01T12:00:00,5,rating
u1,a2,1714600000,,view
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_catalog_and_interactions(tmp_path):
    dataset = load_dataset(write(tmp_path, "catalog.csv", CATALOG_CSV), write(tmp_path, "events.csv", INTERACTIONS_CSV))
    star, paris = dataset.items
    assert star.categories == ("Sci-Fi", "Adventure") and star.year == 1990
    assert star.metadata == {"director": "Kim"}
    assert paris.year is None and paris.metadata == {}
    first, second = dataset.interactions
    assert first.timestamp == 1714564800.0 and first.rating == 5.0
    assert second.rating is None and second.event == "view"
    assert "Genres: Sci-Fi, Adventure" in star.text


def test_jsonl_and_parquet_give_the_same_items(tmp_path):
    records = [
        {"item_id": "a1", "title": "Star Voyage", "categories": ["Sci-Fi", "Adventure"], "year": 1990},
        {"item_id": "a2", "title": "Paris in Spring", "categories": "Romance"},
    ]
    jsonl = write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "categories": "|".join(r["categories"]) if isinstance(r["categories"], list) else r["categories"]} for r in records]), parquet)
    assert load_catalog(jsonl) == load_catalog(parquet)
    assert load_catalog(jsonl)[0].categories == ("Sci-Fi", "Adventure")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.csv", "item_id,name\na1,X\n", "c.csv: missing column 'title'"),
        ("c.csv", "item_id,title\na1,X\na1,Y\n", "c.csv line 3: duplicate item_id 'a1'"),
        ("c.csv", "item_id,title\na1,X\na2,  \n", 'c.csv line 3: column "title" is empty'),
        ("c.jsonl", '{"item_id": "a1", "title": "X"}\n{"item_id": "a2", "title": \n', "c.jsonl line 2: not valid JSON"),
        ("c.txt", "item_id,title\n", "unsupported format '.txt'"),
        ("c.csv", "item_id,title,year\na1,X,soon\n", "c.csv line 2: year 'soon' is not a number"),
    ],
)
def test_bad_catalog_is_one_clear_line(tmp_path, name, content, message):
    with pytest.raises(InputError) as error:
        load_catalog(write(tmp_path, name, content))
    assert message in str(error.value)
    assert "\n" not in str(error.value) and "—" in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found — check the path"):
        load_catalog(tmp_path / "nope.csv")


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("item_id,title\na1,Caf\u00e9\n".encode("utf-8") + "a2,Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"c.csv line 3: not valid UTF-8 — save the file as UTF-8"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user_id,item_id,timestamp\nu1,zz,1\n", "e.csv line 2: item_id 'zz' is not in the catalog"),
        ("user_id,item_id,timestamp\nu1,a1,yesterday\n", "e.csv line 2: timestamp 'yesterday' is not a date"),
        ("user_id,item_id,timestamp\nu1,a1,\n", "e.csv line 2: timestamp is empty"),
        ("user_id,item_id\nu1,a1\n", "e.csv: missing column 'timestamp'"),
        ("user_id,item_id,timestamp,rating\nu1,a1,1,great\n", "e.csv line 2: rating 'great' is not a number"),
    ],
)
def test_bad_interactions_are_one_clear_line(tmp_path, content, message):
    with pytest.raises(InputError) as error:
        load_interactions(write(tmp_path, "e.csv", content), {"a1"})
    assert message in str(error.value)
