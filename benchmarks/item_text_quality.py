"""What item text does to history-only accuracy: the same pipeline on the catalog with and without overviews.

Run:  .venv/bin/python benchmarks/item_text_quality.py [--users N] [--protocol leave_one_out temporal]

Protocol: the two protocols of ``whyrec evaluate`` (tools/evaluation/splits.py: leave-one-out by time over
all 943 users, and the split at one moment T over its 108 users), full ranking, NDCG@10 and Recall@10 on the
test stage, no request, diversity 0, no cross-encoder. Two catalogs of the same items and histories, each
ingested into its own data directory (the ones ``benchmarks/concepts.py`` uses): with item text (title, year,
genres, TMDB overview and keywords: the default) and text-less (title, year and genres: the catalog before
item text). Rows: the content-only retrieval (the embeddings alone) and the shipped pipeline; each text row
carries the paired bootstrap 95% interval of its NDCG@10 difference to the same row on the text-less
catalog, over the same users. Writes benchmarks/item_text_quality.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from concepts import open_ingested, textless

from whyrec.store.movielens import load_movielens_100k
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.evaluation.report import NO_RERANKER, PROTOCOLS, RETRIEVAL_ONLY, recommender_ranker
from whyrec.tools.evaluation.splits import evaluate, leave_one_out, temporal_split
from whyrec.tools.recommend.recommender import Recommender

HERE = Path(__file__).parent
ROWS = {"embedding retrieval only (whyrec, content)": RETRIEVAL_ONLY, NO_RERANKER: None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=0, help="a seeded sample of the evaluated users (0 = all)")
    parser.add_argument("--protocol", nargs="+", default=["leave_one_out", "temporal"], choices=list(PROTOCOLS))
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "whyrec-benchmarks" / "concepts")
    parser.add_argument("--output", type=Path, default=HERE / "item_text_quality.json")
    args = parser.parse_args()

    dataset = load_movielens_100k()
    stores = {"text": open_ingested(args.work / "text", dataset), "text-less": open_ingested(args.work / "text-less", textless(dataset))}
    report: dict = {
        "benchmark": "history-only accuracy with and without item text",
        "dataset": dataset.name,
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "protocols": {},
    }
    for name in args.protocol:
        split = leave_one_out(dataset) if name == "leave_one_out" else temporal_split(dataset)
        rows, per_user = [], {}
        for model, weights in ROWS.items():
            for catalog, store in stores.items():
                recommender = Recommender(store, reranker=None, weights=weights)
                recommender.fit_interactions(split.train_interactions())
                vectors = dict(zip(split.items, store.index.vectors(list(split.items)), strict=True))
                result = evaluate(recommender_ranker(recommender, split), split, k=10, users=args.users or None, stage="test",
                                  item_vectors=vectors, seed=0, progress=True, per_user=True)
                per_user[(model, catalog)] = dict(zip(result.pop("users"), result.pop("ndcg_per_user"), strict=True))
                rows.append({"model": model, "catalog": catalog, **result})
        for row in rows:
            if row["catalog"] == "text":
                mine, base = per_user[(row["model"], "text")], per_user[(row["model"], "text-less")]
                common = [u for u in mine if u in base]
                delta, low, high = paired_bootstrap_ci([mine[u] for u in common], [base[u] for u in common])
                row["vs_textless"] = {"ndcg_delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)], "users": len(common)}
        report["protocols"][name] = {"protocol": PROTOCOLS[name], "rows": rows}
        print(f"\n{name}")
        print("| model | catalog | Recall@10 | NDCG@10 | Δ NDCG@10 vs text-less [95% CI] |\n|---|---|---|---|---|")
        for row in rows:
            paired = row.get("vs_textless")
            ci = f"{paired['ndcg_delta']:+.4f} [{paired['ci95'][0]:+.4f}, {paired['ci95'][1]:+.4f}]" if paired else ""
            print(f"| {row['model']} | {row['catalog']} | {row['Recall@10']:.4f} | {row['NDCG@10']:.4f} | {ci} |")
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
