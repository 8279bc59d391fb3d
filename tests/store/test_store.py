"""The real store: SQLite file, Chroma directory and the packaged MiniLM model."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from whyrec.store.database import Database
from whyrec.store.errors import InputError
from whyrec.store.item_index import ItemIndex, category_key
from whyrec.store.records import Dataset, Interaction
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from whyrec.ui.cli import main


def test_chroma_round_trip_finds_items_by_meaning(small_store):
    query = small_store.embedder.encode(["a film about astronauts in outer space"])
    hits = small_store.index.query(query, n=3)[0]
    assert {item_id for item_id, _ in hits} <= {"space1", "space2", "space3", "space4"}
    assert hits[0][1] > hits[-1][1] - 1e-6 and 0 < hits[0][1] <= 1.0001


def test_query_filters_by_category_year_and_exclusion(small_store):
    query = small_store.embedder.encode(["love story"])
    hits = small_store.index.query(query, n=10, where={category_key("Crime"): True})[0]
    assert {i for i, _ in hits} == {"crime1", "crime2", "crime3"}
    hits = small_store.index.query(query, n=10, where={"$and": [{"year": {"$gte": 1995}}, {"year": {"$lte": 1999}}]})[0]
    assert {i for i, _ in hits} == {"space2", "rom2", "crime2"}
    hits = small_store.index.query(query, n=3, exclude={"rom1", "rom3"})[0]
    assert len(hits) == 3 and not {i for i, _ in hits} & {"rom1", "rom3"}


def test_reingest_embeds_only_what_changed(small_store):
    changed = dataclasses.replace(SMALL_CATALOG[0], description="A crew explores black holes.")
    catalog = [changed, *SMALL_CATALOG[1:-1]]  # one item changed, the last one removed
    interactions = [x for x in SMALL_INTERACTIONS if x.item_id != SMALL_CATALOG[-1].item_id]
    report = small_store.ingest(Dataset("small", catalog, interactions), progress=False)
    assert (report.index.added, report.index.updated, report.index.removed, report.index.unchanged) == (0, 1, 1, 11)
    assert small_store.index.count() == 12
    again = small_store.ingest(Dataset("small", catalog, interactions), progress=False)
    assert again.index.embedded == 0 and again.index.removed == 0


def test_sqlite_holds_histories_in_time_order(small_store):
    history = small_store.db.history("u1")
    assert [x.item_id for x in history][-2:] == ["space1", "space2"]
    assert small_store.db.stats().interactions == len(SMALL_INTERACTIONS)
    assert small_store.db.users() == ["u1", "u2", "u3"]


def test_failed_replace_leaves_previous_store_intact(small_store):
    before = small_store.db.stats()
    broken = Dataset("broken", list(SMALL_CATALOG[:2]), [Interaction("u9", "not-an-item", 1.0)])
    with pytest.raises(sqlite3.IntegrityError):
        small_store.db.replace_dataset(broken)
    assert small_store.db.stats() == before
    assert small_store.db.item("rom1").title == "Paris in Spring"


def test_feedback_is_validated_and_kept(small_store):
    small_store.db.add_feedback("u1", "rom1", "disliked")
    with pytest.raises(InputError, match="feedback 'meh' is not known — use one of liked, disliked, not_interested"):
        small_store.db.add_feedback("u1", "rom1", "meh")
    with pytest.raises(InputError, match="item 'nope' is not in the catalog"):
        small_store.db.add_feedback("u1", "nope", "liked")
    assert [f.kind for f in small_store.db.feedback("u1")] == ["disliked"]
    before = small_store.db.history_version("u1")
    small_store.db.add_feedback("u1", "rom2", "liked")
    assert small_store.db.history_version("u1") != before


def test_index_rebuilds_when_embedding_model_changes(small_store, embedder):
    class OtherModel:
        model_path = "another-model"

    index = ItemIndex(small_store.settings, OtherModel())
    assert index.count() == 0


def test_cli_bad_ingest_reports_one_line_and_keeps_the_store(small_store, tmp_path, capsys):
    data_dir = str(small_store.settings.data_dir)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,title\nx1,Fine\nx2,\n", encoding="utf-8")
    assert main(["--data-dir", data_dir, "ingest", "--catalog", str(catalog)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'error: catalog.csv line 3: column "title" is empty — every item needs a title'
    assert Database(small_store.settings.sqlite_path).stats().items == len(SMALL_CATALOG)
    assert main(["--data-dir", data_dir, "stats"]) == 0
    assert "items:         13" in capsys.readouterr().out


def test_the_store_answers_metadata_questions_without_callers_reaching_into_sqlite_or_chroma(small_store):
    assert small_store.db.dataset_name() == "small"
    assert small_store.index.ids({"year": {"$lt": 1993}}) == {"space1", "rom1"}


def test_clearing_one_users_feedback_leaves_everyone_elses(small_store):
    db = small_store.db
    db.add_feedback("u1", "space3", "liked")
    db.add_feedback("u2", "rom1", "disliked")
    db.clear_feedback("u1")
    assert db.feedback("u1") == [] and [f.item_id for f in db.feedback("u2")] == ["rom1"]
