"""Tune the trending weight on validation of both protocols (never a test target).

Run:  .venv/bin/python benchmarks/tune_weights.py [--users 400]

Two validation sets, so a weight that only helps one protocol shows it:

* leave-one-out: the validation stage of :func:`tools.evaluation.splits.leave_one_out` (second-to-last item);
* temporal, from several origins: :func:`tools.evaluation.splits.temporal_split` applied to the interactions
  *before* the test cutoff T only, at each of their 60th, 70th, 80th and 90th percentiles, every
  user's NDCG@10 pooled. The period after T is never looked at. One origin has about 100 users and
  its optimum moves with the month it lands in (session 5 chose trending 3.0 on the 80th percentile
  alone); four origins together have about 420.

The grid is over the trending weight (``recent_popularity``: taken up lately, see tools/recommend/popularity.py)
with every other weight at its default: the collaborative weight only matters through its ratio to
trending (the session-5 grid over both), and trending sits out leave-one-out's mid-session requests,
so that column shows only that nothing else moved. The cross-encoder's share is tuned on its own
validation lists by ``whyrec train-reranker`` (its card).

Choice: the *smallest* trending weight whose mean NDCG@10 over the two protocols is within 0.005 of
the best one's (about one temporal user's hit in four origins): past that the rows are one plateau,
and a smaller weight leaves more of the list to the person's own taste. Writes
benchmarks/tune_weights.json with the choice; popular-in-the-last-30-days on the same validation
sets is saved with it: the bar the temporal column has to clear.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.baselines import RecentPopularityRanker
from whyrec.tools.evaluation.splits import (
    LeaveOneOutSplit,
    Ranker,
    evaluate,
    format_table,
    leave_one_out,
    temporal_split,
)
from whyrec.tools.evaluation.report import recommender_ranker
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.scoring import ScoreWeights

TEMPORAL_ORIGINS = (0.6, 0.7, 0.8, 0.9)
"""Cutoff quantiles of the pre-T interactions: the temporal validation's origins."""
TRENDING_WEIGHTS = (0.0, 1.5, 3.0, 4.5, 6.0, 9.0, 12.0, 20.0)
TOLERANCE = 0.005


def validation_splits(dataset: Dataset) -> dict[str, list[tuple[LeaveOneOutSplit, str]]]:
    """Per protocol, the (split, stage) pairs whose users are pooled: leave-one-out's validation stage,
    and temporal splits of the pre-T data at each origin."""
    before = temporal_split(dataset).cutoff
    earlier = Dataset(dataset.name, dataset.items, [x for x in dataset.interactions if float(x.timestamp) < before], dataset.users)
    return {
        "leave_one_out": [(leave_one_out(dataset), "valid")],
        "temporal": [(temporal_split(earlier, cutoff_quantile=q), "test") for q in TEMPORAL_ORIGINS],
    }


def pooled_ndcg(rank: Ranker, split: LeaveOneOutSplit, stage: str, users: int) -> list[float]:
    return evaluate(rank, split, users=users, stage=stage, seed=1, per_user=True)["ndcg_per_user"]


def choose(table: list[dict]) -> dict:
    """The smallest trending weight within ``TOLERANCE`` of the best mean (see the module docstring)."""
    best = max(row["mean NDCG@10"] for row in table)
    return min((row for row in table if row["mean NDCG@10"] >= best - TOLERANCE), key=lambda row: row["recent_popularity"])


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400, help="leave-one-out users sampled (each temporal origin has ~100: all of them)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("tune_weights.json"))
    args = parser.parse_args()

    store = Store.open(Settings())
    if store.db.stats().items == 0:
        raise SystemExit(f"{store.settings.data_dir}: no catalog — run `whyrec ingest` first")
    splits = validation_splits(load_movielens_100k())
    gains: dict[str, dict[float, list[float]]] = {name: {w: [] for w in TRENDING_WEIGHTS} for name in splits}
    baseline = {}  # the bar a trending weight must clear on the time split
    for name, parts in splits.items():
        recent: list[float] = []
        for split, stage in parts:
            recent += pooled_ndcg(RecentPopularityRanker().fit(split.train_interactions(), split.items), split, stage, args.users)
            recommender = Recommender(store, None)
            recommender.fit_interactions(split.train_interactions())
            for weight in TRENDING_WEIGHTS:
                recommender.weights = replace(ScoreWeights(), recent_popularity=weight, reranker=0.0)
                gains[name][weight] += pooled_ndcg(recommender_ranker(recommender, split), split, stage, args.users)
                print(name, getattr(split, "cutoff", ""), weight, round(float(np.mean(gains[name][weight])), 4), flush=True)
        baseline[f"{name} NDCG@10"] = round(float(np.mean(recent)), 4)
    print("popular in the last 30 days:", baseline, flush=True)
    table = []
    for weight in TRENDING_WEIGHTS:
        row: dict = {"recent_popularity": weight}
        for name in splits:
            row[f"{name} NDCG@10"] = round(float(np.mean(gains[name][weight])), 4)
            row[f"{name} users"] = len(gains[name][weight])
        row["mean NDCG@10"] = round((row["leave_one_out NDCG@10"] + row["temporal NDCG@10"]) / 2, 4)
        table.append(row)
    chosen = choose(table)
    print(format_table(table))
    print(f"chosen: trending {chosen['recent_popularity']} (shipped: {ScoreWeights().recent_popularity})")
    args.output.write_text(json.dumps({
        "protocols": {
            "leave_one_out": f"valid stage of leave_one_out, {args.users} users sampled (seed 1)",
            "temporal": f"test stage of temporal_split of the interactions before T, at quantiles {list(TEMPORAL_ORIGINS)}, all users, pooled",
        },
        "rule": f"smallest trending weight whose mean NDCG@10 is within {TOLERANCE} of the best",
        "fixed": {k: v for k, v in asdict(ScoreWeights()).items() if k != "recent_popularity"},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "popular in the last 30 days": baseline,
        "chosen": chosen,
        "rows": table,
    }, indent=2))


if __name__ == "__main__":
    main()
