"""The ``whyrec`` command line: one subcommand per thing a person does."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from store.errors import InputError
from store.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def open_store(settings: Settings):
    from store.catalog import Store

    return Store.open(settings)


def ensure_ingested(settings: Settings):
    """The store, ingesting the packaged MovieLens-100K first when it is empty."""
    store = open_store(settings)
    if store.db.stats().items == 0:
        print("No catalog yet: ingesting the packaged MovieLens-100K …", flush=True)
        _ingest(store, None, None)
    return store


def _ingest(store, catalog: Path | None, interactions: Path | None) -> None:
    from store.files import load_dataset
    from store.movielens import load_movielens_100k

    if interactions and not catalog:
        raise InputError("--interactions needs --catalog too — give both files, or neither for the packaged MovieLens-100K")
    dataset = load_dataset(catalog, interactions) if catalog else load_movielens_100k()
    report = store.ingest(dataset, progress=True)
    index = report.index
    print(
        f"ingested {report.dataset}: {report.items:,} items, {report.interactions:,} interactions, {report.users:,} users "
        f"in {report.seconds:.1f} s — embedded {index.embedded:,} ({report.items_per_second:.0f} items/s), "
        f"unchanged {index.unchanged:,}, removed {index.removed:,}"
    )


@command("ingest")
def ingest_command(args: argparse.Namespace, settings: Settings) -> int:
    """Load a catalog and interactions into SQLite and Chroma (packaged MovieLens-100K by default)."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whyrec", description="A conversational recommender that explains itself.")
    parser.add_argument("--data-dir", type=Path, help="where the store lives (default: $WHYREC_DATA_DIR or ~/.local/share/whyrec)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help=ingest_command.__doc__)
    p.add_argument("--catalog", type=Path, help="your catalog file (.csv, .jsonl or .parquet)")
    p.add_argument("--interactions", type=Path, help="your interactions file (.csv, .jsonl or .parquet)")
    sub.add_parser("stats", help=stats_command.__doc__)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        return COMMANDS[args.command](args, settings)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
