"""What item text costs at ingest: the packaged MovieLens-100K ingested with and without overviews and keywords.

Run:  .venv/bin/python benchmarks/ingest_time.py [--repeats 1]

Protocol: a fresh data directory per run (temporary; embedded Chroma, SQLite), the packaged all-MiniLM-L6-v2
on the CPU (or CUDA when present), the whole ``Store.ingest``: embedding every item, writing the vectors and
the catalog and 100,000 ratings. The embedding model is loaded before the clock starts (both rows would pay it
alike). Rows: the catalog with item text (title, year, genres, TMDB overview and keywords: the default) as a
default ingest runs it, taking the vectors whyrec ships for exactly these texts (store/packaged_vectors.py) and
embedding none; the same catalog embedded cold (the shipped vectors hidden: what a catalog of one's own with
as much text costs); and the text-less catalog (title, year and genres: the catalog before item text, embedded
cold), alternated so that a noisy neighbour hits all; the median of the repeats. Embedding runs on ONNX
Runtime on a CPU (store/embeddings.py). The target: the default ingest at most twice the text-less time on
2 cores. The load average at the start is recorded beside the times (the box is shared).
Writes benchmarks/ingest_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from concepts import textless

from whyrec.store import packaged_vectors
from whyrec.store.catalog import Store
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import ITEM_TEXT_VERSION
from whyrec.store.settings import Settings

HERE = Path(__file__).parent
SHIPPED = packaged_vectors.PACKAGED_VECTORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output", type=Path, default=HERE / "ingest_time.json")
    args = parser.parse_args()

    dataset = load_movielens_100k()
    load = os.getloadavg()
    catalogs = {  # name -> (dataset, whether the shipped vectors are visible)
        "with item text (default: shipped vectors)": (dataset, True),
        "with item text, embedded cold": (dataset, False),
        "text-less": (textless(dataset), False),
    }
    seconds: dict[str, list[float]] = {name: [] for name in catalogs}
    embedded: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, (data, shipped) in catalogs.items():
            with tempfile.TemporaryDirectory() as folder:
                packaged_vectors.PACKAGED_VECTORS = SHIPPED if shipped else Path(folder) / "none.npz"
                store = Store.open(Settings(data_dir=Path(folder), embedding_model=""))
                store.embedder.encode(["warm up"])  # the model's load is not the data's cost
                report = store.ingest(data, progress=True)
                seconds[name].append(report.seconds)
                embedded[name] = report.index.embedded - report.index.packaged
    rows = [
        {"catalog": name, "items": len(catalogs[name][0].items), "embedded": embedded[name],
         "seconds_median": round(statistics.median(s), 1), "seconds": [round(x, 1) for x in s]}
        for name, s in seconds.items()
    ]
    ratio = rows[0]["seconds_median"] / rows[2]["seconds_median"]
    cold_ratio = rows[1]["seconds_median"] / rows[2]["seconds_median"]
    print(f"\nload average at start: {load[0]:.1f}\n| catalog | items | embedded | ingest s (median) |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['catalog']} | {row['items']:,} | {row['embedded']:,} | {row['seconds_median']} |")
    print(f"default / text-less: {ratio:.2f}x (target <= 2x); cold / text-less: {cold_ratio:.2f}x")
    args.output.write_text(json.dumps({
        "benchmark": "ingest time with and without item text",
        "dataset": dataset.name,
        "item_text_version": ITEM_TEXT_VERSION,
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": args.repeats,
        "load_average_at_start": [round(x, 2) for x in load],
        "embedding_runtime": store.embedder.runtime,
        "rows": rows,
        "ratio": round(ratio, 2),
        "ratio_embedded_cold": round(cold_ratio, 2),
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
