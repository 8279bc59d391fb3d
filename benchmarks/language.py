"""Language nobody here wrote: do people get what they asked for, when the rules read alone, the model reads, or both?

Run:  .venv/bin/python benchmarks/language.py [--systems rules,hybrid,model] [--limit N]

Protocol: the frozen labelled set benchmarks/data/human_requests.jsonl (214 requests from ReDial
openings, posted questions and careful writing, 57 not in English; see its .md; its sha256 is
checked before anything runs, so a tuned copy cannot be measured by mistake). Each request is
asked once, in a new conversation, by one of four seeded MovieLens-100K users (round robin), on a
copy of the text catalog (so feedback a message gives is thrown away). Systems: ``rules`` (the
chat with no model: the keyword router and the rule parser), ``model`` (the embedded local model
reads every recommend request; the rules keep only intents they are sure of), ``hybrid`` (the
rules decide alone when they account for every content word, the model reads the rest, and the
merge keeps what the rules read for sure). Paths: ``chat`` (``ChatAgent.reply``; every request)
and ``api`` (``RecommenderAPI.recommend`` with the agent's ``read_request`` as its reader;
recommend requests only). A request is satisfied as a share of its top 5 (or the count it asks
for): each item must be in at least one category of every labelled group, inside the labelled
years, in no excluded category, and not a film the person said they disliked; asking for a count
and getting another number satisfies nothing; a recommend request without labelled constraints
is satisfied by any list. Intents other than recommend (chat only): profile questions must reach
the profile, "why" questions an explanation, look-ups a search or a list, small talk no list.
Reported: mean satisfaction, the same on non-English requests and on requests with labelled
constraints, how often the model was called, the turn's p50 seconds, and for each system a paired
bootstrap 95% interval of its satisfaction minus the rules' (over requests). The odd ids are a dev half
(the only failures the report lists) and the even ids a test half whose score is reported on its own.
Writes benchmarks/language.json (a run of some systems keeps the other systems' rows, and pairs with them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
from collections import Counter
import re
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from concepts import MIN_RATINGS, open_ingested  # noqa: I001  (a sibling script: benchmarks/ is on the path)
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Item
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.understanding.titles import normalise_title

HERE = Path(__file__).parent
REQUESTS = HERE / "data" / "human_requests.jsonl"
FROZEN = HERE / "data" / "human_requests.md"  # holds the sha256 the set was frozen with
LIST_LENGTH = 5
USERS = 4


def frozen_rows() -> list[dict[str, Any]]:
    """The labelled requests, refusing a file whose sha256 is not the one recorded when it was frozen."""
    data = REQUESTS.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest not in FROZEN.read_text(encoding="utf-8"):
        raise SystemExit(f"{REQUESTS.name} changed since it was frozen (sha256 {digest} is not in {FROZEN.name}): restore it")
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def item_meets(row: dict[str, Any], item: Item) -> bool:
    """Whether one item meets every labelled constraint of the request."""
    categories = set(item.categories)
    if any(not set(group) & categories for group in row["categories"]) or set(row["exclude_categories"]) & categories:
        return False
    if row["years"]:
        low, high = row["years"]
        if item.year is None or (low is not None and item.year < low) or (high is not None and item.year > high):
            return False
    disliked = {normalise_title(t) for t in row["disliked_titles"]}
    return normalise_title(item.title) not in disliked


def asking_users(dataset: Any) -> list[str]:
    """The people the requests are asked as (seed 0, each with a history long enough to have interests); shared with
    local_models.py, so both benchmarks ask as the same people."""
    counts = Counter(x.user_id for x in dataset.interactions)
    return random.Random(0).sample(sorted(u for u, n in counts.items() if n >= MIN_RATINGS), USERS)


def half(row: dict[str, Any]) -> str:
    """dev (odd ids: failures may be read to improve the rules) or test (even ids: only its score is reported)."""
    return "dev" if int(row["id"].lstrip("h")) % 2 else "test"


def constrained(row: dict[str, Any]) -> bool:
    return bool(row["categories"] or row["years"] or row["exclude_categories"] or row["count"] or row["disliked_titles"])


def list_satisfaction(row: dict[str, Any], items: list[Item]) -> float:
    """Share of the top of the list that meets the request (0 when it shows another number than asked)."""
    wanted = row["count"] or LIST_LENGTH
    if not items or (row["count"] and len(items) != row["count"]):
        return 0.0
    return float(np.mean([item_meets(row, item) for item in items[:wanted]]))


def chat_satisfaction(row: dict[str, Any], tools: list[str], items: list[Item]) -> float:
    """A chat turn against the labelled intent (see the protocol)."""
    intent = row["intent"]
    if intent == "recommend":
        return list_satisfaction(row, items) if "recommend" in tools else 0.0
    if intent == "profile":
        return float("get_interest_profile" in tools)
    if intent == "explain":
        return float("recommend" not in tools and "search_catalog" not in tools)  # an explanation, or "which one?"
    if intent == "search":
        return float(bool({"search_catalog", "recommend", "explain_recommendation"} & set(tools)))
    return float(not {"recommend", "search_catalog"} & set(tools))  # small talk: no list


def build_agents(names: list[str], recommender: Recommender, settings: Settings) -> tuple[dict[str, Any], Any]:
    """One ChatAgent per system; the model systems share one embedded model server, started once."""
    from whyrec.agent.chat import ChatAgent

    server = None
    agents: dict[str, Any] = {}
    for name in names:
        if name == "rules":
            agents[name] = ChatAgent(recommender, settings, fallback_only=True)
            continue
        if server is None and not settings.llm_base_url:
            from whyrec.agent.local_model import LocalModelServer

            print("starting the local model …", flush=True)
            server = LocalModelServer.from_settings(settings, progress=False).start()
        agent = ChatAgent(recommender, settings, server=server, mode="plan", reading=name, temperature=0.0)
        agent.start()  # the prompt cache is warm before the first timed turn
        agents[name] = agent
    return agents, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="rules,hybrid,model", help="comma-separated: rules, hybrid, model")
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests (a quick check; 0 = all)")
    parser.add_argument("--half", choices=["dev", "test"], help="only one half (a slow system on fewer requests; paired on those)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "whyrec-benchmarks" / "concepts")
    parser.add_argument("--output", type=Path, default=HERE / "language.json")
    parser.add_argument("--fresh", action="store_true", help="drop the rows of systems not run now (measured with older code)")
    args = parser.parse_args()

    rows = frozen_rows()
    rows = rows[: args.limit] if args.limit else rows
    rows = [r for r in rows if args.half is None or half(r) == args.half]
    dataset = load_movielens_100k()
    source = open_ingested(args.work / "text", dataset).settings.data_dir
    copy = Path(tempfile.mkdtemp(prefix="whyrec-language-"))
    for name in ("chroma", "whyrec.sqlite3"):
        (shutil.copytree if (source / name).is_dir() else shutil.copy2)(source / name, copy / name)
    settings = Settings(data_dir=copy, rerank_top=0)
    recommender = Recommender(Store.open(settings), reranker=None)
    users = asking_users(dataset)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    agents, server = build_agents(names, recommender, settings)

    from whyrec.ui.api import RecommenderAPI

    results: list[dict[str, Any]] = []
    per_request: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for name, agent in agents.items():
            api = RecommenderAPI(recommender, reader=None if name == "rules" else agent.read_request)
            for path in ("chat", "api"):
                scored: dict[str, float] = {}
                seconds, called, examples = [], [], {}
                asked = [r for r in rows if path == "chat" or r["intent"] == "recommend"]
                for n, row in enumerate(tqdm(asked, desc=f"{name} / {path}", leave=False)):
                    user = users[n % len(users)]
                    started = time.perf_counter()
                    if path == "chat":
                        reply = agent.reply(user, f"language-{uuid.uuid4().hex[:8]}", row["text"])
                        items = [recommender.items[str(c["item_id"])] for c in reply.items if str(c["item_id"]) in recommender.items]
                        score = chat_satisfaction(row, list(reply.tools_called), items)
                        called.append(reply.llm_calls > 0)
                        answer = reply.tool_calls[0]["args"].get("request") if reply.tool_calls else None
                    else:
                        needs_model = name == "model" or (name == "hybrid" and not recommender.understand(row["text"]).rules_sure)
                        listed = api.recommend(user, row["text"], k=row["count"] or LIST_LENGTH)["items"]
                        items = [recommender.items[str(r["item_id"])] for r in listed]
                        score = list_satisfaction(row, items)
                        called.append(needs_model)
                        answer = None
                    seconds.append(time.perf_counter() - started)
                    scored[row["id"]] = score
                    if score < 1.0 and half(row) == "dev" and len(examples) < 25:  # the test half is never printed
                        examples[row["id"]] = {"text": row["text"][:120], "read_as": answer, "satisfaction": round(score, 2),
                                               "shown": [f"{i.title} ({i.year})" for i in items[:5]]}
                per_request[(name, path)] = scored
                foreign = [scored[r["id"]] for r in asked if r["language"] != "en"]
                limited = [scored[r["id"]] for r in asked if constrained(r)]
                held_out = [scored[r["id"]] for r in asked if half(r) == "test"]
                results.append({
                    "system": name,
                    "path": path,
                    "requests": len(asked),
                    "satisfaction": round(float(np.mean(list(scored.values()))), 3),
                    "non_english_satisfaction": round(float(np.mean(foreign)), 3) if foreign else None,
                    "constrained_satisfaction": round(float(np.mean(limited)), 3) if limited else None,
                    "test_half_satisfaction": round(float(np.mean(held_out)), 3) if held_out else None,
                    "model_called_rate": round(float(np.mean(called)), 3),
                    "turn_p50_s": round(statistics.median(seconds), 3),
                    "turn_p95_s": round(float(np.percentile(seconds, 95)), 3),
                    "model_turn_p50_s": round(statistics.median([t for t, c in zip(seconds, called, strict=True) if c]), 3) if any(called) else None,
                    "unsatisfied_examples": examples,
                    "per_request": {i: round(v, 3) for i, v in scored.items()},
                })
    finally:
        for agent in agents.values():
            agent.close()
        if server is not None:
            server.stop()
        shutil.rmtree(copy, ignore_errors=True)
    if args.output.exists() and not args.limit and not args.fresh:  # rows of systems not run this time stay (rerun one system alone)
        ran = {row["system"] for row in results}
        kept = [row for row in json.loads(args.output.read_text(encoding="utf-8"))["rows"] if row["system"] not in ran]
        for row in kept:
            per_request.setdefault((row["system"], row["path"]), row["per_request"])
        results = sorted(kept + results, key=lambda row: (["rules", "hybrid", "model"].index(row["system"]), row["path"]))
    for row in results:
        rules = per_request.get(("rules", row["path"]))
        if rules is not None and row["system"] != "rules":
            ids = [i for i in rules if i in per_request[(row["system"], row["path"])]]  # a run of one half pairs on it
            delta, low, high = paired_bootstrap_ci([per_request[(row["system"], row["path"])][i] for i in ids], [rules[i] for i in ids])
            row["rules_on_same_requests"] = round(float(np.mean([rules[i] for i in ids])), 3)
            row["vs_rules"] = round(delta, 3)
            row["ci95_vs_rules"] = [round(low, 3), round(high, 3)]

    print(f"\nHuman phrasings: {len(rows)} requests, top {LIST_LENGTH} (or the count asked)")
    print("| system | path | requests | satisfaction | non-English | constrained | test half | vs rules (95% CI) | model called | p50 s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        ci = f"{row['vs_rules']:+.3f} {row['ci95_vs_rules']}" if "vs_rules" in row else ""
        print(f"| {row['system']} | {row['path']} | {row['requests']} | {row['satisfaction']:.3f} | {row['non_english_satisfaction']} | "
              f"{row['constrained_satisfaction']} | {row['test_half_satisfaction']} | {ci} | {row['model_called_rate']:.2f} | {row['turn_p50_s']} |")
    report = {
        "benchmark": "language nobody here wrote: top-5 constraint satisfaction on a frozen set of human phrasings",
        "dataset": f"{REQUESTS.name} (sha256 {hashlib.sha256(REQUESTS.read_bytes()).hexdigest()}), movielens-100k with TMDB text",
        "protocol": re.sub(r"\s+", " ", __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0]).strip(),
        "model": settings.llm_base_url or settings.llm_model,
        "users": users,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
        "rows": results,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
