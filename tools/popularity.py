"""Popular lately: how many distinct people took up each item in a recent window of the log.

On a split that trains on the past and tests on the future, "what people watch right now" beats
every history model (benchmarks/README.md, temporal protocol), so it is a signal and a candidate
source of the recommender's own.
"""

from __future__ import annotations

import math

import numpy as np

from whyrec.store.records import Interaction

RECENT_WINDOW_DAYS = 30.0
"""The window of "popular lately": the same 30 days as the temporal protocol's recent-popularity baseline."""


class PopularityTimeline:
    """Distinct users per item in the ``window_days`` before any moment of a log: "popular at the time".

    The recommender scores with the log's present (what a live user meets, and the temporal
    protocol's cut); any other moment can be asked for. Counts are kept per day (cumulative), so a
    moment costs one subtraction over the catalog, cached per day. A log spanning less than two windows has no
    "lately" to set apart from "ever": every moment is then empty (all-time popularity is its own signal).
    """

    def __init__(self, interactions: list[Interaction], window_days: float = RECENT_WINDOW_DAYS):
        self.window_days = window_days
        self.items: list[str] = []
        self._cache: dict[int, tuple[dict[str, float], list[str]]] = {}
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
        index = {i: n for n, i in enumerate(self.items)}
        days = ((stamps - self.start) // 86400.0).astype(np.int64)
        counts = np.zeros((len(self.items), int(days.max()) + 2), dtype=np.int32)
        np.add.at(counts, (np.array([index[i] for _, i in first]), days + 1), 1)
        self._cumulative = counts.cumsum(axis=1)

    def at(self, now: float | None = None) -> tuple[dict[str, float], list[str]]:
        """(item -> log-scaled distinct users in the window before ``now``, in [0, 1]; those items, most popular first).

        ``now`` defaults to the log's newest interaction and is clamped to the log's span."""
        if not self.items:
            return {}, []
        now = self.end if now is None else min(max(float(now), self.start), self.end)
        day = int((now - self.start) // 86400.0) + 1
        if day not in self._cache:
            window = self._cumulative[:, day] - self._cumulative[:, max(0, day - round(self.window_days))]
            top = int(window.max())
            order = [int(n) for n in np.argsort(-window, kind="stable") if window[n] > 0]
            scores = {self.items[n]: math.log1p(int(window[n])) / math.log1p(top) for n in order}
            self._cache[day] = (scores, [self.items[n] for n in order])
        return self._cache[day]


def recent_popularity(interactions: list[Interaction], window_days: float = RECENT_WINDOW_DAYS) -> dict[str, float]:
    """Each item's distinct users in the last ``window_days`` (whole days) up to the log's newest interaction, log-scaled to [0, 1].

    "Now" is the log's own newest timestamp, not the wall clock, so an old dataset (or an evaluation
    that sees only the past) still has a recent window. Items nobody touched in the window are absent;
    a log spanning less than two windows gives nothing (see :class:`PopularityTimeline`).
    """
    return PopularityTimeline(interactions, window_days).at()[0]
