"""Faster CPU inference for the cross-encoder: ONNX Runtime (fp32 or int8) and OpenVINO.

On a CPU the cross-encoder is the slowest stage of a recommendation (see
``benchmarks/README.md``). The model is exported once to ONNX with torch's own
exporter and run by ONNX Runtime, which ships with Chroma; ``onnx-int8`` adds ONNX
Runtime's dynamic int8 quantisation of the weights; ``openvino`` runs the same ONNX
file with Intel's OpenVINO runtime (``pip install 'whyrec[openvino]'``). We do not
use sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``, which
pins transformers below 5.

Exports live in ``<cache_dir>/reranker-onnx/<fingerprint>/``, the fingerprint being
the model folder's path and its files' sizes and times, so retraining the reranker
re-exports it and an unchanged model is exported only once.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from whyrec.store.errors import InputError, SetupError

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
"""What ``WHYREC_RERANKER_BACKEND`` accepts besides ``auto``."""

CPU_DEFAULT = "onnx-int8"
"""What ``auto`` picks without a GPU: the fastest backend in ``benchmarks/reranker_backends.json`` within 1% NDCG@10 of torch."""

Runner = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""Tokenizer features (numpy, batch first) in, one logit per pair out."""


def resolve_backend(backend: str, device: str) -> str:
    """``auto`` → torch on a GPU (fp16 there beats any CPU runtime), :data:`CPU_DEFAULT` on a CPU."""
    if backend == "auto":
        return "torch" if device.startswith("cuda") else CPU_DEFAULT
    if backend not in BACKENDS:
        raise InputError(f"unknown reranker backend {backend!r} — use auto, {', '.join(BACKENDS)}")
    return backend


def fingerprint(model_path: str | Path) -> str:
    """A short hash of the model folder's path and its files' names, sizes and modification times."""
    root = Path(model_path).resolve()
    digest = hashlib.sha256(str(root).encode())
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _input_names(model: Any, features: Mapping[str, Any]) -> list[str]:
    """The tokenizer's outputs in the order of ``model.forward``'s parameters.

    The exporter names graph inputs by position, so any other order would silently feed
    the attention mask in as token types.
    """
    order = list(inspect.signature(model.forward).parameters)
    return sorted(features, key=order.index)


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` then rename into ``target``, so a crash never leaves half a model behind."""
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".partial", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(model: Any, tokenizer: Any, model_path: str | Path, cache_dir: Path, int8: bool = False) -> Path:
    """The ONNX file for ``model`` (a transformers sequence classifier on the CPU), exporting it if needed."""
    import torch

    folder = Path(cache_dir).expanduser() / "reranker-onnx" / fingerprint(model_path)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        sample = tokenizer(["a query"], ["an item"], return_tensors="pt")
        names = _input_names(model, sample)
        log.info("exporting the reranker %s to %s", model_path, fp32)

        def export(tmp: Path) -> None:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # the exporter's tracer warnings are about Python control flow we don't use
                torch.onnx.export(
                    model.eval(),
                    (),
                    str(tmp),
                    kwargs={name: sample[name] for name in names},
                    dynamo=False,  # the TorchScript exporter: no onnxscript dependency, exact on BERT-style models
                    input_names=names,
                    output_names=["logits"],
                    dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in names}, "logits": {0: "batch"}},
                    opset_version=17,
                )

        _atomic_write(fp32, export)
    if not int8:
        return fp32
    quantised = folder / "model-int8.onnx"
    if not quantised.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        _atomic_write(quantised, lambda tmp: quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8))
    return quantised


def onnxruntime_runner(path: Path) -> Runner:
    """Run an exported model with ONNX Runtime's CPU provider, on the calling thread alone.

    One intra-op thread: inside the recommender's process ONNX Runtime's own pool competes with
    torch's and the BLAS threads, and 10 pairs took 157-166 ms with the default pool against
    70-82 ms on one thread (2 cores, the pipeline's top 10, benchmarks/README.md "Latency").
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    return lambda features: session.run(None, {name: features[name] for name in wanted})[0].reshape(-1)


def openvino_runner(path: Path) -> Runner:
    """Run an exported model with OpenVINO on the CPU (the same ONNX file, read directly)."""
    try:
        import openvino as ov
    except ImportError:
        raise SetupError("the openvino reranker backend needs OpenVINO — run `pip install 'whyrec[openvino]'` or use onnx") from None
    compiled = ov.Core().compile_model(str(path), "CPU")
    wanted = [port.get_any_name() for port in compiled.inputs]

    def run(features: Mapping[str, np.ndarray]) -> np.ndarray:
        # a request per call: the compiled model's own shared request is not safe across the app's worker threads
        outputs = compiled.create_infer_request().infer({name: features[name] for name in wanted})
        return np.asarray(outputs[compiled.output(0)]).reshape(-1)

    return run


def make_runner(backend: str, model: Any, tokenizer: Any, model_path: str | Path, cache_dir: Path) -> Runner:
    """The runner for an exported backend (not ``torch``, which the caller runs itself)."""
    path = export_onnx(model, tokenizer, model_path, cache_dir, int8=backend == "onnx-int8")
    return openvino_runner(path) if backend == "openvino" else onnxruntime_runner(path)
