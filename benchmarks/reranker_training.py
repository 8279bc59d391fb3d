"""The cross-encoder on text: losses (and base models) compared on the same candidate lists, each within a budget.

Run:  .venv/bin/python benchmarks/reranker_training.py [--runs listnet:900,bce:360] [--lists LISTS.json]

Protocol: ``tools.training.reranker_training`` (its docstring; each card repeats it). The lists are built once
from the store (``WHYREC_DATA_DIR``, default the MovieLens text catalog) with the labelled "about" requests'
dev half (``benchmarks/data/concept_requests.jsonl``; the test half is never read) and saved, so every run
trains and validates on the same lists. Each run ``loss:seconds[:base]`` trains within its seconds (the whole
call: training, the document-length curve and saving) into ``--models/<loss>-<base name>``. Writes
benchmarks/reranker_training.json: per run the card's training numbers and the validation against the
pipeline's own order, history-only lists and request lists apart.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.reranker import CARD_NAME
from whyrec.tools.training.candidate_lists import CandidateLists, build_candidate_lists, dev_requests
from whyrec.tools.training.reranker_training import train_reranker

HERE = Path(__file__).parent
WORK = Path.home() / ".cache" / "whyrec-benchmarks" / "reranker"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="listnet:900,bce:360", help="comma-separated loss:seconds[:base model path]; empty: build the lists only")
    parser.add_argument("--lists", type=Path, default=WORK / "lists.json", help="the candidate lists (built and saved when missing)")
    parser.add_argument("--models", type=Path, default=WORK / "models")
    parser.add_argument("--requests", type=Path, default=HERE / "data" / "concept_requests.jsonl")
    parser.add_argument("--output", type=Path, default=HERE / "reranker_training.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    store = Store.open(Settings())
    if args.lists.exists():
        lists = CandidateLists.load(args.lists)
    else:
        lists = build_candidate_lists(store, concept_requests=dev_requests(args.requests))
        args.lists.parent.mkdir(parents=True, exist_ok=True)
        lists.save(args.lists)
    rows = []
    for spec in filter(None, args.runs.split(",")):
        loss, seconds, *base = spec.split(":")
        base_model = base[0] if base else store.settings.resolved_embedding_model()
        output = args.models / f"{loss}-{Path(base_model).name}"
        train_reranker(store, output, loss=loss, base_model=base_model, time_budget_s=float(seconds), lists=lists, progress=False)
        card = json.loads((output / CARD_NAME).read_text())
        rows.append({"model": str(output)} | {k: card[k] for k in (
            "base_model", "loss", "lists", "lists_by_kind", "lists_trained", "steps", "training_seconds", "pairs_per_second",
            "loss_curve", "query_format", "doc_chars_curve", "validation",
        )})
        print(f"{loss} on {Path(base_model).name}: {card['steps']} steps, {card['lists_trained']} lists in {card['training_seconds']} s")
        for path in ("history", "request"):
            v = card["validation"].get(path) or {}
            print(f"  {path}: no reranker {v.get('no_reranker', {}).get('ndcg@10')}, alone {v.get('cross_encoder_alone', {}).get('ndcg@10')}, "
                  f"best mix {v.get('best_mix')}")
    report = {
        "benchmark": "cross-encoder on item text: losses and base models on the same candidate lists",
        "dataset": store.db.dataset_name(),
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "lists": {"train": len(lists.train), "validation": len(lists.validation), "seconds": lists.seconds},
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
