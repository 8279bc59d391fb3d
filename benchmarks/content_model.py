"""The learned content model against untrained content retrieval and popularity, on leave-one-out; and on cold items.

Run:  .venv/bin/python benchmarks/content_model.py [--users N] [--held-out 0.1]
      .venv/bin/python benchmarks/content_model.py --pipeline [--weight 1.0]   (writes content_model_pipeline.json)

Protocol: leave-one-out by time over all 943 MovieLens-100K users (tools/evaluation/splits.py, the protocol
of the quality.json rows), full ranking over every item the user has not rated, NDCG@10 and Recall@10 on the
test stage. The content model (tools/recommend/content_model.py) sees items only through their content: the
text vector of the embedded text (title, year, genres, TMDB overview and keywords: the default catalog's index),
the genres and the release year; no item id is a feature. It is fitted on the train part only
(tools/training/content_model_fit.py, settings fixed beforehand on the validation targets: each user's
second-to-last item), and scored once on test. Rows on the same users: popularity (the train part's counts),
the untrained content row ("embedding retrieval only (whyrec, content)": the shipped pipeline with retrieval
weight 1 and every other signal 0), the learned model on genres and year alone (no text vector), and the
learned model, each with the paired bootstrap 95% interval of
its NDCG@10 difference to the learned model. Cold items: a seeded share of the catalog (--held-out) is taken
out of training entirely (out of every history and out of the softmax) and a second model is fitted; the
users whose test item is one of them are scored by it, by the untrained content row, and by popularity
fitted without those items (it cannot rank an item nobody rated). Whether it adds to collaborative filtering (the
pipeline's core, 0.1036 against the pipeline's 0.1048): EASE's scores plus a weight x the content model's, each
standardised over the catalog per user, the weight chosen on validation, against EASE alone. Writes benchmarks/content_model.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from concepts import open_ingested
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Interaction
from whyrec.tools.evaluation.baselines import EASERanker, PopularityRanker
from whyrec.tools.evaluation.content_model_ranker import (
    content_scores,
    fit_on_split,
    score_ranker,
)
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.evaluation.report import (
    NO_RERANKER,
    RETRIEVAL_ONLY,
    UNTRAINED_CONTENT,
    recommender_ranker,
)
from whyrec.tools.evaluation.splits import (
    LeaveOneOutSplit,
    Ranker,
    evaluate,
    leave_one_out,
)
from whyrec.tools.recommend.content_model import ContentModel
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.training.content_model_fit import ContentFit

HERE = Path(__file__).parent
UNTRAINED = UNTRAINED_CONTENT
LEARNED = "learned content model (whyrec, content)"
COLD = "learned content model, fitted without the held-out items"
NO_TEXT = "learned content model on genres and year only (no text vector)"
FUSED = "EASE + learned content model"
FUSION_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
PIPELINE_FUSED = f"{NO_RERANKER}, content model fused into collaborative"


def fused_scores(collaborative, content: Callable[[list[Interaction]], np.ndarray], items: list[str], weight: float):
    """A collaborative model's scores (EASE's: ``scores(history)`` over its own ``index``) plus ``weight`` x the
    content model's, each standardised over the catalog for the user; one score per item of ``items``."""
    columns = np.array([collaborative.index[i] for i in items])
    collaborative_scores = collaborative.scores  # bound now: the pipeline measurement replaces the attribute

    def standard(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / (x.std() or 1.0)

    return lambda history: standard(collaborative_scores(history)[columns]) + weight * standard(content(history))


def with_content_in_collaborative(recommender: Recommender, content: Callable[[list[Interaction]], np.ndarray], items: list[str], weight: float) -> None:
    """Fuse the content model into ``recommender``'s collaborative signal, as :func:`fused_scores` fuses it with EASE.

    A measurement before wiring: the pipeline's collaborative model (EASE here) is asked for raw scores by the
    signal, its candidate list and its ranking; each now gets its standardised scores plus ``weight`` x the
    content model's. Its explanations ("people who liked X") still read EASE alone."""
    model = recommender.collaborative.model
    columns = np.array([model.index[i] for i in items])
    fused = fused_scores(model, content, items, weight)

    def scores(history: list[Interaction]) -> np.ndarray:
        raw = np.zeros(len(model.items))
        raw[columns] = fused(history)
        return raw

    model.scores = scores


def pipeline(args, dataset, split: LeaveOneOutSplit, store, catalog, vectors: np.ndarray) -> None:
    """The shipped pipeline (no cross-encoder) against the same with the content model fused into its collaborative signal."""
    model = fit(split, catalog, vectors, set())
    shipped = Recommender(store, reranker=None)
    shipped.fit_interactions(split.train_interactions())
    fused = Recommender(store, reranker=None)
    fused.fit_interactions(split.train_interactions())
    with_content_in_collaborative(fused, content_scores(model, catalog, vectors), split.items, args.weight)
    rows, per_user = [], {}
    for name, recommender in ((NO_RERANKER, shipped), (PIPELINE_FUSED, fused)):
        row, per_user[name] = score(name, recommender_ranker(recommender, split), split, args.users or None)
        rows.append(row)
    rows[-1]["paired"] = [paired(per_user[PIPELINE_FUSED], per_user[NO_RERANKER], NO_RERANKER)]
    report = {"benchmark": "the shipped pipeline with the learned content model fused into its collaborative signal",
              "dataset": dataset.name, "weight": args.weight, "fit": model.card,
              "protocol": "leave-one-out by time, test stage, full ranking, no cross-encoder, diversity 0 (as whyrec evaluate's no-reranker row); "
                          "the weight is the one the EASE fusion chose on validation in content_model.json, not tuned on the pipeline",
              "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
              "date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    output = args.output.with_name("content_model_pipeline.json")
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nthe pipeline, leave-one-out ({rows[0]['n_users']} users)\n" + table(rows))
    print(f"wrote {output}")


def fit(split: LeaveOneOutSplit, catalog, vectors: np.ndarray, held_out: set[str], settings: ContentFit | None = None) -> ContentModel:
    return fit_on_split(split, catalog, vectors, held_out=held_out, settings=settings)


def paired(mine: dict[str, float], other: dict[str, float], name: str) -> dict:
    users = [u for u in mine if u in other]
    delta, low, high = paired_bootstrap_ci([mine[u] for u in users], [other[u] for u in users])
    return {"vs": name, "users": len(users), "ndcg_delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)]}


def score(name: str, ranker: Ranker, split: LeaveOneOutSplit, users) -> tuple[dict, dict[str, float]]:
    result = evaluate(ranker, split, k=10, users=users, stage="test", seed=0, progress=True, per_user=True)
    per_user = dict(zip(result.pop("users"), result.pop("ndcg_per_user"), strict=True))
    return {"model": name, **{k: result[k] for k in ("n_users", "Recall@10", "NDCG@10", "Coverage@10", "ms_per_user")}}, per_user


def table(rows: list[dict]) -> str:
    lines = ["| model | users | Recall@10 | NDCG@10 | Δ NDCG@10 [95% CI] |", "|---|---|---|---|---|"]
    for row in rows:
        ci = "".join(f"{p['ndcg_delta']:+.4f} [{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}] vs {p['vs']}; " for p in row.get("paired", []))
        lines.append(f"| {row['model']} | {row['n_users']} | {row['Recall@10']:.4f} | {row['NDCG@10']:.4f} | {ci.rstrip('; ')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=0, help="a seeded sample of the evaluated users (0 = all)")
    parser.add_argument("--held-out", type=float, default=0.1, help="share of the catalog held out of training for the cold-item rows")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "whyrec-benchmarks" / "concepts")
    parser.add_argument("--pipeline", action="store_true", help="only the shipped pipeline with and without the model (content_model_pipeline.json)")
    parser.add_argument("--weight", type=float, default=1.0, help="--pipeline: the content model's weight beside the collaborative one")
    parser.add_argument("--output", type=Path, default=HERE / "content_model.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)  # two shared cores: one thread fits faster than two fighting

    dataset = load_movielens_100k()
    split = leave_one_out(dataset)
    store = open_ingested(args.work / "text", dataset)
    by_id = {item.item_id: item for item in dataset.items}
    catalog = [by_id[i] for i in split.items]
    vectors = store.index.vectors(list(split.items))
    users = args.users or None
    if args.pipeline:
        pipeline(args, dataset, split, store, catalog, vectors)
        return

    start = time.perf_counter()
    model = fit(split, catalog, vectors, set())
    fit_seconds = time.perf_counter() - start
    learned = content_scores(model, catalog, vectors)
    no_text = fit(split, catalog, vectors, set(), ContentFit(text_dims=0))

    popularity = PopularityRanker().fit(split.train_interactions(), split.items)
    untrained = Recommender(store, reranker=None, weights=RETRIEVAL_ONLY)
    untrained.fit_interactions(split.train_interactions())
    rows, per_user = [], {}
    for name, ranker in (("popularity", popularity), (UNTRAINED, recommender_ranker(untrained, split)),
                         (NO_TEXT, score_ranker(content_scores(no_text, catalog, vectors), split.items)),
                         (LEARNED, score_ranker(learned, split.items))):
        row, per_user[name] = score(name, ranker, split, users)
        rows.append(row)
    rows[-1]["paired"] = [paired(per_user[LEARNED], per_user[name], name) for name in ("popularity", UNTRAINED, NO_TEXT)]

    ease = EASERanker().fit(split.train_interactions(), split.items)
    tried = {weight: evaluate(score_ranker(fused_scores(ease, learned, split.items, weight), split.items), split, k=10, users=users,
                              stage="valid", seed=0)["NDCG@10"] for weight in FUSION_WEIGHTS}
    weight = max(tried, key=tried.get)
    fusion = []
    for name, ranks in (("EASE", ease), (FUSED, score_ranker(fused_scores(ease, learned, split.items, weight), split.items))):
        row, per_user[name] = score(name, ranks, split, users)
        fusion.append(row)
    fusion[-1].update(weight=weight, validation_ndcg_by_weight={str(w): round(v, 4) for w, v in tried.items()},
                      paired=[paired(per_user[FUSED], per_user["EASE"], "EASE")])

    rng = np.random.default_rng(0)
    held_out = set(rng.choice(split.items, size=round(args.held_out * len(split.items)), replace=False).tolist())
    cold_model = fit(split, catalog, vectors, held_out)
    cold_users = [u for u in (split.users if users is None else sorted(per_user[LEARNED])) if split.test[u].item_id in held_out]
    warm_train = [x for x in split.train_interactions() if x.item_id not in held_out]
    cold_popularity = PopularityRanker().fit(warm_train, split.items)
    cold_rows, cold_per_user = [], {}
    for name, ranker in (("popularity, fitted without the held-out items", cold_popularity), (UNTRAINED, recommender_ranker(untrained, split)),
                         (COLD, score_ranker(content_scores(cold_model, catalog, vectors), split.items))):
        row, cold_per_user[name] = score(name, ranker, split, cold_users)
        cold_rows.append(row)
    cold_all, _ = score(f"{COLD} (every user)", score_ranker(content_scores(cold_model, catalog, vectors), split.items), split, users)
    cold_rows[-1]["paired"] = [paired(cold_per_user[COLD], cold_per_user[UNTRAINED], UNTRAINED)]

    report = {
        "benchmark": "learned content model (issue #22's content-only retrieval target, NDCG@10 >= 0.035)",
        "dataset": dataset.name,
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit": model.card,
        "fit_without_text": no_text.card,
        "fit_seconds": round(fit_seconds, 1),
        "leave_one_out": rows,
        "fused_with_ease": fusion,
        "cold_items": {"held_out_items": len(held_out), "users_with_a_held_out_test_item": len(cold_users), "fit": cold_model.card,
                       "rows": cold_rows + [cold_all]},
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nleave-one-out ({rows[0]['n_users']} users), fit {fit_seconds:.0f} s\n" + table(rows))
    print(f"\nfused with EASE (weight {weight}, chosen on validation: {tried})\n" + table(fusion))
    print(f"\ncold items ({len(held_out)} held out of training; {len(cold_users)} users whose test item is one)\n" + table(cold_rows + [cold_all]))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
