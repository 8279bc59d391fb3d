"""Fitting the learned content model (:class:`whyrec.tools.recommend.content_model.ContentModel`) on training histories.

Why a separate module: fitting needs torch (the ``[train]`` extra); scoring does not. The model learns
from every prefix of every training history which item came next, by a softmax over all candidate
items' content (1,682 items fit one matrix, so nothing is sampled), with AdamW. The epoch kept is the
one with the best NDCG@10 on the validation targets handed in (in leave-one-out, each user's
second-to-last item: never the test item). Items in ``held_out`` are taken out of training entirely
(out of the histories and out of the softmax), so the model's score of them comes from their content
alone: that is how a benchmark shows it scores cold items.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass

import numpy as np
from whyrec.store.records import Item
from whyrec.tools.evaluation.metrics import ndcg_at_positions
from whyrec.tools.recommend.content_model import (
    ContentModel,
    content_scores,
    history_summaries,
    item_features,
    text_basis,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContentFit:
    """The fit's settings; the defaults are the ones chosen on MovieLens-100K validation (benchmarks/content_model.py)."""

    dim: int = 64
    epochs: int = 6
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 2048
    text_dims: int = 384
    seed: int = 0


def fit_content_model(
    items: Sequence[Item],
    vectors: np.ndarray,
    histories: Mapping[str, Sequence[str]],
    validation: Mapping[str, str],
    held_out: AbstractSet[str] = frozenset(),
    settings: ContentFit = ContentFit(),
) -> ContentModel:
    """Fit on ``histories`` (user → time-ordered item ids), keeping the epoch best on ``validation`` (user → next item id).

    ``items`` and ``vectors`` (their text vectors, same order) are the whole catalog: every item is a
    candidate when validating. ``held_out`` items never reach training.
    """
    import torch

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    genres = tuple(sorted({g for item in items for g in item.categories}))
    row = {item.item_id: n for n, item in enumerate(items)}
    warm = np.array([item.item_id not in held_out for item in items])
    warm_rows = np.flatnonzero(warm)
    text_mean, text_axes = text_basis(np.asarray(vectors)[warm_rows], settings.text_dims)
    features = item_features(items, vectors, genres, text_mean, text_axes)
    warm_position = np.full(len(items), -1)
    warm_position[warm_rows] = np.arange(len(warm_rows))
    sequences = [np.array([row[i] for i in seq if i in row and i not in held_out], dtype=np.int64) for seq in histories.values()]
    sequences = [s for s in sequences if len(s) >= 2]
    if not sequences:
        raise ValueError("no training history has two items — the content model learns from what followed what")
    summaries = torch.from_numpy(np.vstack([history_summaries(features[s[:-1]]).astype(np.float16) for s in sequences]))  # fp16: half the memory (330 MB on MovieLens-100K)
    targets = torch.from_numpy(np.concatenate([warm_position[s[1:]] for s in sequences]))
    candidates = torch.from_numpy(features[warm_rows])

    width = features.shape[1]
    history_map = torch.nn.Parameter(torch.randn(summaries.shape[1], settings.dim) / np.sqrt(summaries.shape[1]))
    item_map = torch.nn.Parameter(torch.randn(width, settings.dim) / np.sqrt(width))
    appeal = torch.nn.Parameter(torch.zeros(width))
    params = [history_map, item_map, appeal]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)

    def model(weights: Sequence[np.ndarray]) -> ContentModel:
        return ContentModel(genres, text_mean, text_axes, *(w.astype(np.float32) for w in weights))

    best = (-1.0, 0, [p.detach().numpy().copy() for p in params])
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        total = 0.0
        for batch in torch.from_numpy(rng.permutation(len(targets))).split(settings.batch_size):
            logits = content_scores(summaries[batch].float(), candidates, history_map, item_map, appeal)
            loss = torch.nn.functional.cross_entropy(logits, targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        weights = [p.detach().numpy().copy() for p in params]
        score = validation_ndcg(model(weights), features, row, histories, validation)
        log.info("epoch %d: train loss %.4f, validation NDCG@10 %.4f (%.0f s)", epoch, total / len(targets), score, time.perf_counter() - start)
        if score > best[0]:
            best = (score, epoch, weights)
    fitted = model(best[2])
    fitted.card = {"fit": asdict(settings), "best_epoch": best[1], "validation_ndcg@10": round(best[0], 4),
                   "held_out_items": len(held_out), "seconds": round(time.perf_counter() - start, 1)}
    return fitted


def validation_ndcg(
    model: ContentModel, features: np.ndarray, row: Mapping[str, int], histories: Mapping[str, Sequence[str]], targets: Mapping[str, str],
    k: int = 10,
) -> float:
    """Mean NDCG@k of ``targets`` in the full ranking of every item the user's history does not hold (the evaluation's candidates)."""
    users = [u for u in targets if histories.get(u)]
    if not users:
        raise ValueError("no validation user has a history — pass each validation user's training items")
    summaries = np.vstack([history_summaries(features[[row[i] for i in histories[u]]], model.windows)[-1] for u in users])
    scores = content_scores(summaries, features, model.history_map, model.item_map, model.appeal)
    positions = np.empty(len(users), dtype=np.int64)
    for n, user in enumerate(users):
        seen = [row[i] for i in histories[user]]
        target = scores[n, row[targets[user]]]
        above = scores[n] > target
        above[seen] = False
        positions[n] = int(above.sum())
    return float(ndcg_at_positions(positions, k).mean())
