"""The GPU half of the GPU run: what needs the accelerator, and nothing else.

Run on the device (its own ``python3``: torch with CUDA and transformers; none of our other dependencies,
and no ``datasets``, without which sentence-transformers does not import, so neither is used here), from the
repository root, after ``benchmarks/gpu_prepare.py`` wrote the payload here:

    python3 benchmarks/gpu_device.py --payload benchmarks/gpu_payload --out "$OUT" [--texts 100000] [--budget 360]

Steps, each timed and recorded in ``$OUT/gpu_results.json``:

1. ``embed``: the payload's base model (fp16 on CUDA) encodes ``--texts`` catalog texts (the payload's item
   texts, repeated with a running number so no two are the same) at each ``--batch-sizes``: texts per second.
   Mean pooling and L2 normalisation, as the packaged all-MiniLM-L6-v2's sentence-transformers modules do.
2. ``reranker``: the cross-encoder is trained on every list in the payload (no subsample) with
   ``tools/training/cross_encoder_fit.py``, loaded by path, the very loop ``whyrec train-reranker`` runs on a
   CPU, until ``--budget`` seconds or ``--epochs`` are spent. The trained model folder is packed into one
   tar file and written back in parts of at most ``--part-mib`` MiB (``reranker.tar.part-00`` ...), so the
   device's limits on files coming back (8 files of 16 MiB) hold. ``benchmarks/gpu_finish.py`` joins them
   here and validates on the CPU.

``--device cpu`` with tiny sizes is the dry run the test suite makes (tests/tools/training/test_gpu_run.py).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import json
import logging
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIT = HERE.parent / "tools" / "training" / "cross_encoder_fit.py"


def load_fit_module():
    """``tools/training/cross_encoder_fit.py`` by path: it imports only torch and transformers."""
    spec = importlib.util.spec_from_file_location("cross_encoder_fit", FIT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def embed_throughput(model_dir: Path, texts: list[str], count: int, batch_sizes: list[int], device: str, max_length: int = 256) -> list[dict]:
    """Texts per second encoding ``count`` texts at each batch size (fp16 on CUDA), tokenising included."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).to(device).eval()
    model = model.half() if device.startswith("cuda") else model.float()
    corpus = [f"{texts[n % len(texts)]} #{n}" for n in range(count)]

    @torch.inference_mode()
    def encode(batch: list[str]):
        features = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(device)
        hidden = model(**features).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1)
        return torch.nn.functional.normalize(pooled.float(), dim=1)

    encode(corpus[: max(batch_sizes)])  # warm-up: kernels, allocator
    rows = []
    for batch in batch_sizes:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        dim = 0
        for at in range(0, len(corpus), batch):
            dim = encode(corpus[at : at + batch]).shape[1]
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rows.append({"batch_size": batch, "texts": len(corpus), "seconds": round(seconds, 2), "texts_per_s": round(len(corpus) / seconds, 1),
                     "dim": int(dim), "dtype": str(next(model.parameters()).dtype)})
        logging.info("embed: batch %d, %.0f texts/s", batch, rows[-1]["texts_per_s"])
    return rows


def write_parts(folder: Path, out: Path, part_mib: float) -> list[str]:
    """``folder`` as one tar, cut into parts of at most ``part_mib`` MiB in ``out``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname="model")
    data, size = buffer.getvalue(), int(part_mib * 1024 * 1024)
    names = []
    for n, start in enumerate(range(0, len(data), size)):
        name = f"reranker.tar.part-{n:02d}"
        (out / name).write_bytes(data[start : start + size])
        names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payload", type=Path, default=HERE / "gpu_payload")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default=None, help="default: cuda when torch sees one, else cpu")
    parser.add_argument("--steps", default="embed,reranker")
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--batch-sizes", default="64,256,1024")
    parser.add_argument("--budget", type=float, default=360.0, help="seconds of reranker training")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (the dry run: 1)")
    parser.add_argument("--batch-lists", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--part-mib", type=float, default=15.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((args.payload / "manifest.json").read_text())
    model_dir = args.payload / "model"
    results: dict = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "payload": manifest,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    steps = args.steps.split(",")
    if "embed" in steps:
        texts = [row["text"] for row in read_jsonl_gz(args.payload / "texts.jsonl.gz")]
        results["embed"] = embed_throughput(model_dir, texts, args.texts, [int(b) for b in args.batch_sizes.split(",")], device)
    if "reranker" in steps:
        fit = load_fit_module()
        lists = [fit.TrainingList(r["query"], r["docs"], r["labels"]) for r in read_jsonl_gz(args.payload / "lists.jsonl.gz")]
        # the payload is fp16 to travel light; the optimiser keeps fp32 weights (loaded as float), autocast runs bf16/fp16
        network, tokenizer = fit.load_sequence_classifier(str(model_dir), device)
        deadline = time.perf_counter() + args.budget
        result = fit.fit_cross_encoder(
            network, tokenizer, lists, max_length=manifest["max_seq_length"], loss=manifest["loss"], batch_lists=args.batch_lists,
            learning_rate=args.learning_rate, epochs=args.epochs, max_steps=args.max_steps, deadline=deadline,
        )
        results["reranker"] = {"lists": len(lists), "loss": manifest["loss"], "batch_lists": args.batch_lists,
                               "learning_rate": args.learning_rate, "epochs_asked": args.epochs} | vars(result)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            network.half().save_pretrained(str(folder))
            tokenizer.save_pretrained(str(folder))
            results["reranker"]["parts"] = write_parts(folder, args.out, args.part_mib)
    (args.out / "gpu_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "payload"}, indent=2))


if __name__ == "__main__":
    main()
