"""Offline evaluation protocols for any ranker: leave-one-out by time, and a split at a point in time; full ranking.

Protocol (the numbers in ``benchmarks/`` were produced with exactly this)
-------------------------------------------------------------------------
* **Data**: a :class:`store.records.Dataset`; the reference run is MovieLens-100K
  (943 users, 1,682 items, 100,000 ratings). Every rating counts as an interaction,
  whatever its value (implicit feedback).
* **Ordering**: each user's interactions are sorted by ``timestamp``; ties are broken by
  the interaction's position in ``dataset.interactions`` (a stable sort). This is what
  RecBole's ``order: TO`` does on the same file, so both splits are identical.
* **Repeats**: only the first interaction of a user with an item is kept (we evaluate
  recommending *new* items). MovieLens has no repeats; the count dropped is reported in
  :attr:`LeaveOneOutSplit.dropped_repeats`.
* **Split**: per user, last interaction = **test** target, second-to-last = **validation**
  target, everything earlier = **train**. Users with fewer than ``min_interactions``
  (default 3) interactions are not evaluated; all their interactions stay in train so
  models can still learn from them (listed in :attr:`LeaveOneOutSplit.train_only_users`).
* **Candidates**: full ranking against **all** catalog items the user has not interacted
  with in the known history, no sampled negatives. Validation stage: history = train,
  excluded = train items. Test stage: history = train + validation item, excluded = train
  items + validation item. Models are fitted on the train part only.
* **Metrics** (single target per user, :mod:`tools.evaluation.metrics`): Recall@k (= hit rate),
  NDCG@k, MRR@k, averaged over evaluated users. The ranker returns its top ``n`` (n >= k,
  default n = k); a target outside the top n is a miss and contributes 0 to every metric.
  With ``n > k`` the result also carries ``MRR@n`` (reciprocal rank over the whole list).
  Catalog coverage@k = distinct items in all top-k lists / catalog size. ILD@k = mean
  pairwise cosine distance inside each top-k list, from the ``item_vectors`` given
  (e.g. text embeddings), ``None`` without them.
* **Subsampling**: ``users=<int>`` evaluates a seeded random subset (for slow rankers);
  report it next to the numbers, since a subset is noisier than all 943 users. Users are listed,
  drawn from and reported in the store's user order (numeric ids numerically, "9" before "10").

Temporal protocol (:func:`temporal_split`, the second table of ``benchmarks/quality.json``)
-----------------------------------------------------------------------------------------
Leave-one-out lets the future leak in: a model fitted on other users' *later* interactions is
scored on an earlier moment (Ji et al., "A Critical Study on Data Leakage in Recommender System
Offline Evaluation", TOIS 2023). This split ends training at one point in time:

* **T** = the 80th percentile of all interaction timestamps (``cutoff_quantile=0.8``,
  ``np.quantile(..., method="lower")``, so T is a real timestamp). On MovieLens-100K,
  T = 1998-03-07 02:21:09 UTC and 79,999 interactions lie before it.
* **Train**: every interaction strictly before T, of every user; nothing at or after T is
  seen by any model (all-time popularity, the collaborative model and the profiles included).
* **Evaluated users**: at least ``min_history=5`` distinct items before T and at least one new
  item (not interacted with before T) at or after T: 108 users on MovieLens-100K.
* **Target**: the user's first new item at or after T (same ordering and de-duplication as
  above); the history a ranker sees is the user's items before T.
* **Candidates and metrics**: as for leave-one-out (full ranking over unseen items). There is no
  validation stage: settings are chosen on leave-one-out validation, then measured here.
* **Baseline** "popular in the last window": items by distinct users in the 30 days before the
  newest train interaction (``tools.evaluation.baselines.RecentPopularityRanker``).
* **The moment of the request** (:meth:`LeaveOneOutSplit.request_time`): T for every user here; in
  leave-one-out, the time of the user's newest history item. Our pipeline counts "popular lately"
  in the window before it, as a live user's request counts it before now.

Both splits order each user's interactions with :func:`time_ordered` and the leave-one-out rule
for one user is :func:`split_user_history`; reranker training and the conversation simulator
import them, so every held-out target in whyrec is the same one.

A *ranker* is any callable
``ranker(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]``
returning up to ``n`` item ids, best first. ``history`` is time-ordered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from whyrec.store.records import Dataset, Interaction, user_order
from whyrec.tools.evaluation.metrics import (
    catalog_coverage,
    intra_list_diversity,
    mrr,
    ndcg_at_k,
    ndcg_gains,
    recall_at_k,
)

logger = logging.getLogger(__name__)

Ranker = Callable[[str, list[Interaction], set[str], int], list[str]]

__all__ = [
    "LeaveOneOutSplit",
    "Ranker",
    "TemporalSplit",
    "evaluate",
    "format_table",
    "leave_one_out",
    "split_user_history",
    "temporal_split",
    "time_ordered",
]


@dataclass
class LeaveOneOutSplit:
    """A leave-one-out-by-time split. See the module docstring for the protocol.

    ``train`` maps every user (evaluated or not) to their time-ordered train
    interactions; ``valid`` and ``test`` map each evaluated user to one held-out
    interaction. ``items`` is the candidate catalog in a fixed order.
    """

    train: dict[str, list[Interaction]]
    valid: dict[str, Interaction]
    test: dict[str, Interaction]
    items: list[str]
    train_only_users: list[str] = field(default_factory=list)
    dropped_repeats: int = 0
    name: str = ""

    @property
    def users(self) -> list[str]:
        """Evaluated users in the store's user order (:func:`store.records.user_order`: "9" before "10"), which
        seeded samples draw from, so a sample names the same people the store lists in the same places."""
        return sorted(self.test, key=user_order)

    def train_interactions(self) -> list[Interaction]:
        """All train interactions of all users (what models are fitted on)."""
        return [x for rows in self.train.values() for x in rows]

    def history(self, user_id: str, stage: str = "test") -> list[Interaction]:
        """What a ranker may see for ``user_id`` at ``stage``: train, plus the validation
        interaction at the test stage."""
        _check_stage(stage)
        past = list(self.train.get(user_id, []))
        if stage == "test" and user_id in self.valid:
            past.append(self.valid[user_id])
        return past

    def target(self, user_id: str, stage: str = "test") -> Interaction:
        _check_stage(stage)
        return (self.test if stage == "test" else self.valid)[user_id]

    def request_time(self, history: list[Interaction]) -> float | None:
        """The moment the user asks: :func:`asked_after`. Leave-one-out replays each user at their own
        moment; the log's end instead would rank by what became popular after the user left."""
        return asked_after(history)


def asked_after(history: list[Interaction]) -> float | None:
    """When a replayed user with this history asks for items: right after their newest one (None: no history)."""
    return max((float(x.timestamp) for x in history), default=None)


def _check_stage(stage: str) -> None:
    if stage not in ("valid", "test"):
        raise ValueError(f'stage must be "valid" or "test", got {stage!r}')


def time_ordered(interactions: Iterable[Interaction]) -> tuple[list[Interaction], int]:
    """One user's interactions in the protocol's order, first interaction per item only.

    Sorted by ``timestamp``; ties keep the given order (a stable sort: the position in
    ``dataset.interactions``, or the store's insertion order). Returns (ordered, repeats dropped).
    This is the one ordering every split in whyrec uses (evaluation, reranker training, simulation).
    """
    seen: set[str] = set()
    ordered: list[Interaction] = []
    dropped = 0
    for x in sorted(interactions, key=lambda x: float(x.timestamp)):
        if x.item_id in seen:
            dropped += 1
            continue
        seen.add(x.item_id)
        ordered.append(x)
    return ordered, dropped


def split_user_history(
    history: Iterable[Interaction], min_interactions: int = 3
) -> tuple[list[Interaction], Interaction | None, Interaction | None]:
    """The leave-one-out rule for one user: (train, validation target, test target).

    Last distinct item = test, second-to-last = validation, the rest = train. With fewer than
    ``min_interactions`` distinct items everything is train and there are no targets.
    """
    ordered, _ = time_ordered(history)
    if len(ordered) < min_interactions:
        return ordered, None, None
    return ordered[:-2], ordered[-2], ordered[-1]


def _by_user(dataset: Dataset) -> dict[str, list[Interaction]]:
    by_user: dict[str, list[Interaction]] = {}
    for x in dataset.interactions:
        by_user.setdefault(x.user_id, []).append(x)
    return by_user


def _candidate_items(dataset: Dataset) -> list[str]:
    items = [it.item_id for it in dataset.items]
    known = set(items)
    for x in dataset.interactions:  # items only seen in interactions still count as candidates
        if x.item_id not in known:
            known.add(x.item_id)
            items.append(x.item_id)
    return items


def leave_one_out(dataset: Dataset, min_interactions: int = 3) -> LeaveOneOutSplit:
    """Split ``dataset`` by time: last interaction = test, second-to-last = validation.

    Users with fewer than ``min_interactions`` (>= 3) distinct items are kept whole in
    train and not evaluated.
    """
    if min_interactions < 3:
        raise ValueError(
            f"min_interactions must be >= 3 (train, validation and test each need one), got {min_interactions}"
        )
    train: dict[str, list[Interaction]] = {}
    valid: dict[str, Interaction] = {}
    test: dict[str, Interaction] = {}
    train_only: list[str] = []
    dropped = 0
    for user_id, rows in _by_user(dataset).items():
        dropped += time_ordered(rows)[1]
        train[user_id], v, t = split_user_history(rows, min_interactions)
        if v is None or t is None:
            train_only.append(user_id)
            continue
        valid[user_id], test[user_id] = v, t
    if train_only:
        logger.info(
            "%d users with fewer than %d interactions are train-only (not evaluated)",
            len(train_only), min_interactions,
        )
    return LeaveOneOutSplit(
        train=train, valid=valid, test=test, items=_candidate_items(dataset),
        train_only_users=sorted(train_only, key=user_order), dropped_repeats=dropped, name=dataset.name,
    )


@dataclass
class TemporalSplit(LeaveOneOutSplit):
    """A split at one point in time ``cutoff``: see "Temporal protocol" in the module docstring.

    ``train`` holds every user's interactions before ``cutoff`` (what all models are fitted
    on and what a user's history is); ``test`` maps each evaluated user to their first new
    item at or after ``cutoff``. There is no validation stage: choose settings on the
    leave-one-out validation split, then measure here.
    """

    cutoff: float = 0.0
    window_days: float = 30.0

    def history(self, user_id: str, stage: str = "test") -> list[Interaction]:
        if stage != "test":
            raise ValueError('the temporal split has a test stage only — use stage="test"')
        return list(self.train.get(user_id, []))

    def request_time(self, history: list[Interaction]) -> float | None:
        """Every evaluated user asks at the cutoff T, the present of what the models saw."""
        return self.cutoff


def temporal_split(
    dataset: Dataset, cutoff_quantile: float = 0.8, min_history: int = 5, window_days: float = 30.0
) -> TemporalSplit:
    """Split ``dataset`` at one moment: the ``cutoff_quantile`` of all interaction timestamps.

    Models see only interactions before the cutoff. A user is evaluated when they have at
    least ``min_history`` distinct items before it and at least one new item at or after
    it; the target is the first such item (ties: dataset order). ``window_days`` is the
    window of the "popular recently" baseline, kept here so the report states it.
    """
    if not 0.0 < cutoff_quantile < 1.0:
        raise ValueError(f"cutoff_quantile must be strictly between 0 and 1, got {cutoff_quantile}")
    if min_history < 1:
        raise ValueError(f"min_history must be >= 1, got {min_history}")
    stamps = np.array([float(x.timestamp) for x in dataset.interactions])
    if not stamps.size:
        raise ValueError("the dataset has no interactions to split")
    cutoff = float(np.quantile(stamps, cutoff_quantile, method="lower"))
    train: dict[str, list[Interaction]] = {}
    test: dict[str, Interaction] = {}
    train_only: list[str] = []
    dropped = 0
    for user_id, rows in _by_user(dataset).items():
        ordered, repeats = time_ordered(rows)
        dropped += repeats
        before = [x for x in ordered if float(x.timestamp) < cutoff]
        after = [x for x in ordered if float(x.timestamp) >= cutoff]  # already new: time_ordered keeps first times only
        train[user_id] = before
        if len(before) >= min_history and after:
            test[user_id] = after[0]
        else:
            train_only.append(user_id)
    return TemporalSplit(
        train=train, valid={}, test=test, items=_candidate_items(dataset), train_only_users=sorted(train_only, key=user_order),
        dropped_repeats=dropped, name=dataset.name, cutoff=cutoff, window_days=window_days,
    )


def _pick_users(split: LeaveOneOutSplit, users: int | Iterable[str] | None, seed: int) -> list[str]:
    everyone = split.users
    if users is None:
        return everyone
    if isinstance(users, (int, np.integer)):
        if users < 1:
            raise ValueError(f"users must be a positive number of users to sample, got {users}")
        if users >= len(everyone):
            return everyone
        rng = np.random.default_rng(seed)
        return sorted(rng.choice(everyone, size=int(users), replace=False).tolist(), key=user_order)
    chosen = list(users)
    unknown = [u for u in chosen if u not in split.test]
    if unknown:
        raise ValueError(
            f"user {unknown[0]!r} is not evaluated in this split ({len(unknown)} such users) — "
            "pick users from split.users"
        )
    return chosen


def evaluate(
    ranker: Ranker,
    split: LeaveOneOutSplit,
    k: int = 10,
    users: int | Iterable[str] | None = None,
    stage: str = "test",
    item_vectors: Mapping[str, np.ndarray] | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    progress: bool = False,
    per_user: bool = False,
) -> dict:
    """Run ``ranker`` for each evaluated user and score its lists (protocol: module docstring).

    ``users``: ``None`` = all evaluated users, an ``int`` = a random subset of that size
    drawn with ``seed``, or an explicit list of user ids. ``n`` (default ``k``) is how
    many items the ranker is asked for. ``item_vectors`` maps item id -> vector for ILD.

    Returns a dict with ``Recall@k``, ``NDCG@k``, ``MRR@k`` (and ``MRR@n`` if n > k),
    ``Coverage@k``, ``ILD@k``, ``n_users``, ``stage``, ``seconds`` (ranker time only)
    and ``ms_per_user``; with ``per_user=True`` also ``users`` and ``ndcg_per_user`` (the
    evaluated users in order and each one's NDCG@k, for paired comparisons).
    """
    _check_stage(stage)
    n = k if n is None else n
    if k < 1 or n < k:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    chosen = _pick_users(split, users, seed)
    index = {item_id: i for i, item_id in enumerate(split.items)}

    ranked = np.full((len(chosen), n), -1, dtype=np.int64)
    targets = np.empty(len(chosen), dtype=np.int64)
    known_returned = 0
    elapsed = 0.0
    iterator: Iterable[str] = chosen
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(chosen, desc=f"evaluate[{stage}]")
    for row, user_id in enumerate(iterator):
        history = split.history(user_id, stage)
        exclude = {x.item_id for x in history}
        start = time.perf_counter()
        recs = ranker(user_id, list(history), set(exclude), n)
        elapsed += time.perf_counter() - start
        recs = list(recs)[:n]
        known_returned += sum(1 for r in recs[:k] if r in exclude)
        # items outside the catalog take a slot but can never be the target
        ranked[row, : len(recs)] = [index.get(r, -2) for r in recs]
        targets[row] = index[split.target(user_id, stage).item_id]
    if known_returned:
        logger.warning(
            "ranker returned %d already-known items in its top-%d lists; they count as misses",
            known_returned, k,
        )

    top_k = ranked[:, :k]
    result: dict = {
        f"Recall@{k}": recall_at_k(ranked, targets, k),
        f"NDCG@{k}": ndcg_at_k(ranked, targets, k),
        f"MRR@{k}": mrr(ranked, targets, k),
    }
    if n > k:
        result[f"MRR@{n}"] = mrr(ranked, targets)
    result[f"Coverage@{k}"] = catalog_coverage(top_k, len(split.items))
    result[f"ILD@{k}"] = _ild(top_k, split.items, item_vectors)
    result.update(
        n_users=len(chosen),
        stage=stage,
        seconds=round(elapsed, 3),
        ms_per_user=round(1000 * elapsed / max(len(chosen), 1), 3),
    )
    if per_user:
        result["users"] = list(chosen)
        result["ndcg_per_user"] = ndcg_gains(ranked, targets, k).tolist()
    return result


def _ild(top_k: np.ndarray, items: Sequence[str], item_vectors: Mapping[str, np.ndarray] | None) -> float | None:
    if item_vectors is None:
        return None
    used = sorted({int(i) for i in top_k.ravel() if i >= 0 and items[i] in item_vectors})
    if not used:
        return None
    local = {g: j for j, g in enumerate(used)}
    matrix = np.stack([np.asarray(item_vectors[items[g]], dtype=np.float64) for g in used])
    lists = [[local[int(i)] for i in row if int(i) in local] for row in top_k]
    return intra_list_diversity(lists, matrix)


def format_table(rows: Sequence[Mapping], digits: int = 4) -> str:
    """Render result dicts as a markdown table; columns in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    if "model" in columns:
        columns.remove("model")
        columns.insert(0, "model")

    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, (float, np.floating)):
            return f"{float(value):.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)
