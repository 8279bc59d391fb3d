"""The SQLite file: keywords round-trip, older files upgrade in place, newer or foreign files are refused."""

from __future__ import annotations

import json
import sqlite3

import pytest

import sqlalchemy.exc

import whyrec.store.schema as schema
from whyrec.store.database import Database
from whyrec.store.schema import SCHEMA_VERSION
from whyrec.store.errors import InputError, SetupError
from whyrec.store.records import Dataset, Interaction, Item

# The schema whyrec wrote before keywords (version 1), verbatim.
VERSION_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    item_id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
    categories TEXT NOT NULL, year INTEGER, metadata TEXT NOT NULL);
CREATE TABLE users (user_id TEXT PRIMARY KEY, attributes TEXT NOT NULL);
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL REFERENCES items(item_id),
    timestamp REAL NOT NULL, rating REAL, event TEXT NOT NULL);
CREATE INDEX interactions_by_user ON interactions(user_id, timestamp, id);
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('liked', 'disliked', 'not_interested')), timestamp REAL NOT NULL);
CREATE INDEX feedback_by_user ON feedback(user_id, id);
CREATE TABLE profiles (user_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (user_id, key));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO meta VALUES ('dataset', 'old');
INSERT INTO items VALUES ('h1', 'Heat', 'A thief and a detective.', '["Crime"]', 1995, '{"director": "Mann"}');
INSERT INTO interactions (user_id, item_id, timestamp, rating, event) VALUES ('u1', 'h1', 10.0, 5.0, 'rating');
INSERT INTO feedback (user_id, item_id, kind, timestamp) VALUES ('u1', 'h1', 'liked', 11.0);
"""


def version_1_store(path):
    conn = sqlite3.connect(path)
    conn.executescript(VERSION_1)
    conn.close()
    return path


def schema_version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_keywords_round_trip(tmp_path):
    db = Database(tmp_path / "whyrec.sqlite")
    heat = Item("h1", "Heat", "A thief and a detective.", ("Crime",), 1995, {"director": "Mann"}, keywords=("heist", "los angeles"))
    plain = Item("t1", "Toy Story", year=1995)
    db.replace_dataset(Dataset("films", [heat, plain], []))
    again = Database(tmp_path / "whyrec.sqlite")  # a fresh open reads what the last one wrote
    assert again.item("h1").keywords == ("heist", "los angeles")
    assert again.item("h1") == heat and again.item("h1").metadata == {"director": "Mann"}
    assert again.items()["t1"].keywords == ()


def test_an_older_store_is_upgraded_in_place_and_keeps_everything(tmp_path):
    path = version_1_store(tmp_path / "whyrec.sqlite")
    db = Database(path)
    heat = db.item("h1")
    assert (heat.title, heat.categories, heat.year, heat.metadata, heat.keywords) == ("Heat", ("Crime",), 1995, {"director": "Mann"}, ())
    assert [x.item_id for x in db.history("u1")] == ["h1"] and [f.kind for f in db.feedback("u1")] == ["liked"]
    assert db.dataset_name() == "old" and schema_version(path) == SCHEMA_VERSION
    db.replace_dataset(Dataset("new", [Item("h1", "Heat", keywords=("heist",))], [Interaction("u1", "h1", 20.0, 4.0)]))
    assert Database(path).item("h1").keywords == ("heist",)
    assert [f.kind for f in db.feedback("u1")] == ["liked"]  # feedback on an item that is still there survives


def test_a_failed_upgrade_rolls_back_and_leaves_the_old_store_as_it_was(tmp_path, monkeypatch):
    path = version_1_store(tmp_path / "whyrec.sqlite")
    monkeypatch.setitem(schema.MIGRATIONS, 2, (*schema.MIGRATIONS[2], "ALTER TABLE no_such_table ADD COLUMN x TEXT"))
    with pytest.raises(sqlalchemy.exc.OperationalError, match="no such table: no_such_table"):
        Database(path)
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(items)")]
    rows = conn.execute("SELECT * FROM items").fetchall()
    conn.close()
    assert "keywords" not in columns and schema_version(path) == 1  # the added column was rolled back too
    assert rows == [("h1", "Heat", "A thief and a detective.", '["Crime"]', 1995, '{"director": "Mann"}')]
    monkeypatch.undo()
    assert Database(path).item("h1").title == "Heat"  # and the next open upgrades it


def test_a_store_from_a_newer_whyrec_is_refused_in_one_line_and_left_untouched(tmp_path):
    path = tmp_path / "whyrec.sqlite"
    Database(path).replace_dataset(Dataset("films", [Item("h1", "Heat")], []))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        conn.execute("ALTER TABLE items ADD COLUMN from_the_future TEXT")
    conn.close()
    with pytest.raises(SetupError) as error:
        Database(path)
    message = str(error.value)
    assert message == f"{path}: schema version {SCHEMA_VERSION + 1} is newer than this whyrec ({SCHEMA_VERSION}) — upgrade whyrec"
    assert schema_version(path) == SCHEMA_VERSION + 1


def test_a_file_that_is_not_sqlite_is_one_line(tmp_path):
    path = tmp_path / "whyrec.sqlite"
    path.write_bytes(b"this is a spreadsheet, not a database" * 100)
    with pytest.raises(SetupError) as error:
        Database(path)
    assert str(error.value).startswith(f"{path}: not a readable whyrec store (")
    assert str(error.value).endswith("— move the file aside and ingest again") and "\n" not in str(error.value)
    assert path.read_bytes() == b"this is a spreadsheet, not a database" * 100


def test_keywords_are_stored_as_a_json_list(tmp_path):
    """Other tools reading the file (sqlite3, DuckDB) see a plain JSON list, like categories."""
    path = tmp_path / "whyrec.sqlite"
    Database(path).replace_dataset(Dataset("films", [Item("h1", "Heat", keywords=("heist", "l.a."))], []))
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT keywords FROM items").fetchone()[0]
    conn.close()
    assert json.loads(stored) == ["heist", "l.a."]


def test_undoing_feedback_removes_only_the_latest_word_on_that_item(tmp_path):
    db = Database(tmp_path / "whyrec.sqlite")
    db.replace_dataset(Dataset("films", [Item("h1", "Heat"), Item("t1", "Toy Story")], [Interaction("u1", "h1", 1.0, 4.0)]))
    db.add_feedback("u1", "h1", "liked", 10.0)
    db.add_feedback("u1", "h1", "disliked", 11.0)
    db.add_feedback("u1", "t1", "not_interested", 12.0)
    db.add_feedback("u2", "h1", "disliked", 13.0)
    db.save_profile("u1", "profile:x", {"cached": True})
    before = db.history_version("u1")

    removed = db.remove_feedback("u1", "h1", "disliked")

    assert (removed.user_id, removed.item_id, removed.kind) == ("u1", "h1", "disliked")
    assert [(f.item_id, f.kind) for f in db.feedback("u1")] == [("h1", "liked"), ("t1", "not_interested")]  # the earlier like speaks again
    assert [(f.item_id, f.kind) for f in db.feedback("u2")] == [("h1", "disliked")]  # another user's feedback stays
    assert db.cached_profile("u1", "profile:x") is None and db.history_version("u1") != before
    assert db.remove_feedback("u1", "h1", "disliked") is None  # nothing left of that kind: nothing removed
    assert db.remove_feedback("u1", "t1") is not None and db.feedback("u1")[-1].kind == "liked"


def test_undoing_an_unknown_kind_of_feedback_is_refused_and_keeps_the_feedback(tmp_path):
    db = Database(tmp_path / "whyrec.sqlite")
    db.replace_dataset(Dataset("films", [Item("h1", "Heat")], []))
    db.add_feedback("u1", "h1", "disliked", 10.0)
    with pytest.raises(InputError, match="feedback 'hated' is not known — use one of"):
        db.remove_feedback("u1", "h1", "hated")
    assert [f.kind for f in db.feedback("u1")] == ["disliked"]


def test_an_upgraded_store_keeps_its_catalog_order_and_counts_ingests(tmp_path):
    path = version_1_store(tmp_path / "whyrec.sqlite")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("""INSERT INTO items VALUES ('a1', 'Alien', '', '[]', 1979, '{}')""")  # after h1: the catalog's order is not the ids'
    conn.close()
    db = Database(path)
    assert list(db.items()) == ["h1", "a1"] and db.catalog_version() == 0
    db.replace_dataset(Dataset("films", [Item("z9", "Zodiac"), Item("b2", "Brazil")], []))
    db.add_interactions([Interaction("u7", "b2", 5.0, 4.0)])
    assert list(Database(path).items()) == ["z9", "b2"] and db.catalog_version() == 2  # an ingest and added interactions
