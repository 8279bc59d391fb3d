"""The quality tables: classical baselines and our pipeline's stages, under both protocols, one run.

Every row of a protocol is scored by :func:`tools.evaluation.splits.evaluate` on the same users of
the same split (leave-one-out, and the split at a point in time; protocols in
:mod:`tools.evaluation.splits`), so the rows compare; each whyrec row carries the paired bootstrap
95% interval of its NDCG@10 difference to the best baseline of that protocol.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.tools.evaluation.baselines import (
    EASERanker,
    ItemKNNRanker,
    PopularityRanker,
    RecentPopularityRanker,
)
from whyrec.tools.evaluation.content_model_ranker import (
    content_scores,
    fit_on_split,
    score_ranker,
)
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.evaluation.splits import (
    LeaveOneOutSplit,
    Ranker,
    TemporalSplit,
    evaluate,
    format_table,
    leave_one_out,
    temporal_split,
)
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.reranker import Reranker, is_trained
from whyrec.tools.recommend.scoring import ScoreWeights

log = logging.getLogger(__name__)

RETRIEVAL_ONLY = ScoreWeights(reranker=0.0, retrieval=1.0, short_term=0.0, popularity=0.0, recent_popularity=0.0, collaborative=0.0)
UNTRAINED_CONTENT = "embedding retrieval only (whyrec, content)"
LEARNED_CONTENT = "learned content model (whyrec, content only)"


@dataclass(frozen=True)
class Row:
    name: str
    make: Callable[[], Ranker]
    cross_encoder: bool = False  # slow on a CPU (~0.6 s a user): may be scored on a seeded subset of the users
    against: tuple[str, str] | None = None  # (JSON key, name of the row it must beat): paired with that row too


def recommender_ranker(recommender: Recommender, split: LeaveOneOutSplit, diversity: float = 0.0) -> Ranker:
    """Our pipeline as an evaluation ranker: it sees only the history the protocol hands it, at the
    moment the protocol says the user asks (``split.request_time``)."""

    def rank(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        recs = recommender.recommend(user_id, k=n, diversity=diversity, history=history, now=split.request_time(history))
        return [r.item.item_id for r in recs]

    return rank


def fitted(ranker, split: LeaveOneOutSplit):
    ranker.fit(split.train_interactions(), split.items)
    return ranker


NO_RERANKER = "whyrec: retrieval + collaborative + short-term + trending (no reranker)"
"""The shipped pipeline without the cross-encoder: the row a cross-encoder row has to beat."""


def learned_content_row(store: Store, split: LeaveOneOutSplit, catalog: Sequence[Item], settings=None) -> Row | None:
    """The learned content model fitted on ``split``'s train part (its validation items pick the epoch; ``settings``:
    a ``ContentFit``, default its defaults), paired with the untrained content row; ``None``, with a warning, where torch is missing."""
    if importlib.util.find_spec("torch") is None:
        log.warning("torch is not installed: the learned content model's row is skipped — install the [train] or [gpu] extra, which bring it")
        return None

    def make() -> Ranker:
        vectors = store.index.vectors(list(split.items))
        return score_ranker(content_scores(fit_on_split(split, catalog, vectors, settings=settings), catalog, vectors), split.items)

    return Row(LEARNED_CONTENT, make, against=("vs_untrained_content", UNTRAINED_CONTENT))


def pipeline_rows(store: Store, split: LeaveOneOutSplit, reranker_path: Path | None, catalog: Sequence[Item] | None = None) -> list[Row]:
    """Our pipeline with each stage added in turn; popularity is fitted on the train part only.

    With ``catalog`` (the split's items, in its order) the learned content model's row follows the untrained one."""

    def pipeline(reranker: Reranker | None, weights: ScoreWeights | None, diversity: float = 0.0, rerank_top: int | None = None) -> Ranker:
        recommender = Recommender(store, reranker, weights=weights, rerank_top=rerank_top)  # None: defaults, the card's reranker share
        recommender.fit_interactions(split.train_interactions())
        return recommender_ranker(recommender, split, diversity)

    default = ScoreWeights()
    settings = store.settings
    rows = [Row(UNTRAINED_CONTENT, lambda: pipeline(None, RETRIEVAL_ONLY))]
    if catalog is not None and (learned := learned_content_row(store, split, catalog)):
        rows.append(learned)
    rows += [
        Row("whyrec without trending (no reranker)", lambda: pipeline(None, replace(default, recent_popularity=0.0))),
        Row(NO_RERANKER, lambda: pipeline(None, None)),
    ]
    if reranker_path and is_trained(reranker_path):
        trained = lambda: Reranker.load(reranker_path, settings)
        model = trained()
        top = settings.rerank_top or int(((model.card.get("validation") or {}).get("best_mix") or {}).get("rerank_top", 30))
        weight = default.with_reranker_share(model.mix_share).reranker if model.mix_share is not None else default.reranker
        name = f"whyrec + fine-tuned cross-encoder (top {top}, weight {weight:.2f})"
        rows += [
            Row(name, lambda: pipeline(model, None, rerank_top=top), True, ("vs_no_reranker", NO_RERANKER)),
            Row(f"{name}, diversity {settings.diversity}", lambda: pipeline(model, None, settings.diversity, top), True, ("vs_no_reranker", NO_RERANKER)),
        ]
    else:
        log.warning("no trained reranker at %s: the fine-tuned rows are skipped — run `whyrec train-reranker`", reranker_path)
    return rows


PROTOCOLS = {
    "leave_one_out": "leave-one-out by time (last = test, second-to-last = validation), full ranking over all unseen items; see tools/evaluation/splits.py",
    "temporal": "split at one moment T (80th percentile of timestamps): models see only interactions before T; users with >= 5 items before T and a new item after it; target = their first new item after T; full ranking; see tools/evaluation/splits.py",
}


def baseline_rows(split: LeaveOneOutSplit) -> list[Row]:
    rows = [
        Row("popularity", lambda: fitted(PopularityRanker(), split)),
        Row("item-kNN", lambda: fitted(ItemKNNRanker(), split)),
        Row("EASE", lambda: fitted(EASERanker(), split)),
    ]
    if isinstance(split, TemporalSplit):
        rows.insert(1, Row(f"popular in the last {split.window_days:g} days before T", lambda: fitted(RecentPopularityRanker(split.window_days), split)))
    return rows


def is_whyrec(name: str) -> bool:
    return name.startswith("whyrec") or "(whyrec" in name


def add_paired(rows: list[dict], per_user: dict[str, dict[str, float]], k: int = 10, seed: int = 0) -> None:
    """Each whyrec row against the best non-whyrec row (NDCG@k) of the same protocol: the paired
    bootstrap 95% interval of the NDCG@k difference, over the users both rows were scored on."""
    references = [r for r in rows if not is_whyrec(r["model"])]
    if not references:
        return
    best = max(references, key=lambda r: r[f"NDCG@{k}"])
    for row in rows:
        if is_whyrec(row["model"]):
            row["paired"] = paired_delta(per_user[row["model"]], per_user[best["model"]], best["model"], seed)


def paired_delta(mine: dict[str, float], reference: dict[str, float], name: str, seed: int = 0) -> dict:
    """Per-user NDCG of ``mine`` minus ``reference`` (named ``name``) over the users both were scored on, with its
    paired bootstrap 95% interval."""
    common = [u for u in mine if u in reference]
    delta, low, high = paired_bootstrap_ci([mine[u] for u in common], [reference[u] for u in common], seed=seed)
    return {"vs": name, "users": len(common), "ndcg_delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)]}


def score_rows(
    store: Store, split: LeaveOneOutSplit, rows: list[Row], users: int | None, k: int, seed: int, progress: bool,
    cross_encoder_users: int | None = None,
) -> list[dict]:
    vectors = dict(zip(split.items, store.index.vectors(list(split.items)), strict=True))
    results, per_user = [], {}
    for row in rows:
        start = time.perf_counter()
        ranker = row.make()
        chosen = users
        if row.cross_encoder and cross_encoder_users:
            chosen = min(cross_encoder_users, users or len(split.users))
        result = evaluate(ranker, split, k=k, users=chosen, stage="test", item_vectors=vectors, seed=seed, progress=progress, per_user=True)
        per_user[row.name] = dict(zip(result.pop("users"), result.pop("ndcg_per_user"), strict=True))
        results.append({"model": row.name, **result, "setup_seconds": round(time.perf_counter() - start - result["seconds"], 1)})
        log.info("%s: %s", row.name, result)
    add_paired(results, per_user, k, seed)
    for row, result in zip(rows, results, strict=True):
        if row.against and row.against[1] in per_user:
            key, name = row.against
            result[key] = paired_delta(per_user[row.name], per_user[name], name, seed)
    return results


def run_evaluation(
    store: Store, dataset: Dataset, users: int | None = None, k: int = 10, seed: int = 0, progress: bool = True,
    protocols: tuple[str, ...] = ("leave_one_out", "temporal"),
    cross_encoder_users: int | None = None,
) -> dict:
    """Score baselines and pipeline rows on the test stage of each protocol's split; a JSON-ready report.

    ``users=None`` evaluates every evaluated user (943 on MovieLens-100K for leave-one-out).
    ``cross_encoder_users`` scores the rows with a cross-encoder on a seeded subset of that many
    users (their ``n_users`` says so; their paired interval uses the same users).
    """
    report: dict = {
        "dataset": dataset.name,
        "k": k,
        "seed": seed,
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "protocols": {},
    }
    by_id = {item.item_id: item for item in dataset.items}
    for name in protocols:
        split = leave_one_out(dataset) if name == "leave_one_out" else temporal_split(dataset)
        catalog = [by_id[i] for i in split.items] if name == "leave_one_out" else None  # the learned content row: leave-one-out only
        rows = baseline_rows(split) + pipeline_rows(store, split, store.settings.trained_reranker_path, catalog)
        section: dict = {"protocol": PROTOCOLS[name], "users": min(users or len(split.users), len(split.users))}
        if isinstance(split, TemporalSplit):
            section.update(
                cutoff=datetime.fromtimestamp(split.cutoff, UTC).isoformat(timespec="seconds"),
                train_interactions=len(split.train_interactions()),
                window_days=split.window_days,
            )
        section["rows"] = score_rows(store, split, rows, users, k, seed, progress, cross_encoder_users)
        report["protocols"][name] = section
    return report


def write_report(report: dict, path: Path) -> str:
    """Save the JSON (creating its folder) and return one markdown table per protocol."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    k = report["k"]
    columns = ["model", "n_users", f"Recall@{k}", f"NDCG@{k}", "NDCG@10 Δ vs", "Δ 95% CI", "Δ vs the row it must beat [95% CI]",
               f"MRR@{k}", f"Coverage@{k}", f"ILD@{k}", "ms_per_user"]
    tables = []
    for name, section in report["protocols"].items():
        lines = []
        for row in section["rows"]:
            paired = row.get("paired") or {}
            cells = {c: row.get(c) for c in columns}
            cells["NDCG@10 Δ vs"] = f"{paired['ndcg_delta']:+.4f} vs {paired['vs']}" if paired else None
            cells["Δ 95% CI"] = f"[{paired['ci95'][0]:+.4f}, {paired['ci95'][1]:+.4f}]" if paired else None
            if against := row.get("vs_no_reranker") or row.get("vs_untrained_content"):
                cells["Δ vs the row it must beat [95% CI]"] = (
                    f"{against['ndcg_delta']:+.4f} [{against['ci95'][0]:+.4f}, {against['ci95'][1]:+.4f}] vs {against['vs']}"
                )
            lines.append(cells)
        tables.append(f"### {name} ({section['users']} users)\n\n" + format_table(lines))
    return "\n\n".join(tables)
