"""Item and query embeddings with sentence-transformers, on the GPU when there is one."""

from __future__ import annotations

import logging
from functools import cached_property

import numpy as np

from whyrec.store.records import ITEM_TEXT_MAX_PIECES
from whyrec.store.settings import Settings

log = logging.getLogger(__name__)


def pick_device(requested: str | None = None) -> str:
    """The setting if given, else CUDA when present, else CPU."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ItemEmbedder:
    """Encodes texts into L2-normalised float32 vectors (cosine = dot product).

    The model loads lazily: opening a store to read stats should not cost the
    10 s that importing and loading sentence-transformers takes.
    """

    def __init__(self, settings: Settings):
        self.model_path = settings.resolved_embedding_model()
        self.device = pick_device(settings.device)
        self.batch_size = settings.embed_batch_size

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
        if self.device.startswith("cuda"):
            model.half()  # fp16 halves memory and roughly doubles throughput on GPUs
        log.info("loaded embedding model %s on %s", self.model_path, self.device)
        if (model.max_seq_length or 0) < ITEM_TEXT_MAX_PIECES + 2:  # + its [CLS] and [SEP]
            log.warning(
                "embedding model %s reads %s word pieces, fewer than the %d item texts are cut to: the end of long item texts "
                "(their keywords) is not embedded",
                self.model_path, model.max_seq_length, ITEM_TEXT_MAX_PIECES,
            )
        return model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)
