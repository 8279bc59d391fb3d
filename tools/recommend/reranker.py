"""Reranking candidates with a cross-encoder fine-tuned on our own interaction log.

A cross-encoder reads a (user, item) pair together and scores how well the item
fits. The user side is :func:`query_text`: the same words at training time
(:mod:`tools.training.candidate_lists`) and at inference time, so what the model
learnt transfers. The item side is :attr:`store.records.Item.text`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from whyrec.store.embeddings import pick_device
from whyrec.store.errors import SetupError
from whyrec.store.records import Interaction, Item
from whyrec.store.settings import Settings
from whyrec.tools.recommend.reranker_backends import Runner, make_runner, resolve_backend

log = logging.getLogger(__name__)

CARD_NAME = "whyrec_reranker.json"
"""The training card :func:`tools.training.reranker_training.train_reranker` writes beside the model."""

MAX_SEQ_LENGTH = 256
"""Word pieces per (query, item) pair: all-MiniLM-L6-v2's limit."""

QUERY_CHAR_BUDGET = 700
"""About 180 word pieces for the user side, leaving room for an item's text within :data:`MAX_SEQ_LENGTH`."""

TOP_GENRES = 4

QUERY_ITEMS = 5
"""Recent titles in a query. Training uses this too: 5 titles keep a (query, item) pair near 90 word pieces,
which is what makes fine-tuning fit the CPU budget (10 titles: about 115, and 2x slower steps measured)."""


def _item_phrase(item: Item) -> str:
    head = f"{item.title} ({item.year})" if item.year else item.title
    return f"{head} [{', '.join(item.categories)}]" if item.categories else head


def query_text(recent: Sequence[Item], request: str | None = None, max_items: int = QUERY_ITEMS) -> str:
    """The text that stands for a user: what they are looking for, their top genres, then recent likes.

    ``recent`` is newest first. Titles come from the first ``max_items``; top genres
    are counted over all of ``recent``, so passing a longer history adds the long-term
    taste at no extra length. The request and genres come first and titles are added
    newest first until a character budget is reached, so that if anything is cut it is
    the oldest title, never what the user asked for.

    >>> query_text([Item("1", "Heat", categories=("Crime",), year=1995)], "something tense")
    'Looking for: something tense. Top genres: Crime. Recently liked: Heat (1995) [Crime]'
    """
    parts = []
    if request and request.strip():
        parts.append(f"Looking for: {' '.join(request.split())[:QUERY_CHAR_BUDGET // 2]}")
    genres = Counter(c for item in recent for c in item.categories)
    if genres:
        top = sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_GENRES]
        parts.append("Top genres: " + ", ".join(g for g, _ in top))
    head = ". ".join(parts)
    titles: list[str] = []
    used = len(head) + len("Recently liked: ")
    for item in list(recent)[: max(0, max_items)]:
        phrase = _item_phrase(item)
        if titles and used + len(phrase) + 2 > QUERY_CHAR_BUDGET:
            break
        titles.append(phrase)
        used += len(phrase) + 2
    if titles:
        parts.append("Recently liked: " + "; ".join(titles))
    return ". ".join(parts) if parts else "Looking for: anything"


DOC_KEYWORDS = 8
"""Keywords in an item's side of the pair, before its overview: enough to say what it is about, leaving room for the story."""


def _cut(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` after a whole word (the whole text when it fits)."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0]


def _short_text(item: Item, keywords: int) -> str:
    """An item in a few words for the user side: title, year and its first keywords (what it is about)."""
    head = f"{item.title} ({item.year})" if item.year else item.title
    return f"{head}: {', '.join(item.keywords[:keywords])}" if item.keywords and keywords > 0 else head


@dataclass(frozen=True)
class QueryFormat:
    """How a user and an item become the cross-encoder's (query, doc) pair: one rule for training and serving.

    The training card carries these parameters (``query_format``) and :class:`Reranker` reads them
    back, so a model is always served the words it was trained on.

    - Version 3 (what ``whyrec train-reranker`` writes): the query is the request, the profile's short- and
      long-term summaries (:func:`tools.recommend.profile.template_summary`) and the ``max_items`` most recent
      liked items' short text (title, year, first ``item_keywords`` keywords), cut to ``max_chars``; the doc is
      title, year, genres, keywords, then the overview, cut to ``doc_chars`` (the keywords come before the
      overview so a short cut keeps them; ``doc_chars`` is chosen on the validation curve at training time).
    - Version 2: the request and the summaries; the doc is title, year and genres only.
    - Version 1 (older cards): recent liked titles (:func:`query_text`) against the item's full text.
    """

    version: int = 3
    max_chars: int = 320  # about 80 word pieces
    max_items: int = 3
    doc_chars: int = 400  # about 100 word pieces
    item_keywords: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_card(cls, card: Mapping) -> QueryFormat:
        """The format a card records; cards from before version 2 name only ``max_query_items``."""
        given = card.get("query_format")
        if isinstance(given, Mapping):
            known = {f for f in cls.__dataclass_fields__}
            return cls(**{k: given[k] for k in known if k in given})
        return cls(version=1, max_items=int(card.get("max_query_items", QUERY_ITEMS)))

    def query(self, summary: Mapping[str, str] | None, recent: Sequence[Item], request: str | None = None) -> str:
        """The user side. ``summary`` is the template profile summary, ``recent`` the liked items, newest first."""
        if self.version < 2:
            return query_text(recent, request, max_items=self.max_items)
        parts = []
        if request and request.strip():
            parts.append(f"Looking for: {_cut(request, self.max_chars // 2)}.")
        for key in ("short_term", "long_term"):
            text = " ".join(((summary or {}).get(key) or "").split())
            if text:
                parts.append(text)
        if self.version >= 3 and recent and self.max_items > 0:
            parts.insert(int(bool(request and request.strip())),
                         "Recently liked: " + "; ".join(_short_text(i, self.item_keywords) for i in list(recent)[: self.max_items]) + ".")
        # the request comes first, so it is never what is cut
        return _cut(" ".join(parts), self.max_chars) or "Looking for: anything"

    def doc(self, item: Item) -> str:
        """The item side: see the class docstring for each version."""
        if self.version < 2:
            return item.text
        if self.version == 2:
            return _item_phrase(item)
        parts = [_item_phrase(item)]
        if item.keywords:
            parts.append(f"Keywords: {', '.join(item.keywords[:DOC_KEYWORDS])}.")
        if item.description:
            parts.append(item.description)
        return _cut(" ".join(parts), self.doc_chars)

    def with_doc_chars(self, doc_chars: int) -> QueryFormat:
        """The same format with another document length (the validation curve tries several)."""
        return replace(self, doc_chars=doc_chars)


def liked_items(history: Iterable[Interaction], items: Mapping[str, Item]) -> list[Item]:
    """The items a user liked, newest first: :attr:`Interaction.liked <store.records.Interaction.liked>`.

    ``history`` is oldest first (as :meth:`store.database.Database.history` returns
    it). Repeats keep their latest position; items missing from ``items`` are skipped.
    """
    out: list[Item] = []
    seen: set[str] = set()
    for x in reversed(list(history)):
        if x.item_id in seen or x.item_id not in items:
            continue
        if x.liked:
            seen.add(x.item_id)
            out.append(items[x.item_id])
    return out


def user_query(history: Iterable[Interaction], items: Mapping[str, Item], request: str | None = None, max_items: int = QUERY_ITEMS) -> str:
    """:func:`query_text` for a user's history (oldest first): the rule training uses too."""
    return query_text(liked_items(history, items), request, max_items)


def cascade_scores(first_stage: np.ndarray, top_n: int, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The cross-encoder's signal for each candidate: ``score(top)`` for the ``top_n`` best by ``first_stage``, 0 for the rest.

    A cascade: the cross-encoder is the slow stage, so it only reads the candidates that can still reach
    the list; the rest get 0 and stay below them. ``score`` gets those candidates' indexes, best first
    (ties keep the given order). Serving (:meth:`tools.recommend.recommender.Recommender._rerank_top`) and
    training's validation (:func:`cascade_mix`) both cut here, so the validated depth is the served one.
    """
    top = np.argsort(-np.asarray(first_stage), kind="stable")[:top_n]
    scored = np.asarray(score(top))
    out = np.zeros(len(first_stage), dtype=scored.dtype)
    out[top] = scored
    return out


def cascade_mix(base: np.ndarray, top_n: int, share: float, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The final score with the reranker mixed in: ``base`` + ``share`` x :func:`cascade_scores` on the top ``top_n``.

    Training validates this for a grid of shares and depths, and the card keeps the best; serving gives the
    cross-encoder the weight :meth:`tools.recommend.scoring.ScoreWeights.with_reranker_share` makes of that share.
    """
    return base + share * cascade_scores(base, top_n, score)


def is_trained(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a reranker that ``whyrec train-reranker`` saved."""
    path = Path(path)
    return (path / CARD_NAME).is_file() and (path / "config.json").is_file()


class Reranker:
    """Scores (query, item text) pairs with a cross-encoder; higher = better fit, in [0, 1].

    >>> reranker = Reranker.for_settings(settings)            # doctest: +SKIP
    >>> reranker.score(user_query(history, items), [i.text for i in candidates])  # doctest: +SKIP
    """

    def __init__(
        self,
        model_path: str | Path,
        device: str | None = None,
        max_seq_length: int | None = None,
        backend: str = "torch",
        cache_dir: Path | None = None,
    ):
        """``backend`` is ``torch``, ``auto`` or one of :data:`tools.recommend.reranker_backends.BACKENDS`; the exported
        ones run on the CPU and keep their ONNX files in ``cache_dir`` (default: the settings' cache)."""
        from sentence_transformers import CrossEncoder

        self.model_path = str(model_path)
        requested = pick_device(device)
        self.backend = resolve_backend(backend, requested)
        self.device = requested if self.backend == "torch" else "cpu"
        self.trained = is_trained(self.model_path)
        self.card: dict = json.loads((Path(self.model_path) / CARD_NAME).read_text()) if self.trained else {}
        self.query_format = QueryFormat.from_card(self.card) if self.trained else QueryFormat()
        self.max_query_items = self.query_format.max_items
        max_seq_length = max_seq_length or int(self.card.get("max_seq_length", MAX_SEQ_LENGTH))
        self.model = CrossEncoder(self.model_path, num_labels=1, max_length=max_seq_length, device=self.device, local_files_only=True)
        if self.device.startswith("cuda"):
            self.model.half()
        self._runner: Runner | None = None
        if self.backend != "torch":
            try:
                self._runner = make_runner(self.backend, self.model.model, self.model.tokenizer, self.model_path, cache_dir or Settings().cache_dir)
            except (OSError, RuntimeError, ImportError) as err:  # a read-only cache, a model the exporter cannot trace...
                if backend != "auto":
                    raise SetupError(f"the {self.backend} reranker backend could not start ({err}) — use WHYREC_RERANKER_BACKEND=torch") from err
                log.warning("the %s reranker backend could not start (%s); using torch", self.backend, err)
                self.backend = "torch"
        log.info("loaded %s reranker %s (%s on %s)", "trained" if self.trained else "untrained", self.model_path, self.backend, self.device)

    @classmethod
    def load(cls, model_path: str | Path, settings: Settings) -> Reranker:
        """The reranker at ``model_path`` with the settings' device, backend and cache directory."""
        return cls(model_path, device=settings.device, backend=settings.reranker_backend, cache_dir=settings.cache_dir)

    @classmethod
    def for_settings(cls, settings: Settings) -> Reranker:
        """The trained reranker at ``settings.trained_reranker_path``, else the base model with an untrained head."""
        path = settings.trained_reranker_path
        if is_trained(path):
            return cls.load(path, settings)
        log.warning(
            "no trained reranker at %s: using %s with an untrained scoring head (its scores are noise) — run `whyrec train-reranker`",
            path,
            settings.resolved_embedding_model(),
        )
        return cls.load(settings.resolved_embedding_model(), settings)

    def query(self, summary: Mapping[str, str] | None, recent: Sequence[Item], request: str | None = None) -> str:
        """The query in the format this model was trained with (its card's ``query_format``)."""
        return self.query_format.query(summary, recent, request)

    def doc(self, item: Item) -> str:
        """An item's side of the pair, in the format this model was trained with."""
        return self.query_format.doc(item)

    @property
    def mix_share(self) -> float | None:
        """The share of the final score its training validated best on history-only lists (card: ``validation.best_mix``)."""
        return self.mix_share_for("history")

    def mix_share_for(self, path: str) -> float | None:
        """The validated share on ``path``: ``history`` (card: ``validation.best_mix``) or ``request``
        (``validation.request.best_mix``; cards from before the paths were validated apart: the history one)."""
        validation = self.card.get("validation") or {}
        best = ((validation.get("request") or {}).get("best_mix") if path == "request" else None) or validation.get("best_mix") or {}
        return float(best["share"]) if "share" in best else None

    def score(self, query: str, docs: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probability that each doc fits the query, as float32 in [0, 1], in the order of ``docs``."""
        import torch

        if not docs:
            return np.zeros(0, dtype=np.float32)
        if self._runner is not None:
            logits = np.concatenate([self._run_exported(query, docs[i : i + batch_size]) for i in range(0, len(docs), batch_size)])
        else:
            logits = self.model.predict(
                [(query, doc) for doc in docs],
                batch_size=batch_size,
                activation_fn=torch.nn.Identity(),  # we apply the sigmoid ourselves, whatever the saved config says
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        logits = np.asarray(logits, dtype=np.float64).reshape(len(docs))
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def _run_exported(self, query: str, docs: Sequence[str]) -> np.ndarray:
        """One batch through the ONNX/OpenVINO runner, tokenised exactly as ``CrossEncoder.predict`` does."""
        assert self._runner is not None
        features = self.model.preprocess([(query, doc) for doc in docs])
        return self._runner({name: value.numpy() for name, value in features.items() if hasattr(value, "numpy")})

    def rerank(self, query: str, items: Sequence[Item], batch_size: int = 64) -> list[tuple[Item, float]]:
        """``items`` with their scores, best first (ties keep the given order)."""
        scores = self.score(query, [self.doc(item) for item in items], batch_size=batch_size)
        order = np.argsort(-scores, kind="stable")
        return [(items[i], float(scores[i])) for i in order]
