"""The packaged catalog's shipped vectors: used at ingest only for the same model and the same text."""

from __future__ import annotations

import hashlib
import random

import pytest

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.store.test_store import HashingModel
from whyrec.store import packaged_vectors as shipped
from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.embeddings import FINGERPRINT_TEXT, SAME_MODEL_COSINE, same_vectors
from whyrec.store.item_index import ItemIndex
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset


def spy_on_encode(embedder, monkeypatch) -> list[str]:
    """The texts ``embedder`` is asked to embed from now on (its fingerprint probe aside)."""
    seen: list[str] = []
    encode = embedder.encode

    def spy(texts, *args, **kwargs):
        seen.extend(t for t in texts if t != FINGERPRINT_TEXT)
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "encode", spy)
    return seen


@pytest.fixture
def shipped_for_part_of_the_catalog(tmp_path, embedder, monkeypatch):
    """A packaged-vectors file holding the first 8 small-catalog items, in place of the MovieLens one."""
    path = tmp_path / "vectors.npz"
    shipped.write_packaged_vectors(path, embedder, {item.text_hash: item.text for item in SMALL_CATALOG[:8]})
    monkeypatch.setattr(shipped, "PACKAGED_VECTORS", path)
    return path


def test_the_packaged_vectors_match_the_packaged_catalog_as_its_text_reads_today(embedder):
    items = load_movielens_100k().items
    found = shipped.packaged_vectors(embedder, [item.text_hash for item in items])
    missing = [item.item_id for item in items if item.text_hash not in found]
    assert not missing, f"{len(missing)} items' text changed since the vectors were built — run benchmarks/build_item_vectors.py"
    sample = random.Random(7).sample(items, 16)
    fresh = embedder.encode([item.text for item in sample])
    assert same_vectors([found[item.text_hash] for item in sample], fresh) >= SAME_MODEL_COSINE


def test_an_ingest_embeds_only_the_items_the_packaged_vectors_lack(settings, embedder, shipped_for_part_of_the_catalog, monkeypatch):
    store = Store(settings, Database(settings.sqlite_path), embedder, ItemIndex(settings, embedder))
    seen = spy_on_encode(embedder, monkeypatch)
    report = store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    assert seen == [item.text for item in SMALL_CATALOG[8:]]
    assert report.index.added == len(SMALL_CATALOG) and report.index.packaged == 8
    hits = store.index.query(embedder.encode(["astronauts in outer space"]), n=2)[0]
    assert {item_id for item_id, _ in hits} <= {"space1", "space2", "space3", "space4", "space5"}


def test_an_edited_text_or_another_model_never_takes_a_packaged_vector(settings, embedder, shipped_for_part_of_the_catalog, monkeypatch):
    other = HashingModel()
    seen = spy_on_encode(other, monkeypatch)
    index = ItemIndex(settings, other)
    Store(settings, Database(settings.sqlite_path), other, index).ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    assert seen == [item.text for item in SMALL_CATALOG]  # another model: every item embedded by it

    edited = SMALL_CATALOG[0].text.replace("galaxies", "galaxies and black holes")
    assert shipped.packaged_vectors(embedder, [SMALL_CATALOG[0].text_hash]).keys() == {SMALL_CATALOG[0].text_hash}
    assert shipped.packaged_vectors(embedder, [hashlib.sha1(edited.encode()).hexdigest()]) == {}  # not the text it was made from
