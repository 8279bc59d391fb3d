"""The packaged MovieLens-100K catalog's item vectors, shipped so its ingest need not embed them.

Why: embedding ~130 word pieces for each of 1,682 items is nearly all of a default ingest's time
on a CPU (benchmarks/ingest_time.json). The vectors are made by our own code
(``benchmarks/build_item_vectors.py``, with the packaged all-MiniLM-L6-v2) and stored in fp16
(cosine to fp32 > 0.9999), keyed by each item's embedded-text hash (:attr:`Item.text_hash`)
and carrying the model's fingerprint (:attr:`ItemEmbedder.fingerprint`). An ingest takes a
shipped vector only when the embedder's fingerprint agrees and the item's text is exactly
the text it was made from; anything else (a user's catalogue, an edited overview, a new text
format, another model) is embedded as usual.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import numpy as np

from whyrec.store.embeddings import SAME_MODEL_COSINE, ItemEmbedder, same_vectors

log = logging.getLogger(__name__)

PACKAGED_VECTORS = Path(str(files("whyrec.store") / "data" / "movielens_100k_vectors.npz"))


@functools.cache
def _load(path: Path) -> tuple[np.ndarray, dict[str, int], np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as shipped:
        hashes = [h.decode("ascii") for h in shipped["text_hashes"]]
        return shipped["fingerprint"].astype(np.float32), {h: n for n, h in enumerate(hashes)}, shipped["vectors"]


def packaged_vectors(embedder: ItemEmbedder, text_hashes: Iterable[str], path: Path | None = None) -> dict[str, np.ndarray]:
    """Shipped float32 unit vectors for those of ``text_hashes`` the file holds, if ``embedder`` is the model that made them."""
    wanted = list(text_hashes)
    shipped = _load(path or PACKAGED_VECTORS) if wanted else None
    if shipped is None:
        return {}
    fingerprint, rows, vectors = shipped
    found = [h for h in wanted if h in rows]
    if not found:
        return {}
    similarity = same_vectors(embedder.fingerprint, fingerprint)
    if similarity < SAME_MODEL_COSINE:
        log.info("the packaged item vectors were made by another model (fingerprint cosine %.3f); embedding every item", similarity)
        return {}
    chosen = vectors[[rows[h] for h in found]].astype(np.float32)
    chosen /= np.linalg.norm(chosen, axis=1, keepdims=True).clip(1e-12)
    return dict(zip(found, chosen, strict=True))


def write_packaged_vectors(path: Path, embedder: ItemEmbedder, texts: dict[str, str]) -> np.ndarray:
    """Embed ``texts`` (keyed by text hash) and write them with the model's fingerprint; returns the fp32 vectors."""
    hashes = sorted(texts)
    vectors = embedder.encode([texts[h] for h in hashes], progress=True)
    np.savez_compressed(
        path,
        text_hashes=np.array(hashes, dtype="S40"),
        vectors=vectors.astype(np.float16),
        fingerprint=embedder.fingerprint.astype(np.float32),
        model=np.array(f"{embedder.name} {embedder.version}".strip()),
    )
    return vectors
