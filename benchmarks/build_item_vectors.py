"""Build store/data/movielens_100k_vectors.npz: the packaged catalog's item vectors, so its ingest need not embed them.

Run:  .venv/bin/python benchmarks/build_item_vectors.py

Embeds every item text of the packaged MovieLens-100K catalog (store/data/movielens_100k_text.jsonl.gz,
format ITEM_TEXT_VERSION) with the packaged all-MiniLM-L6-v2 as ``whyrec ingest`` would on this machine
(ONNX Runtime on a CPU), and writes them in fp16 keyed by each text's hash, with the model's fingerprint.
Rerun it whenever the catalog's text or its format changes: an ingest uses a shipped vector only for
exactly the text it was made from (store/packaged_vectors.py), so a stale file costs time, never accuracy.
"""

from __future__ import annotations

import logging
import tempfile

from whyrec.store.embeddings import ItemEmbedder
from whyrec.store.movielens import load_movielens_100k
from whyrec.store.packaged_vectors import PACKAGED_VECTORS, write_packaged_vectors
from whyrec.store.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    items = load_movielens_100k().items
    with tempfile.TemporaryDirectory() as cache:
        embedder = ItemEmbedder(Settings(data_dir=cache, cache_dir=cache, embedding_model="", device="cpu"))
        write_packaged_vectors(PACKAGED_VECTORS, embedder, {item.text_hash: item.text for item in items})
    print(f"wrote {len(items)} vectors ({embedder.runtime}, {embedder.name} {embedder.version}) to {PACKAGED_VECTORS} "
          f"({PACKAGED_VECTORS.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
