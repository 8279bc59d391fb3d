"""The real store: SQLite file, Chroma directory and the packaged MiniLM model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy.exc

from whyrec.store import item_index
from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.embeddings import FINGERPRINT_TEXT
from whyrec.store.errors import InputError, SetupError
from whyrec.store.item_index import ItemIndex, category_key
from whyrec.store.records import ITEM_TEXT_VERSION, Dataset, Interaction
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
    with pytest.raises(sqlalchemy.exc.IntegrityError):
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


def test_an_index_of_another_model_is_refused_in_one_line_and_nothing_is_deleted(small_store):
    settings = small_store.settings
    with pytest.raises(SetupError) as refused:
        ItemIndex(settings, HashingModel())
    message = str(refused.value)
    assert "\n" not in message and "built with the embedding model all-MiniLM-L6-v2" in message
    assert "run `whyrec ingest --reembed`" in message
    assert {c.name for c in small_store.index.client.list_collections()} == {settings.collection}
    assert ItemIndex(settings, small_store.embedder).count() == len(SMALL_CATALOG)


def test_with_reembed_a_new_model_says_so_and_gets_its_own_index_to_fill(small_store, caplog):
    index = ItemIndex(small_store.settings.model_copy(update={"reembed": True}), HashingModel())
    assert index.count() == 0 and index.rebuilding
    assert f"re-embedding: the item index was built with {small_store.embedder.model_path}" in caplog.text
    assert ItemIndex(small_store.settings, small_store.embedder).count() == len(SMALL_CATALOG)


def test_the_same_model_at_another_path_keeps_the_index(small_store, tmp_path):
    """A second virtualenv, a moved checkout or a reinstall finds the packaged model elsewhere: same model, same index."""
    from whyrec.store.embeddings import ItemEmbedder
    from whyrec.tools.recommend.recommender import Recommender

    moved = tmp_path / "other-venv" / "model"
    moved.parent.mkdir()
    moved.symlink_to(Path(small_store.embedder.model_path), target_is_directory=True)
    settings = small_store.settings.model_copy(update={"embedding_model": str(moved)})
    elsewhere = ItemEmbedder(settings)
    assert elsewhere.model_path != small_store.embedder.model_path

    index = ItemIndex(settings, elsewhere)

    assert not index.rebuilding and index.count() == len(SMALL_CATALOG)
    store = Store(settings, small_store.db, elsewhere, index)
    assert len(Recommender(store, reranker=None).recommend("u1", k=3)) == 3


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


# --- item text format and embedding model changes ---------------------------


class HashingModel:
    """A second embedding model for the tests: 16-d unit vectors drawn from each text's hash."""

    model_path = name = "another-model"
    version = ""

    @property
    def fingerprint(self) -> np.ndarray:
        return self.encode([FINGERPRINT_TEXT])[0]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        rows = [np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).standard_normal(16) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), 16)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)


class BrokenModel(HashingModel):
    """Embeds one text (its fingerprint), then runs out of memory on a catalog."""

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if len(texts) > 1:
            raise RuntimeError("CUDA out of memory")
        return super().encode(texts)


def embedded_texts(index, monkeypatch) -> list[str]:
    """Every text the index's embedder is asked to embed from now on."""
    seen: list[str] = []
    encode = index.embedder.encode

    def spy(texts, *args, **kwargs):
        seen.extend(texts)
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(index.embedder, "encode", spy)
    return seen


def test_a_new_text_format_embeds_only_the_items_whose_text_changed(small_store, monkeypatch):
    """Upgrading whyrec to a new ITEM_TEXT_VERSION must not re-embed a whole catalog whose texts read the same."""
    monkeypatch.setattr(item_index, "ITEM_TEXT_VERSION", ITEM_TEXT_VERSION + 1)
    heist = dataclasses.replace(SMALL_CATALOG[9], keywords=("bank robbery", "betrayal"))
    catalog = [*SMALL_CATALOG[:9], heist, *SMALL_CATALOG[10:]]
    seen = embedded_texts(small_store.index, monkeypatch)
    report = small_store.ingest(Dataset("small", catalog, list(SMALL_INTERACTIONS)), progress=False)
    assert seen == [heist.text] and heist.text.endswith("Keywords: bank robbery, betrayal.")
    assert report.index.retagged == len(SMALL_CATALOG) - 1
    versions = {m["text_version"] for m in small_store.index.stored_metadata().values()}
    assert versions == {ITEM_TEXT_VERSION + 1}  # every vector now says which format it embeds
    small_store.ingest(Dataset("small", catalog, list(SMALL_INTERACTIONS)), progress=False)
    assert seen == [heist.text]  # and the next ingest embeds nothing
    query = small_store.embedder.encode(["a gang robs a bank"])
    assert small_store.index.query(query, n=1)[0][0][0] == "crime1"


def test_a_new_embedding_model_is_built_beside_the_old_index_and_swapped_in_only_when_complete(small_store):
    settings = small_store.settings.model_copy(update={"reembed": True})
    dataset = Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS))
    broken = ItemIndex(settings, BrokenModel())
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        Store(settings, small_store.db, broken.embedder, broken).ingest(dataset, progress=False)
    old = ItemIndex(settings, small_store.embedder)  # the failed rebuild left the old index whole
    assert old.count() == len(SMALL_CATALOG) and not old.rebuilding
    assert old.query(small_store.embedder.encode(["astronauts in outer space"]), n=1)[0][0][0].startswith("space")

    new = ItemIndex(settings, HashingModel())
    assert new.rebuilding and new.count() == 0  # its queries never mix two models' vectors
    Store(settings, small_store.db, new.embedder, new).ingest(dataset, progress=False)
    reopened = ItemIndex(settings, HashingModel())
    assert not reopened.rebuilding and reopened.count() == len(SMALL_CATALOG)
    assert {c.name for c in reopened.client.list_collections()} == {settings.collection}
    assert Database(settings.sqlite_path).stats().items == len(SMALL_CATALOG)


def test_a_swap_cut_short_is_finished_by_the_next_open(small_store, monkeypatch):
    settings = small_store.settings.model_copy(update={"reembed": True})
    new = ItemIndex(settings, HashingModel())
    plan = new.plan(list(SMALL_CATALOG))

    def server_gone(**kwargs):
        raise ConnectionError("server went away")

    monkeypatch.setattr(new.collection, "modify", server_gone)
    with pytest.raises(ConnectionError):
        new.apply(plan)
    assert {c.name for c in new.client.list_collections()} == {item_index.rebuild_collection_name(settings.collection)}
    reopened = ItemIndex(settings, HashingModel())
    assert reopened.collection.name == settings.collection and not reopened.rebuilding
    assert reopened.count() == len(SMALL_CATALOG)


def test_cli_ingest_with_keywords_then_a_bad_description_keeps_the_store(small_store, tmp_path, capsys):
    data_dir = str(small_store.settings.data_dir)
    good = tmp_path / "films.jsonl"
    good.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"item_id": "h1", "title": "Heat", "description": "<p>A <b>thief</b> and a detective.</p>", "keywords": "heist|los angeles"},
                {"item_id": "f1", "title": "Fargo", "description": "", "keywords": ["kidnapping", "snow"]},
            ]
        ),
        encoding="utf-8",
    )
    assert main(["--data-dir", data_dir, "ingest", "--catalog", str(good)]) == 0
    capsys.readouterr()
    bad = tmp_path / "catalog.csv"
    bad.write_bytes(b"item_id,title,description,keywords\nx1,Fine,Plain.,a|b\nx2,Amelie,Caf" + "\u00e9".encode("latin-1") + b",c\n")
    assert main(["--data-dir", data_dir, "ingest", "--catalog", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == "error: catalog.csv line 3: not valid UTF-8 — save the file as UTF-8"
    items = Database(small_store.settings.sqlite_path).items()
    assert set(items) == {"h1", "f1"}
    assert items["h1"].description == "A thief and a detective." and items["h1"].keywords == ("heist", "los angeles")
    assert ItemIndex(small_store.settings, small_store.embedder).count() == 2
    assert main(["--data-dir", data_dir, "stats"]) == 0
    assert "items:         2" in capsys.readouterr().out
