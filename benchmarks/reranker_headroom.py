"""How much could any reranker of the pipeline's list gain from what a text pair can say? A probe with no text model.

Run:  .venv/bin/python benchmarks/reranker_headroom.py [--lists /tmp/lists.json]

The cross-encoder reads a query (profile summary, liked titles, request) against an item (title,
year, genres). Whatever it could learn from that pair is, on MovieLens, some function of a few
facts: the item's release year and age at the request, how close that year is to the last five
items', how many genres it shares with them, how popular it is, and whether there was a request.
This script hands exactly those facts, as numbers, to a gradient-boosted classifier next to the
pipeline's own score and rank, on the same candidate lists ``whyrec train-reranker`` builds
(tools/training/candidate_lists.build_candidate_lists: the positive is the user's next item, the lists are
the pipeline's top 30 with the reranker off, validation users are never trained on). If a
boosted-tree model that sees the facts directly cannot beat the pipeline's order, a cross-encoder
that has to read them out of text in 15 CPU minutes will not either. The rows:

* no reranker: the pipeline's order;
* pipeline score only: the classifier on the score, its rank and its gap to the top (a recalibration);
* + each group of facts, then all of them.

Writes benchmarks/reranker_headroom.json (paired bootstrap 95% interval against the pipeline's order).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from whyrec.store.catalog import Store
from whyrec.store.records import Interaction, Item
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.splits import format_table
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci, per_case_ndcg
from whyrec.tools.training.candidate_lists import CandidateList, CandidateLists, build_candidate_lists, split_history

log = logging.getLogger("reranker_headroom")

FACTS = {
    "pipeline score only": [],
    "+ release year and age": ["year", "age"],
    "+ year and genres near the last five items": ["year gap", "genres shared"],
    "+ popularity": ["popularity"],
    "+ a request was made": ["request"],
    "+ all of them": ["year", "age", "year gap", "genres shared", "popularity", "request"],
}
BASE = ["score", "rank", "gap to top"]
SECONDS_PER_YEAR = 365.25 * 86400.0


def pair_facts(lst: CandidateList, before: list[Interaction], items: dict[str, Item], popularity: dict[str, int]) -> list[dict[str, float]]:
    """The numbers a text pair carries, for each candidate of ``lst`` asked after ``before``."""
    last = [items[x.item_id] for x in before[-5:] if x.item_id in items]
    last_year = np.mean([i.year for i in last if i.year] or [np.nan])
    last_genres = set().union(*(set(i.categories) for i in last)) if last else set()
    now = 1970 + float(before[-1].timestamp) / SECONDS_PER_YEAR
    base = np.asarray(lst.base, dtype=np.float64)
    rows = []
    for rank, item_id in enumerate(lst.candidates):
        item = items[item_id]
        year = float(item.year) if item.year else np.nan
        rows.append({
            "score": base[rank], "rank": rank, "gap to top": base[rank] - base.max(),
            "year": year, "age": now - year, "year gap": abs(year - last_year),
            "genres shared": len(set(item.categories) & last_genres) / max(len(item.categories), 1),
            "popularity": np.log1p(popularity.get(item_id, 0)), "request": float(lst.request is not None),
        })
    return rows


def table(lists: list[CandidateList], prefixes: dict[str, list[Interaction]], items: dict[str, Item], popularity: dict[str, int]):
    """(facts per candidate, label per candidate, list lengths): the history before a list is the prefix up to its positive."""
    facts, labels, sizes = [], [], []
    for lst in lists:
        prefix = prefixes[lst.user_id]
        target = lst.candidates[lst.positives[0]] if lst.positives else None
        cut = next((n for n, x in enumerate(prefix) if x.item_id == target), len(prefix) - 1)
        rows = pair_facts(lst, prefix[:cut], items, popularity)
        facts += rows
        labels += [float(n in lst.positives) for n in range(len(rows))]
        sizes.append(len(rows))
    return facts, np.asarray(labels), sizes


def by_list(scores: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(scores, np.cumsum(sizes)[:-1])


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=Path, help="candidate lists saved by an earlier run (built and saved there if missing)")
    parser.add_argument("--validation-users", type=int, default=200)
    parser.add_argument("--cuts-per-user", type=int, default=4)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("reranker_headroom.json"))
    args = parser.parse_args()

    store = Store.open(Settings())
    if args.lists and args.lists.exists():
        lists = CandidateLists.load(args.lists)
    else:
        lists = build_candidate_lists(store, list_size=30, cuts_per_user=args.cuts_per_user, validation_users=args.validation_users)
        if args.lists:
            lists.save(args.lists)
    items = store.db.items()
    histories: dict[str, list[Interaction]] = {}
    for x in store.db.all_interactions():
        histories.setdefault(x.user_id, []).append(x)
    prefixes = {u: split_history(h)[0] for u, h in histories.items()}
    popularity: dict[str, int] = {}
    for u in lists.train_users:  # counted on training users' prefixes only
        for x in prefixes[u]:
            popularity[x.item_id] = popularity.get(x.item_id, 0) + 1

    train_facts, train_labels, _ = table(lists.train, prefixes, items, popularity)
    valid_facts, _, sizes = table(lists.validation, prefixes, items, popularity)
    positives = [c.positives for c in lists.validation]
    none = per_case_ndcg([np.asarray(c.base) for c in lists.validation], positives)
    rows = [{"ranking": "no reranker (the pipeline's order)", "NDCG@10": round(float(none.mean()), 4), "Δ [95% CI]": ""}]
    for name, extra in FACTS.items():
        columns = BASE + extra
        x_train = np.array([[r[c] for c in columns] for r in train_facts])
        x_valid = np.array([[r[c] for c in columns] for r in valid_facts])
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0).fit(x_train, train_labels)
        per = per_case_ndcg(by_list(model.predict_proba(x_valid)[:, 1], sizes), positives)
        delta, low, high = paired_bootstrap_ci(per.tolist(), none.tolist())
        rows.append({"ranking": name, "NDCG@10": round(float(per.mean()), 4), "Δ [95% CI]": f"{delta:+.4f} [{low:+.4f}, {high:+.4f}]"})
        log.info("%s: %s", name, rows[-1])
    print(format_table(rows))
    args.output.write_text(json.dumps({
        "dataset": store.db.dataset_name(),
        "protocol": "tools.training.candidate_lists.build_candidate_lists (list size 30): train on training users' lists, score the "
        "held-out users' lists (one each, at their last training-prefix item); NDCG@10 of the one positive; paired bootstrap 95% CI",
        "train_lists": len(lists.train), "validation_lists": len(lists.validation),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} Python {platform.python_version()}",
        "rows": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
