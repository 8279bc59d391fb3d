"""Two ``whyrec serve`` workers on one PostgreSQL and one ``chroma run`` server, as behind a load balancer.

Real processes throughout: a throw-away PostgreSQL cluster (tests/postgres_cluster.py), a Chroma
server, ``whyrec ingest`` and two ``whyrec serve --openai`` workers, each with its own data
directory (nothing shared on disk). The API is called over HTTP (gradio_client, /v1). In order:

1. a 👎 through worker A is respected by worker B's next list;
2. a conversation started on A continues on B ("why the second one?" points into A's list);
3. a re-ingest (titles changed, items removed) under load from clients of both workers: no call
   fails, and no removed item is served by a call that starts after the staleness bound;
4. kill -9 of A in the middle of a feedback load: B keeps serving, and every feedback call either
   worker acknowledged is in the database.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.postgres_cluster import postgres_cluster
from tests.servers import stop_process, wait_until_answers
from tests.store.test_chroma_server import CHROMA, ChromaServer
from whyrec.store.ports import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI (chromadb) is not installed"),
]

WHYREC = Path(sys.executable).with_name("whyrec")
CATALOG_CHECK_SECONDS = 1.0
REMOVED = {"space4", "space5", "rom4"}
RENAMED = {"space1": "Star Voyage (Director's Cut)", "crime1": "The Heist (Remastered)"}


def write_catalog(folder: Path, items, interactions) -> list[str]:
    """JSONL files as a person hands them to ``whyrec ingest``; the command's arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog, history = folder / "catalog.jsonl", folder / "interactions.jsonl"
    catalog.write_text("".join(
        json.dumps({"item_id": i.item_id, "title": i.title, "description": i.description, "categories": list(i.categories), "year": i.year}) + "\n"
        for i in items
    ), encoding="utf-8")
    history.write_text("".join(
        json.dumps({"user_id": x.user_id, "item_id": x.item_id, "timestamp": x.timestamp, "rating": x.rating}) + "\n" for x in interactions
    ), encoding="utf-8")
    return ["--catalog", str(catalog), "--interactions", str(history)]


class Worker:
    """One ``whyrec serve --openai`` process: its own data directory, the shared database and Chroma server."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]):
        self.name = name
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = tmp_path / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(WHYREC), "--data-dir", str(tmp_path / name), "serve", "--port", self.url.rsplit(":", 1)[1], "--openai"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )

    def wait_ready(self) -> Worker:
        wait_until_answers(self.process, f"{self.url}/v1/models", self.log, f"worker {self.name}", 240)
        return self

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False)

    def chat(self, conversation: str, text: str) -> dict:
        response = httpx.post(
            f"{self.url}/v1/chat/completions",
            json={"model": "whyrec", "user": "u1", "messages": [{"role": "user", "content": text}]},
            headers={"X-Whyrec-Conversation": conversation}, timeout=120.0,
        )
        assert response.status_code == 200, response.text
        return response.json()["whyrec"]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig)


def ids(answer: dict) -> list[str]:
    return [item["item_id"] for item in answer["items"]]


@pytest.fixture
def deployment(tmp_path):
    """PostgreSQL + Chroma server, the small catalog ingested, and two workers A and B."""
    with postgres_cluster() as cluster:
        chroma = ChromaServer(tmp_path / "chroma").start()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WHYREC_")},
            "WHYREC_DATABASE_URL": cluster.database(),
            "WHYREC_CHROMA_URL": chroma.url,
            "WHYREC_CATALOG_CHECK_SECONDS": str(CATALOG_CHECK_SECONDS),
            "WHYREC_AGENT_MODE": "plan",  # the chat turns below are ones the rules are sure of: no model starts
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        ingest = [str(WHYREC), "--data-dir", str(tmp_path / "ingest"), "ingest"]
        subprocess.run([*ingest, *write_catalog(tmp_path / "v1", SMALL_CATALOG, SMALL_INTERACTIONS)], env=env, check=True, timeout=300)
        workers = [Worker("a", tmp_path, env), Worker("b", tmp_path, env)]
        try:
            for worker in workers:
                worker.wait_ready()
            yield workers, env, ingest, cluster
        finally:
            for worker in workers:
                worker.stop(signal.SIGKILL)
            chroma.stop()


def stored_feedback(url: str) -> Counter:
    import psycopg

    with psycopg.connect(url) as conn:
        return Counter(tuple(row) for row in conn.execute("SELECT user_id, item_id, kind FROM feedback"))


def test_two_workers_share_feedback_chats_catalog_and_survive_a_kill(deployment, tmp_path):
    (a, b), env, ingest, _ = deployment
    on_a, on_b = a.client(), b.client()

    # 1. a 👎 through A is respected by B's next list
    before = ids(on_b.predict(user_id="u1", request="", k=5, api_name="/recommend"))
    on_a.predict(user_id="u1", item_id=before[0], kind="disliked", api_name="/feedback")
    after = ids(on_b.predict(user_id="u1", request="", k=5, api_name="/recommend"))
    assert before[0] not in after and after

    # 2. a conversation started on A continues on B
    first = a.chat("movie-night", "recommend some sci-fi movies")
    assert len(first["items"]) >= 2
    why = b.chat("movie-night", "why the second one?")
    assert "explain_recommendation" in why["tools_called"] and ids(why)[0] == ids(first)[1]

    # 3. a re-ingest under load from clients of both workers
    errors: list[str] = []
    served: list[tuple[float, set[str]]] = []  # (when the call started, the items it showed)
    stop, answered = threading.Event(), threading.Condition()

    def load(worker: Worker, user: str, request: str) -> None:
        client = worker.client()
        while not stop.is_set():
            started = time.monotonic()
            try:
                shown = set(ids(client.predict(user_id=user, request=request, k=10, api_name="/recommend")))
                explained = client.predict(user_id=user, item_id="crime2", request=request, api_name="/explain")
                shown |= {explained["item"]["item_id"], *(p["item_id"] for p in explained["similar_past_items"])}
            except Exception as error:  # noqa: BLE001 - every failure is collected for the assertion
                errors.append(f"{worker.name}: {type(error).__name__}: {error}")
                continue
            with answered:
                served.append((started, shown))
                answered.notify_all()

    clients = [threading.Thread(target=load, args=(w, u, r)) for w in (a, b) for u, r in (("u2", "space smugglers"), ("u3", ""))]
    for thread in clients:
        thread.start()
    edited = [dataclasses.replace(i, title=RENAMED.get(i.item_id, i.title)) for i in SMALL_CATALOG if i.item_id not in REMOVED]
    kept = [x for x in SMALL_INTERACTIONS if x.item_id not in REMOVED]
    subprocess.run([*ingest, *write_catalog(tmp_path / "v2", edited, kept)], env=env, check=True, timeout=300)
    ingested = time.monotonic()
    bound = ingested + CATALOG_CHECK_SECONDS
    with answered:  # eight calls that started after every worker must have seen the new catalog
        answered.wait_for(lambda: sum(started > bound for started, _ in served) >= 8, timeout=ingested + 120 - time.monotonic())
    stop.set()
    for thread in clients:
        thread.join(timeout=120)
    assert errors == []
    late = [shown for started, shown in served if started > bound]
    assert len(late) >= 8 and not any(REMOVED & shown for shown in late)
    for worker in (on_a, on_b):
        assert "Director's Cut" in worker.predict(user_id="u2", item_id="space1", request="", api_name="/explain")["item"]["title"]

    # 4. kill -9 one worker in the middle of a feedback load
    acknowledged: list[tuple[str, str, str]] = []
    failed_on_b: list[str] = []
    lock = threading.Condition()
    items = [i.item_id for i in edited]

    def feedback(worker: Worker, n: int) -> None:
        client = worker.client()
        for call in range(n):
            user, item, kind = f"k{call % 3}", items[call % len(items)], ("liked", "disliked", "not_interested")[call % 3]
            try:
                recorded = client.predict(user_id=user, item_id=item, kind=kind, api_name="/feedback")["recorded"]
            except Exception as error:  # noqa: BLE001 - A's calls fail once it is killed; B's must not
                if worker is b:
                    failed_on_b.append(f"{type(error).__name__}: {error}")
                if worker is a:
                    return
                continue
            with lock:
                acknowledged.append((recorded["user_id"], recorded["item_id"], recorded["kind"]))
                lock.notify_all()

    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(feedback, w, 24) for w in (a, a, b, b)]
        with lock:  # the kill lands in the middle of the load
            assert lock.wait_for(lambda: len(acknowledged) >= 10, timeout=120), f"only {len(acknowledged)} feedback calls answered in 120 s"
        a.process.send_signal(signal.SIGKILL)
        for job in jobs:
            job.result(timeout=300)
    assert a.process.wait(timeout=10) == -signal.SIGKILL
    assert failed_on_b == [] and len(acknowledged) >= 48  # B answered all of its 48
    assert ids(on_b.predict(user_id="u1", request="", k=5, api_name="/recommend"))  # and still serves lists
    stored = stored_feedback(env["WHYREC_DATABASE_URL"])
    assert stored & Counter(acknowledged) == Counter(acknowledged)  # nothing acknowledged is lost
