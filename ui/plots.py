"""A profile as pandas DataFrames for Gradio's native plots: the category mix, and how it moved over time.

Two rules come from how Gradio 6.31 draws a native plot (vega-lite): the colour scale's domain is
read from the data the plot is *created* with, and later value updates keep that domain; so the
profile panel creates its plots afresh for every profile (``gr.render``) and each frame carries
only the categories it draws, with a colour map restricted to them (:func:`colors_for`).
"""

from __future__ import annotations

import html
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
# "when" is text (the bucket in UTC, with its date and a 24-hour clock), so the axis says what the title says
TIME_TYPES = {"when": "str", "category": "str", "share": "float64", "period": "str", "ratings": "int64"}
# Tableau 20: enough distinct colours for MovieLens's 19 genres
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
]
# Time buckets, coarsest first: the evolution plot uses the coarsest that gives at least MIN_BUCKETS points.
BUCKETS = (("month", "MS"), ("week", "W-MON"), ("day", "D"), ("hour", "h"), ("10 minutes", "10min"))
MIN_BUCKETS = 3
SMOOTHING_RATINGS = 20  # the most ratings one point of the evolution plot counts (smoothing_window)


def category_colors(categories: list[str]) -> dict[str, str]:
    """One fixed colour per category (and grey for 'other'), so both plots agree."""
    colors = {c: PALETTE[n % len(PALETTE)] for n, c in enumerate(categories)}
    colors[OTHER] = "#c7c7c7"
    return colors


def colors_for(frame: pd.DataFrame, colors: dict[str, str]) -> dict[str, str]:
    """The colour map restricted to the categories a frame draws (every one of them gets a colour)."""
    drawn = list(dict.fromkeys(frame["category"])) if "category" in frame else []
    return {c: colors.get(c, PALETTE[n % len(PALETTE)]) for n, c in enumerate(drawn)}


def legend_html(categories: list[str], colors: dict[str, str]) -> str:
    """A plot's colour key as HTML that wraps on a narrow screen (the plot's own legend is one row, cut off at 390 px)."""
    swatches = "".join(
        f"<span class='legend-entry'><span class='legend-swatch' style='background:{colors.get(c, '#888')}'></span>{html.escape(c)}</span>"
        for c in categories
    )
    return f"<div class='plot-legend'>{swatches}</div>"


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
    """What the evolution plot draws: a frame, its x column, and the words for its axis, title and caption."""

    frame: pd.DataFrame
    x: str  # "when" (time buckets, written out in UTC) or "slice" (history slices, the fallback)
    x_title: str
    title: str
    y_title: str = "share of ratings"
    caption: str = ""
    ratings: int = 0  # how many ratings the history holds
    buckets: int = 0  # in how many time buckets

    @property
    def drawable(self) -> bool:
        """A line needs two points: a history from one sitting (or one slice) has nothing to draw over time."""
        return self.frame[self.x].nunique() >= 2 if not self.frame.empty else False

    @property
    def note(self) -> str:
        if self.buckets == 1 and self.ratings:
            sitting = f"all {self.ratings} ratings are from one sitting"
        else:
            sitting = "the history is too short"
        return f"*Interest over time: {sitting} — the plot appears once the history spans some time.*"


def smoothing_window(ratings: int) -> int:
    """How many of the latest ratings each point of the evolution plot counts: a third of the history, 2 to
    ``SMOOTHING_RATINGS``. Never one rating, so a single rating never reads as 100 % of a genre."""
    return min(SMOOTHING_RATINGS, max(2, ratings // 3))


def when_label(start: pd.Timestamp, bucket: str, with_year: bool = True) -> str:
    """A bucket's start as the time axis shows it: the date, and a 24-hour clock for buckets shorter than a day (UTC).
    ``with_year=False`` drops the year (the axis title gives it when the whole history is in one year)."""
    if bucket == "month":
        return f"{start:%Y-%m}"
    day = f"{start:%Y-%m-%d}" if with_year else f"{start:%m-%d}"
    return day if bucket in ("week", "day") else f"{day} {start:%H:%M}"


def evolution(profile: dict, history: list[Interaction], items: dict[str, Item], n: int = 5) -> Evolution:
    """How the top-``n`` categories' shares moved over time, in calendar buckets of the history's timestamps.

    The bucket is the coarsest of month / week / day / hour / 10 minutes that gives at least
    ``MIN_BUCKETS`` points (many MovieLens users rated everything in one sitting, so a month axis
    would be one dot). Each point is a moving window: the shares among the last
    :func:`smoothing_window` ratings up to the end of its bucket (all of the bucket's own ratings when
    it holds more), so a bucket with one rating does not jump to 100 %; the first buckets, before the
    window fills, are left out. Times are UTC, written out with the date and a 24-hour clock on the
    axis, the title and the caption alike (a time axis would be drawn in the browser's zone and
    clock). ``history`` is the profile's history with feedback folded in; without usable timestamps
    (all equal, or none) the plot falls back to equal-count history slices.
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
    order = np.argsort(stamps, kind="stable")
    ordered, ordered_buckets = [history[i] for i in order], [buckets[i] for i in order]
    window = smoothing_window(len(history))
    one_year = when.min().year == when.max().year and name != "month"
    rows = []
    end = 0  # one past the current bucket's last rating
    for start in sorted(set(buckets)):
        own = ordered_buckets.count(start)
        end += own
        if end < window:
            continue  # the window is not full yet
        members = ordered[end - max(window, own) : end]
        shares = category_distribution([x.item_id for x in members], [interaction_weight(x) for x in members], items)
        label = when_label(start, name, with_year=not one_year)
        period = f"{name} of {when_label(start, name)} UTC: the last {len(members)} ratings"
        for c in categories:
            rows.append({"when": label, "category": c, "share": round(float(shares.get(c, 0.0)), 4), "period": period, "ratings": len(members)})
    frame = pd.DataFrame(rows, columns=list(TIME_TYPES)).astype(TIME_TYPES)
    first, last = when.min(), when.max()
    clock = "%Y-%m-%d %H:%M" if name in ("hour", "10 minutes") else "%Y-%m-%d"
    span = f"{first:{clock}} – {last:{clock}} UTC"
    caption = (
        f"Ratings from {span}. Each point is the share of each genre among the last {window} ratings up to that {name} "
        f"(a moving window, so one rating never reads as 100 %)."
    )
    return Evolution(
        frame, "when", f"{name} (UTC{f', {first.year}' if one_year else ''})", f"Interest over time, by {name}", f"share of last {window} ratings", caption, len(history), len(set(buckets))
    )
