"""A user's interests from their time-ordered history: long-term, short-term, distribution, drift.

A person has several interests, not one average, so the long-term profile
clusters the history's item vectors (weighted by rating and recency) and keeps
each cluster as an interest with a centroid, a weight, its dominant categories
and the past items that make it up. The short-term profile is the same
computation over the most recent window. Every word of the template summary
is read off these numbers and items, so it can be traced back to data.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from whyrec.store.database import Feedback
from whyrec.store.records import NEGATIVE_FEEDBACK, Interaction, Item
from whyrec.tools.tool_text import neutralise
from whyrec.tools.understanding.titles import display_title


LABEL_CATEGORIES = 2  # an interest is named by its top two categories: "Comedy & Drama"


TEMPLATE_INTERESTS = 3  # the long-term interests a summary words (the rest show in the plots)
THEMES = 2  # keywords that name an interest's subject after its categories: "Crime & Thriller: heist, con artist"
THEME_CHARS = 40  # a longer keyword is a sentence, not a theme
THEME_MIN_ITEMS = 2  # a theme is a keyword at least this many of the interest's items carry (one film's tag is not a theme)
# catalog tags that say how a film was made or sold, not what it is about
NOT_A_THEME = frozenset(
    ["woman director", "independent film", "duringcreditsstinger", "aftercreditsstinger", "based on novel", "sequel", "remake",
     "based on comic book", "based on play or musical", "based on true story", "black and white", "silent film", "biography",
     "musical", "sport", "anime", "3d", "live action remake", "based on tv series", "based on short story", "new york", "los angeles"]
)


def _category_label(categories) -> str:
    return " & ".join(list(categories)[:LABEL_CATEGORIES])


def _naming_categories(ranked: list[str], taken: set[frozenset[str]]) -> tuple[str, ...]:
    """The categories that name an interest: its top two, unless another interest of the profile is named by
    the same ones (in any order: "Comedy & Drama" reads as "Drama & Comedy"); then the next pair of its top
    four that no interest uses yet, so the label tells it apart by a category it really has. The top two
    when every pair is taken (its themes, or its best example, then tell it apart)."""
    top = ranked[: LABEL_CATEGORIES + 2]
    pairs = [top[:LABEL_CATEGORIES]] + [[a, b] for n, a in enumerate(top) for b in top[n + 1 :]]
    return tuple(next((pair for pair in pairs if frozenset(pair) not in taken), top[:LABEL_CATEGORIES]))


def _plain(keyword: str) -> bool:
    """A keyword fit to name an interest: catalog text that neutralising leaves as it is (no markup, no planted orders)."""
    return neutralise(keyword, THEME_CHARS) == keyword


def keyword_counts(items: dict[str, Item]) -> Counter[str]:
    """How many of the catalog's items carry each keyword: what makes a theme rare (counted once per profile)."""
    return Counter(k for item in items.values() for k in set(item.keywords))


def _themes(ids: list[str], weights: list[float], items: dict[str, Item], in_catalog: Counter[str], taken: set[str]) -> list[str]:
    """The keywords most particular to these items: how much of the interest carries each one, times how rare it is
    in the catalog (tf-idf). Keywords a heavier interest already names are skipped, so two interests read apart."""
    carried: dict[str, float] = {}
    members: Counter[str] = Counter()
    for item_id, weight in zip(ids, weights, strict=True):
        for keyword in dict.fromkeys(items[item_id].keywords if item_id in items else ()):
            carried[keyword] = carried.get(keyword, 0.0) + weight
            members[keyword] += 1
    if not carried:
        return []
    rarity = {k: math.log(len(items) / in_catalog[k]) for k in carried if in_catalog[k]}
    ranked = sorted(
        (k for k in carried if members[k] >= THEME_MIN_ITEMS and k in rarity and k not in NOT_A_THEME and k not in taken and _plain(k)),
        key=lambda k: (-carried[k] * rarity[k], k),
    )
    return ranked[:THEMES]


@dataclass
class Interest:
    """One cluster of what the user likes."""

    label: str
    weight: float
    categories: dict[str, float]
    item_ids: list[str]
    centroid: list[float] = field(repr=False)
    themes: list[str] = field(default_factory=list)  # the items' own keywords that name what it is about (_themes)
    named: list[str] = field(default_factory=list)  # the categories its label names (_naming_categories)

    @property
    def named_by(self) -> tuple[str, ...]:
        """The categories its label names ("Comedy & Drama"); none when a title names it (a cluster without categories)."""
        top = tuple(self.named) or tuple(list(self.categories)[:LABEL_CATEGORIES])
        return top if self.label.split(": ")[0] == _category_label(top) else ()

    def to_dict(self, items: dict[str, Item]) -> dict:
        return {
            "label": self.label,
            "weight": round(self.weight, 3),
            "categories": {k: round(v, 3) for k, v in self.categories.items()},
            "themes": list(self.themes),
            "examples": [display_title(items[i].title) for i in self.item_ids[:3] if i in items],
            "item_ids": self.item_ids,
        }


@dataclass
class ProfileNames:
    """What a profile's interests are called so far, so the next one is named apart from them."""

    labels: set[str] = field(default_factory=set)
    categories: set[frozenset[str]] = field(default_factory=set)
    themes: set[str] = field(default_factory=set)


@dataclass
class InterestWindow:
    """The category distribution of one slice of the history, for the evolution plot."""

    index: int
    start: float
    end: float
    interactions: int
    distribution: dict[str, float]


@dataclass
class InterestProfile:
    user_id: str
    interactions: int
    long_term: list[Interest]
    short_term: list[Interest]
    distribution: dict[str, float]
    short_term_distribution: dict[str, float]
    evolution: list[InterestWindow]
    drift: float
    rising: list[str]
    fading: list[str]
    disliked_item_ids: list[str]
    summary: dict[str, str]
    summary_source: str = "template"

    @classmethod
    def from_cache(cls, data: dict) -> InterestProfile:
        """Rebuild a profile saved with ``dataclasses.asdict`` (the SQLite profile cache)."""
        data = dict(data)
        data["long_term"] = [Interest(**i) for i in data["long_term"]]
        data["short_term"] = [Interest(**i) for i in data["short_term"]]
        data["evolution"] = [InterestWindow(**w) for w in data["evolution"]]
        return cls(**data)

    @property
    def is_empty(self) -> bool:
        return not self.long_term

    def summary_text(self, items: dict[str, Item]) -> dict[str, str]:
        """The summary to show: an LLM's wording as it was checked, a template's worded now from the profile's numbers,
        so a profile cached by an older version reads like a new one ('The Fog', not 'Fog, The')."""
        return template_summary(self, items) if self.summary_source == "template" else self.summary

    def to_dict(self, items: dict[str, Item]) -> dict:
        return {
            "user_id": self.user_id,
            "interactions": self.interactions,
            "summary": self.summary_text(items),
            "summary_source": self.summary_source,
            "long_term": [i.to_dict(items) for i in self.long_term],
            "short_term": [i.to_dict(items) for i in self.short_term],
            "distribution": {k: round(v, 3) for k, v in self.distribution.items()},
            "short_term_distribution": {k: round(v, 3) for k, v in self.short_term_distribution.items()},
            "evolution": [asdict(w) for w in self.evolution],
            "drift": round(self.drift, 3),
            "rising": self.rising,
            "fading": self.fading,
        }


def interaction_weight(interaction: Interaction) -> float:
    """How much one interaction says the user likes the item: ratings 4-5 count fully, 1-2 barely."""
    if interaction.rating is None:
        return 1.0
    return {5: 1.0, 4: 0.8}.get(round(interaction.rating), 0.4 if round(interaction.rating) == 3 else 0.05)


def category_distribution(item_ids: list[str], weights: list[float], items: dict[str, Item]) -> dict[str, float]:
    """Probability over categories; an item's weight is split across its categories."""
    mass: Counter[str] = Counter()
    for item_id, weight in zip(item_ids, weights, strict=True):
        categories = items[item_id].categories if item_id in items else ()
        for category in categories:
            mass[category] += weight / len(categories)
    total = sum(mass.values())
    return {c: m / total for c, m in mass.most_common()} if total else {}


def jensen_shannon(p: dict[str, float], q: dict[str, float]) -> float:
    """Distance between two distributions, 0 (same) to 1 (disjoint): our drift score."""
    keys = set(p) | set(q)
    if not keys:
        return 0.0
    a = np.array([p.get(k, 0.0) for k in keys])
    b = np.array([q.get(k, 0.0) for k in keys])
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return (kl(a) + kl(b)) / 2


def _top(distribution: dict[str, float], n: int = 3) -> dict[str, float]:
    return dict(list(distribution.items())[:n])


def _interests(
    item_ids: list[str], vectors: np.ndarray, weights: np.ndarray, items: dict[str, Item], in_catalog: Counter[str], max_clusters: int,
    seed: int = 0, names: ProfileNames | None = None,
) -> list[Interest]:
    """Weighted k-means over the history's vectors; one Interest per cluster, heaviest first.

    ``names`` holds what the profile's interests are already called (the long-term ones, when the
    short-term one is named): no two interests of a profile carry the same label or the same categories.
    """
    if len(item_ids) == 0:
        return []
    names = names if names is not None else ProfileNames()
    k = max(1, min(max_clusters, len(item_ids) // 6))
    labels = np.zeros(len(item_ids), dtype=int)
    if k > 1:
        labels = KMeans(n_clusters=k, n_init=2, max_iter=100, random_state=seed).fit(vectors, sample_weight=weights).labels_
    interests = []
    total = float(weights.sum())
    clusters = sorted(range(k), key=lambda c: -float(weights[labels == c].sum()))  # heaviest first: it names its themes first
    for cluster in clusters:
        members = np.flatnonzero(labels == cluster)
        if len(members) == 0:
            continue
        centroid = np.average(vectors[members], axis=0, weights=weights[members])
        centroid /= np.linalg.norm(centroid) or 1.0
        # members closest to the centroid and most liked are the cluster's best examples
        order = members[np.argsort(-(vectors[members] @ centroid) * weights[members])]
        ids = [item_ids[i] for i in order]
        member_weights = [float(weights[i]) for i in order]
        ranked = category_distribution(ids, member_weights, items)
        named = _naming_categories(list(ranked), names.categories)
        categories = _top(ranked) | {c: ranked[c] for c in named}
        themes = _themes(ids, member_weights, items, in_catalog, names.themes)
        names.themes.update(themes)
        label = _category_label(named) or (display_title(items[ids[0]].title) if ids[0] in items else ids[0])
        if themes:
            label = f"{label}: {', '.join(themes)}"
        if label in names.labels:  # two interests never carry one label: its best example (in no other cluster) tells it apart
            label = f"{label} (like '{display_title(items[ids[0]].title) if ids[0] in items else ids[0]}')"
        names.labels.add(label)
        if named:
            names.categories.add(frozenset(named))
        interests.append(Interest(label, float(weights[members].sum()) / total, categories, ids, centroid.tolist(), themes, list(named)))
    return sorted(interests, key=lambda i: -i.weight)


def _evolution(history: list[Interaction], items: dict[str, Item], windows: int = 6) -> list[InterestWindow]:
    """Equal-count slices of the history (MovieLens users often rate in bursts, so time slices would be empty)."""
    n = min(windows, max(1, len(history) // 5))
    slices = [s for s in np.array_split(np.arange(len(history)), n) if len(s)]
    result = []
    for index, part in enumerate(slices):
        chunk = [history[i] for i in part]
        result.append(
            InterestWindow(
                index=index,
                start=chunk[0].timestamp,
                end=chunk[-1].timestamp,
                interactions=len(chunk),
                distribution=category_distribution([x.item_id for x in chunk], [interaction_weight(x) for x in chunk], items),
            )
        )
    return result


def share_of_history(weight: float, recent: bool = False) -> str:
    """An interest's share in words: "24% of your history", "all of your recent history" (one interest is all of it;
    "100% of your recent history" reads like a machine), "nearly all of your history" when it rounds to 100%."""
    whose = f"your {'recent ' if recent else ''}history"
    if weight >= 0.9995:
        return f"all of {whose}"
    if round(weight, 2) >= 1.0:
        return f"nearly all of {whose}"
    return f"{weight:.0%} of {whose}"


def _percent(distribution: dict[str, float], n: int = 3) -> str:
    return ", ".join(f"{c} ({p:.0%})" for c, p in list(distribution.items())[:n])


def example_titles(interest: Interest, items: dict[str, Item]) -> str:
    """Its two best examples, quoted: what the template and a model-worded sentence both cite."""
    return ", ".join(f"'{display_title(items[i].title)}'" for i in interest.item_ids[:2] if i in items)


def template_interest(interest: Interest, items: dict[str, Item]) -> str:
    """One long-term interest in the template's words (a model's sentence that fails its check falls back to this)."""
    return f"{interest.label} ({share_of_history(interest.weight)}, e.g. {example_titles(interest, items)})"


def template_recent(profile: InterestProfile, items: dict[str, Item]) -> str:
    """The short-term interest in the template's words."""
    recent = profile.short_term[0]
    return f"Lately ({len(recent.item_ids)} most recent): {_percent(profile.short_term_distribution)}, e.g. {example_titles(recent, items)}."


def template_drift(profile: InterestProfile) -> str:
    """The drift in the template's words: the categories rising and fading ("" when none moved)."""
    parts = [f"Rising: {', '.join(profile.rising)}." if profile.rising else "", f"Fading: {', '.join(profile.fading)}." if profile.fading else ""]
    return " ".join(p for p in parts if p)


def template_overview(profile: InterestProfile) -> str:
    """The opening of the long-term summary: the history's size and its top categories, read off the numbers."""
    return f"Over {profile.interactions} interactions you mostly like {_percent(profile.distribution)}."


def template_summary(profile: InterestProfile, items: dict[str, Item]) -> dict[str, str]:
    """Plain sentences built only from the profile's numbers and item titles."""
    if profile.is_empty:
        return {"long_term": "No history yet — rate a few items to get started.", "short_term": "No recent activity."}
    long_parts = [template_interest(i, items) for i in profile.long_term[:TEMPLATE_INTERESTS]]
    long_term = f"{template_overview(profile)} Your interests: " + "; ".join(long_parts) + "."
    short_term = " ".join(p for p in (template_recent(profile, items), template_drift(profile)) if p)
    return {"long_term": long_term, "short_term": short_term}


class InterestProfiler:
    """Builds an InterestProfile from a history, its feedback and the item vectors."""

    def __init__(self, short_term_window: int = 20, half_life_days: float = 365.0, max_interests: int = 4):
        self.short_term_window = short_term_window
        self.half_life_days = half_life_days
        self.max_interests = max_interests

    def effective_history(self, history: list[Interaction], feedback: list[Feedback]) -> tuple[list[Interaction], list[str]]:
        """History with feedback folded in: a 'liked' counts as a top rating, a dislike removes the item.

        The latest word on an item wins, so liking something after disliking it restores it. A like given
        after the last interaction counts as of that interaction: feedback is stamped with today's clock,
        a history may come from years earlier (MovieLens ends in 1998), and the decay measures ages from
        the newest event, so one "I loved it" would otherwise make the whole history decades old and the
        profile that single item.
        """
        verdict: dict[str, Feedback] = {}
        for f in feedback:
            verdict[f.item_id] = f
        disliked = [i for i, f in verdict.items() if f.kind in NEGATIVE_FEEDBACK]
        kept = [x for x in history if x.item_id not in disliked]
        latest = max((x.timestamp for x in history), default=None)
        liked = [
            Interaction(f.user_id, f.item_id, f.timestamp if latest is None else min(f.timestamp, latest), 5.0, "liked")
            for f in verdict.values()
            if f.kind == "liked"
        ]
        return sorted(kept + liked, key=lambda x: x.timestamp), disliked

    def profile(
        self, user_id: str, history: list[Interaction], feedback: list[Feedback], vectors: dict[str, np.ndarray], items: dict[str, Item]
    ) -> InterestProfile:
        events, disliked = self.effective_history(history, feedback)
        events = [x for x in events if x.item_id in vectors]
        ids = [x.item_id for x in events]
        dimension = len(next(iter(vectors.values()))) if vectors else 0
        matrix = np.array([vectors[i] for i in ids], dtype=np.float32).reshape(len(ids), dimension)
        base = np.array([interaction_weight(x) for x in events])
        if events:
            age_days = (events[-1].timestamp - np.array([x.timestamp for x in events])) / 86400.0
            decayed = base * np.power(0.5, age_days / self.half_life_days)
        else:
            decayed = base
        recent = slice(max(0, len(events) - self.short_term_window), len(events))
        in_catalog = keyword_counts(items)
        names = ProfileNames()  # shared: the recent interest is named apart from the long-term ones
        long_term = _interests(ids, matrix, decayed, items, in_catalog, self.max_interests, names=names)
        short_term = _interests(ids[recent][::-1], matrix[recent][::-1], base[recent][::-1], items, in_catalog, 1, names=names)
        distribution = category_distribution(ids, decayed.tolist(), items)
        short_distribution = category_distribution(ids[recent], base[recent].tolist(), items)
        change = {c: short_distribution.get(c, 0.0) - distribution.get(c, 0.0) for c in set(distribution) | set(short_distribution)}
        profile = InterestProfile(
            user_id=user_id,
            interactions=len(events),
            long_term=long_term,
            short_term=short_term,
            distribution=distribution,
            short_term_distribution=short_distribution,
            evolution=_evolution(events, items),
            drift=jensen_shannon(distribution, short_distribution),
            rising=[c for c, d in sorted(change.items(), key=lambda kv: -kv[1]) if d >= 0.05][:3],
            fading=[c for c, d in sorted(change.items(), key=lambda kv: kv[1]) if d <= -0.05][:3],
            disliked_item_ids=disliked,
            summary={},
        )
        profile.summary = template_summary(profile, items)
        return profile

