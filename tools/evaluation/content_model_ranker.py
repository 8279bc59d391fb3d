"""The learned content model as an evaluation ranker, fitted on a split's past only.

Why here: ``whyrec evaluate`` (:mod:`tools.evaluation.report`), ``whyrec train-content-model`` and
``benchmarks/content_model.py`` must fit and score the model the same way: one home for which
interactions train it, which pick its epoch, and how its scores become a ranking. The model itself is
:mod:`tools.recommend.content_model` (numpy) and its fit :mod:`tools.training.content_model_fit` (torch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
from whyrec.store.records import Interaction, Item
from whyrec.tools.evaluation.splits import LeaveOneOutSplit, Ranker
from whyrec.tools.recommend.content_model import ContentModel


def score_ranker(scores: Callable[[list[Interaction]], np.ndarray], items: list[str]) -> Ranker:
    """An evaluation ranker over ``items`` from a function of the history giving one score per item."""
    row = {item_id: n for n, item_id in enumerate(items)}

    def rank(user_id: str, history: list[Interaction], exclude: set[str], n: int) -> list[str]:
        scored = np.array(scores(history), dtype=np.float64)
        scored[[row[i] for i in exclude if i in row]] = -np.inf
        top = np.argsort(-scored, kind="stable")[:n]
        return [items[i] for i in top if np.isfinite(scored[i])]

    return rank


def content_scores(model: ContentModel, catalog: Sequence[Item], vectors: np.ndarray) -> Callable[[list[Interaction]], np.ndarray]:
    """The content model's score of every catalog item for a history (``vectors``: the catalog's text vectors)."""
    features = model.item_features(catalog, vectors)
    row = {item.item_id: n for n, item in enumerate(catalog)}
    return lambda history: model.scores(features[[row[x.item_id] for x in history]], features)


def fit_on_split(
    split: LeaveOneOutSplit, catalog: Sequence[Item], vectors: np.ndarray, stage: str = "valid",
    held_out: AbstractSet[str] = frozenset(), settings=None,
) -> ContentModel:
    """Fit the content model on what ``split`` shows before ``stage``'s targets; those targets pick the epoch.

    ``stage="valid"`` (evaluation): trained on the train part, the epoch picked on each user's
    second-to-last item; the test items are never seen. ``stage="test"`` (a model to keep): trained on
    everything but each evaluated user's last item, which picks the epoch. Needs torch.
    """
    from whyrec.tools.training.content_model_fit import ContentFit, fit_content_model

    histories = {u: [x.item_id for x in split.history(u, "test" if stage == "test" else "valid")] for u in split.train}
    targets = {u: split.target(u, stage).item_id for u in split.users}
    return fit_content_model(catalog, vectors, histories, targets, held_out=held_out, settings=settings or ContentFit())
