"""Recommendation latency without the LLM: profile → retrieve → rerank → diversity → explanation evidence for the 10 shown.

Run:  .venv/bin/python benchmarks/latency.py [--users 200] [--rerank 0 10 20 30 100]

For each number of candidates the cross-encoder rescores (0 = off; 100 candidates are
retrieved in every row, or as many as are rescored when that is more), times every stage for the same users on MovieLens-100K
(the store under the configured data directory; ingested if empty) and prints
p50/p95 per stage. The cross-encoder reads short pairs (its card's query format: the profile
summary, cut to a few hundred characters, against the item's title, year and genres). Profiles are computed once per user before timing (warm
cache, as in a chat where the profile was already shown), and the reranker is the
trained one when it exists, else the base MiniLM cross-encoder (same cost).
Writes benchmarks/latency.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.reranker import Reranker, is_trained

STAGES = ("profile", "retrieve", "rerank", "diversity", "evidence", "total")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rerank", type=int, nargs="+", default=[0, 10, 20, 30, 100])
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("latency.json"))
    args = parser.parse_args()

    settings = Settings()
    store = Store.open(settings)
    if store.db.stats().items == 0:
        raise SystemExit(f"{settings.data_dir}: no catalog — run `whyrec ingest` first")
    path = settings.trained_reranker_path
    reranker = Reranker.load(path if is_trained(path) else settings.resolved_embedding_model(), settings)
    users = random.Random(0).sample(store.db.users(), min(args.users, len(store.db.users())))
    rows = []
    for n in args.rerank:
        store.settings = replace_settings(settings, candidates=max(100, n), rerank_top=n)
        recommender = Recommender(store, reranker)
        for user in users[:5]:  # warm-up: model kernels, caches
            recommender.recommend(user)
        timings: dict[str, list[float]] = {s: [] for s in STAGES}
        for user in users:
            start = time.perf_counter()
            ranking = recommender.rank(user, RecommendOptions())
            for stage, seconds in ranking.timings.items():
                timings[stage].append(seconds)
            timings["total"].append(time.perf_counter() - start)
        row = {"reranked": n, "users": len(users)}
        for stage in STAGES:
            row[f"{stage}_p50_ms"] = round(percentile(timings[stage], 50), 1)
            row[f"{stage}_p95_ms"] = round(percentile(timings[stage], 95), 1)
        rows.append(row)
        print(f"reranked={n}: total p50 {row['total_p50_ms']} ms, p95 {row['total_p95_ms']} ms")

    header = "| reranked | " + " | ".join(f"{s} p50 / p95 ms" for s in STAGES) + " |"
    print("\n" + header + "\n|" + "---|" * (len(STAGES) + 1))
    for row in rows:
        print(f"| {row['reranked']} | " + " | ".join(f"{row[f'{s}_p50_ms']} / {row[f'{s}_p95_ms']}" for s in STAGES) + " |")
    report = {
        "benchmark": "recommendation latency without the LLM",
        "dataset": "movielens-100k",
        "reranker": "trained" if reranker.trained else "base MiniLM cross-encoder (untrained head, same cost)",
        "device": reranker.device,
        "backend": reranker.backend,
        "query_format": reranker.query_format.to_dict(),
        "torch_threads": __import__("torch").get_num_threads(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs, Python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2))


def replace_settings(settings: Settings, **changes) -> Settings:
    return settings.model_copy(update=changes)


if __name__ == "__main__":
    main()
