"""Past one small catalog: each collaborative model by catalog size, through the whole pipeline (issue #13).

Run:  .venv/bin/python benchmarks/scale.py                     (MovieLens-100K, then 20k items x 1M and 100k x 5M synthetic)
      .venv/bin/python benchmarks/scale.py --items 300 --interactions 20000 --no-movielens --eval-users 10   (~30 s)

For each dataset (MovieLens-100K, and seeded synthetic logs from ``store.synthetic``):

1. Split at a point in time with ``tools.evaluation.splits.temporal_split`` (train before the 80th percentile
   of timestamps; target = each evaluated user's first new item after it).
2. Embed the catalog with the packaged all-MiniLM-L6-v2 into a real Chroma ``PersistentClient`` in a
   temporary folder (``Store.ingest``, timed on its own: it is the same for every row).
3. One subprocess per row, so no row's memory or caches reach another: the store is opened again,
   the row's model is fitted on the train split (time, and peak resident memory above what the
   process held before the fit), and a seeded sample of evaluated users is ranked through
   ``Recommender.recommend`` (``whyrec evaluate``'s ranker: no request, diversity 0, at T) for NDCG@10 and the
   latency of each call. Rows: popular in the last 30 days (the protocol's baseline), the pipeline
   without a collaborative model (what a catalog past EASE's old 12,000-item limit got), and the
   pipeline with each collaborative model; "model alone" scores the fitted collaborative model as a
   ranker on the same users. The rows carry the paired bootstrap interval of their NDCG@10
   against the pipeline with ALS (the model past EASE's limits).

EASE runs only where :func:`tools.recommend.collaborative.choose_model` says its matrix fits this machine's
memory (a forced fit past that would swap or be killed); the JSON says which rows were skipped and why.
Writes benchmarks/scale.json (``--output``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset, Interaction
from whyrec.store.settings import Settings
from whyrec.store.synthetic import SyntheticLog, synthetic_dataset
from whyrec.tools.evaluation.baselines import RecentPopularityRanker
from whyrec.tools.recommend.collaborative import (
    MODELS,
    CollaborativeModel,
    available_memory,
    choose_model,
    ease_memory,
)
from whyrec.tools.evaluation.splits import evaluate, format_table, temporal_split
from whyrec.tools.evaluation.report import recommender_ranker
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.recommend.recommender import Recommender

BASELINE = "popular lately"
NO_MODEL = "none"
REFERENCE = "als"  # the pipeline row the others are compared to, pairwise: the model past EASE's limits
PROTOCOL = (
    "temporal split (tools.evaluation.splits.temporal_split): T = 80th percentile of timestamps, models see only interactions "
    "before T; users with >= 5 items before T and a new item after it; target = their first new item after T; full "
    "ranking over all unseen items; NDCG@10 over a seeded sample of the evaluated users (seed 0), the same users in every row"
)


def memory_mb() -> tuple[float, float]:
    """(resident, peak resident) MB of this process, from /proc (Linux)."""
    status = Path("/proc/self/status").read_text()
    return tuple(int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmRSS", "VmHWM"))


def reset_peak() -> None:
    """Start the peak-resident counter again from now (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def load(spec: dict) -> Dataset:
    if spec["kind"] == "movielens":
        return load_movielens_100k()
    return synthetic_dataset(SyntheticLog(**spec["log"]))


def run_row(spec: dict) -> dict:
    """One row, in its own process: fit on the train split, then rank the sampled users."""
    dataset = load(spec["dataset"])
    split = temporal_split(dataset)
    train = split.train_interactions()
    del dataset
    gc.collect()
    row: dict = {"row": spec["row"]}
    if spec["row"] != BASELINE:
        settings = Settings(data_dir=spec["store"], collaborative="item_knn" if spec["row"] == NO_MODEL else spec["row"])
        recommender = Recommender(Store.open(settings), None)  # the store holds the catalog only: nothing is fitted yet
    before, _ = memory_mb()
    reset_peak()
    start = time.perf_counter()
    if spec["row"] == BASELINE:
        ranker = RecentPopularityRanker(split.window_days).fit(train, split.items)
        fitted = None
    else:
        recommender.fit_interactions(train)
        fitted = recommender.collaborative
        if spec["row"] == NO_MODEL:
            recommender.collaborative = None
        ranker = recommender_ranker(recommender, split)  # as `whyrec evaluate` asks: diversity 0, at the protocol's moment

    row["fit_s"] = round(time.perf_counter() - start, 2)
    row["fit_peak_mb"] = round(memory_mb()[1] - before, 1)
    if fitted is not None and spec["row"] != NO_MODEL:
        row.update(model=fitted.name, model_fit_s=round(fitted.fit_seconds, 2), why=fitted.reason)
    elif spec["row"] == NO_MODEL:
        row.update(fit_s=None, fit_peak_mb=None)  # its popularity fit is the pipeline rows' too; nothing of its own

    seconds: list[float] = []

    def timed(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        start = time.perf_counter()
        ranked = ranker(user_id, history, exclude, n)
        seconds.append(time.perf_counter() - start)
        return ranked

    if spec["row"] != BASELINE:  # warm-up: the embedding model, Chroma's index, the request vocabulary
        timed(split.users[0], split.history(split.users[0]), set(), 10)
        seconds.clear()
    result = evaluate(timed, split, k=10, users=spec["eval_users"], seed=0, per_user=True)
    row.update(
        users=result["n_users"],
        ndcg10=round(result["NDCG@10"], 4),
        recall10=round(result["Recall@10"], 4),
        latency_p50_ms=round(1000 * float(np.percentile(seconds, 50)), 1),
        latency_p95_ms=round(1000 * float(np.percentile(seconds, 95)), 1),
        per_user=dict(zip(result["users"], result["ndcg_per_user"], strict=True)),
    )
    if fitted is not None and spec["row"] != NO_MODEL:
        row["model_alone_ndcg10"] = round(evaluate(model_ranker(fitted), split, k=10, users=spec["eval_users"], seed=0)["NDCG@10"], 4)
    return row


def model_ranker(model: CollaborativeModel):
    """The collaborative model alone as an evaluation ranker."""

    def rank(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        return [i for i, _ in model.top(history, n, exclude)]

    return rank


def run_dataset(spec: dict, models: list[str], eval_users: int, workdir: Path) -> dict:
    start = time.perf_counter()
    dataset = load(spec)
    generated = time.perf_counter() - start
    split = temporal_split(dataset)
    section: dict = {
        "dataset": dataset.name,
        "items": len(dataset.items),
        "interactions": len(dataset.interactions),
        "users": len({x.user_id for x in dataset.interactions}),
        ("generation_s" if spec["kind"] == "synthetic" else "load_s"): round(generated, 1),
        "synthetic_log": spec.get("log"),
        "cutoff": datetime.fromtimestamp(split.cutoff, UTC).isoformat(timespec="seconds"),
        "train_interactions": len(split.train_interactions()),
        "evaluated_users": len(split.users),
        "sampled_users": min(eval_users, len(split.users)),
    }
    store_dir = workdir / dataset.name
    store = Store.open(Settings(data_dir=store_dir))
    report = store.ingest(Dataset(dataset.name, dataset.items, []), progress=True)  # catalog only: each row fits on its train split
    section["ingest"] = {"seconds": round(report.seconds, 1), "embedded": report.index.embedded, "items_per_s": round(report.items_per_second, 1)}
    auto = choose_model(len(dataset.items))
    section["auto_choice"] = asdict(auto)
    del store, dataset, split
    gc.collect()
    print(f"{section['dataset']}: {section['items']:,} items, {section['interactions']:,} interactions, ingest {report.seconds:.0f} s", flush=True)

    rows = []
    for name in [BASELINE, NO_MODEL, *models]:
        if name == "ease" and choose_model(section["items"]).name != "ease":
            rows.append({"row": name, "skipped": auto.reason if auto.name != "ease" else "does not fit"})
            continue
        rows.append(subprocess_row({"row": name, "dataset": spec, "store": str(store_dir), "eval_users": eval_users}, workdir))
        print(f"  {name}: {json.dumps({k: v for k, v in rows[-1].items() if k != 'per_user'})}", flush=True)
    add_paired(rows)
    section["rows"] = rows
    return section


def subprocess_row(spec: dict, workdir: Path) -> dict:
    out = workdir / "row.json"
    command = [sys.executable, __file__, "--row", json.dumps(spec), "--row-output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # a failed row is reported, not fatal
    if done.returncode != 0:
        return {"row": spec["row"], "failed": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}"}
    return json.loads(out.read_text())


def add_paired(rows: list[dict]) -> None:
    """Each row's NDCG@10 difference to the ALS pipeline row, with its paired bootstrap interval."""
    per_user = {r["row"]: r.pop("per_user") for r in rows if "per_user" in r}
    reference = per_user.get(REFERENCE)
    for row in rows:
        mine = per_user.get(row["row"])
        if mine is None or reference is None or row["row"] == REFERENCE:
            continue
        users = [u for u in mine if u in reference]
        delta, low, high = paired_bootstrap_ci([mine[u] for u in users], [reference[u] for u in users])
        row[f"vs_{REFERENCE}"] = {"ndcg10_delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)]}


def table(sections: list[dict]) -> str:
    def number(value: float | None, digits: int) -> str | None:
        return None if value is None else f"{value:,.{digits}f}"

    lines = []
    for s in sections:
        for r in s["rows"]:
            paired = r.get(f"vs_{REFERENCE}")
            lines.append({
                "dataset": f"{s['dataset']} ({s['items']:,} items)",
                "row": r["row"],
                "fit s": number(r.get("fit_s"), 1),
                "fit peak MB": number(r.get("fit_peak_mb"), 0),
                "latency p50 ms": number(r.get("latency_p50_ms"), 1),
                "NDCG@10 (pipeline)": number(r.get("ndcg10"), 4),
                "model alone": number(r.get("model_alone_ndcg10"), 4),
                f"Δ vs {REFERENCE} [95% CI]": f"{paired['ndcg10_delta']:+.4f} [{paired['ci95'][0]:+.4f}, {paired['ci95'][1]:+.4f}]" if paired else None,
                "users": r.get("users"),
                "note": r.get("skipped") or r.get("failed"),
            })
    return format_table(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="*", default=[20_000, 100_000], help="synthetic catalog sizes")
    parser.add_argument("--interactions", type=int, nargs="*", default=[1_000_000, 5_000_000], help="interactions, one per catalog size")
    parser.add_argument("--users", type=int, nargs="*", default=None, help="users, one per catalog size (default: interactions / 50)")
    parser.add_argument("--no-movielens", action="store_true", help="leave MovieLens-100K out")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--eval-users", type=int, default=500, help="seeded sample of the evaluated users per dataset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("scale.json"))
    parser.add_argument("--workdir", type=Path, help="keep the stores here (default: a temporary folder): a rerun embeds nothing again")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--row-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.row:
        args.row_output.write_text(json.dumps(run_row(json.loads(args.row))))
        return
    if len(args.items) != len(args.interactions) or (args.users is not None and len(args.users) != len(args.items)):
        parser.error("give one --interactions (and one --users, if any) per --items")

    specs = [] if args.no_movielens else [{"kind": "movielens"}]
    for n, (items, interactions) in enumerate(zip(args.items, args.interactions, strict=True)):
        users = args.users[n] if args.users else None
        specs.append({"kind": "synthetic", "log": asdict(SyntheticLog(items=items, interactions=interactions, users=users, seed=args.seed))})
    load_start = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="whyrec-scale-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        sections = [run_dataset(spec, args.models, args.eval_users, workdir) for spec in specs]
    print("\n" + table(sections))
    memory = available_memory()
    report = {
        "benchmark": "collaborative models by catalog size, through the whole pipeline (benchmarks/scale.py)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, Python {platform.python_version()}",
        "memory_available_gb_at_end": round(memory / 1e9, 1) if memory else None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "protocol": PROTOCOL,
        "embedding": "packaged all-MiniLM-L6-v2 on the CPU, real Chroma PersistentClient in a temporary folder; the store holds the catalog, each row fits on its train split",
        "latency": "one Recommender.recommend call per sampled user (k=10, diversity 0, no request, history given, now=T), after one warm-up call",
        "peak_memory": "peak resident memory of the row's process during the fit, above what it held before (Linux VmHWM after clear_refs)",
        "ease_memory_gb": {str(s["items"]): round(ease_memory(s["items"]) / 1e9, 1) for s in sections},
        "datasets": sections,
    }
    args.output.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
