"""Requests about subjects and plots: does "a courtroom drama" get courtroom dramas? With and without item text.

Run:  .venv/bin/python benchmarks/concepts.py [--users 4] [--split test]

Protocol: the frozen labelled set ``benchmarks/data/concept_requests.jsonl`` (60 requests about what a
film is about, each with every catalog film a film-savvy person would accept, labelled from the TMDB
overviews and keywords plus film knowledge before any tuning; 20 "dev" requests may be used for tuning,
the 40 "test" ones are reported; ``concept_requests.md`` says how it was built). Each request is asked
by the same people: a seeded sample of MovieLens-100K users with at least 20 ratings, whose histories
steer the rest of the list, and one new user with no history. Top 5, seen items left out (the default).

- hit@5: at least one acceptable film in the top 5;
- precision@5: acceptable films in the top 5 over min(5, acceptable films this person has not seen),
  so a person who has seen most of a small set is not counted against the system.

Catalogs: the default one with item text (title, year, genres, TMDB overview and keywords) and the
same items text-less (title, year and genres only: today's catalog before item text), each ingested
into its own data directory under ``--work``. Paths: ``api`` is ``Recommender.recommend``; ``chat`` is
``ChatAgent`` as the keyword router (``fallback_only``: rules pick the tool, templates answer), one new
conversation per request. A third API row turns the words match off (``ScoreWeights.about = 0``) to show
what BM25 over the stories adds to the embedding alone. ``--reranker PATH`` adds the text catalog with
that fine-tuned cross-encoder on the request path (``rerank_top_request``, default the card's validated
depth; ONNX Runtime on the CPU), API and chat, each paired against the same path without it. Paired
bootstrap 95% intervals over the (request, user) pairs against the text-less catalog. Writes benchmarks/concepts.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.scoring import ScoreWeights

HERE = Path(__file__).parent
REQUESTS = HERE / "data" / "concept_requests.jsonl"
K = 5
MIN_RATINGS = 20


def textless(dataset: Dataset) -> Dataset:
    """The same catalog and histories with the item text taken away: title, year and genres only."""
    return replace(dataset, name=f"{dataset.name} (text-less)", items=[replace(i, description="", keywords=()) for i in dataset.items])


def open_ingested(folder: Path, dataset: Dataset) -> Store:
    """A store in ``folder`` holding ``dataset`` (ingested once; a re-run reuses it: ingest embeds only what changed)."""
    store = Store.open(Settings(data_dir=folder, rerank_top=0))
    if store.db.stats().items != len(dataset.items):
        store.ingest(dataset, progress=True)
    return store


def scores(shown: list[str], acceptable: set[str], seen: set[str]) -> tuple[float, float]:
    """hit@5 and precision@5 (over the acceptable films this person can still be shown, at most 5)."""
    hits = sum(i in acceptable for i in shown[:K])
    reachable = min(K, len(acceptable - seen))
    return float(hits > 0), (hits / reachable if reachable else 0.0)


def chat_ids(agent, user: str, request: str) -> list[str]:
    reply = agent.reply(user, f"concepts-{uuid.uuid4().hex[:8]}", request)
    return [str(card["item_id"]) for card in reply.items][:K]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="MovieLens users asking each request (plus one new user)")
    parser.add_argument("--split", choices=["test", "dev", "all"], default="test")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "whyrec-benchmarks" / "concepts")
    parser.add_argument("--no-chat", action="store_true", help="API rows only")
    parser.add_argument("--output", type=Path, default=HERE / "concepts.json")
    parser.add_argument("--reranker", type=Path, help="a trained cross-encoder: adds rows with it on the request path")
    parser.add_argument("--rerank-top", type=int, help="candidates it rescores (default: its card's validated request depth)")
    args = parser.parse_args()

    asks = [json.loads(line) for line in REQUESTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    asks = [a for a in asks if args.split == "all" or a["split"] == args.split]
    dataset = load_movielens_100k()
    catalogs = {"text": open_ingested(args.work / "text", dataset), "text-less": open_ingested(args.work / "text-less", textless(dataset))}
    counts: dict[str, int] = {}
    for x in dataset.interactions:
        counts[x.user_id] = counts.get(x.user_id, 0) + 1
    users = random.Random(0).sample(sorted(u for u, n in counts.items() if n >= MIN_RATINGS), args.users) + ["new-user"]
    seen = {u: {x.item_id for x in dataset.interactions if x.user_id == u} for u in users}

    systems: list[tuple[str, str, Recommender]] = []
    for name, store in catalogs.items():
        systems.append((f"{name} catalog", "api", Recommender(store, reranker=None)))
    systems.append(("text catalog, no words match", "api", Recommender(catalogs["text"], reranker=None, weights=ScoreWeights(about=0.0))))
    with_reranker = None
    if args.reranker:
        from whyrec.tools.recommend.reranker import Reranker

        reranker = Reranker.load(args.reranker, catalogs["text"].settings.model_copy(update={"reranker_backend": "onnx"}))
        best = ((reranker.card.get("validation") or {}).get("request") or {}).get("best_mix") or {}
        top = args.rerank_top or int(best.get("rerank_top", 10))
        with_reranker = f"text catalog + cross-encoder (request path, top {top}, share {reranker.mix_share_for('request')})"
        systems.append((with_reranker, "api", Recommender(catalogs["text"], reranker, rerank_top=0, rerank_top_request=top)))
    if not args.no_chat:
        from whyrec.agent.chat import ChatAgent

        for name, store in catalogs.items():
            systems.append((f"{name} catalog", "chat", ChatAgent(Recommender(store, reranker=None), fallback_only=True)))
        if with_reranker:
            systems.append((with_reranker, "chat", ChatAgent(Recommender(catalogs["text"], reranker, rerank_top=0, rerank_top_request=top), fallback_only=True)))

    rows, per_pair, examples = [], {}, {}
    for system, path, runner in systems:
        hits, precisions, seconds = [], [], []
        for ask in tqdm(asks, desc=f"{system} / {path}", leave=False):
            acceptable = set(ask["acceptable"])
            for user in users:
                start = time.perf_counter()
                if path == "api":
                    shown = [r.item.item_id for r in runner.recommend(user, ask["request"], K)]
                else:
                    shown = chat_ids(runner, user, ask["request"])
                seconds.append(time.perf_counter() - start)
                hit, precision = scores(shown, acceptable, seen[user])
                hits.append(hit)
                precisions.append(precision)
                if user == "new-user":
                    recommender = runner if path == "api" else runner.recommender
                    examples.setdefault((system, path), {})[ask["request"]] = [recommender.items[i].title for i in shown]
        per_pair[(system, path)] = np.array(precisions)
        rows.append({
            "system": system,
            "path": path,
            "requests": len(asks),
            "users": len(users),
            "hit@5": round(float(np.mean(hits)), 3),
            "precision@5": round(float(np.mean(precisions)), 3),
            "p50_s": round(float(np.median(seconds)), 3),
        })
    for row in rows:
        baseline = per_pair.get(("text-less catalog", row["path"]))
        if baseline is not None and row["system"] != "text-less catalog":
            _, low, high = paired_bootstrap_ci(per_pair[(row["system"], row["path"])], baseline)
            row["precision@5_ci95_vs_textless"] = [round(low, 3), round(high, 3)]
        if row["system"] == with_reranker:  # the cross-encoder against its absence on the same path and catalog
            delta, low, high = paired_bootstrap_ci(per_pair[(row["system"], row["path"])], per_pair[("text catalog", row["path"])])
            row["precision@5_vs_no_reranker"] = {"delta": round(delta, 3), "ci95": [round(low, 3), round(high, 3)]}

    print(f"\nAbout requests ({args.split}): {len(asks)} requests x {len(users)} users, top {K}")
    print("| system | path | hit@5 | precision@5 | vs text-less (95% CI) | p50 s |\n|---|---|---|---|---|---|")
    for row in rows:
        ci = row.get("precision@5_ci95_vs_textless")
        print(f"| {row['system']} | {row['path']} | {row['hit@5']:.3f} | {row['precision@5']:.3f} | {ci or ''} | {row['p50_s']} |")
    report = {
        "benchmark": "about requests: hit@5 and precision@5 on a frozen labelled set, with and without item text",
        "dataset": "movielens-100k (+ TMDB overviews and keywords, store/data/SOURCES.md)",
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "split": args.split,
        "reranker": str(args.reranker) if args.reranker else None,
        "users": users,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
        "rows": rows,
        "examples_new_user": {f"{s} / {p}": e for (s, p), e in examples.items()},
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
