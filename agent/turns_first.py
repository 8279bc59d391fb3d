"""Chat turns before background work on the one embedded model.

The embedded llama.cpp server answers one request at a time (``n_parallel = 1``), and on two cores
a second model process beside it slows both to a crawl (0.5 tokens/s against 7.8 on one thread).
So the interest summaries the model words in the background share the chat's server, and wait
until the chat has been quiet for a while before each call: a person typing is never queued
behind a summary that only saves them reading a template.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_SECONDS = 20.0  # a person reading an answer types the next message within about this long


class TurnsFirst:
    """Counts the chat turns in progress; background work waits for :meth:`wait_for_quiet` before each model call."""

    def __init__(self, quiet_seconds: float = QUIET_SECONDS) -> None:
        self.quiet_seconds = quiet_seconds
        self._active = 0
        self._last_turn_ended = float("-inf")
        self._changed = threading.Condition()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold while a chat turn runs (a streamed turn: until its last chunk, or until the stream is dropped)."""
        with self._changed:
            self._active += 1
        try:
            yield
        finally:
            with self._changed:
                self._active -= 1
                self._last_turn_ended = time.monotonic()
                self._changed.notify_all()

    def wait_for_quiet(self, timeout: float | None = None) -> bool:
        """Block until no turn runs and none ended in the last :attr:`quiet_seconds`; False when ``timeout`` passed
        first (the caller then goes ahead: a summary must not wait forever on a chat that never pauses)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_at = self._last_turn_ended + self.quiet_seconds
                if self._active == 0 and now >= quiet_at:
                    return True
                if deadline is not None and now >= deadline:
                    return False
                wake = None if self._active else quiet_at - now
                if deadline is not None:
                    wake = deadline - now if wake is None else min(wake, deadline - now)
                self._changed.wait(wake)
