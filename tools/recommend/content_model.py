"""The learned content model: scores candidate items from their content alone, given a history's content.

Why: untrained content retrieval (the centroid of a history's text vectors, and every other fixed
similarity we tried) stays under NDCG@10 0.025 on leave-one-out, because what a person rates next
follows release year and broad appeal more than the story (benchmarks/README.md, "Item text").
A small model fitted on the training interactions learns which content goes with which: a
bilinear map from the history's content to the candidate's, plus a learned appeal of each
candidate's content. No item id is a feature, so it scores an item it never saw in training (a
new or cold item) from its text, genres and year alone (``benchmarks/content_model.py`` measures
that on items held out of training).

An item's content is :func:`item_features`: its text vector (the index's, from the embedded text)
on the principal directions of the training items' vectors (:func:`text_basis`), its genres
(multi-hot) and its release year (one-hot bins). A history's content is :func:`history_summaries`: the mean features of its last 1, 5 and 20 items and of all of it. The
score is :func:`content_scores`. Both functions use only ``@``, ``+`` and indexing, so the trainer
(``tools/training/content_model_fit.py``) runs the very same formula on torch tensors, and serving
runs it in numpy without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whyrec.store.records import Item

YEAR_BINS = (1940, 1950, 1960, 1970, 1980, 1985, 1990, 1991, 1992, 1993, 1994, 1995, 1996, 1997, 1998)
"""Left edges of the release-year bins after the first ("before 1940"): decades, then single years
where MovieLens-100K's items crowd; a year past the last edge falls in the last bin."""

WINDOWS = (1, 5, 20, 0)
"""The history windows whose mean content summarises a history: the last 1, 5, 20 items and all (0)."""


def text_basis(vectors: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the ``dims`` leading principal directions ``[width, dims]`` of the text vectors given,
    scaled together so the coordinates have unit variance on average, like the genre and year columns beside them.

    Fitted on the training items only. Keeping fewer directions than the vectors have shrinks the
    model and its fit (a history summary is 4 x (directions + 35) numbers), at a price: on
    MovieLens-100K 64 of 384 gave validation NDCG@10 0.058 against 0.086 for all of them
    (benchmarks/README.md, "Learned content model"), so the default keeps all."""
    vectors = np.asarray(vectors, dtype=np.float64)
    mean = vectors.mean(axis=0)
    _, spread, directions = np.linalg.svd(vectors - mean, full_matrices=False)
    scale = np.sqrt(len(vectors) * dims) / np.linalg.norm(spread[:dims]).clip(1e-12)
    return mean.astype(np.float32), (directions[:dims].T * scale).astype(np.float32)


def item_features(items: Sequence[Item], vectors: np.ndarray, genres: Sequence[str], text_mean: np.ndarray, text_axes: np.ndarray) -> np.ndarray:
    """Each item's content as one row: its text vector's coordinates on ``text_axes`` (about ``text_mean``),
    its genres among ``genres`` (multi-hot) and its release-year bin (one-hot)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(items) or vectors.shape[1] != len(text_mean):
        raise ValueError(
            f"got text vectors of shape {vectors.shape} for {len(items)} items — pass one {len(text_mean)}-number vector per item,"
            " in the items' order, from the model the content model was fitted with"
        )
    column = {g: n for n, g in enumerate(genres)}
    genre_hot = np.zeros((len(items), len(genres)), dtype=np.float32)
    year_hot = np.zeros((len(items), len(YEAR_BINS) + 1), dtype=np.float32)
    for row, item in enumerate(items):
        for genre in item.categories:
            if genre in column:
                genre_hot[row, column[genre]] = 1.0
        if item.year is not None:
            year_hot[row, int(np.searchsorted(YEAR_BINS, item.year, side="right"))] = 1.0
    return np.hstack([(vectors - text_mean) @ text_axes, genre_hot, year_hot])


def history_summaries(features: np.ndarray, windows: Sequence[int] = WINDOWS) -> np.ndarray:
    """The summary of every prefix of one time-ordered history: row ``t`` summarises its first ``t + 1`` items.

    A summary is the mean content of the last ``w`` items for each ``w`` in ``windows`` (0: all of
    them), side by side. Serving takes the last row; training takes every row, each one the history
    before the next item.
    """
    features = np.asarray(features, dtype=np.float32)
    if not len(features):
        raise ValueError("a history summary needs at least one item — score an empty history by appeal alone")
    total = np.vstack([np.zeros((1, features.shape[1]), dtype=np.float32), np.cumsum(features, axis=0, dtype=np.float64)])
    ends = np.arange(1, len(features) + 1)
    parts = []
    for window in windows:
        starts = np.zeros_like(ends) if window == 0 else np.maximum(ends - window, 0)
        parts.append((total[ends] - total[starts]) / (ends - starts)[:, None])
    return np.hstack(parts).astype(np.float32)


def content_scores(summaries, candidates, history_map, item_map, appeal):
    """Scores ``[users, candidates]``: ``(summary @ history_map) · (candidate @ item_map) + candidate @ appeal``.

    The one scoring rule of the content model, for numpy arrays (serving) and torch tensors (training) alike.
    """
    return (summaries @ history_map) @ (candidates @ item_map).T + (candidates @ appeal)[None, :]


@dataclass
class ContentModel:
    """A fitted content model: its weights and the genre vocabulary its features were built with.

    ``fit`` is :func:`whyrec.tools.training.content_model_fit.fit_content_model` (needs torch); this class
    only scores, in numpy. ``card`` records how it was fitted (settings, validation NDCG@10, held-out items).
    """

    genres: tuple[str, ...]
    text_mean: np.ndarray
    text_axes: np.ndarray
    history_map: np.ndarray
    item_map: np.ndarray
    appeal: np.ndarray
    windows: tuple[int, ...] = WINDOWS
    card: dict | None = None

    def item_features(self, items: Sequence[Item], vectors: np.ndarray) -> np.ndarray:
        """The content rows this model scores, for ``items`` and their text vectors."""
        return item_features(items, vectors, self.genres, self.text_mean, self.text_axes)

    def scores(self, history: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """One score per candidate row for a history given as its items' content rows, oldest first.

        An empty history scores candidates by their content's appeal alone (a new user)."""
        if not len(history):
            return np.asarray(candidates @ self.appeal, dtype=np.float32)
        summary = history_summaries(history, self.windows)[-1:]
        return content_scores(summary, candidates, self.history_map, self.item_map, self.appeal)[0]

    def save(self, path: Path) -> None:
        """Write the weights and genre vocabulary to one ``.npz`` (the card as JSON inside it)."""
        import json

        np.savez_compressed(
            path, genres=np.array(self.genres), text_mean=self.text_mean, text_axes=self.text_axes, history_map=self.history_map, item_map=self.item_map, appeal=self.appeal,
            windows=np.array(self.windows), card=np.array(json.dumps(self.card or {})),
        )

    @classmethod
    def load(cls, path: Path) -> ContentModel:
        import json

        with np.load(path, allow_pickle=False) as saved:
            return cls(
                genres=tuple(str(g) for g in saved["genres"]), text_mean=saved["text_mean"], text_axes=saved["text_axes"],
                history_map=saved["history_map"], item_map=saved["item_map"],
                appeal=saved["appeal"], windows=tuple(int(w) for w in saved["windows"]), card=json.loads(str(saved["card"])),
            )
