"""What a request is about, matched against the words of the items' own text (BM25).

Embedding similarity finds items close in meaning to "a movie set on a submarine"; it also finds
films that are merely tense, or naval, or wet. The words matter too: an overview that says
"submarine" or a keyword "boxing" is the strongest evidence a catalog has that the item is about
that. ``bm25s`` scores the request's subject words against each item's title, keywords and
overview (plurals folded, so "sharks" meets "shark"), and the recommender fuses that score with
the embedding's, the filters and the person's taste.

Item text is data: it is only tokenised and counted here, never interpreted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import bm25s
import numpy as np

from whyrec.store.records import Item

# bm25s sets its own logger to DEBUG when imported, which overrides the application's choice ("DEBUG bm25s: Building
# index from IDs objects" reached the terminal chat): give the choice back to whoever configures logging
logging.getLogger("bm25s").setLevel(logging.NOTSET)

COMMON_SHARE = 0.10
"""A word in more than this share of the catalog's items ("love", "life", "young", "family") is too common to say
what an item is about: it is left to the embedding, never matched. BM25's scores are divided by the best one, so a
common word would otherwise lift every item that says it as high as a rare word lifts the one film about it."""
COMMON_MIN_ITEMS = 20  # ... and in more items than this: in a small catalog a few items saying a word is not "common"
TITLE_ONLY = 0.5
"""What a match counts for when an item has no story and its title alone says the word: weaker evidence (a short
title also scores high under BM25's length normalisation, and would otherwise outrank a story that says it)."""


def _singular(word: str) -> str:
    """Harman's S-stemmer: plurals only ("sharks" → "shark", "heists" → "heist", "parodies" → "parody").

    A full stemmer (Porter/Snowball) reads "boxing" as "box" and finds Hellraiser's puzzle box for "a boxing
    movie"; the words match exactly here, and meaning (boxer ≈ boxing) is the embedding's job."""
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _stem(words: list[str]) -> list[str]:
    return [_singular(w) for w in words]


def stems(text: str) -> list[str]:
    """The content words of ``text`` as the index counts them: lower case, singular, English stopwords dropped."""
    return bm25s.tokenize([text], stopwords="en", stemmer=_stem, return_ids=False, show_progress=False)[0]


def _document(item: Item) -> str:
    """The words an item is searched by: its keywords (twice: a tag is a deliberate statement of what the
    item is about, where an overview word may be incidental) and its story. The title counts only when
    there is no story: "Swimming with Sharks" is about Hollywood, not sharks."""
    keywords = " ".join(item.keywords)
    return " ".join([keywords, keywords, item.description or item.title])


class ItemTextSearch:
    """BM25 over one catalog's item text, built once per catalog (a re-ingest builds a new one)."""

    def __init__(self, items: Iterable[Item]):
        items = list(items)
        self.ids = [i.item_id for i in items]
        self._position = {item_id: n for n, item_id in enumerate(self.ids)}
        corpus = bm25s.tokenize([_document(i) for i in items], stopwords="en", stemmer=_stem, show_progress=False)
        counts = np.bincount(np.concatenate([np.unique(doc) for doc in corpus.ids if len(doc)] or [np.zeros(0, int)]), minlength=len(corpus.vocab))
        common = max(COMMON_SHARE * len(items), COMMON_MIN_ITEMS)
        self._vocabulary = {t: i for t, i in corpus.vocab.items() if counts[i] <= common}
        self._index = bm25s.BM25()
        self._index.index(corpus, show_progress=False)
        self._evidence = np.array([1.0 if i.description else TITLE_ONLY for i in items], dtype=np.float32)

    def terms(self, text: str) -> list[str]:
        """The words of ``text`` (as :func:`stems` reads them) that some item's text contains and that are not too
        common to say what an item is about (:data:`COMMON_SHARE`)."""
        return [t for t in dict.fromkeys(stems(text)) if t in self._vocabulary]

    def scores(self, text: str) -> np.ndarray:
        """Each item's BM25 score for ``text``, divided by the best one (so in [0, 1]); all zeros when no word matches."""
        terms = self.terms(text)
        if not terms or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        raw = np.asarray(self._index.get_scores(terms), dtype=np.float32) * self._evidence
        best = float(raw.max())
        return raw / best if best > 0 else raw

    def score_of(self, scores: np.ndarray, item_ids: Iterable[str]) -> np.ndarray:
        """``scores`` (from :meth:`scores`) picked out for ``item_ids``; 0 for an id this index lacks."""
        return np.array([scores[n] if (n := self._position.get(i)) is not None else 0.0 for i in item_ids], dtype=np.float32)

    def hits(self, scores: np.ndarray, n: int, allowed: set[str] | None, exclude: set[str]) -> list[tuple[str, float]]:
        """The best ``n`` items by ``scores`` with a score above 0, among ``allowed`` (None = all), less ``exclude``."""
        order = np.argsort(-scores, kind="stable")
        found: list[tuple[str, float]] = []
        for position in order:
            score = float(scores[position])
            if score <= 0 or len(found) >= n:
                break
            item_id = self.ids[position]
            if item_id not in exclude and (allowed is None or item_id in allowed):
                found.append((item_id, score))
        return found
