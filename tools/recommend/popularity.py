"""Trending: items many people took up in a recent window of the log, most of them only lately.

On a split that trains on the past and tests on the future, "what people watch right now" beats
every history model (benchmarks/README.md, temporal protocol), so it is a signal and a candidate
source of the recommender's own. The signal is *trending*, not merely popular in the window: an
item's share of the window's busiest item, times the share of its people so far who came in the
window. A new release everyone is watching scores high; an old favourite that a few people
rewatch every month scores low, and the collaborative model already knows it. On validation of
both protocols (benchmarks/tune_weights.json) this beats the plain window count on both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from whyrec.store.records import Interaction

RECENT_WINDOW_DAYS = 30.0
"""The window of "popular lately": the same 30 days as the temporal protocol's recent-popularity baseline."""

SESSION_SECONDS = 3600.0
"""A request this soon after the user's last interaction continues their session (see :func:`continues_session`)."""


def continues_session(history: list[Interaction], now: float | None) -> bool:
    """Whether a request at ``now`` (None: this moment) comes within an hour of the user's newest interaction.

    Mid-session, people go on with what they are doing: on leave-one-out validation (asked right after
    the last item) trending costs NDCG@10 0.128 -> 0.112. People who come back later take up what is
    new: on the temporal validation (the median user was away 12 days, the 10th percentile 2.6) it
    lifts NDCG@10 0.074 -> 0.225, and leaving it out below an hour's absence costs nothing there
    (0.228). So trending is a signal for a returning user only (benchmarks/README.md, "Trending and sessions").
    """
    last = max((float(x.timestamp) for x in history), default=None)
    moment = time.time() if now is None else float(now)
    return last is not None and 0.0 <= moment - last < SESSION_SECONDS


@dataclass(frozen=True)
class Trend:
    """The counts behind an item's trending score, for an explanation to state."""

    item_id: str
    recent_users: int  # distinct people who took it up in the window
    all_users: int  # distinct people who took it up by the end of the window
    window_days: float
    until: float  # the end of the window (Unix seconds): the moment of the request
    score: float


class PopularityTimeline:
    """Distinct users per item in the ``window_days`` before any moment of a log: "trending at the time".

    The recommender scores with the log's present (what a live user meets, and the temporal
    protocol's cut); any other moment can be asked for. Counts are kept per day (cumulative), so a
    moment costs one subtraction over the catalog, cached per day. A log spanning less than two windows has no
    "lately" to set apart from "ever": every moment is then empty (all-time popularity is its own signal).
    """

    def __init__(self, interactions: list[Interaction], window_days: float = RECENT_WINDOW_DAYS):
        self.window_days = window_days
        self.items: list[str] = []
        self._cache: dict[int, _Day] = {}
        first: dict[tuple[str, str], float] = {}
        for x in interactions:  # one person counts once per item
            key = (x.user_id, x.item_id)
            first[key] = min(first.get(key, math.inf), float(x.timestamp))
        if not first:
            return
        stamps = np.fromiter(first.values(), dtype=np.float64, count=len(first))
        self.start, self.end = float(stamps.min()), float(stamps.max())
        if self.end - self.start < 2 * window_days * 86400.0:
            return
        self.items = sorted({i for _, i in first})
        self._index = {i: n for n, i in enumerate(self.items)}
        days = ((stamps - self.start) // 86400.0).astype(np.int64)
        counts = np.zeros((len(self.items), int(days.max()) + 2), dtype=np.int32)
        np.add.at(counts, (np.array([self._index[i] for _, i in first]), days + 1), 1)
        self._cumulative = counts.cumsum(axis=1)

    def at(self, now: float | None = None) -> tuple[dict[str, float], list[str]]:
        """(item -> trending score in the window before ``now``, in [0, 1]; those items, most trending first).

        The score is ``(window users / the busiest item's window users) * (window users / all its users so far)``.
        ``now`` defaults to the log's newest interaction and is clamped to the log's span."""
        if not self.items:
            return {}, []
        day = self._on(now)
        return day.scores, day.order

    def trend(self, item_id: str, now: float | None = None) -> Trend | None:
        """The counts behind ``item_id``'s score at ``now``; None when nobody took it up in the window."""
        if not self.items:
            return None
        day = self._on(now)
        if item_id not in day.scores:
            return None
        n = self._index[item_id]
        return Trend(item_id, int(day.window[n]), int(day.total[n]), self.window_days, self._moment(now), day.scores[item_id])

    def _on(self, now: float | None) -> _Day:
        """The counts and scores of the window before ``now``, computed once a day and kept."""
        day = int((self._moment(now) - self.start) // 86400.0) + 1
        if day not in self._cache:
            total = self._cumulative[:, day]
            window = total - self._cumulative[:, max(0, day - round(self.window_days))]
            score = (window / int(window.max())) * (window / np.maximum(total, 1))
            order = [int(n) for n in np.argsort(-score, kind="stable") if window[n] > 0]
            scores = {self.items[n]: float(score[n]) for n in order}
            self._cache[day] = _Day(scores, [self.items[n] for n in order], window, total)
        return self._cache[day]

    def _moment(self, now: float | None) -> float:
        return self.end if now is None else min(max(float(now), self.start), self.end)


@dataclass(frozen=True)
class _Day:
    """One day's window: the scores and their order (what :meth:`PopularityTimeline.at` returns), and the counts behind them."""

    scores: dict[str, float]
    order: list[str]
    window: np.ndarray  # distinct users in the window, per item
    total: np.ndarray  # distinct users up to the window's end, per item
