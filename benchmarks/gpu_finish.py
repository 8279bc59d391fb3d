"""The CPU half after the GPU run: join the trained cross-encoder's parts, validate it here, save it with its card.

Run here, with the files the device run brought back in one folder:

    .venv/bin/python benchmarks/gpu_finish.py --back FOLDER [--lists LISTS.json] [--output ~/.local/share/whyrec/reranker]

``FOLDER`` holds ``gpu_results.json`` and ``reranker.tar.part-*`` (``benchmarks/gpu_device.py``). The model is
validated on the same held-out lists as a CPU run (``tools.training.reranker_training.validate_and_save``:
the document length is chosen there, the card records the device's training numbers), then ``whyrec evaluate``
and ``benchmarks/concepts.py`` measure it like any other.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import tempfile
from pathlib import Path

WORK = Path.home() / ".cache" / "whyrec-benchmarks" / "reranker"


def join_parts(back: Path, into: Path) -> Path:
    """The model folder packed in ``back/reranker.tar.part-*``, unpacked under ``into``."""
    parts = sorted(back.glob("reranker.tar.part-*"))
    if not parts:
        raise SystemExit(f"{back}: no reranker.tar.part-* files — copy what the device run wrote to $OUT here")
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts)), mode="r") as tar:
        tar.extractall(into, filter="data")
    return into / "model"


def finish(back: Path, lists_path: Path, output: Path, store) -> dict:
    """Validate and save the device's model; its card."""
    from whyrec.store.embeddings import pick_device
    from whyrec.tools.training.cross_encoder_fit import FitResult
    from whyrec.tools.training.candidate_lists import CandidateLists
    from whyrec.tools.training.reranker_training import load_cross_encoder, validate_and_save

    results = json.loads((back / "gpu_results.json").read_text())
    trained, manifest = results["reranker"], results["payload"]
    fit = FitResult(**{k: trained[k] for k in ("steps", "lists_seen", "seconds", "pairs_per_second", "stopped_at_time_budget", "losses")})
    with tempfile.TemporaryDirectory() as tmp:
        folder = join_parts(back, Path(tmp))
        model = load_cross_encoder(str(folder), manifest["max_seq_length"], pick_device(store.settings.device))
        model.model.float()
        report = validate_and_save(
            model, CandidateLists.load(lists_path), store, output, fit, base_model=manifest["base_model"], loss=trained["loss"],
            list_size=manifest["list_size"], batch_size=trained["batch_lists"], learning_rate=trained["learning_rate"],
            max_seq_length=manifest["max_seq_length"], epochs=trained["epochs_asked"], device=results["device"] + (f" ({results['gpu']})" if results.get("gpu") else ""),
        )
    return report.to_dict()


def main() -> None:
    from whyrec.store.catalog import Store
    from whyrec.store.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--back", type=Path, required=True, help="the folder with gpu_results.json and reranker.tar.part-*")
    parser.add_argument("--lists", type=Path, default=WORK / "lists.json")
    parser.add_argument("--output", type=Path, default=WORK / "models" / "gpu")
    args = parser.parse_args()
    report = finish(args.back, args.lists, args.output, Store.open(Settings()))
    for path in ("history", "request"):
        v = report["validation"].get(path) or {}
        print(f"{path}: no reranker {v.get('no_reranker', {}).get('ndcg@10')}, best mix {v.get('best_mix')}")
    print(f"saved to {args.output}")


if __name__ == "__main__":
    main()
