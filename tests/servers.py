"""Servers the integration tests start as real processes (`chroma run`, `whyrec serve`): a wait until the server answers
that fails with the end of its log instead of hanging, and a stop. (Their free port: :func:`whyrec.store.ports.free_port`.)"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

import httpx


def wait_until_answers(process: subprocess.Popen, url: str, log: Path, name: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200; raise with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):  # the next try in 0.2 s, or at once when the process exits
            process.wait(timeout=0.2)
    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 20.0) -> None:
    """Send ``sig`` (SIGKILL to test a crash) and wait; a process still running after ``grace`` seconds is killed."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
