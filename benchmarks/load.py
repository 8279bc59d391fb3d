"""Load on the served app: concurrent API clients, concurrent chats, and rule-decided chat turns beside model turns.

Run:  .venv/bin/python benchmarks/load.py                     # every scenario, on its own `whyrec serve --openai`
      .venv/bin/python benchmarks/load.py --scenarios rules_under_model_load --llm-url http://host:8000/v1
      .venv/bin/python benchmarks/load.py --url http://127.0.0.1:7860   # drives a running one

Without ``--url`` the script copies the configured data directory (``WHYREC_DATA_DIR``; MovieLens-100K
is ingested there first if it is empty) to a scratch folder, so the feedback it writes never reaches
your store, and serves it with ``WHYREC_AGENT_MODE=plan`` (chat turns its rules are sure of start no
language model) and ``WHYREC_TURNS_PER_MINUTE=0`` (the load comes from one address). The model is the
embedded local one (``whyrec[local]``) unless ``--llm-url`` names an OpenAI-compatible endpoint. With
``--url`` the feedback calls are real writes into that server's store.

Scenarios (``--scenarios``; each is one function below that returns rows with a ``scenario`` key):

- ``api``: for each number of API clients (default 1, 8, 32), every client is its own
  ``gradio_client.Client`` in its own thread and makes ``--calls`` calls, cycling
  recommend (k=10, a seeded user) → explain (the first item of that list) → feedback ("liked" on it),
  as fast as answers come back.
- ``chat``: for each number of concurrent conversations (default 2, 4), every conversation sends
  ``--turns`` turns to ``/v1/chat/completions`` (X-Whyrec-Conversation), each waiting for the last.
- ``rules_under_model_load``: one client sends ``--rule-turns`` simple turns the rules decide, one after
  the other, through ``/v1/chat/completions`` as OpenAI frontends do (no header, the history resent:
  "something scary from the 80s", "why the second one?", "recommend some comedies", "more like the first one"), first
  alone (the baseline), then while ``--heavy-clients`` other clients (default 2) each send maximal
  messages (``Settings.max_message_chars`` characters of words the rules cannot account for, so the
  model reads each) back to back. Target (issue #25): the rule-decided turns keep p95 ≤ 1 s.

Reported per row: calls, errors, p50/p95 latency, throughput over the row's wall time, and the machine's
load average before and after (absolute numbers from a shared machine are pessimistic). Every row says
its ``backend`` (sqlite or postgres) and ``workers`` (server processes), so scale-out rows sit beside
these. Writes benchmarks/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from whyrec.store.ports import free_port

CHAT_TURNS = ("recommend some comedies", "why the second one?", "something from the 80s", "more like the first one")
# (message, whether it follows the previous answer in the resent history): each is a turn the rules decide
RULE_TURNS = (("something scary from the 80s", False), ("why the second one?", True), ("recommend some comedies", False), ("more like the first one", True))
# everyday words the catalog's rules have no reading for: a message of them goes to the model
HEAVY_WORDS = (
    "grandmother rainy sunday blanket tea nostalgic gentle evening childhood memories cozy soft laughter kitchen garden letters "
    "train journey autumn lighthouse quiet warm friendship village sea breeze porch lantern bakery old photographs melody"
).split()
TARGET_P95_MS = 1000.0


@dataclass
class Calls:
    """Latencies (seconds) and error messages, per endpoint; safe to add to from many threads."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def timed(self, endpoint: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        except Exception as err:  # a benchmark counts failures instead of stopping at the first
            with self.lock:
                self.errors.setdefault(endpoint, []).append(f"{type(err).__name__}: {err}".splitlines()[0][:200])
        else:
            with self.lock:
                self.latencies.setdefault(endpoint, []).append(time.perf_counter() - start)


def ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


@dataclass(frozen=True)
class Target:
    """The server a scenario drives, as every row records it."""

    url: str
    users: list[str]
    seed: int
    backend: str  # "sqlite" or "postgres"
    workers: int  # server processes behind the URL
    urls: tuple[str, ...] = ()  # every worker's URL when there are several: API clients are spread over them round-robin


def summary(scenario: str, concurrency: int, calls: Calls, wall: float, load_before: tuple, load_after: tuple, target: Target) -> dict:
    every = [x for values in calls.latencies.values() for x in values]
    endpoints = sorted(set(calls.latencies) | set(calls.errors))
    n_errors = sum(len(v) for v in calls.errors.values())
    return {
        "scenario": scenario,
        "backend": target.backend,
        "workers": target.workers,
        "concurrency": concurrency,
        "calls": len(every) + n_errors,
        "errors": n_errors,
        "error_examples": sorted({e for v in calls.errors.values() for e in v})[:3],
        "wall_s": round(wall, 2),
        "calls_per_s": round(len(every) / wall, 2) if wall else None,
        "recommendations_per_s": round(len(calls.latencies.get("recommend", [])) / wall, 2) if scenario == "api" and wall else None,
        "p50_ms": ms(every, 50),
        "p95_ms": ms(every, 95),
        "endpoints": {
            name: {"ok": len(calls.latencies.get(name, [])), "errors": len(calls.errors.get(name, [])),
                   "p50_ms": ms(calls.latencies.get(name, []), 50), "p95_ms": ms(calls.latencies.get(name, []), 95)}
            for name in endpoints
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }


def api_level(target: Target, clients: int, calls_each: int) -> dict:
    """``clients`` threads, each with its own gradio_client, each making ``calls_each`` calls."""
    from gradio_client import Client

    url, users, seed = target.url, target.users, target.seed
    spread = target.urls or (url,)
    connected = [Client(spread[n % len(spread)], verbose=False) for n in range(clients)]
    calls = Calls()

    def one_client(n: int) -> None:
        client, rng, item = connected[n], random.Random(seed * 1000 + n), None
        user = rng.choice(users)
        for call in range(calls_each):
            step = ("recommend", "explain", "feedback")[call % 3]
            if step == "recommend":
                user = rng.choice(users)
                with calls.timed("recommend"):
                    recs = client.predict(user_id=user, k=10, api_name="/recommend")["items"]
                    item = recs[0]["item_id"] if recs else None
            elif item is None:
                with calls.timed(step):
                    raise RuntimeError("no item to act on: the recommend call before it failed or was empty")
            elif step == "explain":
                with calls.timed("explain"):
                    client.predict(user_id=user, item_id=item, k=10, api_name="/explain")
            else:
                with calls.timed("feedback"):
                    client.predict(user_id=user, item_id=item, kind="liked", api_name="/feedback")

    load_before, start = os.getloadavg(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    return summary("api", clients, calls, time.perf_counter() - start, load_before, os.getloadavg(), target)


def chat_level(target: Target, conversations: int, turns: int) -> dict:
    """``conversations`` chats at once through /v1/chat/completions, each turn waiting for the last."""
    url, users, seed = target.url, target.users, target.seed
    calls = Calls()

    def one_chat(n: int) -> None:
        user = random.Random(seed * 1000 + n).choice(users)
        conversation = f"load-{seed}-{conversations}-{n}-{time.time_ns()}"
        with httpx.Client(timeout=600.0) as http:
            for turn in range(turns):
                with calls.timed("chat"):
                    response = http.post(
                        f"{url}/v1/chat/completions",
                        json={"model": "whyrec", "user": user, "messages": [{"role": "user", "content": CHAT_TURNS[turn % len(CHAT_TURNS)]}]},
                        headers={"X-Whyrec-Conversation": conversation},
                    )
                    response.raise_for_status()
                    if not response.json()["choices"][0]["message"]["content"].strip():
                        raise RuntimeError("empty answer")

    load_before, start = os.getloadavg(), time.perf_counter()
    with ThreadPoolExecutor(conversations) as pool:
        list(pool.map(one_chat, range(conversations)))
    return summary("chat", conversations, calls, time.perf_counter() - start, load_before, os.getloadavg(), target)


def maximal_message(chars: int, rng: random.Random) -> str:
    """A request of exactly ``chars`` characters in words the rules cannot read (a new one each time: the agent keeps
    the model's readings by prompt, and a repeated message would be read from there)."""
    words = ["I'd", "love", "a", "film", "for", "an", "evening", "of"]
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(HEAVY_WORDS))
    return " ".join(words)[:chars]


def chat_post(http: httpx.Client, url: str, user: str, messages: list[dict]) -> dict:
    response = http.post(f"{url}/v1/chat/completions", json={"model": "whyrec", "user": user, "messages": messages})
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    if not body["choices"][0]["message"]["content"].strip():
        raise RuntimeError("empty answer")
    return body


def rule_turns(target: Target, turns: int, calls: Calls, decided: dict[str, int]) -> None:
    """``turns`` rule-decided turns one after the other, as an OpenAI frontend sends them (the history, no header)."""
    user = target.users[0]
    history: list[dict] = []
    with httpx.Client(timeout=600.0) as http:
        for n in range(turns):
            text, follows = RULE_TURNS[n % len(RULE_TURNS)]
            messages = [*history, {"role": "user", "content": text}] if follows else [{"role": "user", "content": text}]
            with calls.timed("rule turn"):
                body = chat_post(http, target.url, user, messages)
            by = str(body.get("whyrec", {}).get("planned_by"))
            decided[by] = decided.get(by, 0) + 1
            history = [*messages, {"role": "assistant", "content": body["choices"][0]["message"]["content"]}]


def heavy_turns(target: Target, n: int, chars: int, calls: Calls, decided: dict[str, int], stop: threading.Event) -> None:
    """Maximal messages that the model must read, back to back until ``stop``."""
    rng = random.Random(target.seed * 1000 + n)
    with httpx.Client(timeout=600.0) as http:
        while not stop.is_set():
            with calls.timed("model turn"):
                body = chat_post(http, target.url, target.users[1 + n % (len(target.users) - 1)], [{"role": "user", "content": maximal_message(chars, rng)}])
            by = str(body.get("whyrec", {}).get("planned_by"))
            decided[by] = decided.get(by, 0) + 1


def rules_under_model_load(target: Target, heavy_clients: int, turns: int, chars: int) -> dict:
    """One row: ``turns`` rule-decided turns while ``heavy_clients`` clients send maximal messages (0: the baseline)."""
    calls, rule_decided, model_decided, stop = Calls(), {}, {}, threading.Event()
    heavy = [threading.Thread(target=heavy_turns, args=(target, n, chars, calls, model_decided, stop)) for n in range(heavy_clients)]
    load_before = os.getloadavg()
    for thread in heavy:
        thread.start()
    if heavy:
        time.sleep(2.0)  # the heavy turns are in: one reads, the other waits for the model
    start = time.perf_counter()
    rule_turns(target, turns, calls, rule_decided)
    wall = time.perf_counter() - start
    stop.set()
    for thread in heavy:
        thread.join()
    row = summary("rules_under_model_load", heavy_clients, calls, wall, load_before, os.getloadavg(), target)
    rules = calls.latencies.get("rule turn", [])
    row.update({
        "heavy_clients": heavy_clients,
        "message_chars": chars,
        "rule_turns": len(rules),
        "rule_p50_ms": ms(rules, 50),
        "rule_p95_ms": ms(rules, 95),
        "rule_max_ms": round(max(rules) * 1000, 1) if rules else None,
        "rule_turns_planned_by": rule_decided,
        "model_turns_planned_by": model_decided,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": bool(rules) and ms(rules, 95) <= TARGET_P95_MS,
    })
    return row


@contextmanager
def own_server(data_dir: Path, timeout: float, llm_url: str | None, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``whyrec serve --openai`` over ``data_dir`` on a free port (its model: ``llm_url``, else the embedded one); stopped
    (SIGTERM) when done."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WHYREC_AGENT_MODE": "plan", "WHYREC_TURNS_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    if llm_url:
        env["WHYREC_LLM_BASE_URL"] = llm_url
    env.update(extra_env or {})
    log = Path(tempfile.gettempdir()) / f"whyrec-load-serve-{port}.log"  # outlives the scratch copy, for a failed start
    whyrec = Path(sys.executable).with_name("whyrec")
    with log.open("wb") as out:
        process = subprocess.Popen([str(whyrec), "--data-dir", str(data_dir), "serve", "--port", str(port), "--openai"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"whyrec serve exited with {process.returncode}; its log: {log}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"whyrec serve did not answer within {timeout:.0f} s; its log: {log}")
            time.sleep(0.5)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def table(rows: list[dict]) -> str:
    """The api and chat rows."""
    lines = [
        "| load | concurrency | calls | errors | p50 ms | p95 ms | calls/s | recs/s | recommend p50/p95 ms | explain p50/p95 ms | feedback p50/p95 ms | load avg (1 min) before→after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def pair(name: str) -> str:
            e = r["endpoints"].get(name)
            return f"{e['p50_ms']} / {e['p95_ms']}" if e and e["p50_ms"] is not None else "—"

        kind = "API clients" if r["scenario"] == "api" else "chat conversations"
        lines.append(
            f"| {kind} | {r['concurrency']} | {r['calls']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | {r['calls_per_s']} | "
            f"{r['recommendations_per_s'] if r['recommendations_per_s'] is not None else '—'} | {pair('recommend')} | {pair('explain')} | {pair('feedback')} | "
            f"{r['load_average_before'][0]} → {r['load_average_after'][0]} |"
        )
    return "\n".join(lines)


def rules_table(rows: list[dict]) -> str:
    """The rules_under_model_load rows."""
    lines = [
        "| heavy clients | message chars | rule turns | errors | rule p50 ms | rule p95 ms | rule max ms | p95 ≤ 1 s | rule turns planned by | "
        "model turns | model turn p50/p95 ms | model turns planned by | load avg (1 min) before→after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        model = r["endpoints"].get("model turn") or {"ok": 0, "errors": 0, "p50_ms": None, "p95_ms": None}
        lines.append(
            f"| {r['heavy_clients']} | {r['message_chars']} | {r['rule_turns']} | {r['errors']} | {r['rule_p50_ms']} | {r['rule_p95_ms']} | "
            f"{r['rule_max_ms']} | {'yes' if r['meets_target'] else 'no'} | {r['rule_turns_planned_by']} | {model['ok']} (+{model['errors']} errors) | "
            f"{model['p50_ms']} / {model['p95_ms']} | {r['model_turns_planned_by'] or '—'} | {r['load_average_before'][0]} → {r['load_average_after'][0]} |"
        )
    return "\n".join(lines)


# --- scale_out: one worker on SQLite against two workers on PostgreSQL and a Chroma server (issue #26) ---------


def database_time(db, users: list[str], items: list[str], rounds: int) -> dict:
    """The database's share of one request, timed from this process through the servers' own code (``Database``):
    the reads a recommend or explain makes (``Recommender._context``: history, feedback, the profile's version and
    its cached copy) and the write of a feedback call (``Database.add_feedback``), one after the other on an idle
    server. On a machine of its own, a worker's throughput is bounded by its CPU time per request less this."""
    from whyrec.tools.recommend.profile_cache import PROFILE_CACHE_KEY

    reads, writes = [], []
    for n in range(rounds):
        user = users[n % len(users)]
        start = time.perf_counter()
        db.history(user)
        db.feedback(user)
        db.cached_profile(user, f"{PROFILE_CACHE_KEY}:{db.history_version(user)}")
        reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        db.add_feedback(user, items[n % len(items)], "liked")
        writes.append(time.perf_counter() - start)
    return {"db_read_p50_ms": ms(reads, 50), "db_read_p95_ms": ms(reads, 95), "db_write_p50_ms": ms(writes, 50), "db_write_p95_ms": ms(writes, 95)}


@contextmanager
def postgres_deployment(dataset, folder: Path, workers: int, timeout: float) -> Iterator[tuple[list[str], str]]:
    """A throw-away PostgreSQL cluster and ``chroma run`` (the tests' own: tests/postgres_cluster.py,
    tests/store/test_chroma_server.py), ``dataset`` ingested into them, and ``workers`` ``whyrec serve`` processes
    on them, each with its own data directory. Yields the workers' URLs and the database URL."""
    from whyrec.store.catalog import Store
    from whyrec.store.settings import Settings

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for the tests' servers
    from tests.postgres_cluster import postgres_cluster
    from tests.store.test_chroma_server import ChromaServer

    with postgres_cluster(durable=True) as cluster:  # each commit flushed to disk, as SQLite's are
        chroma = ChromaServer(folder / "chroma-server").start()
        try:
            database_url = cluster.database()
            shared = {"WHYREC_DATABASE_URL": database_url, "WHYREC_CHROMA_URL": chroma.url}
            print(f"ingesting {dataset.name} into PostgreSQL and the Chroma server …", flush=True)
            Store.open(Settings(data_dir=folder / "ingest", database_url=database_url, chroma_url=chroma.url)).ingest(dataset, progress=False)
            with ExitStack() as servers:
                urls = [servers.enter_context(own_server(folder / f"worker-{n}", timeout, None, shared)) for n in range(workers)]
                yield urls, database_url
        finally:
            chroma.stop()


def run_scale_out(target: Target, args: argparse.Namespace) -> Iterator[dict]:
    """The api rows at each ``--scale-clients`` level: first on the started single worker (SQLite), then on
    ``--scale-workers`` workers sharing PostgreSQL and a Chroma server, clients spread over them round-robin."""
    from whyrec.store.database import Database
    from whyrec.store.records import Dataset

    sqlite = args.database
    items = list(sqlite.items())
    dataset = Dataset(sqlite.dataset_name(), list(sqlite.items().values()), sqlite.all_interactions())

    def rows(on: Target, db: Database) -> Iterator[dict]:
        for clients in args.scale_clients:
            row = api_level(on, clients, args.calls)
            row["scenario"] = "scale_out"
            row.update(database_time(db, on.users, items, args.db_rounds))
            yield row

    yield from rows(replace(target, workers=1, backend="sqlite"), sqlite)
    folder = Path(tempfile.mkdtemp(prefix="whyrec-scale-out-"))
    try:
        with postgres_deployment(dataset, folder, args.scale_workers, args.start_timeout) as (urls, database_url):
            spread = Target(urls[0], target.users, target.seed, "postgres", len(urls), tuple(urls))
            from gradio_client import Client

            for url in urls:  # warm-up, untimed: the embedding model and caches of each worker
                Client(url, verbose=False).predict(user_id=target.users[0], k=10, api_name="/recommend")
            yield from rows(spread, Database(database_url))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scale_table(rows: list[dict]) -> str:
    """The scale_out rows."""
    lines = [
        "| backend | workers | API clients | calls | errors | p50 ms | p95 ms | calls/s | recs/s | db reads per request p50/p95 ms | "
        "db feedback write p50/p95 ms | load avg (1 min) before→after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['concurrency']} | {r['calls']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['calls_per_s']} | {r['recommendations_per_s']} | {r['db_read_p50_ms']} / {r['db_read_p95_ms']} | "
            f"{r['db_write_p50_ms']} / {r['db_write_p95_ms']} | {r['load_average_before'][0]} → {r['load_average_after'][0]} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Scenario:
    """One scenario: ``run(target, args)`` yields its rows one by one, ``table(rows)`` shows them, ``protocol(args)`` says how."""

    run: Callable[[Target, argparse.Namespace], Iterator[dict]]
    table: Callable[[list[dict]], str]
    protocol: Callable[[argparse.Namespace], str]


def run_api(target: Target, args: argparse.Namespace) -> Iterator[dict]:
    for clients in args.clients:
        yield api_level(target, clients, args.calls)


def run_chat(target: Target, args: argparse.Namespace) -> Iterator[dict]:
    for conversations in (c for c in args.chats if c > 0):
        yield chat_level(target, conversations, args.turns)


def run_rules_under_model_load(target: Target, args: argparse.Namespace) -> Iterator[dict]:
    # warm-up, untimed: the rules' first list, and a first model turn (the embedded model starts on it)
    with httpx.Client(timeout=600.0) as http:
        chat_post(http, target.url, target.users[0], [{"role": "user", "content": RULE_TURNS[0][0]}])
        chat_post(http, target.url, target.users[1], [{"role": "user", "content": maximal_message(args.message_chars, random.Random(-1))}])
    for heavy in (0, args.heavy_clients):
        yield rules_under_model_load(target, heavy, args.rule_turns, args.message_chars)


SCENARIOS: dict[str, Scenario] = {
    "api": Scenario(run_api, table, lambda a: (
        f"each of N clients (own gradio_client, own thread) makes {a.calls} calls cycling recommend(k=10) → explain(first item) → "
        f"feedback(liked, first item) for a seeded user from {a.users}; latency per call, throughput over the level's wall time")),
    "chat": Scenario(run_chat, table, lambda a: (
        f"N conversations at once, {a.turns} turns each through /v1/chat/completions (X-Whyrec-Conversation), each turn waiting for the last")),
    "rules_under_model_load": Scenario(run_rules_under_model_load, rules_table, lambda a: (
        f"one client sends {a.rule_turns} rule-decided turns one after the other through /v1/chat/completions as an OpenAI frontend does "
        "(no header, the history resent: 'something scary from the 80s', 'why the second one?', 'recommend some comedies', 'more like the first one'), "
        f"first alone, then while {a.heavy_clients} clients each send {a.message_chars}-character messages of words the rules cannot read "
        "(a new one each turn, so the model reads each) back to back; latency of each rule turn from request to whole answer")),
    "scale_out": Scenario(run_scale_out, scale_table, lambda a: (
        f"the api protocol at {a.scale_clients} clients, first against 1 worker on the SQLite store, then against {a.scale_workers} workers "
        "sharing a PostgreSQL 15 cluster (default durability: fsync on) and a `chroma run` server on this machine (the dataset ingested into them; clients spread "
        f"over the workers round-robin); db columns: {a.db_rounds} requests' database work timed alone from this process through "
        "whyrec's Database (the reads of a recommend or explain; a feedback write) on the same store, idle")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running whyrec serve (with --openai for the chat rows); default: start one on a scratch copy")
    parser.add_argument(
        "--scenarios", nargs="+", choices=list(SCENARIOS), default=[n for n in SCENARIOS if n != "scale_out"],
        help="which scenarios to run (default: all but scale_out, which starts PostgreSQL, Chroma and more workers)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes behind --url, as the rows record it")
    parser.add_argument("--llm-url", help="an OpenAI-compatible endpoint for the started server's model; default: the embedded local model")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="api: concurrent API clients, one level each")
    parser.add_argument("--calls", type=int, default=10, help="api: calls per API client (recommend, explain, feedback, recommend, ...)")
    parser.add_argument("--chats", type=int, nargs="+", default=[2, 4], help="chat: concurrent conversations, one level each")
    parser.add_argument("--turns", type=int, default=3, help="chat: turns per conversation")
    parser.add_argument("--heavy-clients", type=int, default=2, help="rules_under_model_load: clients sending maximal messages")
    parser.add_argument("--rule-turns", type=int, default=24, help="rules_under_model_load: rule-decided turns timed per row")
    parser.add_argument("--message-chars", type=int, help="rules_under_model_load: the maximal message (default: Settings.max_message_chars)")
    parser.add_argument("--scale-clients", type=int, nargs="+", default=[8, 32], help="scale_out: concurrent API clients, one level each")
    parser.add_argument("--scale-workers", type=int, default=2, help="scale_out: workers on PostgreSQL + Chroma")
    parser.add_argument("--db-rounds", type=int, default=200, help="scale_out: requests whose database work is timed alone")
    parser.add_argument("--users", type=int, default=100, help="seeded sample of the store's users the clients act as")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds to wait for the started server")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("load.json"))
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from whyrec.store.database import Database
    from whyrec.store.settings import Settings

    settings = Settings()
    if args.message_chars is None:
        args.message_chars = settings.max_message_chars
    scratch = None
    if args.url is None:
        from whyrec.ui.cli import ensure_ingested

        ensure_ingested(settings)
        scratch = Path(tempfile.mkdtemp(prefix="whyrec-load-"))
        shutil.copytree(settings.data_dir, scratch / "data", ignore=shutil.ignore_patterns("chats.sqlite3*"))
    db = Database(settings.database_url or (scratch / "data" if scratch else settings.data_dir) / "whyrec.sqlite3")
    every_user = db.users()
    if not every_user:
        raise SystemExit(f"no users in {db.where} — ingest a dataset first (or point WHYREC_DATA_DIR at the served store)")
    users = random.Random(args.seed).sample(every_user, min(args.users, len(every_user)))
    args.users = len(users)
    args.database = db  # scale_out: its SQLite row's store, and the dataset it ingests into PostgreSQL
    stats, dataset_name = db.stats(), db.dataset_name()  # read now: a scratch copy is removed at the end
    reranker = "unknown (a running server)"
    if scratch:
        from whyrec.tools.recommend.reranker import is_trained

        served = Settings(data_dir=scratch / "data")
        reranker = f"trained cross-encoder, rescoring the top {served.rerank_top}" if is_trained(served.trained_reranker_path) else "none trained: rankings without the cross-encoder"
    model = args.llm_url or (settings.llm_base_url if args.url else None) or f"the embedded local model {settings.llm_model} (llama.cpp, all cores)"

    rows: list[dict] = []
    server = own_server(scratch / "data", args.start_timeout, args.llm_url) if scratch else None
    try:
        url = server.__enter__() if server else args.url.rstrip("/")
        target = Target(url, users, args.seed, "postgres" if settings.database_url else "sqlite", 1 if scratch else args.workers)
        from gradio_client import Client

        Client(url, verbose=False).predict(user_id=users[0], k=10, api_name="/recommend")  # warm-up: models, caches
        httpx.post(f"{url}/v1/chat/completions", json={"model": "whyrec", "user": users[0], "messages": [{"role": "user", "content": CHAT_TURNS[0]}]},
                   timeout=600.0).raise_for_status()  # warm-up: the chat agent is built on the first turn
        for name in args.scenarios:
            for row in SCENARIOS[name].run(target, args):
                rows.append(row)
                print(SCENARIOS[name].table([row]).splitlines()[-1], flush=True)
    finally:
        if server:
            server.__exit__(None, None, None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    for name in args.scenarios:
        print(f"\n{name}\n" + SCENARIOS[name].table([r for r in rows if r["scenario"] == name]))
    report = {
        "benchmark": "load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, shared (load average recorded per row)",
        "dataset": {"name": dataset_name, "items": stats.items, "users": stats.users, "interactions": stats.interactions},
        "reranker": reranker,
        "model": model,
        "server": args.url or "whyrec serve --openai on a scratch copy of the data dir, WHYREC_AGENT_MODE=plan, WHYREC_TURNS_PER_MINUTE=0",
        "protocol": {name: SCENARIOS[name].protocol(args) for name in args.scenarios},
        "rows": rows,
    }
    if args.output.exists():  # a run of some scenarios keeps the other scenarios' rows (each row has its load average)
        before = json.loads(args.output.read_text(encoding="utf-8"))
        if isinstance(before.get("protocol"), dict):
            report["protocol"] = {**{k: v for k, v in before["protocol"].items() if k not in args.scenarios}, **report["protocol"]}
            report["rows"] = [r for r in before.get("rows", []) if r.get("scenario") not in args.scenarios] + rows
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\n{args.output}")


if __name__ == "__main__":
    main()
