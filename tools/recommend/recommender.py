"""The recommender: profile → retrieve → rerank → diversify, and the evidence for each step.

Usable with no agent and no LLM::

    rec = Recommender.from_settings(Settings())
    for r in rec.recommend("42", request="something funny", k=5):
        print(r.rank, r.item.display_title, r.scores["final"])
    print(rec.explain("42", "50").text)

The jobs it strings together live beside it: the options a list is asked with (options.py), a request applied
to the catalog (applied_request.py), candidate assembly (candidates.py), the final score (final_score.py), an
item's standing for "why?" (item_standing.py) and one catalog per call (catalog_gate.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Literal

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, Item
from whyrec.store.settings import Settings
from whyrec.tools.recommend.applied_request import AppliedRequest, apply_request, explicit_filter
from whyrec.tools.recommend.candidates import cut_to_k, drop_near_disliked, gather_candidates, retrieval_queries
from whyrec.tools.recommend.catalog_gate import CatalogGate
from whyrec.tools.recommend.collaborative import CollaborativeModel
from whyrec.tools.recommend.evidence import add_evidence
from whyrec.tools.recommend.explanation import Explanation, story_quote
from whyrec.tools.recommend.final_score import score_candidates
from whyrec.tools.recommend.item_vectors import ItemVectors
from whyrec.tools.recommend.item_standing import explanation_for, status_of
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.popularity import PopularityTimeline, continues_session
from whyrec.tools.recommend.profile import InterestProfile, InterestProfiler, template_summary
from whyrec.tools.recommend.profile_cache import cached_profile
from whyrec.tools.recommend.profile_summary import BackgroundSummaries, Summarizer
from whyrec.tools.understanding.parser import RequestParser
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.tools.recommend.reranker import Reranker, cascade_scores, is_trained, liked_items
from whyrec.tools.recommend.retrieval import Candidate, CatalogFacets, metadata_filter
from whyrec.tools.recommend.scoring import Ranking, Recommendation, RecommendationList, ScoreWeights
from whyrec.tools.recommend.text_search import ItemTextSearch
from whyrec.tools.recommend.user_context import UserContext
from whyrec.tools.understanding.vocabulary import CatalogVocabulary


# ~320 lines: recommend/explain keep every knob a keyword argument beside their RecommendOptions twins; each stage is its own module
class Recommender:
    """Recommends, explains, profiles and takes feedback for the users of one store."""

    def __init__(
        self,
        store: Store,
        reranker: Reranker | None | Literal["trained"] = "trained",
        *,
        weights: ScoreWeights | None = None,
        summarizer: Summarizer | None = None,
        request_parsing: bool = True,
        rerank_top: int | None = None,
        rerank_top_request: int | None = None,
    ):
        """``reranker="trained"`` uses the one ``whyrec train-reranker`` saved, as soon as it exists
        (checked on each use, so a background training is picked up when it finishes); without one,
        the final score leaves the reranker out rather than add an untrained model's noise.
        ``summarizer`` (e.g. agent.interest_writer.InterestWriter) words profile summaries in the background
        (:class:`~tools.recommend.profile_summary.BackgroundSummaries`); the template shows until then. ``request_parsing=False`` embeds a
        request as it is, without reading decades, categories, titles and exclusions out of it
        (the baseline that request understanding is measured against). ``rerank_top`` overrides
        ``settings.rerank_top`` (the candidates the cross-encoder rescores; 0 = off) and ``rerank_top_request``
        ``settings.rerank_top_request`` (the same when a request is given)."""
        self.store = store
        self.settings = store.settings
        self.profiler = InterestProfiler(
            self.settings.short_term_window, self.settings.long_term_half_life_days, self.settings.max_interests
        )
        self._reranker = reranker
        self._reranker_lock = threading.Lock()
        self.weights = weights or ScoreWeights()
        self._tuned_reranker_weight = weights is None  # default weights: the reranker's weight is the share its card validated
        self.summaries = BackgroundSummaries(store.db, summarizer) if summarizer else None
        self.request_parsing = request_parsing
        self.rerank_top = self.settings.rerank_top if rerank_top is None else rerank_top
        self.rerank_top_request = self.settings.rerank_top_request if rerank_top_request is None else rerank_top_request
        self.moment: float | None = None
        """When a call gives no ``now``, the moment it is asked at (Unix seconds); None is the present, what a live
        user meets. A replayed conversation sets the moment it replays, so that what was trending then, and whether
        the person was mid-session, are those of that moment (tools/evaluation/conversation/benchmark.py)."""
        self._catalog = CatalogGate(
            lambda: self.settings.catalog_check_seconds if self.items else 0.0,  # no catalog yet: look on every call
            self.store.db.catalog_version,
            self.refresh_catalog,
        )
        self.refresh_catalog()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> Recommender:
        """Open the store these settings name and recommend from it (keywords as for ``__init__``)."""
        return cls(Store.open(settings), **kwargs)

    def refresh_catalog(self) -> None:
        """Reload the catalog, popularity and the collaborative model (after an ingest: :class:`~tools.recommend.catalog_gate.CatalogGate`)."""
        self._catalog.loaded(self.store.db.catalog_version())  # read first: an ingest after it shows at the next check
        items, interactions = self.store.db.items(), self.store.db.all_interactions()  # both read before either is replaced
        self.items: dict[str, Item] = items
        self.vectors = ItemVectors(self.store.index, items)
        self._parser: RequestParser | None = None
        self._vocabulary: CatalogVocabulary | None = None
        self._text_search: ItemTextSearch | None = None
        self.facets = CatalogFacets.of(self.items)
        self.fit_interactions(interactions)

    def fit_interactions(self, interactions: list[Interaction]) -> None:
        """Popularity and the collaborative model from these interactions (evaluation passes the train split only)."""
        self.collaborative = CollaborativeModel.fit(interactions, list(self.items), self.settings.collaborative)
        counts = Counter(x.item_id for x in interactions)
        top = max(counts.values(), default=1)
        self.popularity = {i: math.log1p(c) / math.log1p(top) for i, c in counts.items()}
        self.popular = [i for i, _ in counts.most_common()]
        self.timeline = PopularityTimeline(interactions)

    @property
    def reranker(self) -> Reranker | None:
        with self._reranker_lock:
            if self._reranker == "trained":
                path = self.settings.trained_reranker_path
                if not is_trained(path):
                    return None
                self._reranker = Reranker.load(path, self.settings)
            return self._reranker

    @property
    def vocabulary(self) -> CatalogVocabulary:
        """This catalog's titles, categories and years: the one every reader of words shares (a re-ingest builds a new one)."""
        if self._vocabulary is None:
            self._vocabulary = CatalogVocabulary(self.items)
        return self._vocabulary

    @property
    def request_parser(self) -> RequestParser:
        """Reads requests against this catalog (built once per catalog; a re-ingest builds a new one)."""
        if self._parser is None:
            self._parser = RequestParser(self.vocabulary, self.store.embedder, search=lambda text, k: self.search(text, k))
        return self._parser

    @property
    def text_search(self) -> ItemTextSearch:
        """The words of this catalog's item text, for what a request is about (built once per catalog)."""
        if self._text_search is None:
            self._text_search = ItemTextSearch(self.items.values())
        return self._text_search

    def warm_up(self) -> None:
        """Load the embedding model, the request parser's vocabulary and the reranker now, so the
        first request a person makes does not wait ~10 s for them (front ends call this in the background)."""
        self.understand("something funny from the 90s")
        if max(self.rerank_top, self.rerank_top_request) > 0:
            _ = self.reranker

    def understand(self, request: str | None) -> ParsedRequest:
        """What ``request`` asks for, in this catalog's vocabulary, before any user's filters apply."""
        return self.request_parser.parse(request)

    # --- the user ----------------------------------------------------------

    def item(self, item_id: str) -> Item:
        with self._catalog.current():
            item = self.items.get(str(item_id))
        if item is None:
            raise InputError(f"item {item_id!r} is not in the catalog — search the catalog for its id")
        return item

    def _context(self, user_id: str, history: list[Interaction] | None = None) -> UserContext:
        """The stored history and feedback, or (for evaluation and embedding) a given history alone."""
        given = history is not None
        history = history if given else self.store.db.history(user_id)
        feedback = [] if given else self.store.db.feedback(user_id)
        vectors = self.vectors.of([x.item_id for x in history] + [f.item_id for f in feedback])
        if given:
            profile = self.profiler.profile(user_id, history, feedback, vectors, self.items)
        else:
            profile = cached_profile(self.store.db, self.profiler, self.summaries, user_id, history, feedback, vectors, self.vocabulary)
        seen = {x.item_id for x in history} | {f.item_id for f in feedback}
        events, _ = self.profiler.effective_history(history, feedback)
        return UserContext(profile, events, vectors, seen, set(profile.disliked_item_ids))

    def profile(self, user_id: str) -> InterestProfile:
        """Long- and short-term interests, their distribution and drift."""
        with self._catalog.current():
            return self._context(str(user_id)).profile

    def feedback(self, user_id: str, item_id: str, kind: str) -> InterestProfile:
        """Record liked / disliked / not_interested; the next profile and list reflect it at once."""
        with self._catalog.current():
            self.store.db.add_feedback(str(user_id), self.item(item_id).item_id, kind)
            return self.profile(str(user_id))

    def search(self, text: str, k: int = 10, categories: list[str] | None = None) -> list[Item]:
        """Catalog items whose text is closest in meaning to ``text``."""
        if not text.strip():
            raise InputError("the search text is empty — describe what you are looking for")
        vector = self.store.embedder.encode([text])
        with self._catalog.current():
            hits = self.store.index.query(vector, n=k, where=metadata_filter(categories))[0]
            return [self.items[i] for i, _ in hits if i in self.items]

    # --- ranking -----------------------------------------------------------

    def rank(self, user_id: str, options: RecommendOptions) -> Ranking:
        """The whole ranking behind a list: every candidate scored, the ``options.k`` shown, and the time of each
        stage (what evaluation and the benchmarks read; :meth:`recommend` returns its list)."""
        with self._catalog.current():
            return self._rank(str(user_id), options)

    def _rank(self, user_id: str, options: RecommendOptions) -> Ranking:
        d = self.settings.diversity if options.diversity is None else options.diversity  # both checked where they are made
        request, k, like_item_id = options.asked, options.k, options.like_item_id
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        now = self.moment if options.now is None else options.now
        context = self._context(user_id, None if options.history is None else list(options.history))
        exclude = (context.seen if options.exclude_seen else set()) | context.disliked | ({like_item_id} if like_item_id else set())
        exclude = exclude | set(options.exclude_item_ids)  # items already shown, when a chat asks for "more"
        parsed = self.understand(request) if self.request_parsing and request else None
        applied = apply_request(parsed, options, self.facets, self.items, exclude) if parsed is not None else None
        item_filter, tiers = (applied.filter, applied.tiers) if applied else (explicit_filter(options), ())
        if parsed is not None:
            exclude = exclude | set(parsed.exclude_item_ids) | set(parsed.like_item_ids)
        context.queries = self._queries(context, request, like_item_id, parsed)
        if parsed is not None and parsed.about:
            scores = self.text_search.scores(parsed.about)
            context.about = scores if scores.any() else None
        if self.collaborative and context.history:
            context.collaborative = self.collaborative.scores(context.history)
        if self.weights.recent_popularity > 0 and not continues_session(context.history, now):
            # popular in the window before the moment of the request: the log's present for a live user (and the
            # temporal protocol's cut); an evaluation that replays an older moment passes it as ``now``.
            # Mid-session it is left out: the session's own taste leads (tools.recommend.popularity.continues_session)
            context.recent, context.popular_lately = self.timeline.at(now)
        timings["profile"] = time.perf_counter() - clock  # reading the request is counted here

        clock = time.perf_counter()
        where = item_filter.where()
        candidates = gather_candidates(context, self.store.index, where, exclude, self.settings.candidates, self.text_search, self.popular)
        by_id = self.vectors.of([c.item_id for c in candidates if c.item_id in self.items])
        candidates = [c for c in candidates if c.item_id in by_id]  # in the catalog, with a vector (an ingest may be under way)
        ids = [c.item_id for c in candidates]
        vectors = np.stack([by_id[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
        candidates, vectors = drop_near_disliked(context, candidates, vectors)
        timings["retrieve"] = time.perf_counter() - clock

        clock = time.perf_counter()
        scored = self._score(context, request, candidates, vectors, applied)
        timings["rerank"] = time.perf_counter() - clock

        clock = time.perf_counter()
        ranked, shown, shown_vectors = cut_to_k(scored, vectors, tiers, k, d)
        timings["diversity"] = time.perf_counter() - clock

        clock = time.perf_counter()
        add_evidence(context, shown, shown_vectors, self.items, self.collaborative)
        about_terms = self._about_terms(parsed)
        for rec in shown:
            rec.trend = self.timeline.trend(rec.item.item_id, now) if "recent_popularity" in rec.scores else None
            rec.story = story_quote(rec.item, about_terms)
        timings["evidence"] = time.perf_counter() - clock
        return Ranking(context, candidates, ranked, shown, where, timings, applied, now)

    def _queries(self, context: UserContext, request: str | None, like_item_id: str | None, parsed: ParsedRequest | None):
        """The retrieval queries (:func:`~tools.recommend.candidates.retrieval_queries`), with the items to be like looked up."""
        raw = self.store.embedder.encode([request])[0] if parsed is None and request else None
        likes = [like_item_id] if like_item_id else []
        likes += [i for i in (parsed.like_item_ids if parsed else []) if i not in likes]
        found = [self.item(i) for i in likes]
        return retrieval_queries(context, parsed, raw, [(like.title, self.vectors.of([like.item_id])[like.item_id]) for like in found])

    def _score(
        self, context: UserContext, request: str | None, candidates: list[Candidate], vectors: np.ndarray, applied: AppliedRequest | None = None
    ) -> list[Recommendation]:
        """The final score of each candidate (:func:`~tools.recommend.final_score.score_candidates`), the cross-encoder's part decided here."""
        path = "request" if request else "history"
        top = self.rerank_top_request if path == "request" else self.rerank_top

        def cross_encoder(items: list[Item], signals: dict, weights: dict) -> tuple[np.ndarray, float] | None:
            # off (rerank_top 0 on this path) means the saved model is never even loaded
            reranker = self.reranker if top > 0 and self.weights.reranker > 0 else None
            if reranker is None:
                return None
            share = reranker.mix_share_for(path) if self._tuned_reranker_weight else None
            weight = self.weights.with_reranker_share(share).reranker if share is not None else self.weights.reranker
            return self._rerank_top(reranker, context, request, items, signals, weights, top), weight

        return score_candidates(
            context, [self.items[c.item_id] for c in candidates], candidates, vectors, weights=self.weights, popularity=self.popularity,
            text_search=self.text_search, applied=applied.applied if applied else None, cross_encoder=cross_encoder,
        )

    def _rerank_top(self, reranker: Reranker, context: UserContext, request, items: list[Item], signals: dict, weights: dict, top_n: int) -> np.ndarray:
        """Cross-encoder scores for the ``top_n`` best candidates by the other signals (:func:`~whyrec.tools.recommend.reranker.cascade_scores`)."""
        first = sum(weights[name] * values for name, values in signals.items())
        query = self.reranker_query(reranker, context, request)
        return cascade_scores(first, top_n, lambda top: reranker.score(query, [reranker.doc(items[i]) for i in top]))

    def reranker_query(self, reranker: Reranker, context: UserContext, request: str | None) -> str:
        """The cross-encoder's query for this user, in the format its card records (training builds it the same way)."""
        return reranker.query(template_summary(context.profile, self.items), liked_items(context.history, self.items), request)

    # --- public verbs ------------------------------------------------------

    def recommend(
        self, user_id: str, request: str | None = None, k: int = 10,
        *, categories: Iterable[str] | None = None, year_min: int | None = None, year_max: int | None = None, diversity: float | None = None,
        exclude_seen: bool = True, like_item_id: str | None = None, exclude_item_ids: Iterable[str] = (),
        history: Iterable[Interaction] | None = None, now: float | None = None,
    ) -> RecommendationList:
        """Top-``k`` items for the user, as a list that also carries how the request was read and applied.

        The keywords are the fields of :class:`~tools.recommend.options.RecommendOptions` (what each means is written
        there); a caller that holds one passes it to :meth:`recommend_with`. With request parsing on (the default),
        the request's decades, categories, titles and exclusions filter or boost the list; explicit options win a
        conflict; see ``RecommendationList.understood``, ``.request`` and ``.notes``.
        """
        options = RecommendOptions(request, k, categories, year_min, year_max, diversity, exclude_seen, like_item_id, exclude_item_ids, history, now)
        return self.recommend_with(user_id, options)

    def recommend_with(self, user_id: str, options: RecommendOptions) -> RecommendationList:
        """:meth:`recommend` for options made elsewhere (the tool answers, the API)."""
        ranking = self.rank(user_id, options)
        return RecommendationList(ranking.shown, ranking.request)

    def explain(
        self, user_id: str, item_id: str, request: str | None = None, k: int = 10,
        *, categories: Iterable[str] | None = None, year_min: int | None = None, year_max: int | None = None, diversity: float | None = None,
        exclude_seen: bool = True, like_item_id: str | None = None, exclude_item_ids: Iterable[str] = (),
        history: Iterable[Interaction] | None = None, now: float | None = None,
    ) -> Explanation:
        """Evidence for why ``item_id`` is (or is not) recommended to the user, in the list :meth:`recommend` makes with the same options."""
        options = RecommendOptions(request, k, categories, year_min, year_max, diversity, exclude_seen, like_item_id, exclude_item_ids, history, now)
        return self.explain_with(user_id, item_id, options)

    def explain_with(self, user_id: str, item_id: str, options: RecommendOptions) -> Explanation:
        """:meth:`explain` for options made elsewhere (the tool answers, the API)."""
        with self._catalog.current():
            item = self.item(item_id)
            if item.item_id not in self.vectors.of([item.item_id]):  # removed by an ingest under way: not explained as present
                raise InputError(f"item {item_id!r} is not in the catalog any more — search the catalog for its id")
            ranking = self._rank(str(user_id), options)
            context = ranking.context
            shown = {r.item.item_id: r for r in ranking.shown}
            ranked = {r.item.item_id: r for r in ranking.ranked}
            vector = self.vectors.of([item.item_id])[item.item_id][None, :]
            if item.item_id in shown:
                cold = context.profile.is_empty and not context.queries
                status, rec = ("cold_start" if cold else "recommended"), shown[item.item_id]
            else:
                rec = ranked.get(item.item_id)
                if rec is None:  # not a candidate: score it alone, the same way
                    candidate = Candidate(item.item_id, similarity={q.name: float(vector[0] @ q.vector) for q in context.queries})
                    rec = self._score(context, options.asked, [candidate], vector)[0]
                status = status_of(item, ranking, vector[0], self.store.index)
                if status == "not_retrieved" and item.item_id in options.exclude_item_ids:
                    status = "shown_before"
                add_evidence(context, [rec], vector, self.items, self.collaborative)
            return explanation_for(str(user_id), item, status, rec, ranking, self.timeline, self._about_terms(ranking.request.parsed if ranking.request else None))

    def _about_terms(self, parsed: ParsedRequest | None) -> list[str]:
        """The stemmed words of what the request is about that some item's story contains."""
        return self.text_search.terms(parsed.about) if parsed is not None and parsed.about else []
