"""The diversity knob: Recall@10 against intra-list diversity, with and without a relevance cap.

Run:  .venv/bin/python benchmarks/diversity.py [--users 150]

Protocol: MovieLens-100K (the store under the configured data directory; ingested if empty),
leave-one-out by time (``tools.evaluation.splits.leave_one_out``), a seeded sample of test users.
Each user's candidates are ranked once by the pipeline without the cross-encoder (collaborative
+ content + short-term, fitted on the train part only), from the train history; then every
(diversity, cap) pair reorders the same ranked candidates with ``tools.recommend.diversity.mmr``. Columns:
Recall@10 of the held-out item, ILD@10 (mean pairwise cosine distance of the ten), and the
mean and worst relevance of a pick (min-max scaled over the candidates, 1 = the best one), which
is what a person sees as "junk" when it falls. "classic MMR" has no cap and no series rule;
"default" is what ``tools.recommend.diversity.mmr`` does by default.
Writes benchmarks/diversity.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from whyrec.store.movielens import load_movielens_100k
from whyrec.store.settings import Settings
from whyrec.tools.recommend.diversity import MAX_RELEVANCE_DROP, MAX_SHARE_PER_SERIES, mmr
from whyrec.tools.evaluation.splits import _pick_users, leave_one_out
from whyrec.tools.evaluation.metrics import intra_list_diversity
from whyrec.tools.recommend.recommender import Recommender
from whyrec.ui.cli import ensure_ingested

DIVERSITY = (0.0, 0.3, 0.5, 0.7, 1.0)
# (name, relevance cap, share of the list one series may fill; None = no series rule)
VARIANTS = (
    ("classic MMR", 1.0, None),
    ("cap 0.6", 0.6, MAX_SHARE_PER_SERIES),
    ("default", MAX_RELEVANCE_DROP, MAX_SHARE_PER_SERIES),
    ("default, no series rule", MAX_RELEVANCE_DROP, None),
    ("cap 0.4", 0.4, MAX_SHARE_PER_SERIES),
)
K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("diversity.json"))
    args = parser.parse_args()

    settings = Settings()
    store = ensure_ingested(settings)
    split = leave_one_out(load_movielens_100k())
    recommender = Recommender(store, None)
    recommender.fit_interactions(split.train_interactions())
    users = _pick_users(split, args.users, seed=0)
    started = time.perf_counter()
    ranked = []  # per user: candidate ids best first, their final scores, their vectors, the held-out item
    for user in users:
        history = split.history(user)
        ranking = recommender._rank(user, k=K, diversity=0.0, history=history)
        ids = [r.item.item_id for r in ranking.ranked]
        by_id = recommender._vectors(ids)
        ranked.append((ids, np.array([r.scores["final"] for r in ranking.ranked]), np.stack([by_id[i] for i in ids]), split.target(user).item_id))
    rank_seconds = time.perf_counter() - started

    rows = []
    for name, cap, series in VARIANTS:
        for d in DIVERSITY:
            hits, lists, vectors, mean_rel, worst_rel = [], [], [], [], []
            for ids, scores, vecs, target in ranked:
                picks = mmr(scores, vecs, K, d, max_relevance_drop=cap, max_share_per_series=series)
                span = float(scores.max() - scores.min()) or 1.0
                relevance = (scores[picks] - scores.min()) / span
                hits.append(target in {ids[i] for i in picks})
                base = len(vectors)
                vectors.extend(vecs[picks])
                lists.append(list(range(base, base + len(picks))))
                mean_rel.append(float(relevance.mean()))
                worst_rel.append(float(relevance.min()))
            rows.append(
                {
                    "variant": name,
                    "cap": cap,
                    "max_share_per_series": series,
                    "diversity": d,
                    "Recall@10": round(float(np.mean(hits)), 4),
                    "ILD@10": round(intra_list_diversity(lists, np.stack(vectors)), 4),
                    "mean_relevance": round(float(np.mean(mean_rel)), 3),
                    "worst_relevance": round(float(np.mean(worst_rel)), 3),
                }
            )
    header = f"{'variant':<24} {'cap':>5} {'diversity':>9} {'Recall@10':>9} {'ILD@10':>7} {'mean rel':>8} {'worst rel':>9}"
    print(header)
    for r in rows:
        print(f"{r['variant']:<24} {r['cap']:>5.2f} {r['diversity']:>9.1f} {r['Recall@10']:>9.4f} {r['ILD@10']:>7.4f} {r['mean_relevance']:>8.3f} {r['worst_relevance']:>9.3f}")
    report = {
        "benchmark": "diversity",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version()},
        "dataset": split.name,
        "protocol": "leave-one-out by time, test stage; candidates ranked once per user without the cross-encoder, "
        "collaborative model fitted on train only; each row reorders the same candidates with tools.recommend.diversity.mmr",
        "users": len(users),
        "k": K,
        "default_cap": MAX_RELEVANCE_DROP,
        "default_max_share_per_series": MAX_SHARE_PER_SERIES,
        "ranking_seconds": round(rank_seconds, 1),
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
