"""The CPU half before the GPU run: everything the device needs, small enough to travel with the working tree.

Run here:  .venv/bin/python benchmarks/gpu_prepare.py [--lists LISTS.json] [--out benchmarks/gpu_payload]

Writes into ``--out`` (about 45 MB; the device run carries it, e.g. ``run(carry=["benchmarks/gpu_payload"])``):

- ``model/``: the packaged all-MiniLM-L6-v2 as an fp16 copy: the embedding step's model and the cross-encoder's base;
- ``lists.jsonl.gz``: every training list (query, the top ``--list-size`` candidates' text, 0/1 labels), in
  the card's query format: the same lists ``benchmarks/reranker_training.py`` builds and saves
  (validation lists stay here: validation runs on the CPU, ``benchmarks/gpu_finish.py``);
- ``texts.jsonl.gz``: the catalog's item texts, which the embedding step repeats up to ``--texts``;
- ``manifest.json``: the loss, sequence length, query format and counts the device and the finish step read.

Then on the device: ``bash benchmarks/gpu_run.sh``; back here: ``benchmarks/gpu_finish.py``.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent
WORK = Path.home() / ".cache" / "whyrec-benchmarks" / "reranker"


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def prepare(lists_path: Path, out: Path, base_model: str, texts: list[str], loss: str = "listnet", list_size: int = 10, max_seq_length: int = 192) -> dict:
    """Write the payload into ``out``; its manifest."""
    from sentence_transformers import SentenceTransformer
    from whyrec.tools.training.candidate_lists import CandidateLists

    lists = CandidateLists.load(lists_path)
    out.mkdir(parents=True, exist_ok=True)
    model = SentenceTransformer(base_model, device="cpu", local_files_only=True).half()
    model.save(str(out / "model"))
    training = [c.training_list(list_size) for c in lists.train if min(c.positives) < list_size]
    write_jsonl_gz(out / "lists.jsonl.gz", [{"query": x.query, "docs": x.docs, "labels": x.labels} for x in training])
    write_jsonl_gz(out / "texts.jsonl.gz", [{"text": t} for t in texts])
    manifest = {
        "base_model": base_model, "loss": loss, "list_size": list_size, "max_seq_length": max_seq_length,
        "query_format": lists.query_format.to_dict(), "lists": len(training), "lists_file": str(lists_path),
        "train_users": len(lists.train_users), "texts": len(texts),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    from whyrec.store.catalog import Store
    from whyrec.store.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=Path, default=WORK / "lists.json", help="saved by benchmarks/reranker_training.py")
    parser.add_argument("--out", type=Path, default=HERE / "gpu_payload")
    parser.add_argument("--loss", default="listnet")
    args = parser.parse_args()
    store = Store.open(Settings())
    texts = [item.text for item in store.db.items().values()]
    manifest = prepare(args.lists, args.out, store.settings.resolved_embedding_model(), texts, args.loss)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(json.dumps(manifest, indent=2))
    print(f"payload: {size / 2**20:.1f} MiB in {args.out}")


if __name__ == "__main__":
    main()
