"""The quality table: classical baselines and our pipeline's stages on one split, one run.

Every row is scored by :func:`tools.evaluation.evaluate` on the same users of the same
leave-one-out split (protocol in :mod:`tools.evaluation`), so the rows compare.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.records import Dataset, Interaction
from whyrec.tools.baselines import EASERanker, ItemKNNRanker, PopularityRanker
from whyrec.tools.evaluation import LeaveOneOutSplit, Ranker, evaluate, format_table, leave_one_out
from whyrec.tools.recommender import Recommender, ScoreWeights
from whyrec.tools.reranker import Reranker, is_trained

log = logging.getLogger(__name__)

RETRIEVAL_ONLY = ScoreWeights(reranker=0.0, retrieval=1.0, short_term=0.0, popularity=0.0, collaborative=0.0)


@dataclass(frozen=True)
class Row:
    name: str
    make: Callable[[], Ranker]


def recommender_ranker(recommender: Recommender, diversity: float = 0.0) -> Ranker:
    """Our pipeline as an evaluation ranker: it sees only the history the protocol hands it."""

    def rank(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        recs = recommender.recommend(user_id, k=n, diversity=diversity, history=history)
        return [r.item.item_id for r in recs]

    return rank


def fitted(ranker, split: LeaveOneOutSplit):
    ranker.fit(split.train_interactions(), split.items)
    return ranker


def pipeline_rows(store: Store, split: LeaveOneOutSplit, reranker_path: Path | None) -> list[Row]:
    """Our pipeline with each stage added in turn; popularity is fitted on the train part only."""

    def pipeline(reranker: Reranker | None, weights: ScoreWeights | None = None, diversity: float = 0.0) -> Ranker:
        recommender = Recommender(store, reranker, weights=weights or ScoreWeights())
        recommender.fit_interactions(split.train_interactions())
        return recommender_ranker(recommender, diversity)

    base = store.settings.resolved_embedding_model()
    rows = [
        Row("embedding retrieval only (whyrec, content)", lambda: pipeline(None, RETRIEVAL_ONLY)),
        Row("whyrec: retrieval + collaborative + short-term (no reranker)", lambda: pipeline(None)),
        Row("whyrec + base MiniLM cross-encoder (not fine-tuned)", lambda: pipeline(Reranker.load(base, store.settings))),
    ]
    if reranker_path and is_trained(reranker_path):
        trained = lambda: Reranker.load(reranker_path, store.settings)  # noqa: E731
        rows += [
            Row("whyrec + fine-tuned cross-encoder", lambda: pipeline(trained())),
            Row(f"whyrec + fine-tuned, diversity {store.settings.diversity} (default)", lambda: pipeline(trained(), diversity=store.settings.diversity)),
        ]
    else:
        log.warning("no trained reranker at %s: the fine-tuned rows are skipped — run `whyrec train-reranker`", reranker_path)
    return rows


def run_evaluation(store: Store, dataset: Dataset, users: int | None = 300, k: int = 10, seed: int = 0, progress: bool = True) -> dict:
    """Score baselines and pipeline rows on the test stage of one split; returns a JSON-ready report."""
    split = leave_one_out(dataset)
    vectors = dict(zip(split.items, store.index.vectors(list(split.items)), strict=True))
    rows = [
        Row("popularity", lambda: fitted(PopularityRanker(), split)),
        Row("item-kNN", lambda: fitted(ItemKNNRanker(), split)),
        Row("EASE", lambda: fitted(EASERanker(), split)),
        *pipeline_rows(store, split, store.settings.trained_reranker_path),
    ]
    results = []
    for row in rows:
        start = time.perf_counter()
        ranker = row.make()
        result = evaluate(ranker, split, k=k, users=users, stage="test", item_vectors=vectors, seed=seed, progress=progress)
        results.append({"model": row.name, **result, "setup_seconds": round(time.perf_counter() - start - result["seconds"], 1)})
        log.info("%s: %s", row.name, result)
    return {
        "dataset": dataset.name,
        "protocol": "leave-one-out by time (last = test, second-to-last = validation), full ranking over all unseen items; see tools/evaluation.py",
        "users": users or len(split.users),
        "k": k,
        "seed": seed,
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": results,
    }


def write_report(report: dict, path: Path) -> str:
    """Save the JSON and return the markdown table."""
    path.write_text(json.dumps(report, indent=2))
    columns = ["model", f"Recall@{report['k']}", f"NDCG@{report['k']}", f"MRR@{report['k']}", f"Coverage@{report['k']}", f"ILD@{report['k']}", "ms_per_user"]
    return format_table([{c: row.get(c) for c in columns} for row in report["rows"]])
