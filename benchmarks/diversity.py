"""The diversity knob: Recall@10 against list variety, the default against what the knob did before.

Run:  .venv/bin/python benchmarks/diversity.py [--users 150]

Protocol: MovieLens-100K (the store under the configured data directory; ingested if empty),
leave-one-out by time (``tools.evaluation.splits.leave_one_out``), a seeded sample of test users.
Each user's candidates are ranked once by the pipeline without the cross-encoder (collaborative
+ content + short-term, fitted on the train part only), from the train history; then every
(variant, diversity) pair reorders the same ranked candidates with ``tools.recommend.diversity.mmr``.

Columns: Recall@10 of the held-out item and its paired change against diversity 0 of the same
users (95% bootstrap interval); ILD@10 (mean pairwise cosine distance of the ten); replaced@10, the
share of the diversity-0 top 10 that is not in this list (median over users, and mean), which is
what a person sees when they move the slider; categories@10, distinct categories in the ten (mean);
the mean and worst relevance of a pick (min-max scaled over the candidates, 1 = the best one).

The documented cap (``tools.recommend.diversity.MAX_RECALL_LOSS``): with the default settings, Recall@10
at diversity 1 is at most 0.03 (absolute) below diversity 0 on the same users; the target of the
redesign is that diversity 1 replaces at least 40% of the diversity-0 top 10 on the median user.
Both are checked on the default rows and written to the JSON. "before" is what the knob did until
the redesign (top-k pool, relevance cap 0.5, no categories): the same ten titles reordered.
"classic MMR" has no pool limit, no cap and no series rule.
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
from whyrec.tools.evaluation.metrics import intra_list_diversity, paired_bootstrap_ci
from whyrec.tools.evaluation.splits import _pick_users, leave_one_out
from whyrec.tools.recommend.diversity import (
    CATEGORY_WEIGHT,
    MAX_RECALL_LOSS,
    MAX_RELEVANCE_DROP,
    MAX_SHARE_PER_SERIES,
    WIDEST_POOL,
    mmr,
)
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.ui.cli import ensure_ingested

DIVERSITY = (0.0, 0.3, 0.5, 0.7, 1.0)
DEFAULT = "default"
# name -> keyword arguments of mmr (``categories`` True: the candidates' categories are passed)
VARIANTS = {
    "before (cap 0.5, top-k pool)": dict(widest_pool=None, max_relevance_drop=0.5, categories=False),
    "classic MMR": dict(widest_pool=None, max_relevance_drop=1.0, max_share_per_series=None, categories=False),
    DEFAULT: dict(categories=True),
    "default, no categories": dict(categories=False),
    "default, pool 3k": dict(widest_pool=3.0, categories=True),
}
K = 10
TARGET_REPLACED = 0.4  # diversity 1 replaces at least this share of the diversity-0 top 10 on the median user


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
    ranked = []  # per user: candidate ids best first, final scores, vectors, categories, the held-out item
    for user in users:
        history = split.history(user)
        ranking = recommender.rank(user, RecommendOptions(k=K, diversity=0.0, history=history))
        ids = [r.item.item_id for r in ranking.ranked]
        by_id = recommender.vectors.of(ids)
        ranked.append(
            (
                ids,
                np.array([r.scores["final"] for r in ranking.ranked]),
                np.stack([by_id[i] for i in ids]),
                [r.item.categories for r in ranking.ranked],
                split.target(user).item_id,
            )
        )
    rank_seconds = time.perf_counter() - started
    top_k = [set(ids[:K]) for ids, *_ in ranked]  # diversity 0: the plain top 10

    rows = []
    for name, options in VARIANTS.items():
        options = dict(options)
        with_categories = options.pop("categories")
        base_hits = None
        for d in DIVERSITY:
            hits, lists, vectors, mean_rel, worst_rel, replaced, categories = [], [], [], [], [], [], []
            for (ids, scores, vecs, cats, target), plain in zip(ranked, top_k, strict=True):
                picks = mmr(scores, vecs, K, d, categories=cats if with_categories else None, **options)
                span = float(scores.max() - scores.min()) or 1.0
                relevance = (scores[picks] - scores.min()) / span
                shown = {ids[i] for i in picks}
                hits.append(float(target in shown))
                base = len(vectors)
                vectors.extend(vecs[picks])
                lists.append(list(range(base, base + len(picks))))
                mean_rel.append(float(relevance.mean()))
                worst_rel.append(float(relevance.min()))
                replaced.append(len(plain - shown) / len(plain))
                categories.append(len({c for i in picks for c in cats[i]}))
            if base_hits is None:
                base_hits = hits
            delta, low, high = paired_bootstrap_ci(hits, base_hits)
            rows.append(
                {
                    "variant": name,
                    "options": options | {"categories": with_categories},
                    "diversity": d,
                    "Recall@10": round(float(np.mean(hits)), 4),
                    "Recall@10_change": round(delta, 4),
                    "Recall@10_change_95ci": [round(low, 4), round(high, 4)],
                    "ILD@10": round(intra_list_diversity(lists, np.stack(vectors)), 4),
                    "replaced@10_median": round(float(np.median(replaced)), 2),
                    "replaced@10_mean": round(float(np.mean(replaced)), 3),
                    "categories@10": round(float(np.mean(categories)), 2),
                    "mean_relevance": round(float(np.mean(mean_rel)), 3),
                    "worst_relevance": round(float(np.mean(worst_rel)), 3),
                }
            )
    header = (
        f"{'variant':<29} {'div':>4} {'Recall@10':>9} {'change [95% CI]':>26} {'ILD@10':>7} "
        f"{'repl med':>8} {'repl mean':>9} {'cats@10':>7} {'mean rel':>8} {'worst rel':>9}"
    )
    print(header)
    for r in rows:
        low, high = r["Recall@10_change_95ci"]
        change = f"{r['Recall@10_change']:+.4f} [{low:+.4f}, {high:+.4f}]"
        print(
            f"{r['variant']:<29} {r['diversity']:>4.1f} {r['Recall@10']:>9.4f} {change:>26} {r['ILD@10']:>7.4f} "
            f"{r['replaced@10_median']:>8.2f} {r['replaced@10_mean']:>9.3f} {r['categories@10']:>7.2f} "
            f"{r['mean_relevance']:>8.3f} {r['worst_relevance']:>9.3f}"
        )
    at_one = next(r for r in rows if r["variant"] == DEFAULT and r["diversity"] == 1.0)
    check = {
        "max_recall_loss": MAX_RECALL_LOSS,
        "recall_loss_at_1": round(-at_one["Recall@10_change"], 4),
        "recall_within_cap": at_one["Recall@10_change"] >= -MAX_RECALL_LOSS,
        "target_replaced@10_median": TARGET_REPLACED,
        "replaced@10_median_at_1": at_one["replaced@10_median"],
        "replaced_target_met": at_one["replaced@10_median"] >= TARGET_REPLACED,
    }
    print(
        f"default at diversity 1: Recall@10 {at_one['Recall@10_change']:+.4f} against diversity 0 "
        f"(cap −{MAX_RECALL_LOSS}: {'within' if check['recall_within_cap'] else 'OVER'}), "
        f"replaced@10 median {at_one['replaced@10_median']:.2f} (target ≥ {TARGET_REPLACED}: "
        f"{'met' if check['replaced_target_met'] else 'MISSED'})"
    )
    report = {
        "benchmark": "diversity",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version()},
        "dataset": split.name,
        "protocol": "leave-one-out by time, test stage; candidates ranked once per user without the cross-encoder, "
        "collaborative model fitted on train only; each row reorders the same candidates with "
        "tools.recommend.diversity.mmr; replaced@10 is the share of the same user's diversity-0 top 10 not in the list; "
        "Recall@10 change is paired against diversity 0 of the same variant (bootstrap over users, 2000 resamples)",
        "documented_cap": "with the default settings, Recall@10 at diversity 1 is at most "
        f"{MAX_RECALL_LOSS} (absolute) below Recall@10 at diversity 0 on the same users "
        "(tools.recommend.diversity.MAX_RECALL_LOSS)",
        "users": len(users),
        "k": K,
        "defaults": {
            "widest_pool": WIDEST_POOL,
            "max_relevance_drop": MAX_RELEVANCE_DROP,
            "category_weight": CATEGORY_WEIGHT,
            "max_share_per_series": MAX_SHARE_PER_SERIES,
        },
        "check": check,
        "ranking_seconds": round(rank_seconds, 1),
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
