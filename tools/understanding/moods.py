"""Mood words matched to category names by embedding, in the request's one model call.

"something to cheer me up" names no category, but "cheer" lies near "Comedy" in the embedding model's space. The
catalog's category names are embedded once; each request embeds its own text, its unknown titles and the mood words
not seen before in one call, and a word close enough to one category (and clearly closer than to the next) leans the
request to it. A shop's "Kitchen" or "Toys" work as well as film genres.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from whyrec.tools.understanding.draft import RequestDraft
from whyrec.tools.understanding.request import CategoryAsk

if TYPE_CHECKING:
    from whyrec.store.embeddings import ItemEmbedder

MOOD_MIN_SIMILARITY = 0.5  # cosine of a word to a category name below which it is not a match …
MOOD_MIN_MARGIN = 0.04  # … or when the runner-up category is this close (the word is not about one category)
WORD_CACHE = 4096  # word vectors kept, so a repeated word costs no model call


class MoodMatcher:
    """Embeds a request and matches its mood words to one catalog's category names (their vectors made once)."""

    def __init__(self, embedder: ItemEmbedder | None, categories: list[str]):
        self.embedder = embedder
        self.categories = categories
        self._category_vectors: np.ndarray | None = None
        self._word_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def category_vectors(self) -> np.ndarray | None:
        """The category names embedded, once per catalog."""
        if self._category_vectors is None and self.embedder is not None and self.categories:
            self._category_vectors = self.embedder.encode(self.categories)
        return self._category_vectors

    def embed(self, draft: RequestDraft, words: list[str]) -> None:
        """One model call: the request's text, unknown titles and the mood words not seen before."""
        if self.embedder is None:
            return
        texts = ([draft.query_text] if draft.query_text else []) + draft.unknown_titles
        known = {w: v for w in words if (v := self._word_vectors.get(w)) is not None}  # a local copy: other threads evict
        new_words = [w for w in words if w not in known]
        vectors = self.embedder.encode(texts + new_words) if texts or new_words else np.zeros((0, 0), dtype=np.float32)
        if draft.query_text:
            draft.query_vector = vectors[0]
        draft.unknown_title_vectors = list(vectors[len(texts) - len(draft.unknown_titles) : len(texts)])
        for word, vector in zip(new_words, vectors[len(texts) :], strict=True):
            known[word] = self._word_vectors[word] = vector
        while len(self._word_vectors) > WORD_CACHE:
            try:
                self._word_vectors.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
        categories = self.category_vectors
        if categories is None or not words:
            return
        asked = {c for ask in draft.categories + draft.exclude_categories + draft.boost_categories for c in ask.categories}
        sims = np.stack([known[w] for w in words]) @ categories.T
        for word, row in zip(words, sims, strict=True):
            order = np.argsort(-row)
            best, second = float(row[order[0]]), float(row[order[1]]) if len(order) > 1 else 0.0
            category = self.categories[int(order[0])]
            if best >= MOOD_MIN_SIMILARITY and best - second >= MOOD_MIN_MARGIN and category not in asked:
                asked.add(category)
                draft.boost_categories.append(CategoryAsk((category,), word, "embedding", round(best, 3)))
