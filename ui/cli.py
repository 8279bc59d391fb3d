"""The ``whyrec`` command line: one subcommand per thing a person does."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from whyrec.store.errors import InputError, WhyrecError
from whyrec.store.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
# the package a command may miss on a core-only install -> the extra that brings it (pyproject.toml)
EXTRA_OF = {
    **dict.fromkeys(("langchain", "langchain_core", "langchain_openai", "langgraph", "openai"), "agent"),
    **dict.fromkeys(("gradio", "gradio_client", "mcp", "fastapi", "pandas"), "ui"),
    "xllamacpp": "local",
    **dict.fromkeys(("torch", "sentence_transformers", "transformers"), "gpu"),
    "datasets": "train",
    "accelerate": "train",
}
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def open_store(settings: Settings):
    from whyrec.store.catalog import Store

    return Store.open(settings)


def ensure_ingested(settings: Settings):
    """The store, ingesting the packaged MovieLens-100K first when it is empty."""
    store = open_store(settings)
    if store.db.stats().items == 0:
        print("No catalog yet: ingesting the packaged MovieLens-100K …", flush=True)
        _ingest(store, None, None)
    return store


def _ingest(store, catalog: Path | None, interactions: Path | None) -> None:
    from whyrec.store.files import load_dataset
    from whyrec.store.movielens import load_movielens_100k

    if interactions and not catalog:
        raise InputError("--interactions needs --catalog too — give both files, or neither for the packaged MovieLens-100K")
    dataset = load_dataset(catalog, interactions) if catalog else load_movielens_100k()
    report = store.ingest(dataset, progress=True)
    index = report.index
    print(
        f"ingested {report.dataset}: {report.items:,} items, {report.interactions:,} interactions, {report.users:,} users "
        f"in {report.seconds:.1f} s — embedded {index.embedded - index.packaged:,}, packaged vectors {index.packaged:,} "
        f"({report.items_per_second:.0f} items/s end to end), "
        f"unchanged {index.unchanged:,}, removed {index.removed:,}"
    )


@command("ingest")
def ingest_command(args: argparse.Namespace, settings: Settings) -> int:
    """Load a catalog and interactions into SQLite and Chroma (packaged MovieLens-100K by default)."""
    if args.reembed:  # the index may be replaced by one built with this install's embedding model
        settings = settings.model_copy(update={"reembed": True})
    _ingest(open_store(settings), args.catalog, args.interactions)
    return 0


@command("stats")
def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    """Counts of users, items, interactions, feedback and indexed vectors."""
    db_stats, vectors = open_store(settings).stats()
    print(f"data dir:      {settings.data_dir}")
    print(f"users:         {db_stats.users:,}")
    print(f"items:         {db_stats.items:,}")
    print(f"interactions:  {db_stats.interactions:,}")
    print(f"feedback:      {db_stats.feedback:,}")
    print(f"index vectors: {vectors:,}")
    return 0


def open_recommender(settings: Settings):
    from whyrec.ui.recommender_setup import open_recommender as open_with_summaries

    return open_with_summaries(settings, ensure_ingested(settings))


def print_recommendations(recs) -> None:
    for r in recs:
        year = f" ({r.item.year})" if r.item.year else ""
        because = ", ".join(f"'{b.title}'" + (f" ({b.rating:g}★)" if b.rating is not None else "") for b in r.because[:2])
        interest = f" · {r.interest.term} interest: {r.interest.label}" if r.interest else ""
        print(f"{r.rank:>2}. [{r.item.item_id}] {r.item.display_title}{year} — {', '.join(r.item.categories)}  score {r.scores['final']:.2f}")
        if because or interest:
            print(f"    similar to {because or '—'}{interest}")
        if r.liked_together:
            print("    people who liked " + ", ".join(f"'{c.title}'" for c in r.liked_together[:2]) + " also liked it")


@command("recommend")
def recommend_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print recommendations for a user, with the evidence behind each."""
    from whyrec.tools.recommend.reranker import is_trained

    recommender = open_recommender(settings)
    recs = recommender.recommend(
        args.user, args.request, args.k, categories=args.category or None,
        year_min=args.year_min, year_max=args.year_max, diversity=args.diversity,
    )
    if (settings.rerank_top > 0 or settings.rerank_top_request > 0) and not is_trained(settings.trained_reranker_path):
        # asked for, not there (a saved one is only loaded when a setting asks for it: it needs the [gpu] extra)
        print("(no trained reranker yet: ranking without it — run `whyrec train-reranker`)")
    print_recommendations(recs)
    return 0


@command("why")
def why_command(args: argparse.Namespace, settings: Settings) -> int:
    """Explain why an item is (or is not) recommended to a user."""
    explanation = open_recommender(settings).explain(args.user, args.item)
    print(explanation.text)
    return 0


@command("profile")
def profile_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print a user's long- and short-term interests and their drift."""
    recommender = open_recommender(settings)
    profile = recommender.profile(args.user)
    summary = profile.summary_text(recommender.items)
    print("Long-term: " + summary["long_term"])
    print("Short-term: " + summary["short_term"])
    print(f"Drift (Jensen-Shannon, long vs short term): {profile.drift:.2f}")
    return 0


@command("train-reranker")
def train_reranker_command(args: argparse.Namespace, settings: Settings) -> int:
    """Fine-tune the cross-encoder reranker on the pipeline's own candidate lists (CPU: 15 min; CUDA: all the data)."""
    from whyrec.tools.training.candidate_lists import dev_requests
    from whyrec.tools.training.reranker_training import train_reranker

    budget = "auto" if args.budget is None else (args.budget or None)
    report = train_reranker(
        ensure_ingested(settings), progress=True, loss=args.loss, time_budget_s=budget,
        concept_requests=dev_requests(args.requests) if args.requests else None,
        **({"max_users": args.max_users} if args.max_users else {}),
    )
    print(f"trained reranker saved to {settings.trained_reranker_path} in {report.total_seconds:.0f} s ({report.steps} steps, {report.lists_trained} lists)")
    for path in ("history", "request"):
        validated = report.validation.get(path) or {}
        best = validated.get("best_mix") or {}
        print(f"validation NDCG@10 on {report.validation_users} held-out users' {path} lists: no reranker "
              f"{validated.get('no_reranker', {}).get('ndcg@10')}, with it {best.get('ndcg@10')} (95% CI of the gain {best.get('ci95')})")
    return 0


@command("train-content-model")
def train_content_model_command(args: argparse.Namespace, settings: Settings) -> int:
    """Fit the learned content model on the store's interactions and save it as <data_dir>/content_model.npz."""
    import torch  # noqa: F401 — a missing torch is reported now, not after loading the store
    from whyrec.store.records import Dataset
    from whyrec.tools.evaluation.content_model_ranker import fit_on_split
    from whyrec.tools.evaluation.splits import leave_one_out

    store = ensure_ingested(settings)
    items = store.db.items()
    split = leave_one_out(Dataset(store.db.dataset_name(), list(items.values()), store.db.all_interactions()))
    catalog = [items[i] for i in split.items]
    logging.getLogger("whyrec.tools.training.content_model_fit").setLevel(logging.INFO)  # one line an epoch
    print(f"fitting on {len(split.train)} users' histories; each user's last item picks the epoch …", flush=True)
    model = fit_on_split(split, catalog, store.index.vectors(list(split.items)), stage="test")
    path = settings.data_dir / "content_model.npz"
    model.save(path)
    print(f"content model saved to {path} (epoch {model.card['best_epoch']}, validation NDCG@10 {model.card['validation_ndcg@10']}, {model.card['seconds']:.0f} s)")
    return 0


@command("evaluate")
def evaluate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Score baselines and the pipeline on MovieLens-100K: leave-one-out and a split at a point in time, full ranking."""
    from whyrec.store.movielens import load_movielens_100k
    from whyrec.tools.evaluation.report import run_evaluation, write_report

    protocols = tuple(args.protocol) if args.protocol else ("leave_one_out", "temporal")
    report = run_evaluation(
        ensure_ingested(settings), load_movielens_100k(), users=args.users or None, progress=True, protocols=protocols,
        cross_encoder_users=args.cross_encoder_users or None,
    )
    print(write_report(report, args.output))
    for name, section in report["protocols"].items():
        print(f"\n{name}: {section['users']} users, {section['protocol']}")
    print(f"JSON in {args.output}")
    return 0


@command("simulate")
def simulate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Simulated users with hidden targets talk to the API, the keyword router or the agent; prints a table."""
    from whyrec.store.movielens import load_movielens_100k
    from whyrec.tools.evaluation.conversation.benchmark import (
        RecommenderSystem,
        prepare_simulation_store,
        run_benchmark,
        simulation_settings,
        table,
    )
    from whyrec.tools.evaluation.splits import leave_one_out, temporal_split
    from whyrec.tools.recommend.recommender import Recommender

    ensure_ingested(settings)
    dataset = load_movielens_100k()
    split = temporal_split(dataset) if args.protocol == "temporal" else leave_one_out(dataset)
    output = args.output or Path("benchmarks") / ("conversation_temporal.json" if args.protocol == "temporal" else "conversation.json")
    store = prepare_simulation_store(settings, dataset, split)
    recommender = Recommender(store)
    names = [n for value in args.system for n in value.split(",") if n]
    systems, details = [], {}
    for name in names:
        if name in ("api", "api-unparsed"):  # api-unparsed: the request embedded as text, nothing read from it
            api = recommender if name == "api" else Recommender(store, request_parsing=False)
            systems.append(RecommenderSystem(api, k=args.k))
            systems[-1].name = name
            details[name] = {
                "reranker": "trained" if api.reranker is not None else "none",
                "request_parsing": api.request_parsing,
            }
        elif name in ("router", "agent"):
            from whyrec.agent.simulated_systems import agent_system, router_system

            if name == "router":
                systems.append(router_system(recommender, store.settings))
            else:
                system = agent_system(recommender, store.settings, on_status=lambda m: print(m, flush=True))
                print(f"agent ({system.agent.mode} mode): {system.agent.start()}", flush=True)
                if settings.agent_mode != "auto":  # not the shipped default: its own row
                    system.name = f"agent-{system.agent.mode}"
                systems.append(system)
            details[systems[-1].name] = {"reranker": "trained" if recommender.reranker is not None else "none"}
            if name == "agent":
                details[systems[-1].name].update(model=systems[-1].agent.model_location, mode=systems[-1].agent.mode)
        else:
            raise InputError(f"--system {name!r} is not known — use api, api-unparsed, router or agent")
    paraphrase, server = None, None
    if args.paraphrase:  # the endpoint in the settings, else the embedded local model (a held-out wording of the templates)
        from whyrec.agent.chat_model import make_chat_model

        if not settings.llm_base_url:
            from whyrec.agent.local_model import LocalModelServer

            print("starting the local model for --paraphrase …", flush=True)
            server = LocalModelServer.from_settings(settings, progress=False).start()
        # greedy: one rewording a line, the same in every run on a machine, so rows of one run compare and runs do too
        # (at temperature 0.7 two runs of the same code differed by 0.07 in request satisfaction)
        model = make_chat_model(settings, server=server, temperature=0.0, max_tokens=80)
        # one rewording a line: every system hears the same words for the same template line, so rows compare
        paraphrase = functools.cache(lambda line: model.invoke(
            "Rephrase this movie-night request as a person would say it; keep every detail, add none, answer with the line only:\n" + line
        ).text)
    try:
        rows = run_benchmark(
            systems, store, dataset, users=args.users, turns=args.turns, output=output, seed=args.seed, k=args.k,
            paraphrase=paraphrase, details=details, progress=True, split=split,
        )
        if args.state_users:  # topic changes, dislikes, "why the second one?" on changed cards (chat systems only)
            import random

            from whyrec.tools.evaluation.conversation.benchmark import write_rows
            from whyrec.tools.evaluation.conversation.state_suite import run_state_suite

            people = random.Random(args.seed).sample(sorted({x.user_id for x in dataset.interactions}), args.state_users)
            for system, row in zip(systems, rows, strict=True):
                if hasattr(system, "agent"):
                    row.update(run_state_suite(system.agent, people, args.seed, progress=lambda m: print(m, end="\r", flush=True)))
                    write_rows(output, [row], dataset.name)
            print()
    finally:
        for system in systems:
            if hasattr(system, "agent"):
                system.agent.close()
        if server is not None:
            server.stop()
    print(table(rows))
    print(f"\n{rows[0]['sessions'] if rows else 0} sessions per system ({args.protocol}), up to {args.turns} turns; "
          f"store {simulation_settings(settings, split).data_dir}; JSON in {output}")
    return 0


@command("chat")
def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    """Chat with the recommender in the terminal (local model unless WHYREC_LLM_BASE_URL is set)."""
    from whyrec.ui.recommender_setup import open_recommender as open_with_summaries, shared_local_model
    from whyrec.ui.terminal_chat import run_terminal_chat

    local_model = shared_local_model(settings)  # one llama.cpp for the chat and its background interest summaries
    recommender = open_with_summaries(settings, ensure_ingested(settings), local_model)
    run_terminal_chat(settings, args.user, args.conversation, recommender=recommender, server=local_model)
    return 0


@command("demo")
def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest MovieLens-100K if needed, train the reranker in the background if needed, open the app."""
    from whyrec.ui.api_keys import ApiKeys, require_keys_off_localhost
    from whyrec.ui.server import launch_app

    require_keys_off_localhost(args.host, ApiKeys.parse(settings.api_keys), insecure=args.insecure)  # before a minute of ingesting
    ensure_ingested(settings)
    launch_app(settings, host=args.host, port=args.port, train_if_needed=True, insecure=args.insecure)
    return 0


@command("serve")
def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the app and its API (and an MCP server with --mcp, an OpenAI-compatible chat with --openai) for other chatbots."""
    from whyrec.ui.api_keys import ApiKeys, require_keys_off_localhost
    from whyrec.ui.server import launch_app

    require_keys_off_localhost(args.host, ApiKeys.parse([*settings.api_keys, *(args.api_key or [])]), insecure=args.insecure)  # before a minute of ingesting
    ensure_ingested(settings)
    launch_app(
        settings, host=args.host, port=args.port, auth=args.auth, mcp=args.mcp, openai=args.openai, api_keys=args.api_key, insecure=args.insecure
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whyrec", description="A conversational recommender that explains itself.")
    parser.add_argument("--data-dir", type=Path, help="where the store lives (default: $WHYREC_DATA_DIR or ~/.local/share/whyrec)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help=ingest_command.__doc__)
    p.add_argument("--catalog", type=Path, help="your catalog file (.csv, .jsonl or .parquet)")
    p.add_argument("--interactions", type=Path, help="your interactions file (.csv, .jsonl or .parquet)")
    p.add_argument("--reembed", action="store_true", help="re-embed the catalog when the index was built by a different embedding model")
    sub.add_parser("stats", help=stats_command.__doc__)

    p = sub.add_parser("recommend", help=recommend_command.__doc__)
    p.add_argument("--user", required=True)
    p.add_argument("--request", help="free text, e.g. 'a funny 90s movie'")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--category", action="append", help="keep only this category (repeatable)")
    p.add_argument("--year-min", type=int)
    p.add_argument("--year-max", type=int)
    p.add_argument("--diversity", type=float, help="0 = most relevant … 1 = most varied")
    p = sub.add_parser("why", help=why_command.__doc__)
    p.add_argument("--user", required=True)
    p.add_argument("--item", required=True)
    p = sub.add_parser("profile", help=profile_command.__doc__)
    p.add_argument("--user", required=True)
    p = sub.add_parser("train-reranker", help=train_reranker_command.__doc__)
    p.add_argument("--max-users", type=int, help="train on fewer users (faster, for a try-out)")
    p.add_argument("--budget", type=float, help="seconds for the whole run (default: 900 on a CPU, no limit on CUDA; 0 = no limit)")
    p.add_argument("--loss", default="listnet", choices=("listnet", "ranknet", "bce"), help="training loss (default listnet)")
    p.add_argument("--requests", type=Path, help="labelled 'about' requests (JSON lines, e.g. benchmarks/data/concept_requests.jsonl): only rows marked dev are read")
    about = (train_content_model_command.__doc__ + " It is off: fused into the pipeline it adds +0.0049 NDCG@10 [-0.0001, +0.0100]"
             " on leave-one-out, an interval that touches 0, so the served pipeline does not read it (benchmarks/README.md, 'Learned content model').")
    sub.add_parser("train-content-model", help=about, description=about)
    p = sub.add_parser("evaluate", help=evaluate_command.__doc__)
    p.add_argument("--users", type=int, default=0, help="evaluate a seeded sample of users (default 0 = every evaluated user)")
    p.add_argument("--protocol", action="append", choices=("leave_one_out", "temporal"), help="only this protocol (repeatable; default both)")
    p.add_argument("--cross-encoder-users", type=int, default=0, help="score the cross-encoder rows on a seeded sample of this many users (0 = the same users as the rest)")
    p.add_argument("--output", type=Path, default=Path("benchmarks/quality.json"), help="the JSON report (its folder is created)")
    p = sub.add_parser("simulate", help=simulate_command.__doc__)
    p.add_argument(
        "--system", action="append", default=[], required=True,
        help="api, api-unparsed (no request parsing), router or agent (repeatable, or comma-separated)",
    )
    p.add_argument("--users", type=int, default=200, help="sessions per system (one per sampled user)")
    p.add_argument("--turns", type=int, default=5, help="turns that ask for items, per session (why turns come on top)")
    p.add_argument("-k", type=int, default=10, help="items the API shows per turn (the chat shows what its answer names)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--state-users", type=int, default=30, help="users who play the conversation-state scenarios (chat systems; 0 = none)")
    p.add_argument("--paraphrase", action="store_true", help="reword the user's lines with an LLM (WHYREC_LLM_BASE_URL's model, else the embedded one): a held-out wording")
    p.add_argument(
        "--protocol", default="leave_one_out", choices=("leave_one_out", "temporal"),
        help="leave_one_out: the newest item, asked right after the one before (mid-session); temporal: the first item after T, asked at T (a person coming back)",
    )
    p.add_argument("--output", type=Path, help="default benchmarks/conversation.json (temporal: conversation_temporal.json)")
    p = sub.add_parser("chat", help=chat_command.__doc__)
    p.add_argument("--user", required=True)
    p.add_argument("--conversation", help="conversation id to continue (default: a new one)")
    for name, fn in (("demo", demo_command), ("serve", serve_command)):
        p = sub.add_parser(name, help=fn.__doc__)
        p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
        p.add_argument("--port", type=int, help="port (default: the first free one from 7860)")
        p.add_argument("--insecure", action="store_true", help="serve beyond 127.0.0.1 with no API key (anyone who reaches the port can read and change every user's data)")
    p.add_argument("--mcp", action="store_true", help="also serve the tools over MCP")
    p.add_argument("--openai", action="store_true", help="also serve an OpenAI-compatible chat at /v1 (model 'whyrec')")
    p.add_argument(
        "--api-key", action="append", metavar="KEY[:USER]",
        help="key every route needs, the page (log in at /whyrec/login), API, MCP and /v1 (repeatable); KEY:USER may only act for USER; required off 127.0.0.1",
    )
    p.add_argument("--auth", help="user:password required to open the app")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars in the middle of a chat
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        return COMMANDS[args.command](args, settings)
    except WhyrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        extra = EXTRA_OF.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"error: `whyrec {args.command}` needs {e.name}, which a core install leaves out — run `pip install 'whyrec[{extra}]'`", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
