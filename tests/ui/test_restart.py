"""A served whyrec killed with SIGKILL right after it acknowledged writes keeps every one of them.

``whyrec serve --openai`` runs in a subprocess over a data directory ingested from files with
``whyrec ingest``. Concurrent feedback calls go through the Gradio API (real HTTP, gradio_client)
and chat turns through ``/v1/chat/completions``; the moment the last call returns, the process gets
SIGKILL (no shutdown code runs). A second ``whyrec serve`` must start on the same directory, and
every acknowledged feedback row must be in SQLite and every chat turn in the conversation store.

The chat runs in plan mode with turns its rules are sure of, so no language model starts: each
turn is answered by a tool and a template, and stored like any other turn.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

import httpx
import pytest

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.servers import stop_process, wait_until_answers
from whyrec.store.ports import free_port
from whyrec.ui.cli import main

pytestmark = pytest.mark.slow  # starts real `whyrec serve` processes: deselect with -m 'not slow'

WHYREC = Path(sys.executable).with_name("whyrec")
FEEDBACK_CALLS = 48
CLIENTS = 8
CHAT_TURNS = ["recommend some sci-fi movies", "something romantic instead", "why Nebula Run?"]


def write_dataset(folder: Path) -> tuple[Path, Path]:
    """The small test catalog and histories as the JSONL files a person would hand to ``whyrec ingest``."""
    catalog, interactions = folder / "catalog.jsonl", folder / "interactions.jsonl"
    catalog.write_text(
        "".join(
            json.dumps({"item_id": i.item_id, "title": i.title, "description": i.description, "categories": list(i.categories), "year": i.year}) + "\n"
            for i in SMALL_CATALOG
        ),
        encoding="utf-8",
    )
    interactions.write_text(
        "".join(json.dumps({"user_id": x.user_id, "item_id": x.item_id, "timestamp": x.timestamp, "rating": x.rating}) + "\n" for x in SMALL_INTERACTIONS),
        encoding="utf-8",
    )
    return catalog, interactions


class Served:
    """One ``whyrec serve --openai`` process on a free port."""

    def __init__(self, data_dir: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "WHYREC_AGENT_MODE": "plan",  # the turns below are ones the rules are sure of: no model starts
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        for name in ("WHYREC_CHROMA_URL", "WHYREC_LLM_BASE_URL"):
            env.pop(name, None)
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(WHYREC), "--data-dir", str(data_dir), "serve", "--port", str(self.port), "--openai"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )

    def wait_ready(self, timeout: float = 90.0) -> Served:
        wait_until_answers(self.process, f"{self.url}/v1/models", self.log, "whyrec serve", timeout)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("WHYREC_CHROMA_URL", raising=False)
    catalog, interactions = write_dataset(tmp_path)
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "ingest", "--catalog", str(catalog), "--interactions", str(interactions)]) == 0
    return data


def send_feedback(url: str) -> list[tuple[str, str, str]]:
    """FEEDBACK_CALLS feedback calls from CLIENTS concurrent API clients; the (user, item, kind) of each acknowledged one."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(CLIENTS)]
    users, kinds = ["u1", "u2", "u3"], ["liked", "disliked", "not_interested"]
    calls = [(users[n % 3], SMALL_CATALOG[n % len(SMALL_CATALOG)].item_id, kinds[n % 3]) for n in range(FEEDBACK_CALLS)]

    def call(job: tuple[Client, tuple[str, str, str]]) -> tuple[str, str, str]:
        client, (user, item, kind) = job
        recorded = client.predict(user_id=user, item_id=item, kind=kind, api_name="/feedback")["recorded"]
        return recorded["user_id"], recorded["item_id"], recorded["kind"]

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(call, zip(cycle(clients), calls)))


def chat(url: str, conversation: str) -> list[str]:
    """The chat turns, each answered through /v1/chat/completions; the answers' texts."""
    answers = []
    with httpx.Client(timeout=60.0) as http:
        for text in CHAT_TURNS:
            response = http.post(
                f"{url}/v1/chat/completions",
                json={"model": "whyrec", "user": "u1", "messages": [{"role": "user", "content": text}]},
                headers={"X-Whyrec-Conversation": conversation},
            )
            assert response.status_code == 200, response.text
            assert response.json()["whyrec"]["tools_called"], "the rules should have answered this turn with a tool"
            answers.append(response.json()["choices"][0]["message"]["content"])
    return answers


def test_sigkill_right_after_acknowledged_writes_loses_none(data_dir, tmp_path):
    served = Served(data_dir, tmp_path / "serve-1.log")
    try:
        served.wait_ready()
        with ThreadPoolExecutor(2) as pool:  # feedback and chat at once, as in a real app
            acknowledged_future = pool.submit(send_feedback, served.url)
            answers_future = pool.submit(chat, served.url, "after-a-crash")
            acknowledged, answers = acknowledged_future.result(), answers_future.result()
        served.process.send_signal(signal.SIGKILL)  # the instant the last call returned: no shutdown code runs
        served.process.wait(timeout=10)
    finally:
        served.stop(signal.SIGKILL)
    assert served.process.returncode == -signal.SIGKILL
    assert len(acknowledged) == FEEDBACK_CALLS and all(answers)

    again = Served(data_dir, tmp_path / "serve-2.log")
    try:
        again.wait_ready()  # the store opens after the kill
        after = httpx.post(
            f"{again.url}/v1/chat/completions",
            json={"model": "whyrec", "user": "u1", "messages": [{"role": "user", "content": "recommend some crime films"}]},
            headers={"X-Whyrec-Conversation": "after-a-crash"},
            timeout=60.0,
        )
        assert after.status_code == 200, after.text
    finally:
        again.stop()

    from whyrec.agent.chat import ChatAgent
    from whyrec.store.catalog import Store
    from whyrec.store.settings import Settings
    from whyrec.tools.recommend.recommender import Recommender

    settings = Settings(data_dir=data_dir)
    store = Store.open(settings)
    stored = Counter((f.user_id, f.item_id, f.kind) for user in ("u1", "u2", "u3") for f in store.db.feedback(user))
    assert stored == Counter(acknowledged)

    agent = ChatAgent(Recommender(store, reranker=None), settings, fallback_only=True)
    try:
        history = agent.history("u1", "after-a-crash")
    finally:
        agent.close()
    assert [text for role, text in history if role == "user"] == [*CHAT_TURNS, "recommend some crime films"]
    replies = [text for role, text in history if role == "assistant"]
    assert len(replies) == len(CHAT_TURNS) + 1
    assert all(reply.strip() and reply.strip() in answer for reply, answer in zip(replies, answers, strict=False))  # /v1 adds the item cards
