"""Classical baselines on MovieLens-100K: tune on validation, report test.

Usage::

    .venv/bin/python benchmarks/classical_baselines.py

Protocol: :mod:`tools.evaluation.splits` (leave-one-out by time, full ranking over unseen
items, all 943 users). Every model is fitted on the train part only; hyper-parameters
are picked by validation NDCG@10, then the chosen model is scored once on test (its
history then includes the validation item). Writes ``classical_baselines.json`` here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import time
from pathlib import Path


from whyrec.store.movielens import load_movielens_100k  # noqa: E402
from whyrec.tools.evaluation.baselines import EASERanker, ItemKNNRanker, PopularityRanker, RandomRanker  # noqa: E402
from whyrec.tools.evaluation.splits import evaluate, format_table, leave_one_out  # noqa: E402

K = 10
GRIDS = {
    "Random": (RandomRanker, [{"seed": 0}]),
    "Popularity": (PopularityRanker, [{}]),
    "ItemKNN": (
        ItemKNNRanker,
        [{"neighbours": n, "half_life": h} for n in (20, 50, 100, 200) for h in (None, 5.0, 10.0, 20.0, 40.0)],
    ),
    "EASE": (EASERanker, [{"l2": l2, "half_life": h} for l2 in (100.0, 250.0, 500.0, 1000.0) for h in (None, 5.0, 10.0, 20.0, 40.0)]),
}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("classical_baselines")
    split = leave_one_out(load_movielens_100k())
    train = split.train_interactions()
    tuning, rows = [], []
    for name, (cls, grid) in GRIDS.items():
        best = None
        for params in grid:
            t0 = time.perf_counter()
            ranker = cls(**params).fit(train, split.items)
            fit_seconds = time.perf_counter() - t0
            valid = evaluate(ranker, split, k=K, stage="valid")
            tuning.append({"model": name, **params, f"valid_NDCG@{K}": valid[f"NDCG@{K}"]})
            log.info("%s %s valid NDCG@%d %.4f", name, params, K, valid[f"NDCG@{K}"])
            if best is None or valid[f"NDCG@{K}"] > best[0]:
                best = (valid[f"NDCG@{K}"], params, ranker, fit_seconds)
        _, params, ranker, fit_seconds = best
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "seed")
        label = f"{name} ({shown})" if shown else name
        test = evaluate(ranker, split, k=K, stage="test")
        rows.append({"model": label, **test, "fit_seconds": round(fit_seconds, 2)})

    print(format_table(rows))
    report = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "dataset": "MovieLens-100K (recbole dataset_example/ml-100k, 943 users, 1,682 items, 100,000 ratings)",
        "protocol": "tools/evaluation/splits.py: leave-one-out by time, full ranking over unseen items, "
                    "fitted on train, tuned on validation NDCG@10, scored on test, all 943 users",
        "results": rows,
        "tuning": tuning,
    }
    Path(__file__).with_suffix(".json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
