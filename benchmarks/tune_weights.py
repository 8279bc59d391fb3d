"""Tune the final-score weights on validation of both protocols (never a test target).

Run:  .venv/bin/python benchmarks/tune_weights.py [--users 400]

Two validation sets, so a weight that only helps one protocol shows it:

* leave-one-out: the validation stage of :func:`tools.evaluation.leave_one_out` (second-to-last item);
* temporal: :func:`tools.evaluation.temporal_split` applied to the interactions *before* the test
  cutoff T only (its own cutoff at their 80th percentile): the same rule one period earlier, so the
  test period after T is never looked at.

The grid is over the trending weight (``recent_popularity``: taken up lately, see tools/popularity.py),
and the collaborative weight (how much "people who liked what you liked" counts against what is
trending), all-time popularity (0.15, chosen by the previous grid) and the content weights staying
at their defaults.
The cross-encoder's share is tuned on its own validation lists by ``whyrec train-reranker`` (its
card). Writes benchmarks/tune_weights.json; the shipped ``ScoreWeights`` take the row with the best
mean NDCG@10 over the two protocols, unless they are within 0.005 of it (about one temporal user's
hit): a move inside the noise is churn. Popular-in-the-last-30-days on the same validation sets is
printed and saved with it: the bar the temporal column has to clear.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.baselines import RecentPopularityRanker
from whyrec.tools.evaluation import (
    evaluate,
    format_table,
    leave_one_out,
    temporal_split,
)
from whyrec.tools.evaluation_report import recommender_ranker
from whyrec.tools.recommender import Recommender
from whyrec.tools.scoring import ScoreWeights


def validation_splits(dataset: Dataset) -> dict:
    """(split, stage) per protocol: leave-one-out's validation stage, and a temporal split of the pre-T data."""
    before = temporal_split(dataset).cutoff
    earlier = Dataset(dataset.name, dataset.items, [x for x in dataset.interactions if float(x.timestamp) < before], dataset.users)
    return {"leave_one_out": (leave_one_out(dataset), "valid"), "temporal": (temporal_split(earlier), "test")}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400, help="users sampled per protocol (the temporal one has ~100: all of them)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("tune_weights.json"))
    args = parser.parse_args()

    store = Store.open(Settings())
    if store.db.stats().items == 0:
        raise SystemExit(f"{store.settings.data_dir}: no catalog — run `whyrec ingest` first")
    splits = validation_splits(load_movielens_100k())
    grid = [(0.0, 1.0), *itertools.product((1.0, 1.5, 2.0, 3.0, 4.0), (1.0, 0.5, 0.25))]
    names = ("recent_popularity", "collaborative")
    rows = {key: dict(zip(names, key, strict=True)) for key in grid}
    baseline = {}  # the bar a trending weight must clear on the time split
    for name, (split, stage) in splits.items():
        recent_ranker = RecentPopularityRanker().fit(split.train_interactions(), split.items)
        baseline[f"{name} NDCG@10"] = round(evaluate(recent_ranker, split, users=args.users, stage=stage, seed=1)["NDCG@10"], 4)
    print("popular in the last 30 days:", baseline, flush=True)
    for name, (split, stage) in splits.items():
        recommender = Recommender(store, None)
        recommender.fit_interactions(split.train_interactions())
        for key in grid:
            recommender.weights = replace(ScoreWeights(), **dict(zip(names, key, strict=True)), reranker=0.0)
            result = evaluate(recommender_ranker(recommender, split), split, users=args.users, stage=stage, seed=1)
            rows[key][f"{name} NDCG@10"] = round(result["NDCG@10"], 4)
            rows[key][f"{name} Recall@10"] = round(result["Recall@10"], 4)
            print(name, key, round(result["NDCG@10"], 4), flush=True)
    table = list(rows.values())
    for row in table:
        row["mean NDCG@10"] = round((row["leave_one_out NDCG@10"] + row["temporal NDCG@10"]) / 2, 4)
    table.sort(key=lambda r: -r["mean NDCG@10"])
    print(format_table(table))
    args.output.write_text(json.dumps({
        "protocols": {name: f"{stage} stage of {type(split).__name__} ({len(split.users)} users, {args.users} sampled, seed 1)" for name, (split, stage) in splits.items()},
        "fixed": {"popularity": ScoreWeights().popularity, "retrieval": ScoreWeights().retrieval, "short_term": ScoreWeights().short_term},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "popular in the last 30 days": baseline,
        "rows": table,
    }, indent=2))


if __name__ == "__main__":
    main()
