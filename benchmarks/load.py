"""Load on the served app: concurrent API clients (recommend → explain → feedback) and concurrent chats.

Run:  .venv/bin/python benchmarks/load.py                     # starts its own `whyrec serve --openai`
      .venv/bin/python benchmarks/load.py --url http://127.0.0.1:7860   # drives a running one

Without ``--url`` the script copies the configured data directory (``WHYREC_DATA_DIR``; MovieLens-100K
is ingested there first if it is empty) to a scratch folder, so the feedback it writes never reaches
your store, and serves it with ``WHYREC_AGENT_MODE=plan`` (chat turns its rules are sure of start no
language model). With ``--url`` the feedback calls are real writes into that server's store.

Protocol. For each number of API clients (default 1, 8, 32), every client is its own
``gradio_client.Client`` in its own thread and makes ``--calls`` calls, cycling
recommend (k=10, a seeded user) → explain (the first item of that list) → feedback ("liked" on it),
as fast as answers come back (one recommend call and one chat turn warm the server up, untimed).
Then for each number of concurrent conversations (default 2, 4), every conversation sends
``--turns`` turns to ``/v1/chat/completions``, each waiting for the last.
Reported per level: calls, errors, p50/p95 latency of each endpoint and of all calls, calls/s and
recommendations/s over the level's wall time. The machine's load average is recorded before and
after each level: absolute numbers from a shared machine are pessimistic. Writes benchmarks/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

CHAT_TURNS = ("recommend some comedies", "why the second one?", "something from the 80s", "more like the first one")


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


def summary(kind: str, concurrency: int, calls: Calls, wall: float, load_before: tuple, load_after: tuple) -> dict:
    every = [x for values in calls.latencies.values() for x in values]
    endpoints = sorted(set(calls.latencies) | set(calls.errors))
    n_errors = sum(len(v) for v in calls.errors.values())
    return {
        "kind": kind,
        "concurrency": concurrency,
        "calls": len(every) + n_errors,
        "errors": n_errors,
        "error_examples": sorted({e for v in calls.errors.values() for e in v})[:3],
        "wall_s": round(wall, 2),
        "calls_per_s": round(len(every) / wall, 2) if wall else None,
        "recommendations_per_s": round(len(calls.latencies.get("recommend", [])) / wall, 2) if kind == "api" and wall else None,
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


def api_level(url: str, clients: int, calls_each: int, users: list[str], seed: int) -> dict:
    """``clients`` threads, each with its own gradio_client, each making ``calls_each`` calls."""
    from gradio_client import Client

    connected = [Client(url, verbose=False) for _ in range(clients)]
    calls = Calls()

    def one_client(n: int) -> None:
        client, rng, item = connected[n], random.Random(seed * 1000 + n), None
        user = rng.choice(users)
        for call in range(calls_each):
            step = ("recommend", "explain", "feedback")[call % 3]
            if step == "recommend":
                user = rng.choice(users)
                with calls.timed("recommend"):
                    recs = client.predict(user_id=user, k=10, api_name="/recommend")
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
    return summary("api", clients, calls, time.perf_counter() - start, load_before, os.getloadavg())


def chat_level(url: str, conversations: int, turns: int, users: list[str], seed: int) -> dict:
    """``conversations`` chats at once through /v1/chat/completions, each turn waiting for the last."""
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
    return summary("chat", conversations, calls, time.perf_counter() - start, load_before, os.getloadavg())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def own_server(data_dir: Path, timeout: float) -> Iterator[str]:
    """``whyrec serve --openai`` over ``data_dir`` on a free port; stopped (SIGTERM) when done."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WHYREC_AGENT_MODE": "plan", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
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
    lines = [
        "| load | concurrency | calls | errors | p50 ms | p95 ms | calls/s | recs/s | recommend p50/p95 ms | explain p50/p95 ms | feedback p50/p95 ms | load avg (1 min) before→after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def pair(name: str) -> str:
            e = r["endpoints"].get(name)
            return f"{e['p50_ms']} / {e['p95_ms']}" if e and e["p50_ms"] is not None else "—"

        kind = "API clients" if r["kind"] == "api" else "chat conversations"
        lines.append(
            f"| {kind} | {r['concurrency']} | {r['calls']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | {r['calls_per_s']} | "
            f"{r['recommendations_per_s'] if r['recommendations_per_s'] is not None else '—'} | {pair('recommend')} | {pair('explain')} | {pair('feedback')} | "
            f"{r['load_average_before'][0]} → {r['load_average_after'][0]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running whyrec serve (with --openai for the chat rows); default: start one on a scratch copy")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent API clients, one level each")
    parser.add_argument("--calls", type=int, default=10, help="calls per API client (recommend, explain, feedback, recommend, ...)")
    parser.add_argument("--chats", type=int, nargs="+", default=[2, 4], help="concurrent conversations, one level each (0 = none)")
    parser.add_argument("--turns", type=int, default=3, help="turns per conversation")
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
    scratch = None
    if args.url is None:
        from whyrec.ui.cli import ensure_ingested

        ensure_ingested(settings)
        scratch = Path(tempfile.mkdtemp(prefix="whyrec-load-"))
        shutil.copytree(settings.data_dir, scratch / "data", ignore=shutil.ignore_patterns("chats.sqlite3*"))
    db = Database((scratch / "data" if scratch else settings.data_dir) / "whyrec.sqlite3")
    every_user = db.users()
    if not every_user:
        raise SystemExit(f"no users in {db.path} — ingest a dataset first (or point WHYREC_DATA_DIR at the served store)")
    users = random.Random(args.seed).sample(every_user, min(args.users, len(every_user)))
    stats, dataset_name = db.stats(), db.dataset_name()  # read now: a scratch copy is removed at the end
    reranker = "unknown (a running server)"
    if scratch:
        from whyrec.tools.recommend.reranker import is_trained

        served = Settings(data_dir=scratch / "data")
        reranker = f"trained cross-encoder, rescoring the top {served.rerank_top}" if is_trained(served.trained_reranker_path) else "none trained: rankings without the cross-encoder"

    rows: list[dict] = []
    server = own_server(scratch / "data", args.start_timeout) if scratch else None
    try:
        url = server.__enter__() if server else args.url.rstrip("/")
        from gradio_client import Client

        Client(url, verbose=False).predict(user_id=users[0], k=10, api_name="/recommend")  # warm-up: models, caches
        if any(c > 0 for c in args.chats):  # warm-up: the chat agent is built on the first turn
            httpx.post(f"{url}/v1/chat/completions", json={"model": "whyrec", "user": users[0], "messages": [{"role": "user", "content": CHAT_TURNS[0]}]},
                       timeout=600.0).raise_for_status()
        for clients in args.clients:
            rows.append(api_level(url, clients, args.calls, users, args.seed))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
        for conversations in (c for c in args.chats if c > 0):
            rows.append(chat_level(url, conversations, args.turns, users, args.seed))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        if server:
            server.__exit__(None, None, None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(table(rows))
    report = {
        "benchmark": "load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, shared (load average recorded per row)",
        "dataset": {"name": dataset_name, "items": stats.items, "users": stats.users, "interactions": stats.interactions},
        "reranker": reranker,
        "server": args.url or "whyrec serve --openai on a scratch copy of the data dir, WHYREC_AGENT_MODE=plan",
        "protocol": (
            f"API: each of N clients (own gradio_client, own thread) makes {args.calls} calls cycling recommend(k=10) → explain(first item) → "
            f"feedback(liked, first item) for a seeded user from {len(users)}; chat: N conversations at once, {args.turns} turns each "
            "through /v1/chat/completions, each turn waiting for the last; latency per call, throughput over the level's wall time"
        ),
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\n{args.output}")


if __name__ == "__main__":
    main()
