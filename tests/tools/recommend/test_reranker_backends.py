"""The exported cross-encoder backends give torch's scores, export once, and re-export after retraining."""

from __future__ import annotations

import numpy as np
import pytest

from whyrec.store.errors import InputError, SetupError
from tests.conftest import SMALL_CATALOG
from whyrec.tools.recommend.reranker import Reranker, query_text
from whyrec.tools.recommend.reranker_backends import BACKENDS, CPU_DEFAULT, fingerprint, resolve_backend

QUERY = query_text(SMALL_CATALOG[:3], "a space adventure")
DOCS = [item.text for item in SMALL_CATALOG]  # different lengths: padding must be handled like torch does


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The packaged MiniLM saved as a cross-encoder, so its (random) scoring head is fixed from one load to the next,
    in a private folder whose files can change without touching the installed model."""
    from whyrec.store.settings import Settings

    target = tmp_path_factory.mktemp("model") / "minilm"
    Reranker(Settings(data_dir="/nonexistent").resolved_embedding_model()).model.save(str(target))
    return target


@pytest.fixture(scope="module")
def torch_scores(model_dir):
    return Reranker(model_dir, backend="torch").score(QUERY, DOCS)


# How close each exported backend stays to torch. OpenVINO's fp32 kernels sum in an order that depends on the threads
# they get: under CPU contention a score moved by 1.3e-4 (a loaded 2-core CI-like box); 5e-4 still catches a wrong
# export or a thread race (those move scores by far more) and is far below any gap a ranking acts on.
FP32_ATOL = {"onnx": 1e-5, "openvino": 5e-4}


@pytest.mark.parametrize(("backend", "tolerance"), [*FP32_ATOL.items(), ("onnx-int8", 0.05)])
def test_exported_backends_score_like_torch(backend, tolerance, model_dir, torch_scores, tmp_path):
    reranker = Reranker(model_dir, backend=backend, cache_dir=tmp_path)
    assert reranker.backend == backend and reranker.device == "cpu"
    scores = reranker.score(QUERY, DOCS, batch_size=4)  # several batches, each padded to its own length
    assert scores.dtype == np.float32 and scores.shape == torch_scores.shape
    np.testing.assert_allclose(scores, torch_scores, atol=tolerance)
    assert reranker.score(QUERY, []).shape == (0,)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_exported_backends_are_safe_across_threads(backend, model_dir, torch_scores, tmp_path):
    """The app's queue scores from several worker threads at once with one shared reranker."""
    from concurrent.futures import ThreadPoolExecutor

    reranker = Reranker(model_dir, backend=backend, cache_dir=tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: reranker.score(QUERY, DOCS[n:]), range(8)))
    for n, scores in enumerate(results):
        np.testing.assert_allclose(scores, torch_scores[n:], atol=FP32_ATOL[backend])


def test_export_happens_once_and_again_after_the_model_changes(model_dir, tmp_path):
    Reranker(model_dir, backend="onnx", cache_dir=tmp_path)
    (exported,) = tmp_path.glob("reranker-onnx/*/model.onnx")
    written = exported.stat().st_mtime_ns
    Reranker(model_dir, backend="onnx", cache_dir=tmp_path)
    assert exported.stat().st_mtime_ns == written  # reused, not re-exported

    before = fingerprint(model_dir)
    config = model_dir / "config.json"
    config.write_text(config.read_text() + "\n")  # what retraining does: new files in the same folder
    assert fingerprint(model_dir) != before
    Reranker(model_dir, backend="onnx", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("reranker-onnx/*/model.onnx"))) == 2
    assert not list(tmp_path.rglob("*.partial"))


def test_auto_is_torch_on_a_gpu_and_the_measured_default_on_a_cpu():
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("auto", "cuda:1") == "torch"
    assert resolve_backend("auto", "cpu") == CPU_DEFAULT in BACKENDS
    assert resolve_backend("onnx-int8", "cuda") == "onnx-int8"  # an explicit choice is respected


def test_unknown_backend_is_a_one_line_error():
    with pytest.raises(InputError, match="unknown reranker backend 'tensorrt' — use auto, torch, onnx"):
        resolve_backend("tensorrt", "cpu")


def test_settings_refuse_an_unknown_backend(monkeypatch):
    from pydantic import ValidationError

    from whyrec.store.settings import Settings

    monkeypatch.setenv("WHYREC_RERANKER_BACKEND", "tensorrt")
    with pytest.raises(ValidationError, match="reranker_backend"):
        Settings()
    monkeypatch.setenv("WHYREC_RERANKER_BACKEND", "onnx-int8")
    assert Settings().reranker_backend == "onnx-int8"


def test_an_unusable_cache_falls_back_to_torch_under_auto_and_fails_clearly_when_asked_for(model_dir, torch_scores, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")

    with caplog.at_level("WARNING"):
        reranker = Reranker(model_dir, device="cpu", backend="auto", cache_dir=blocked)
    assert reranker.backend == "torch" and "using torch" in caplog.text
    np.testing.assert_allclose(reranker.score(QUERY, DOCS), torch_scores, atol=1e-6)

    with pytest.raises(SetupError, match="the onnx reranker backend could not start .* use WHYREC_RERANKER_BACKEND=torch"):
        Reranker(model_dir, backend="onnx", cache_dir=blocked)
