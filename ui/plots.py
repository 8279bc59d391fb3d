"""A profile (the ``InterestProfile.to_dict`` JSON) as pandas DataFrames for Gradio's native plots."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

LONG_TERM, SHORT_TERM = "all history", "recent"
OTHER = "other"
# explicit types: an empty frame must still say "share is a number", or the plot keeps a categorical axis
DISTRIBUTION_TYPES = {"term": "str", "category": "str", "share": "float64"}
EVOLUTION_TYPES = {"slice": "str", "category": "str", "share": "float64", "period": "str"}
# Tableau 20: enough distinct colours for MovieLens's 19 genres
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
]


def category_colors(categories: list[str]) -> dict[str, str]:
    """One fixed colour per category (and grey for 'other'), so both plots agree."""
    colors = {c: PALETTE[n % len(PALETTE)] for n, c in enumerate(categories)}
    colors[OTHER] = "#c7c7c7"
    return colors


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


def evolution_frame(profile: dict, n: int = 5) -> pd.DataFrame:
    """Share of each top-``n`` category in every slice of the history, oldest first.

    ``slice`` is "1", "2", ... (oldest first); ``period`` gives the slice's dates and size, for the tooltip.
    """
    categories = top_categories(profile, n)
    rows = []
    for window in profile.get("evolution", []):
        period = f"{_date(window['start'])} – {_date(window['end'])} ({window['interactions']} items)"
        for c in categories:
            share = round(float(window["distribution"].get(c, 0.0)), 4)
            rows.append({"slice": str(int(window["index"]) + 1), "category": c, "share": share, "period": period})
    return pd.DataFrame(rows, columns=list(EVOLUTION_TYPES)).astype(EVOLUTION_TYPES)
