"""Embedding throughput, index build time and Chroma query latency at several catalog sizes.

Run:  .venv/bin/python benchmarks/embedding_and_index.py [--embed 1682 10000] [--index 1000 100000] [--batch-size 64]

* Embedding: items/s of the packaged all-MiniLM-L6-v2 on the MovieLens-100K catalog
  (1,682 real item texts) and on synthetic catalogs (generated item texts, clearly
  labelled synthetic) of the sizes given; CUDA (fp16) when present, else CPU.
* Index: time to upsert N vectors into a fresh embedded Chroma collection (cosine HNSW)
  and p50/p95 latency of a 100-nearest-neighbour query, with the process's peak RSS.
  Synthetic random unit vectors stand in for item vectors at sizes we would not embed
  here (1M items would take ~1.5 h on 2 CPU cores).
Writes benchmarks/embedding_and_index.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from whyrec.store.embeddings import ItemEmbedder
from whyrec.store.item_index import ItemIndex
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.records import Item
from whyrec.store.settings import Settings

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Documentary", "Animation", "Western"]
WORDS = "lost city night river storm secret king heart road war dream star ghost winter summer last first dark golden silent".split()


def synthetic_items(n: int, seed: int = 0) -> list[Item]:
    """Generated item texts of MovieLens-like length (synthetic, not real data)."""
    rng = random.Random(seed)
    return [
        Item(
            f"syn{i}",
            " ".join(rng.choice(WORDS).title() for _ in range(rng.randint(1, 4))),
            f"A {rng.choice(WORDS)} story about the {rng.choice(WORDS)} {rng.choice(WORDS)}.",
            tuple(rng.sample(GENRES, rng.randint(1, 3))),
            rng.randint(1920, 2025),
        )
        for i in range(n)
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def embed_row(embedder: ItemEmbedder, name: str, items: list[Item], batch_size: int) -> dict:
    texts = [item.text for item in items]
    embedder.encode(texts[:64], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    embedder.encode(texts, batch_size=batch_size)
    seconds = time.perf_counter() - start
    return {"catalog": name, "items": len(items), "seconds": round(seconds, 2), "items_per_s": round(len(items) / seconds, 1)}


def index_row(settings: Settings, embedder: ItemEmbedder, n: int, queries: int = 200) -> dict:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "chroma_url": None})
        index = ItemIndex(local, embedder)
        start = time.perf_counter()
        for lo in tqdm(range(0, n, 5000), desc=f"index {n:,}", unit="batch of 5k"):
            vectors = rng.standard_normal((min(5000, n - lo), 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            index.collection.add(ids=[f"v{i}" for i in range(lo, lo + len(vectors))], embeddings=vectors, metadatas=[{"year": 2000}] * len(vectors))
        build = time.perf_counter() - start
        latencies = []
        for _ in range(queries):
            q = rng.standard_normal(384).astype(np.float32)
            start = time.perf_counter()
            index.query(q / np.linalg.norm(q), n=100)
            latencies.append(time.perf_counter() - start)
        size_mb = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 2**20
    return {
        "vectors": n,
        "build_s": round(build, 1),
        "vectors_per_s": round(n / build),
        "query_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 2),
        "query_p95_ms": round(float(np.percentile(latencies, 95)) * 1000, 2),
        "disk_mb": round(size_mb, 1),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embed", type=int, nargs="*", default=[10_000], help="synthetic catalog sizes to embed")
    parser.add_argument("--index", type=int, nargs="*", default=[1_000, 100_000], help="index sizes (random vectors)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("embedding_and_index.json"))
    args = parser.parse_args()

    settings = Settings()
    embedder = ItemEmbedder(settings)
    embeds = [embed_row(embedder, "movielens-100k (real)", load_movielens_100k().items, args.batch_size)]
    embeds += [embed_row(embedder, f"synthetic {n:,}", synthetic_items(n), args.batch_size) for n in args.embed]
    print(f"embedding on {embedder.device}, batch {args.batch_size}\n| catalog | items | seconds | items/s |\n|---|---|---|---|")
    for row in embeds:
        print(f"| {row['catalog']} | {row['items']:,} | {row['seconds']} | {row['items_per_s']} |")

    indexes = [index_row(settings, embedder, n) for n in args.index]
    print("\n| vectors | build s | vectors/s | query p50 ms | query p95 ms | disk MB | peak RSS MB |\n|---|---|---|---|---|---|---|")
    for row in indexes:
        print(f"| {row['vectors']:,} | {row['build_s']} | {row['vectors_per_s']} | {row['query_p50_ms']} | {row['query_p95_ms']} | {row['disk_mb']} | {row['peak_rss_mb']} |")

    args.output.write_text(json.dumps({
        "benchmark": "embedding throughput, index build, Chroma query latency",
        "device": embedder.device,
        "batch_size": args.batch_size,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding": embeds,
        "index": indexes,
    }, indent=2))


if __name__ == "__main__":
    main()
