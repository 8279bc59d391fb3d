"""Tune the final-score weights on the validation split (never the test split).

Run:  .venv/bin/python benchmarks/tune_weights.py [--users 200]

Phase 1: grid over the collaborative / popularity / content weights with the reranker
off. Phase 2 (``--reranker``): with the phase-1 winner, the trained cross-encoder's
weight. Both score NDCG@10 on the validation stage of the leave-one-out split of
MovieLens-100K. Writes benchmarks/tune_weights.json (or tune_reranker.json); copy the
winner into tools.recommender.ScoreWeights.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from whyrec.store.movielens import load_movielens_100k
from whyrec.store.settings import Settings
from whyrec.tools.evaluation import evaluate, format_table, leave_one_out
from whyrec.tools.evaluation_report import recommender_ranker
from whyrec.tools.recommender import Recommender, ScoreWeights
from whyrec.tools.reranker import Reranker
from whyrec.ui.cli import ensure_ingested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--reranker", action="store_true", help="phase 2: tune the trained reranker's weight")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    args.output = args.output or Path(__file__).with_name("tune_reranker.json" if args.reranker else "tune_weights.json")
    if args.reranker:
        return tune_reranker(args)

    store = ensure_ingested(Settings())
    split = leave_one_out(load_movielens_100k())
    recommender = Recommender(store, None)
    recommender.fit_interactions(split.train_interactions())
    rows = []
    for collaborative, popularity, content in itertools.product((0.0, 0.5, 1.0, 2.0), (0.0, 0.15), (0.0, 0.35)):
        recommender.weights = ScoreWeights(
            collaborative=collaborative, popularity=popularity, retrieval=content * 4 / 7, short_term=content * 3 / 7, reranker=0.0
        )
        if collaborative == popularity == content == 0:
            continue
        result = evaluate(recommender_ranker(recommender), split, users=args.users, stage="valid", seed=1)
        rows.append({"collaborative": collaborative, "popularity": popularity, "content": content, **result})
        print(rows[-1])
    rows.sort(key=lambda r: -r["NDCG@10"])
    print(format_table([{k: r[k] for k in ("collaborative", "popularity", "content", "Recall@10", "NDCG@10")} for r in rows]))
    args.output.write_text(json.dumps({"stage": "valid", "users": args.users, "rows": rows}, indent=2))


def tune_reranker(args: argparse.Namespace) -> None:
    settings = Settings()
    store = ensure_ingested(settings)
    split = leave_one_out(load_movielens_100k())
    reranker = Reranker.load(settings.trained_reranker_path, settings)
    recommender = Recommender(store, reranker)
    recommender.fit_interactions(split.train_interactions())
    rows = []
    for weight in (0.0, 0.15, 0.3, 0.6, 1.0):
        recommender.weights = replace(ScoreWeights(), reranker=weight)
        result = evaluate(recommender_ranker(recommender), split, users=args.users, stage="valid", seed=1)
        rows.append({"reranker_weight": weight, **result})
        print(rows[-1])
    print(format_table([{k: r[k] for k in ("reranker_weight", "Recall@10", "NDCG@10", "ms_per_user")} for r in rows]))
    card = reranker.card
    args.output.write_text(json.dumps({"stage": "valid", "users": args.users, "reranker_card": card, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
