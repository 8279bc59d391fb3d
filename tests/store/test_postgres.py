"""The store on a real PostgreSQL server: the same behaviour as SQLite, one line for each thing that goes wrong."""

from __future__ import annotations

import subprocess
import sys
import threading

import psycopg
import pytest
import sqlalchemy.exc

from tests.postgres_cluster import postgres_cluster
from whyrec.store.ports import free_port
from whyrec.store.database import Database
from whyrec.store.errors import InputError, SetupError
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.store.schema import SCHEMA_VERSION

pytestmark = pytest.mark.slow  # a PostgreSQL server process (and a `whyrec` process)

FILMS = [
    Item("h1", "Heat", "A thief and a detective.", ("Crime",), 1995, {"director": "Mann"}, keywords=("heist", "los angeles")),
    Item("t1", "Toy Story", year=1995),
    Item("a1", "Alien", "In space no one can hear you scream.", ("Sci-Fi", "Horror"), 1979),
]


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as running:
        yield running


@pytest.fixture
def url(cluster) -> str:
    return cluster.database()


def test_the_catalog_histories_and_feedback_round_trip_in_catalog_order(url):
    db = Database(url)
    db.replace_dataset(Dataset("films", FILMS, [Interaction("u1", "h1", 1.0, 4.0), Interaction("u1", "t1", 2.0, 2.5)]))
    again = Database(url)  # another worker sees what the first wrote
    assert list(again.items()) == ["h1", "t1", "a1"]  # the catalog's order, not the ids'
    assert again.item("h1") == FILMS[0] and again.item("h1").metadata == {"director": "Mann"}
    assert [(x.item_id, x.rating) for x in again.history("u1")] == [("h1", 4.0), ("t1", 2.5)]
    before = again.history_version("u1")
    db.add_feedback("u1", "a1", "disliked", 10.0)
    assert again.history_version("u1") != before  # a worker's cached profile of u1 is stale now
    assert [(f.item_id, f.kind) for f in again.feedback("u1")] == [("a1", "disliked")]
    assert again.users() == ["u1"] and again.stats().items == 3 and again.dataset_name() == "films"


def test_every_ingest_counts_a_new_catalog_version_and_keeps_feedback_on_items_that_stay(url):
    db = Database(url)
    assert db.catalog_version() == 0
    db.replace_dataset(Dataset("films", FILMS, []))
    db.add_feedback("u1", "h1", "liked", 10.0)
    db.add_feedback("u1", "a1", "disliked", 11.0)
    db.save_profile("u1", "profile:1", {"cached": True})
    db.replace_dataset(Dataset("films", FILMS[:2], []))  # Alien removed
    assert db.catalog_version() == 2
    assert [f.item_id for f in db.feedback("u1")] == ["h1"] and db.cached_profile("u1", "profile:1") is None


def test_an_ingest_that_fails_half_way_leaves_the_previous_catalog(url):
    db = Database(url)
    db.replace_dataset(Dataset("films", FILMS, [Interaction("u1", "h1", 1.0, 4.0)]))
    broken = Dataset("broken", [Item("x1", "New")], [Interaction("u2", "not-in-the-catalog", 1.0, 5.0)])
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        db.replace_dataset(broken)
    assert list(db.items()) == ["h1", "t1", "a1"] and db.dataset_name() == "films" and db.catalog_version() == 1
    assert [x.item_id for x in db.history("u1")] == ["h1"]


def test_feedback_on_an_unknown_item_is_refused_and_writes_nothing(url):
    db = Database(url)
    db.replace_dataset(Dataset("films", FILMS, []))
    with pytest.raises(InputError, match="item 'nope' is not in the catalog"):
        db.add_feedback("u1", "nope", "liked")
    assert db.feedback("u1") == [] and db.stats().feedback == 0


def test_workers_starting_together_create_the_schema_once(url):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Database(url).close()
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Database(url).stats().items == 0


def test_a_schema_from_a_newer_whyrec_is_refused_in_one_line_and_left_untouched(url):
    Database(url).replace_dataset(Dataset("films", FILMS, []))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SetupError) as error:
        Database(url)
    assert str(error.value).endswith(f": schema version {SCHEMA_VERSION + 1} is newer than this whyrec ({SCHEMA_VERSION}) — upgrade whyrec")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 3


def test_a_wrong_database_url_is_one_line_and_a_non_zero_exit(tmp_path):
    nothing_there = f"postgresql://whyrec:secret@127.0.0.1:{free_port()}/whyrec"
    with pytest.raises(SetupError) as error:
        Database(nothing_there)
    message = str(error.value)
    assert "cannot connect" in message and message.endswith("— start PostgreSQL or fix WHYREC_DATABASE_URL")
    assert "secret" not in message and "\n" not in message
    with pytest.raises(SetupError, match=r"^WHYREC_DATABASE_URL mysql://… is not a database whyrec can use — give a postgresql:// URL"):
        Database("mysql://root@localhost/whyrec")
    cli = subprocess.run(
        [sys.executable, "-m", "whyrec.ui.cli", "--data-dir", str(tmp_path), "stats"],
        env={"WHYREC_DATABASE_URL": nothing_there, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and cli.stderr.startswith("error: ") and "cannot connect" in cli.stderr


def test_a_database_that_goes_away_mid_request_is_one_line_and_the_store_recovers(cluster, url):
    db = Database(url)
    db.replace_dataset(Dataset("films", FILMS, []))
    db.add_feedback("u1", "h1", "liked", 10.0)
    cluster.stop("immediate")
    try:
        with pytest.raises(SetupError) as error:
            db.add_feedback("u1", "t1", "liked", 11.0)
        assert "the database failed mid-request" in str(error.value) and "\n" not in str(error.value)
    finally:
        cluster.start()
    assert [f.item_id for f in db.feedback("u1")] == ["h1"]  # the same object reconnects; the failed write left nothing
    db.add_feedback("u1", "t1", "liked", 12.0)
    assert [f.item_id for f in Database(url).feedback("u1")] == ["h1", "t1"]
