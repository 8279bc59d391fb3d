"""Loading the user's own catalog and interactions, and every bad input we guard against."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from whyrec.store.errors import InputError
from whyrec.store.files import CSV_FIELD_MAX_CHARS, DESCRIPTION_MAX_CHARS, load_catalog, load_dataset, load_interactions

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


# --- descriptions and keywords ----------------------------------------------


def test_keywords_from_a_list_a_json_list_or_a_string_split_on_bars_or_commas(tmp_path):
    records = [
        {"item_id": "a1", "title": "Heat", "keywords": ["heist", "Los Angeles", "heist", " "]},
        {"item_id": "a2", "title": "Fargo", "keywords": "kidnapping|snow|  ransom "},
        {"item_id": "a3", "title": "Alien", "keywords": "space, monster,,crew"},
        {"item_id": "a4", "title": "Up", "keywords": '["balloon", "old man, grumpy"]'},
        {"item_id": "a5", "title": "Jaws"},
    ]
    items = load_catalog(write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in records)))
    assert [i.keywords for i in items] == [
        ("heist", "Los Angeles"),
        ("kidnapping", "snow", "ransom"),
        ("space", "monster", "crew"),
        ("balloon", "old man, grumpy"),
        (),
    ]
    assert all("keywords" not in i.metadata for i in items)
    assert "Keywords: heist, Los Angeles." in items[0].text


def test_parquet_list_columns_and_csv_strings_give_the_same_keywords(tmp_path):
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist([{"item_id": "a1", "title": "Heat", "keywords": ["heist", "betrayal"]}]), parquet)
    csv = write(tmp_path, "c.csv", "item_id,title,keywords\na1,Heat,heist|betrayal\n")
    assert load_catalog(parquet) == load_catalog(csv)
    assert load_catalog(parquet)[0].keywords == ("heist", "betrayal")


def test_an_empty_description_is_fine_and_the_item_is_embedded_from_the_rest(tmp_path):
    (item,) = load_catalog(write(tmp_path, "c.csv", "item_id,title,description,categories,year,keywords\na1,Heat,   ,Crime,1995,heist\n"))
    assert item.description == ""
    assert item.text == "Heat (1995). Genres: Crime. Keywords: heist."


def test_html_and_markdown_in_a_description_become_plain_text(tmp_path):
    records = [
        {"item_id": "h", "title": "Heat", "description": "<p>A <b>thief</b> &amp; a <a href='/x'>detective</a>.</p><script>alert(1)</script>"},
        {"item_id": "m", "title": "Fargo", "description": "**Snow**, a _kidnapping_ and [a ransom](https://example.com).\n\n- cold\n- dark"},
        {"item_id": "y", "title": "Patton", "description": "1944. The Third Army crosses France."},
        {"item_id": "p", "title": "Up", "description": "An old man, a boy & a house tied to 10,000 balloons."},
    ]
    items = load_catalog(write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in records)))
    assert [i.description for i in items] == [
        "A thief & a detective.",
        "Snow, a kidnapping and a ransom. cold dark",
        "1944. The Third Army crosses France.",  # not read as a list that starts at 1944
        "An old man, a boy & a house tied to 10,000 balloons.",
    ]


def test_a_100_kb_description_is_cut_at_a_word_with_a_logged_note(tmp_path, caplog):
    huge = " ".join(f"word{n}" for n in range(15_000))  # about 110,000 characters
    assert len(huge) > 100_000
    path = write(tmp_path, "c.csv", f"item_id,title,description\na1,Short,fine\na2,Long,{huge}\na3,Long too,{huge}\n")
    with caplog.at_level(logging.WARNING, logger="whyrec.store.files"):
        short, long, _ = load_catalog(path)
    assert short.description == "fine"
    assert len(long.description) <= DESCRIPTION_MAX_CHARS and long.description.endswith("\u2026")
    assert huge.startswith(long.description.removesuffix("\u2026")) and huge[len(long.description) - 1] == " "  # whole words
    assert caplog.messages == ["c.csv: 2 descriptions longer than 2,000 characters cut at a word boundary (first: line 3)"]


def test_a_long_description_in_jsonl_is_cut_the_same_way(tmp_path):
    huge = "A night in the city. " * 5000
    (item,) = load_catalog(write(tmp_path, "c.jsonl", json.dumps({"item_id": "a1", "title": "Long", "description": huge})))
    assert len(item.description) <= DESCRIPTION_MAX_CHARS and item.description.endswith("\u2026")


def test_non_utf8_bytes_in_a_description_cell_name_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"item_id,title,description\na1,Heat,A thief.\na2,Amelie,Une fille de Montmartre " + "\u00e9t\u00e9".encode("latin-1") + b"\n")
    with pytest.raises(InputError) as error:
        load_catalog(path)
    assert str(error.value) == "c.csv line 3: not valid UTF-8 — save the file as UTF-8"


def test_non_utf8_bytes_in_a_parquet_description_name_the_row(tmp_path):
    path = tmp_path / "c.parquet"
    table = pa.table({"item_id": ["a1", "a2"], "title": ["Heat", "Amelie"], "description": pa.array([b"A thief.", b"\xe9t\xe9"], pa.binary())})
    pq.write_table(table, path)
    with pytest.raises(InputError) as error:
        load_catalog(path)
    assert str(error.value) == "c.parquet row 2: description is not valid UTF-8 — save the text as UTF-8"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"keywords": [{"id": 931, "name": "jealousy"}]},
            "c.jsonl line 1: keywords hold a dict — give a list of words, or a string like 'heist|betrayal'",
        ),
        (
            {"keywords": "[{'id': 931, 'name': 'jealousy'}]"},
            "c.jsonl line 1: keywords \"[{'id': 931, 'name': 'jealousy'}]\" look like a list but are not JSON — write a JSON list or 'heist|betrayal'",
        ),
        (
            {"keywords": ["heist", "A thief plans one last job. " * 10]},
            "c.jsonl line 1: keyword 'A thief plans one last job. A thief…' is 279 characters — keywords are short tags "
            "(at most 100); put longer text in the description column",
        ),
        (
            {"description": {"en": "A thief."}},
            "c.jsonl line 1: description is a dict, not text — write the description as one string",
        ),
    ],
    ids=["tmdb-objects", "python-literal", "description-in-keywords", "description-object"],
)
def test_bad_keywords_and_descriptions_are_one_clear_line(tmp_path, record, message):
    with pytest.raises(InputError) as error:
        load_catalog(write(tmp_path, "c.jsonl", json.dumps({"item_id": "a1", "title": "Heat", **record})))
    assert str(error.value) == message


def test_a_csv_field_past_the_csv_modules_limit_is_read(tmp_path):
    huge = "x " * 100_000  # 200,000 characters: over the csv module's default 131,072
    (item,) = load_catalog(write(tmp_path, "c.csv", f'item_id,title,description\na1,Heat,"{huge}"\n'))
    assert len(item.description) <= DESCRIPTION_MAX_CHARS


def test_a_field_past_our_own_limit_is_one_line_naming_it(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f'item_id,title,description\na1,Heat,fine\na2,Fargo,"{"x" * (CSV_FIELD_MAX_CHARS + 1)}"\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_catalog(path)
    assert str(error.value) == (
        "c.csv line 3: a field is longer than 16,777,216 characters — shorten it (descriptions are kept to 2,000 characters anyway)"
    )
