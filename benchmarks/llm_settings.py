"""The embedded model's llama.cpp settings (threads, batch size, flash attention), timed on the prompts whyrec sends.

    .venv/bin/python benchmarks/llm_settings.py [--repeats 3] [--threads 2 1] [--batch 512 256 64] [--flash on off]

Protocol: the request bodies are not written here but captured from the product: a ``ChatAgent``
(plan mode, then react mode) talks to a recording endpoint on localhost that keeps each JSON body
and answers 503, so what is timed is exactly what the agent sends (system prompt, tool schemas,
JSON-schema ``response_format``, ``tool_choice``, ``max_tokens``, temperature); the 503 hands each
turn to the template fallback, whose answer is what the next turn's prompt then holds. The plan
messages are ones the rules leave to the model. Each candidate setting gets its own
``LocalModelServer`` (the product's code path; one server at a time, started untimed) and answers
three calls, streamed:

1. plan, cold: the plan-mode call with ``cache_prompt: false``, so the whole prompt is read; as
   sent, so its JSON-schema grammar decides where it ends;
2. react, cold: react mode's first call (system prompt, five tool schemas, ``tool_choice``) with
   ``cache_prompt: false`` and generation capped at ``--react-tokens`` (the rate is what is wanted
   here; how long the model writes is a property of the prompt, not of these settings);
3. react, warm: the same call for another message in a new conversation, prompt cache on: what
   every later turn pays once the system prompt and the tool schemas sit in llama.cpp's cache.

Settings are interleaved round-robin, the order rotating each round, so the other jobs on this
shared machine weigh on all of them alike; the table shows medians over the rounds, and for
prompt and generation speed the median of the paired ratio to the first setting in the same round.
Rates come from llama.cpp's own ``timings`` (prompt_n, prompt_ms, predicted_n, predicted_ms,
cache_n); time to first token (the first streamed content or tool-call delta), the whole call and
the CPU time of this process (the server's threads are its threads) are measured by the client.
Token counts come from the model's own tokenizer (the server's ``/apply-template`` and
``/tokenize``). The prompt-cache check runs with the first setting, each part on a fresh server:
react calls of new conversations with a plan call in between, then the first calls of the turns of
one react conversation longer than the agent's window of recent turns, once per ``n_cache_reuse``
(llama.cpp's reuse of cached chunks after the common prefix); ``cache_n`` says how much of each
prompt came from the cache. Writes ``benchmarks/llm_settings.json`` (machine, date, load average
before and after, model) with a ``settings`` and a ``cache`` part; ``--repeats 0`` or
``--cache-repeats 0`` keeps that part from the last run.
"""
from __future__ import annotations

import argparse
import copy
import http.server
import itertools
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent_turns import (  # the same store handling as the agent benchmark
    ensure_movielens,
    scratch_copy,
)
from langgraph.checkpoint.memory import InMemorySaver
from whyrec.agent.chat import ChatAgent
from whyrec.agent.local_model import LocalModelServer, assemble_gguf
from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender

PLAN_MESSAGES = ("Date night tomorrow, she hates gore", "I have two hours to kill before my flight")  # rule_plan leaves both to the model
REACT_MESSAGES = ("Something funny and light for tonight", "Why Star Wars?", "Find the movie Titanic", "What are my interests?")
# one react conversation, longer than the agent's window of recent turns (3), so the window slides
CONVERSATION = (
    "Something funny and light for tonight", "Why the first one?", "Something darker instead",
    "What are my interests?", "Find the movie Titanic", "Why Star Wars?",
)
USER = "42"


# --- what the product sends -------------------------------------------------------------------

@contextmanager
def recording_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-style endpoint on localhost that keeps every request body and answers 503."""
    bodies: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server dispatches to
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = b'{"error": {"message": "recorded, not answered"}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", bodies
    finally:
        server.shutdown()
        server.server_close()


def captured_requests(settings: Settings) -> dict[str, Any]:
    """The first model call of each turn as the agent sends it: per message and mode, and every turn of one react
    conversation (the template fallback answers each turn, and its answer is what the next turn's prompt holds)."""
    ensure_movielens(settings)
    scratch = scratch_copy(settings)  # the fallback's tools may write (the profile cache): never to the real store
    recommender = Recommender(Store.open(scratch))
    captured: dict[str, Any] = {"plan": [], "react": [], "conversation": []}

    def first_call(agent: ChatAgent, conversation: str, text: str) -> dict[str, Any]:
        before = len(bodies)
        agent.reply(USER, conversation, text)  # the 503 sends the turn to the template fallback
        if len(bodies) == before:
            raise RuntimeError(f"{agent.mode} mode made no model call for {text!r}; pick a message the rules leave to the model")
        return bodies[before]

    try:
        with recording_endpoint() as (url, bodies):
            recorded = scratch.model_copy(update={"llm_base_url": url})
            for mode, messages in (("plan", PLAN_MESSAGES), ("react", REACT_MESSAGES)):
                with ChatAgent(recommender, recorded, mode=mode, checkpointer=InMemorySaver()) as agent:
                    captured[mode] = [first_call(agent, f"{mode}-{n}", text) for n, text in enumerate(messages)]
            with ChatAgent(recommender, recorded, mode="react", checkpointer=InMemorySaver()) as agent:
                captured["conversation"] = [first_call(agent, "conversation", text) for text in CONVERSATION]
    finally:
        shutil.rmtree(scratch.data_dir, ignore_errors=True)
    return captured


# --- talking to a running server ----------------------------------------------------------------

def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=1800)


def timed_call(server: LocalModelServer, body: dict[str, Any]) -> dict[str, Any]:
    """Stream one chat completion: client-side first token and whole call, the CPU time this process spent on it
    (the server's threads are this process's), llama.cpp's ``timings``, and what came back."""
    started, cpu_started = time.perf_counter(), time.process_time()
    first = None
    text, tool_calls, timings, finish = "", 0, {}, None
    with _post(server.base_url + "/chat/completions", body) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if first is None and (delta.get("content") or delta.get("tool_calls")):
                    first = time.perf_counter() - started
                text += delta.get("content") or ""
                tool_calls += len(delta.get("tool_calls") or [])
                finish = choice.get("finish_reason") or finish
            timings = chunk.get("timings") or timings
    whole, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "first_token_s": first,
        "whole_s": whole,
        "cpu_s": cpu,
        "cache_n": timings.get("cache_n"),
        "prompt_n": timings.get("prompt_n"),
        "prompt_ms": timings.get("prompt_ms"),
        "predicted_n": timings.get("predicted_n"),
        "predicted_ms": timings.get("predicted_ms"),
        "prompt_tok_s": timings["prompt_n"] / timings["prompt_ms"] * 1000 if timings.get("prompt_ms") else None,
        "gen_tok_s": timings["predicted_n"] / timings["predicted_ms"] * 1000 if timings.get("predicted_ms") else None,
        "finish_reason": finish,
        "native_tool_calls": tool_calls,
        "text": text[:200],
    }


def token_counts(server: LocalModelServer, requests: dict[str, Any]) -> dict[str, int]:
    """Prompt parts in the model's own tokens: system prompts, the tool block, the plan schema, whole prompts."""
    root = server.base_url.removesuffix("/v1")

    def tokens(text: str) -> int:
        return len(json.loads(_post(root + "/tokenize", {"content": text}).read())["tokens"])

    def prompt(body: dict[str, Any]) -> str:
        return json.loads(_post(root + "/apply-template", body).read())["prompt"]

    plan, react = requests["plan"][0], requests["react"][0]
    without_tools = {k: v for k, v in react.items() if k not in ("tools", "tool_choice")}
    react_prompt, bare_prompt = tokens(prompt(react)), tokens(prompt(without_tools))
    return {
        "plan_system_prompt": tokens(plan["messages"][0]["content"]),
        "plan_schema_json": tokens(json.dumps(plan["response_format"]["json_schema"]["schema"])),
        "plan_whole_prompt": tokens(prompt(plan)),
        "react_system_prompt": tokens(react["messages"][0]["content"]),
        "react_tool_block": react_prompt - bare_prompt,
        **{f"react_tool_{t['function']['name']}": tokens(json.dumps(t)) for t in react["tools"]},
        "react_whole_prompt": react_prompt,
    }


# --- the measurement ---------------------------------------------------------------------------

def parse_threads(value: str) -> tuple[int, int]:
    """``2`` = two threads for prompt and generation; ``2/1`` = two for the prompt, one to generate."""
    prompt, _, generate = value.partition("/")
    return int(prompt), int(generate or prompt)


def label(config: dict[str, Any]) -> str:
    prompt, generate = config["threads"]
    threads = str(prompt) if prompt == generate else f"{prompt}/{generate}"
    return f"threads {threads}, batch {config['batch_size']}, flash {'on' if config['flash_attn'] else 'off'}"


def start(model_path: Path, config: dict[str, Any]) -> LocalModelServer:
    prompt, generate = config["threads"]
    server = LocalModelServer(
        model_path,
        threads=generate,
        batch_threads=prompt,
        batch_size=config["batch_size"],
        flash_attn=config["flash_attn"],
        **({"cache_reuse": config["cache_reuse"]} if "cache_reuse" in config else {}),
        progress=False,
        verbosity=0,
    )
    return server.start()


def uncached(body: dict[str, Any], max_tokens: int | None = None) -> dict[str, Any]:
    body = {**copy.deepcopy(body), "cache_prompt": False}
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    return body


def capped(body: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    return {**copy.deepcopy(body), "max_completion_tokens": max_tokens}


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summary(configs: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per setting: medians over the rounds, and paired ratios against the first setting."""
    baseline = runs[label(configs[0])]

    def paired(rows: list[dict[str, Any]], call: str, key: str) -> float | None:
        """Median over the rounds of this setting's value over the first setting's in the same round."""
        return median([r[call][key] / b[call][key] if r[call][key] and b[call][key] else None for r, b in zip(rows, baseline, strict=True)])

    table = []
    for config in configs:
        rows = runs[label(config)]

        def m(call: str, key: str, rows: list[dict[str, Any]] = rows) -> float | None:
            return median([r[call].get(key) for r in rows])

        table.append({
            "setting": label(config),
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
            "plan_prompt_tokens": m("plan_cold", "prompt_n"),
            "plan_prompt_tok_s": m("plan_cold", "prompt_tok_s"),
            "plan_gen_tok_s": m("plan_cold", "gen_tok_s"),
            "plan_first_token_s": m("plan_cold", "first_token_s"),
            "plan_whole_s": m("plan_cold", "whole_s"),
            "react_prompt_tokens": m("react_cold", "prompt_n"),
            "react_prompt_tok_s": m("react_cold", "prompt_tok_s"),
            "react_gen_tok_s": m("react_cold", "gen_tok_s"),
            "react_cold_first_token_s": m("react_cold", "first_token_s"),
            "react_cold_whole_s": m("react_cold", "whole_s"),
            "react_cold_cpu_s": m("react_cold", "cpu_s"),
            "react_warm_prompt_tokens": m("react_warm", "prompt_n"),
            "react_warm_first_token_s": m("react_warm", "first_token_s"),
            "react_warm_whole_s": m("react_warm", "whole_s"),
            "paired_prompt_ratio_vs_first": paired(rows, "react_cold", "prompt_tok_s"),
            "paired_gen_ratio_vs_first": paired(rows, "plan_cold", "gen_tok_s"),
        })
    return table


def check_cache(model_path: Path, config: dict[str, Any], requests: dict[str, Any], react_tokens: int, cache_reuse: tuple[int, ...]) -> dict[str, Any]:
    """Which calls llama.cpp serves from its prompt cache, each on a fresh server: across conversations and modes,
    and along one conversation longer than the agent's window of recent turns, for each ``n_cache_reuse``."""
    plan, plan_other = requests["plan"]
    react, react_other, react_third = requests["react"][:3]
    conversation = requests["conversation"]
    with start(model_path, config) as server:
        steps = [
            ("react, fresh server", capped(react, react_tokens)),
            ("react, new conversation", capped(react_other, react_tokens)),
            ("plan call in between", plan),
            ("react after the plan call", capped(react_third, react_tokens)),
            ("plan again, another message", plan_other),
        ]
        across = [{"step": name, **timed_call(server, body)} for name, body in steps]
    along = {}
    for reuse in cache_reuse:
        with start(model_path, {**config, "cache_reuse": reuse}) as server:
            along[str(reuse)] = [{"turn": n, **timed_call(server, capped(body, react_tokens))} for n, body in enumerate(conversation, 1)]
    return {"across": across, "conversation": along}


def print_cache(rounds: list[dict[str, Any]]) -> None:
    def line(name: str, values: list[dict[str, Any]]) -> str:
        return (
            f"  {name:<36} cache_n {median([v['cache_n'] for v in values]):>6.0f}  prompt_n {median([v['prompt_n'] for v in values]):>6.0f}  "
            f"first token {median([v['first_token_s'] for v in values]) or 0:.1f} s"
        )

    print("\nprompt cache (cache_n = prompt tokens served from the cache, prompt_n = tokens read; medians):")
    for n, step in enumerate(rounds[0]["across"]):
        print(line(step["step"], [r["across"][n] for r in rounds]))
    for reuse, turns in rounds[0]["conversation"].items():
        for n in range(len(turns)):
            print(line(f"conversation turn {n + 1}, n_cache_reuse {reuse}", [r["conversation"][reuse][n] for r in rounds]))


def print_table(table: list[dict[str, Any]]) -> None:
    def f(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    header = (
        f"{'setting':<34} {'plan pp t/s':>11} {'plan tg t/s':>11} {'plan 1st s':>10} {'plan all s':>10} {'react pp t/s':>12} "
        f"{'react tg t/s':>12} {'cold 1st s':>10} {'cold cpu s':>10} {'warm 1st s':>10} {'pp x 1st':>8} {'tg x 1st':>8}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for row in table:
        print(
            f"{row['setting']:<34} {f(row['plan_prompt_tok_s']):>11} {f(row['plan_gen_tok_s']):>11} {f(row['plan_first_token_s']):>10} "
            f"{f(row['plan_whole_s']):>10} {f(row['react_prompt_tok_s']):>12} {f(row['react_gen_tok_s']):>12} "
            f"{f(row['react_cold_first_token_s']):>10} {f(row['react_cold_cpu_s']):>10} {f(row['react_warm_first_token_s']):>10} "
            f"{f(row['paired_prompt_ratio_vs_first'], 2):>8} {f(row['paired_gen_ratio_vs_first'], 2):>8}"
        )
    print("(pp/tg x 1st: median over the rounds of prompt/generation tokens per second over the first setting's in the same round)")


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="whyrec data directory (default: the settings' one)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all settings (0: keep the last run's)")
    # the first setting is the baseline of the paired ratios: by default llama.cpp's own choice before this benchmark
    # (all cores, n_ubatch 512, flash attention on, which is what "auto" picks on a CPU)
    parser.add_argument("--threads", nargs="+", default=["2", "1"], help="N, or PROMPT/GENERATE threads")
    parser.add_argument("--batch", nargs="+", type=int, default=[512, 256, 64], help="n_batch = n_ubatch values")
    parser.add_argument("--flash", nargs="+", choices=["off", "on"], default=["on", "off"])
    parser.add_argument("--react-tokens", type=int, default=16, help="generation cap for the react calls")
    parser.add_argument("--cache-repeats", type=int, default=3, help="rounds of the prompt-cache check (0: keep the last run's)")
    parser.add_argument("--cache-reuse", nargs="+", type=int, default=[0, 256], help="n_cache_reuse values for the conversation")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("llm_settings.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(message)s")  # the recorder's 503s are expected

    command = " ".join([".venv/bin/python benchmarks/llm_settings.py", *(sys.argv[1:] if argv is None else argv)])
    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}
    requests = captured_requests(settings)
    model_path = assemble_gguf(settings.cache_dir, progress=False)
    configs = [
        {"threads": parse_threads(t), "batch_size": b, "flash_attn": f == "on"}
        for t, b, f in itertools.product(args.threads, args.batch, args.flash)
    ]
    report = {
        "benchmark": "llm_settings",
        "model": f"{model_path.name} (llama.cpp via xllamacpp, in-process server)",
        "protocol": __doc__.split("\n\n", 2)[2].strip(),
        "requests": requests,
        "settings": earlier.get("settings"),
        "cache": earlier.get("cache"),
    }

    with start(model_path, configs[0]) as server:
        report["prompt_tokens"] = token_counts(server, requests)
    print("prompt tokens:", json.dumps(report["prompt_tokens"], indent=1))

    if args.cache_repeats:
        load_before = os.getloadavg()
        rounds = [check_cache(model_path, configs[0], requests, args.react_tokens, tuple(args.cache_reuse)) for _ in range(args.cache_repeats)]
        report["cache"] = {
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine(load_before),
            "setting": label(configs[0]),
            "rounds": rounds,
        }

    if args.repeats:
        load_before = os.getloadavg()
        plan, react, react_other = requests["plan"][0], requests["react"][0], requests["react"][1]
        runs: dict[str, list[dict[str, Any]]] = {label(c): [] for c in configs}
        for round_no in range(args.repeats):
            shift = round_no % len(configs)
            for config in configs[shift:] + configs[:shift]:
                load = os.getloadavg()[0]
                with start(model_path, config) as server:
                    calls = {
                        "plan_cold": timed_call(server, uncached(plan)),
                        "react_cold": timed_call(server, uncached(react, args.react_tokens)),
                        "react_warm": timed_call(server, capped(react_other, args.react_tokens)),
                    }
                runs[label(config)].append({"round": round_no, "load_1min": load, **calls})
                print(
                    f"round {round_no + 1}/{args.repeats} {label(config)}: plan {calls['plan_cold']['whole_s']:.1f} s, "
                    f"react cold first token {calls['react_cold']['first_token_s'] or 0:.1f} s, warm {calls['react_warm']['first_token_s'] or 0:.1f} s "
                    f"(load {load:.1f})",
                    flush=True,
                )
        report["settings"] = {
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine(load_before),
            "react_generation_cap": args.react_tokens,
            "table": summary(configs, runs),
            "runs": runs,
        }

    if report["settings"]:
        print_table(report["settings"]["table"])
    if report["cache"]:
        print_cache(report["cache"]["rounds"])
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
