"""The Chroma server path (``WHYREC_CHROMA_URL``) against a real ``chroma run`` on a free port.

What a deployment past one process meets: ingest, recommend, a re-ingest that changes items and a
delete all land on the server (a second store with another data directory sees them), and a server
that is down or dies mid-ingest gives one line saying what to do while SQLite keeps what it had.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.errors import SetupError
from whyrec.store.item_index import ItemIndex
from whyrec.store.ports import free_port
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.ui.cli import main
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.servers import wait_until_answers

CHROMA = Path(sys.executable).with_name("chroma")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMA.exists() and shutil.which("chroma") is None, reason="the chroma CLI (chromadb) is not installed")]


class ChromaServer:
    """``chroma run`` in a subprocess on a free port with its own directory; ready once its heartbeat answers."""

    def __init__(self, path: Path):
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.with_suffix(".log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> ChromaServer:
        command = [str(CHROMA if CHROMA.exists() else shutil.which("chroma")), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_answers(self.process, f"{self.url}/api/v2/heartbeat", self.log, "chroma run", timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_store(chroma_server, tmp_path, embedder) -> Store:
    """A store whose vectors live on the server (one collection per test) and whose SQLite is under tmp_path."""
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_server.url, collection=f"items-{uuid.uuid4().hex[:12]}")
    return Store(settings, Database(settings.sqlite_path), embedder, ItemIndex(settings, embedder))


def small_dataset(catalog=None) -> Dataset:
    catalog = list(SMALL_CATALOG) if catalog is None else catalog
    ids = {item.item_id for item in catalog}
    return Dataset("small", catalog, [x for x in SMALL_INTERACTIONS if x.item_id in ids])


def test_ingest_recommend_reingest_and_delete_all_land_on_the_server(server_store, chroma_server, tmp_path, embedder):
    from whyrec.tools.recommend.recommender import Recommender

    first = server_store.ingest(small_dataset(), progress=False)
    assert first.index.added == len(SMALL_CATALOG)
    assert not (tmp_path / "data" / "chroma").exists()  # nothing fell back to an embedded Chroma

    recs = Recommender(server_store, reranker=None).recommend("u1", "a film about astronauts in outer space", k=3)
    assert recs[0].item.item_id.startswith("space")
    assert not {r.item.item_id for r in recs} & {x.item_id for x in server_store.db.history("u1")}

    changed = [dataclasses.replace(item, description=item.description + " Remastered edition.") for item in SMALL_CATALOG[:10]]
    again = server_store.ingest(small_dataset(changed + list(SMALL_CATALOG[10:])), progress=False)
    assert (again.index.updated, again.index.added, again.index.unchanged) == (10, 0, 3)

    kept = [item for item in SMALL_CATALOG if item.item_id != "cook1"]
    kept = [next((c for c in changed if c.item_id == item.item_id), item) for item in kept]
    deleted = server_store.ingest(small_dataset(kept), progress=False)
    assert deleted.index.removed == 1 and deleted.index.embedded == 0

    # Another process's view: a fresh client with another data directory reads the same vectors off the server.
    other = Settings(data_dir=tmp_path / "elsewhere", chroma_url=chroma_server.url, collection=server_store.settings.collection)
    seen = ItemIndex(other, embedder)
    assert seen.count() == len(SMALL_CATALOG) - 1
    assert seen.ids({"year": {"$gte": 2009}}) == set()  # cook1 (2010) is gone from the server
    assert seen.stored_hashes()["space1"] == changed[0].text_hash


def test_a_server_that_is_down_gives_one_line_and_the_cli_exits_2(tmp_path, monkeypatch, capsys):
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(data_dir=tmp_path / "data", chroma_url=url)
    with pytest.raises(SetupError) as caught:
        Store.open(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Chroma server at {url} is not reachable — start it with `chroma run --path ")
    assert message.endswith("or unset WHYREC_CHROMA_URL")

    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,title\nx1,Fine\n", encoding="utf-8")
    monkeypatch.setenv("WHYREC_CHROMA_URL", url)
    assert main(["--data-dir", str(tmp_path / "data"), "ingest", "--catalog", str(catalog)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}"
    assert Database(settings.sqlite_path).stats().items == 0


def test_a_server_that_dies_before_the_vectors_are_written_leaves_sqlite_as_it_was(tmp_path, embedder):
    server = ChromaServer(tmp_path / "dying-db").start()
    try:
        settings = Settings(data_dir=tmp_path / "data", chroma_url=server.url)
        store = Store(settings, Database(settings.sqlite_path), embedder, ItemIndex(settings, embedder))
        store.ingest(small_dataset(), progress=False)
        store.db.add_feedback("u1", "rom1", "liked")
        before = store.db.stats()

        plan = store.index.plan

        def plan_then_the_server_dies(*args, **kwargs):  # the worst moment: vectors embedded, nothing written yet
            planned = plan(*args, **kwargs)
            server.stop()
            return planned

        store.index.plan = plan_then_the_server_dies
        renamed = [dataclasses.replace(item, title=item.title + " (new cut)") for item in SMALL_CATALOG[:-1]]
        with pytest.raises(SetupError, match=rf"^Chroma server at {server.url} is not reachable — "):
            store.ingest(small_dataset(renamed), progress=False)

        assert store.db.stats() == before
        assert store.db.item("rom1").title == "Paris in Spring"
        assert store.db.item("cook1") is not None
        assert [f.item_id for f in store.db.feedback("u1")] == ["rom1"]
        with pytest.raises(SetupError, match="is not reachable"):  # reads say the same, not an httpx trace
            store.index.count()
    finally:
        server.stop()
