"""The GPU run starts: prepare here, the device script on the CPU with tiny sizes and without our other dependencies, finish here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from whyrec.store.records import Dataset
from whyrec.tools.recommend.reranker import Reranker

from tests.conftest import SMALL_CATALOG, history

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_finish  # noqa: E402
import gpu_prepare  # noqa: E402
from whyrec.tools.training.candidate_lists import build_candidate_lists  # noqa: E402

# What the device lacks: importing any of these there fails, so the device script must never need them.
NOT_ON_THE_DEVICE = ("whyrec", "chromadb", "implicit", "datasets", "sentence_transformers", "recbole", "langchain_core")


def device_python(tmp_path: Path) -> Path:
    """A ``python3`` like the device's: this interpreter with our package and the libraries it lacks made unimportable."""
    prelude = (
        "import sys, runpy; [sys.modules.__setitem__(m, None) for m in %r]; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')" % (NOT_ON_THE_DEVICE,)
    )
    script = tmp_path / "python3"
    script.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi\nexec {sys.executable} -c "{prelude}" "$@"\n')
    script.chmod(0o755)
    return script


def test_the_gpu_run_starts_on_a_cpu_with_tiny_sizes_and_its_model_comes_back(empty_store, tmp_path):
    ids = [item.item_id for item in SMALL_CATALOG]
    log = [x for n in range(12) for x in history(f"u{n}", [ids[(n * 5 + 3 * j) % len(ids)] for j in range(10)], rating=5.0)]
    empty_store.ingest(Dataset("lists", list(SMALL_CATALOG), log), progress=False)
    lists_path = tmp_path / "lists.json"
    build_candidate_lists(empty_store, list_size=6, validation_users=3, request_share=0.5, seed=1).save(lists_path)

    payload, out = tmp_path / "payload", tmp_path / "out"
    manifest = gpu_prepare.prepare(lists_path, payload, empty_store.settings.resolved_embedding_model(), [i.text for i in SMALL_CATALOG], list_size=6, max_seq_length=64)
    assert manifest["lists"] > 0
    size = sum(p.stat().st_size for p in payload.rglob("*") if p.is_file())
    assert size < 60 * 2**20  # fits the 64 MiB that travel, with the working tree

    env = os.environ | {"PYTHON": str(device_python(tmp_path)), "DEVICE_TIMEOUT": "500"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_run.sh"), "--out", str(out), "--device", "cpu", "--texts", "8",
         "--batch-sizes", "2,4", "--budget", "60", "--max-steps", "1", "--payload", str(payload)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (out / "summary.txt").read_text()
    assert "device: ok" in summary, (out / "device.log").read_text()
    results = json.loads((out / "gpu_results.json").read_text())
    assert [row["batch_size"] for row in results["embed"]] == [2, 4] and results["embed"][0]["texts"] == 8
    assert results["reranker"]["steps"] == 1 and results["reranker"]["lists"] == manifest["lists"]
    parts = sorted(out.glob("reranker.tar.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    assert len(list(out.iterdir())) <= 8  # at most 8 files come back from the device

    card = gpu_finish.finish(out, lists_path, tmp_path / "reranker", empty_store)
    assert card["steps"] == results["reranker"]["steps"] and card["device"] == "cpu"
    assert "history" in card["validation"] and "request" in card["validation"]
    assert Reranker(tmp_path / "reranker", backend="torch").trained
