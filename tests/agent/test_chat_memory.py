"""Chats in PostgreSQL: a conversation started by one worker's agent continues in another's."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from tests.agent.chat_fakes import answer_with_titles, scripted
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.postgres_cluster import postgres_cluster
from whyrec.store.ports import free_port
from whyrec.agent.chat import ChatAgent
from whyrec.agent.chat_memory import open_chat_memory
from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.errors import SetupError
from whyrec.store.item_index import ItemIndex
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as running:
        yield running


def worker(tmp_path, name: str, url: str, embedder) -> Recommender:
    """One worker's recommender: its own data dir (Chroma here), the shared PostgreSQL store."""
    settings = Settings(data_dir=tmp_path / name, database_url=url, short_term_window=3)
    return Recommender(Store(settings, Database.from_settings(settings), embedder, ItemIndex(settings, embedder)))


@pytest.mark.slow  # a PostgreSQL server process
def test_a_conversation_started_on_one_worker_continues_on_another(cluster, tmp_path, embedder) -> None:
    url = cluster.database()
    a = worker(tmp_path, "a", url, embedder)
    a.store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    b = worker(tmp_path, "b", url, embedder)
    b.store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)  # its own vectors

    with ChatAgent(a, model=scripted('{"name": "recommend", "arguments": {"request": "space", "k": 3}}', answer_with_titles(1))) as on_a:
        first = on_a.reply("u1", "trip", "Something with spaceships?")
    model = scripted("We talked about space films.")
    with ChatAgent(b, model=model) as on_b:
        on_b.reply("u1", "trip", "What did I ask before?")
        assert [role for role, _ in on_b.history("u1", "trip")] == ["user", "assistant", "user", "assistant"]
        assert on_b.history("u2", "trip") == []
    sent = model.seen[0]
    assert any(isinstance(m, HumanMessage) and m.text == "Something with spaceships?" for m in sent)
    assert any(isinstance(m, AIMessage) and m.text == first.text for m in sent)
    assert not (tmp_path / "a" / "chats.sqlite3").exists() and not (tmp_path / "b" / "chats.sqlite3").exists()


def test_chat_memory_on_a_server_that_is_not_there_is_one_line(tmp_path) -> None:
    pytest.importorskip("psycopg")
    settings = Settings(data_dir=tmp_path, database_url=f"postgresql://whyrec@127.0.0.1:{free_port()}/whyrec")
    with pytest.raises(SetupError) as error:
        open_chat_memory(settings)
    assert "cannot open" in str(error.value) and str(error.value).endswith("— start PostgreSQL or fix WHYREC_DATABASE_URL")
    assert "\n" not in str(error.value)
