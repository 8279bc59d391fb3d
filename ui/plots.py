"""A profile as pandas DataFrames for Gradio's native plots: the category mix, and how it moved over time.

Two rules come from how Gradio 6.31 draws a native plot (vega-lite): the colour scale's domain is
read from the data the plot is *created* with, and later value updates keep that domain; so the
profile panel creates its plots afresh for every profile (``gr.render``) and each frame carries
only the categories it draws, with a colour map restricted to them (:func:`colors_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from whyrec.store.records import Interaction, Item
from whyrec.tools.recommend.profile import category_distribution, interaction_weight

LONG_TERM, SHORT_TERM = "all history", "recent"
OTHER = "other"
# explicit types: an empty frame must still say "share is a number", or the plot keeps a categorical axis
DISTRIBUTION_TYPES = {"term": "str", "category": "str", "share": "float64"}
SLICE_TYPES = {"slice": "str", "category": "str", "share": "float64", "period": "str"}
TIME_TYPES = {"when": "datetime64[ms]", "category": "str", "share": "float64", "period": "str", "ratings": "int64"}
# Tableau 20: enough distinct colours for MovieLens's 19 genres
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
]
# Time buckets, coarsest first: the evolution plot uses the coarsest that gives at least MIN_BUCKETS points.
BUCKETS = (("month", "MS"), ("week", "W-MON"), ("day", "D"), ("hour", "h"), ("10 minutes", "10min"))
MIN_BUCKETS = 3


def category_colors(categories: list[str]) -> dict[str, str]:
    """One fixed colour per category (and grey for 'other'), so both plots agree."""
    colors = {c: PALETTE[n % len(PALETTE)] for n, c in enumerate(categories)}
    colors[OTHER] = "#c7c7c7"
    return colors


def colors_for(frame: pd.DataFrame, colors: dict[str, str]) -> dict[str, str]:
    """The colour map restricted to the categories a frame draws (every one of them gets a colour)."""
    drawn = list(dict.fromkeys(frame["category"])) if "category" in frame else []
    return {c: colors.get(c, PALETTE[n % len(PALETTE)]) for n, c in enumerate(drawn)}


def top_categories(profile: dict, n: int = 5) -> list[str]:
    """The ``n`` categories with the largest long-term share (recent ones fill in)."""
    ranked = list(profile.get("distribution", {})) + list(profile.get("short_term_distribution", {}))
    return list(dict.fromkeys(ranked))[:n]


def distribution_frame(profile: dict, n: int = 6) -> pd.DataFrame:
    """Category shares of all history and of the recent window (rows: term, category, share).

    The top ``n`` categories keep their names and the rest are summed as 'other', so each
    term's shares add up to 1: one stacked bar per term shows the distribution and its drift.
    """
    categories = top_categories(profile, n)
    rows = []
    for term, key in ((LONG_TERM, "distribution"), (SHORT_TERM, "short_term_distribution")):
        shares = profile.get(key) or {}
        if not shares:
            continue
        for c in categories:
            rows.append({"term": term, "category": c, "share": round(float(shares.get(c, 0.0)), 4)})
        rest = sum(v for c, v in shares.items() if c not in categories)
        if rest > 0.0005:
            rows.append({"term": term, "category": OTHER, "share": round(float(rest), 4)})
    return pd.DataFrame(rows, columns=list(DISTRIBUTION_TYPES)).astype(DISTRIBUTION_TYPES)


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d")


def slice_frame(profile: dict, n: int = 5) -> pd.DataFrame:
    """Share of each top-``n`` category in every equal-count slice of the history, oldest first.

    The fallback for data without usable timestamps. ``slice`` is "1", "2", ... (oldest first);
    ``period`` gives the slice's dates and size, for the tooltip.
    """
    categories = top_categories(profile, n)
    rows = []
    for window in profile.get("evolution", []):
        period = f"{_date(window['start'])} – {_date(window['end'])} ({window['interactions']} items)"
        for c in categories:
            share = round(float(window["distribution"].get(c, 0.0)), 4)
            rows.append({"slice": str(int(window["index"]) + 1), "category": c, "share": share, "period": period})
    return pd.DataFrame(rows, columns=list(SLICE_TYPES)).astype(SLICE_TYPES)


@dataclass
class Evolution:
    """What the evolution plot draws: a frame, its x column, and the words for its axis and title."""

    frame: pd.DataFrame
    x: str  # "when" (a time axis) or "slice" (history slices, the fallback)
    x_title: str
    title: str

    @property
    def drawable(self) -> bool:
        """A line needs two points: a history from one sitting (or one slice) has nothing to draw over time."""
        return self.frame[self.x].nunique() >= 2 if not self.frame.empty else False

    @property
    def note(self) -> str:
        n = int(self.frame["ratings"].iloc[0]) if "ratings" in self.frame and not self.frame.empty else 0
        sitting = f"all {n} ratings are from one sitting" if n else "the history is too short"
        return f"*Interest over time: {sitting} — the plot appears once the history spans some time.*"


def evolution(profile: dict, history: list[Interaction], items: dict[str, Item], n: int = 5) -> Evolution:
    """How the top-``n`` categories' shares moved over time, in calendar buckets of the history's timestamps.

    The bucket is the coarsest of month / week / day / hour / 10 minutes that gives at least
    ``MIN_BUCKETS`` points (many MovieLens users rated everything in one sitting, so a month axis
    would be one dot). ``history`` is the profile's history with feedback folded in; without
    usable timestamps (all equal, or none) the plot falls back to equal-count history slices.
    """
    categories = top_categories(profile, n)
    stamps = np.array([x.timestamp for x in history], dtype=np.float64)
    if len(history) < 2 or not categories or float(stamps.max() - stamps.min()) <= 0:
        frame = slice_frame(profile, n)
        return Evolution(frame, "slice", "history slice (oldest → newest)", "Interest evolution (history slices)")
    when = pd.to_datetime(stamps, unit="s", utc=True).tz_localize(None)
    chosen = None
    for name, rule in BUCKETS:
        buckets = when.floor(rule) if rule not in ("MS", "W-MON") else when.to_period("M" if rule == "MS" else "W-MON").start_time
        chosen = (name, buckets)
        if len(set(buckets)) >= MIN_BUCKETS:
            break
    name, buckets = chosen
    rows = []
    for start in sorted(set(buckets)):
        members = [x for x, b in zip(history, buckets, strict=True) if b == start]
        shares = category_distribution([x.item_id for x in members], [interaction_weight(x) for x in members], items)
        period = f"{name} of {start:%Y-%m-%d %H:%M}" if name in ("hour", "10 minutes") else f"{name} of {start:%Y-%m-%d}"
        for c in categories:
            rows.append({"when": start, "category": c, "share": round(float(shares.get(c, 0.0)), 4), "period": period, "ratings": len(members)})
    frame = pd.DataFrame(rows, columns=list(TIME_TYPES)).astype(TIME_TYPES)
    first, last = when.min(), when.max()
    if (last - first).days < 2:
        span = f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}"
    else:
        span = f"{first:%b %Y} – {last:%b %Y}" if (first.year, first.month) != (last.year, last.month) else f"{first:%b %Y}"
    return Evolution(frame, "when", name, f"Interest over time, by {name} ({span})")
