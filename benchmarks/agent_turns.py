"""Agent turns on MovieLens 100K: does the model call the right tool, and how long does a turn take?

    python benchmarks/agent_turns.py --data-dir ~/.local/share/whyrec --limit 2

Protocol: 20 scripted requests for one MovieLens user (recommend with and without request
text, why / why-not, profile, feedback, search), each in its own new conversation so
every turn starts from the same prompt. Each goes through ``ChatAgent.stream`` with the
configured model (the embedded Qwen2.5-Coder-1.5B unless WHYREC_LLM_BASE_URL is set),
timing the first streamed text and the whole turn. "Right tool" means the model itself
called the expected tool (a turn the template fallback rescued does not count). The
baseline in the same run is the keyword router (the no-LLM fallback) on the same requests.
Feedback requests write to a copy of the data directory, never to the original.

Modes (``--mode``): ``react`` lets the model call tools in a loop (the model must pick the tool);
``plan`` decides by rules and makes at most one schema-constrained model call when they are
unsure (``agent/planning.py``); there "right tool" counts the plan's tool, whoever decided it,
and ``planned_by`` says how many turns the rules, the model or the default decided.
Prints a table and writes ``benchmarks/agent_turns.json`` with machine, date and dataset: one
entry per mode under ``modes``; running one mode replaces that entry and keeps the other's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path


from whyrec.agent.chat import ChatAgent  # noqa: E402
from whyrec.agent.router import route  # noqa: E402
from whyrec.store.catalog import Store  # noqa: E402
from whyrec.store.settings import Settings  # noqa: E402
from whyrec.tools.recommend.recommender import Recommender  # noqa: E402

# (request, the tool that should answer it)
REQUESTS: list[tuple[str, str]] = [
    ("Recommend me something to watch", "recommend"),
    ("Something funny and light for tonight", "recommend"),
    ("Why Star Wars?", "explain_recommendation"),
    ("What are my interests?", "get_interest_profile"),
    ("I loved Fargo", "record_feedback"),
    ("Find the movie Titanic", "search_catalog"),
    ("A scary horror film please", "recommend"),
    ("Why not Toy Story?", "explain_recommendation"),
    ("Summarise my long-term and recent taste", "get_interest_profile"),
    ("I did not like Scream", "record_feedback"),
    ("Recommend three sci-fi movies from the 80s", "recommend"),
    ("Why was Contact recommended to me?", "explain_recommendation"),
    ("Search for a movie about a ship that sinks", "search_catalog"),
    ("Give me more recommendations", "recommend"),
    ("Why not The English Patient?", "explain_recommendation"),
    ("Mark Liar Liar as not interested", "record_feedback"),
    ("What kind of movies do I like lately?", "get_interest_profile"),
    ("A romantic comedy with a happy ending", "recommend"),
    ("Is there a movie called Air Force One?", "search_catalog"),
    ("Why Return of the Jedi?", "explain_recommendation"),
]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def scratch_copy(settings: Settings) -> Settings:
    """The data directory copied (chats and the reranker left out) so feedback never touches the original."""
    target = Path(tempfile.mkdtemp(prefix="whyrec-bench-"))
    for name in (settings.sqlite_path.name, settings.chroma_path.name):
        source = settings.data_dir / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
    reranker = settings.trained_reranker_path
    return settings.model_copy(update={"data_dir": target, "reranker_path": reranker if reranker.exists() else None})


def ensure_movielens(settings: Settings) -> None:
    store = Store.open(settings)
    stats, _ = store.stats()
    if stats.items == 0:
        from whyrec.store.movielens import load_movielens_100k

        logging.info("the store at %s is empty: ingesting MovieLens 100K (a few minutes on a CPU)", settings.data_dir)
        store.ingest(load_movielens_100k(), progress=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="whyrec data directory (default: the settings' one)")
    parser.add_argument("--user", default="42", help="MovieLens user id")
    parser.add_argument("--limit", type=int, default=len(REQUESTS), help="run only the first N requests")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--mode", choices=["plan", "react"], default="plan", help="the agent mode to measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("agent_turns.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "httpx2", "sentence_transformers", "chromadb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    ensure_movielens(settings)
    scratch = scratch_copy(settings)
    recommender = Recommender(Store.open(scratch))
    titles = recommender.vocabulary.titles  # the catalog's one title index
    requests = REQUESTS[: args.limit]

    baseline = []
    for text, expected in requests:
        started = time.perf_counter()
        chosen = route(text, titles)
        baseline.append({"request": text, "expected": expected, "tool": chosen.tool, "right_tool": chosen.tool == expected, "seconds": time.perf_counter() - started})

    rows = []
    with ChatAgent(recommender, scratch, max_tokens=args.max_tokens, mode=args.mode) as agent:
        started = time.perf_counter()
        where = agent.start()
        startup = time.perf_counter() - started
        print(f"model: {where} (ready in {startup:.1f} s)")
        for n, (text, expected) in enumerate(requests, start=1):
            reply = agent.reply(args.user, f"bench-{n}-{int(time.time())}", text)
            row = {
                "request": text,
                "expected_tool": expected,
                "tools_called": reply.tools_called,
                "tool_calls": reply.tool_calls,
                # the model itself called it: a template-fallback turn ran the router's pick, not the model's
                "right_tool": expected in reply.tools_called and not reply.fallback,
                "planned_by": reply.planned_by,
                "fallback": reply.fallback,
                "fallback_reason": reply.error,
                "llm_calls": reply.llm_calls,
                "first_token_s": reply.first_token_seconds,
                "total_s": reply.seconds,
                "dropped_lines": len(reply.dropped_lines),
                "answer": reply.text[:300],
            }
            rows.append(row)
            print(f"[{n}/{len(requests)}] {text!r}: {reply.tools_called} in {reply.seconds:.1f} s (fallback={reply.fallback})", flush=True)

    times = [r["total_s"] for r in rows]
    summary = {
        "requests": len(rows),
        "tool_call_success_rate": sum(r["right_tool"] for r in rows) / len(rows) if rows else None,
        "fallback_turns": sum(r["fallback"] for r in rows),
        "p50_turn_s": percentile(times, 50),
        "p95_turn_s": percentile(times, 95),
        "p50_first_token_s": percentile([r["first_token_s"] for r in rows if r["first_token_s"] is not None], 50),
        "mean_llm_calls": statistics.mean(r["llm_calls"] for r in rows) if rows else None,
        "baseline_router_success_rate": sum(b["right_tool"] for b in baseline) / len(baseline) if baseline else None,
        "model_startup_s": startup,
        "planned_by": {who: sum(r["planned_by"] == who for r in rows) for who in ("rules", "model", "default")} if args.mode == "plan" else None,
    }

    header = f"{'#':>2}  {'request':<42} {'expected':<22} {'called':<32} {'ok':<3} {'ttft s':>7} {'total s':>8} {'llm':>3} {'router':<3}"
    print("\n" + header + "\n" + "-" * len(header))
    for n, (row, base) in enumerate(zip(rows, baseline, strict=True), start=1):
        called = ",".join(row["tools_called"]) + ("*" if row["fallback"] else "")
        ttft = f"{row['first_token_s']:.1f}" if row["first_token_s"] is not None else "-"
        print(
            f"{n:>2}  {row['request'][:42]:<42} {row['expected_tool']:<22} {called[:32]:<32} {'yes' if row['right_tool'] else 'no':<3} "
            f"{ttft:>7} {row['total_s']:>8.1f} {row['llm_calls']:>3} {'yes' if base['right_tool'] else 'no':<3}"
        )
    print("(* = answered by the template fallback)")
    for key, value in summary.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")

    entry = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "dataset": "MovieLens 100K (recbole's packaged copy)",
        "user": args.user,
        "model": where,
        "max_tokens": args.max_tokens,
        "protocol": __doc__.split("\n\n", 2)[2].strip(),
        "summary": summary,
        "turns": rows,
        "baseline_router": baseline,
    }
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}
    report = {"benchmark": "agent_turns", "modes": {**earlier.get("modes", {}), args.mode: entry}}
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.out}")
    shutil.rmtree(scratch.data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
