"""How much one chat turn may ask of the server, in one place for every surface that starts turns.

A chat turn is the one request a caller can make expensive: its words are read by the rules and
(in part) by the language model, and the model's time is shared by everyone. Two limits are
checked before a turn starts, both read from :class:`~store.settings.Settings`:

- **message length** (``max_message_chars``, default 2,000 characters): before this limit a
  20,000-character message cost 77 s of model time;
- **turns per caller per minute** (``turns_per_minute``, default 30; 0 turns it off): a caller is
  its API key, or its address when the server has no keys (only allowed on this machine).

The third, the model's time per call (``model_seconds_per_turn``), is enforced where the model is
called (:func:`agent.chat_model.make_chat_model`): past it the rules' answer is given.

The OpenAI endpoint (:mod:`ui.openai_endpoint`) and the page's chat (:mod:`ui.chat_events`) check every turn
through one :class:`TurnLimiter` (:func:`ui.server.launch_app` hands both the same instance), so a key's turns
count once whichever door they come through::

    limiter = TurnLimiter.from_settings(settings)
    limiter.check_turn(caller_of_request(request), text)
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from whyrec.ui.route_gate import authorization_of

if TYPE_CHECKING:
    import gradio as gr
    from starlette.requests import HTTPConnection

    from whyrec.store.settings import Settings

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RequestLimits:
    """The limits a turn is checked against; ``turns_per_minute=0`` means no rate limit."""

    max_message_chars: int = 2000
    turns_per_minute: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(max_message_chars=settings.max_message_chars, turns_per_minute=settings.turns_per_minute)


class LimitExceeded(Exception):
    """A turn refused before it started: ``status`` 400 (the message) or 429 (the rate), a machine ``code``, and for
    the rate how many seconds until the caller may send again."""

    def __init__(self, message: str, status: int, code: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


def caller_key(authorization: str | None, address: str | None) -> str:
    """Whom a turn counts against: the bearer key (as a digest, so the limiter never holds a key), else the address."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]
    return f"address:{address or 'unknown'}"


def caller_of_request(request: HTTPConnection | gr.Request | None) -> str:
    """:func:`caller_key` of an HTTP request or a page event's ``gr.Request``: its bearer key or the page's key cookie
    (:func:`ui.route_gate.authorization_of`), else its address; one key counts once on the page and on ``/v1``."""
    if request is None:  # an event run in-process, not over HTTP
        return caller_key(None, None)
    client = getattr(request, "client", None)
    return caller_key(authorization_of(request.headers, request.cookies), getattr(client, "host", None))


class TurnLimiter:
    """Admits chat turns: refuses a message over the length limit and a caller's turns past its rate.

    The rate is a sliding window of the last 60 s per caller, kept in memory (one server process); safe to call from
    many threads. ``clock`` is for tests.
    """

    def __init__(self, limits: RequestLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or RequestLimits()
        self._clock = clock
        self._starts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnLimiter:
        return cls(RequestLimits.from_settings(settings))

    def check_message(self, text: str) -> None:
        """Raise :class:`LimitExceeded` (400) when ``text`` is longer than the limit."""
        limit = self.limits.max_message_chars
        if len(text) > limit:
            raise LimitExceeded(
                f"the message is {len(text):,} characters — send at most {limit:,} (the server's WHYREC_MAX_MESSAGE_CHARS)",
                400,
                "message_too_long",
            )

    def admit(self, caller: str) -> None:
        """Count a turn for ``caller``, or raise :class:`LimitExceeded` (429) when it already started its share this minute."""
        per_minute = self.limits.turns_per_minute
        if per_minute <= 0:
            return
        now = self._clock()
        with self._lock:
            starts = self._starts.setdefault(caller, deque())
            while starts and starts[0] <= now - WINDOW_SECONDS:
                starts.popleft()
            if len(starts) >= per_minute:
                wait = max(1, math.ceil(starts[0] + WINDOW_SECONDS - now))
                who = "this API key" if caller.startswith("key:") else "this address"
                raise LimitExceeded(
                    f"{who} started {per_minute} chat turns in the last minute, the most allowed — try again in {wait} s "
                    "(the server's WHYREC_TURNS_PER_MINUTE)",
                    429,
                    "rate_limit_exceeded",
                    retry_after=wait,
                )
            starts.append(now)
            if len(self._starts) > 10_000:  # callers gone quiet leave no memory behind
                self._starts = {key: times for key, times in self._starts.items() if times and times[-1] > now - WINDOW_SECONDS}

    def check_turn(self, caller: str, text: str) -> None:
        """Both checks, length first: a message refused for its length does not use up the caller's turns."""
        self.check_message(text)
        self.admit(caller)
