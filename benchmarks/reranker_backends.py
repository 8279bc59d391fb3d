"""Cross-encoder backends on the CPU: speed against NDCG@10 (torch, ONNX Runtime fp32 / int8, OpenVINO).

Run:  .venv/bin/python benchmarks/reranker_backends.py [--users 100] [--timing-users 10]

For each backend the same trained reranker (else the base MiniLM cross-encoder) is
loaded (the first ONNX load exports it into the cache directory; that time is the
"load" column), then:

* speed: the rerank stage for ``--timing-users`` users with 100 candidates all rescored
  (p50/p95 ms, and ms per pair);
* agreement: the largest difference from torch's probabilities on those pairs, and the
  Spearman correlation of the two orders;
* quality: the whole pipeline's Recall@10 / NDCG@10 on the test stage of the
  leave-one-out split (``tools/evaluation/splits.py``) for ``--users`` seeded users, with the
  default settings (top 30 rescored, diversity off as in the quality table).

The rule the issue set: keep the fastest backend that loses under 1% NDCG@10 against
torch; ``tools.recommend.reranker_backends.CPU_DEFAULT`` is that choice. Writes
benchmarks/reranker_backends.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from whyrec.store.movielens import load_movielens_100k
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.splits import evaluate, leave_one_out
from whyrec.tools.evaluation.report import recommender_ranker
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.reranker import Reranker, is_trained
from whyrec.tools.recommend.reranker_backends import BACKENDS
from whyrec.ui.cli import ensure_ingested


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="users in the NDCG@10 evaluation")
    parser.add_argument("--timing-users", type=int, default=10, help="users in the speed measurement (100 pairs each)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("reranker_backends.json"))
    args = parser.parse_args()

    settings = Settings()
    store = ensure_ingested(settings)
    path = settings.trained_reranker_path if is_trained(settings.trained_reranker_path) else settings.resolved_embedding_model()
    split = leave_one_out(load_movielens_100k())
    timing_users = random.Random(0).sample(split.users, args.timing_users)
    backends = [b for b in BACKENDS if b != "openvino" or importlib.util.find_spec("openvino")]

    rows, reference = [], None
    for backend in backends:
        started = time.perf_counter()
        reranker = Reranker(path, device="cpu", backend=backend, cache_dir=settings.cache_dir)
        load_s = time.perf_counter() - started

        store.settings = settings.model_copy(update={"candidates": 100, "rerank_top": 100})
        recommender = Recommender(store, reranker)
        recommender.fit_interactions(split.train_interactions())
        recommender.rank(timing_users[0], RecommendOptions(history=split.history(timing_users[0])))  # warm-up
        times, scores = [], []
        for user in timing_users:
            ranking = recommender.rank(user, RecommendOptions(history=split.history(user)))
            times.append(ranking.timings["rerank"])
            # the pipeline's own cross-encoder scores, in candidate order (the same for every backend)
            by_item = {r.item.item_id: r.scores["reranker"] for r in ranking.ranked}
            scores.append(np.array([by_item[c.item_id] for c in ranking.candidates]))
        flat = np.concatenate(scores)
        reference = flat if reference is None else reference

        store.settings = settings
        recommender = Recommender(store, reranker)
        recommender.fit_interactions(split.train_interactions())
        quality = evaluate(recommender_ranker(recommender, split), split, k=10, users=args.users, stage="test", seed=0, progress=True)
        row = {
            "backend": backend,
            "load_s": round(load_s, 1),
            "rerank100_p50_ms": round(float(np.percentile(times, 50)) * 1000, 1),
            "rerank100_p95_ms": round(float(np.percentile(times, 95)) * 1000, 1),
            "ms_per_pair": round(float(np.median(times)) * 1000 / 100, 2),
            "max_abs_diff_vs_torch": float(np.abs(flat - reference).max()),
            "spearman_vs_torch": round(spearman(flat, reference), 4),
            "Recall@10": round(quality["Recall@10"], 4),
            "NDCG@10": round(quality["NDCG@10"], 4),
        }
        rows.append(row)
        print(row, flush=True)

    torch_ndcg = rows[0]["NDCG@10"]
    for row in rows:
        row["ndcg_loss_pct"] = round(100 * (torch_ndcg - row["NDCG@10"]) / torch_ndcg, 2) if torch_ndcg else 0.0
    eligible = [r for r in rows if r["ndcg_loss_pct"] < 1.0]
    fastest = min(eligible, key=lambda r: r["rerank100_p50_ms"])["backend"]

    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    print(f"fastest within 1% NDCG@10 of torch: {fastest}")
    report = {
        "benchmark": "cross-encoder backends on the CPU",
        "dataset": "movielens-100k",
        "reranker": "trained" if is_trained(path) else "base MiniLM cross-encoder (untrained head)",
        "protocol": __doc__.split("\n\n", 2)[2].strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": args.users,
        "timing_users": args.timing_users,
        "rows": rows,
        "fastest_within_1pct_ndcg": fastest,
    }
    args.output.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
