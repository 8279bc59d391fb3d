"""The recommender: profile → retrieve → rerank → diversify, and the evidence for each step.

Usable with no agent and no LLM::

    rec = Recommender.from_settings(Settings())
    for r in rec.recommend("42", request="something funny", k=5):
        print(r.rank, r.item.display_title, r.scores["final"])
    print(rec.explain("42", "50").text)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import Literal

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, Item
from whyrec.store.settings import Settings
from whyrec.tools.recommend.collaborative import CollaborativeModel
from whyrec.tools.recommend.diversity import mmr
from whyrec.tools.recommend.evidence import add_evidence
from whyrec.tools.recommend.explanation import (
    Explanation,
    explanation_sentences,
    story_quote,
)
from whyrec.tools.recommend.popularity import PopularityTimeline, continues_session
from whyrec.tools.recommend.profile import InterestProfile, InterestProfiler, template_summary
from whyrec.tools.recommend.profile_summary import BackgroundSummaries, Summarizer
from whyrec.tools.understanding.request import (
    CategoryAsk,
    ParsedRequest,
    RequestParser,
    YearRange,
)
from whyrec.tools.recommend.reranker import Reranker, cascade_scores, is_trained, liked_items
from whyrec.tools.recommend.retrieval import (
    Candidate,
    CatalogFacets,
    ItemFilter,
    RankedList,
    RetrievalQuery,
    metadata_filter,
    retrieve_candidates,
)
from whyrec.tools.recommend.scoring import (
    Ranking,
    Recommendation,
    RecommendationList,
    ScoreWeights,
)
from whyrec.tools.recommend.text_search import ItemTextSearch, stems
from whyrec.tools.recommend.user_context import UserContext
from whyrec.tools.understanding.vocabulary import CatalogVocabulary

log = logging.getLogger(__name__)

NEAR_DUPLICATE = 0.9  # cosine above which a candidate counts as a copy of a disliked item
PROFILE_CACHE_KEY = "profile-v5"  # v2: a like given today no longer ages an old history; v3: summaries name titles as people say them; v4: interests carry themes from item keywords; v5: no two interests of a profile are named by the same categories (older ones are rebuilt)
REQUEST_QUERY = "your request"
COLLABORATIVE_SOURCE = "people with similar histories"
RECENT_SOURCE = "popular lately"
ABOUT_SOURCE = "the words of your request in the stories"
def _items(n: int) -> str:
    return f"{n} unseen item" if n == 1 else f"{n} unseen items"


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
        self._catalog_gate = threading.Condition()  # a reload waits for the calls using the old catalog
        self._catalog_users = 0
        self._catalog_reloading = False
        self._catalog_depth = threading.local()  # calls nested in a call use its catalog
        self.refresh_catalog()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> Recommender:
        """Open the store these settings name and recommend from it (keywords as for ``__init__``)."""
        return cls(Store.open(settings), **kwargs)

    def refresh_catalog(self) -> None:
        """Reload the catalog, popularity and the collaborative model (after an ingest: :meth:`_current_catalog`)."""
        self.catalog_version = self.store.db.catalog_version()  # read first: an ingest after it shows at the next check
        self._catalog_checked = time.monotonic()
        items, interactions = self.store.db.items(), self.store.db.all_interactions()  # both read before either is replaced
        self.items: dict[str, Item] = items
        self._vector_cache: dict[str, np.ndarray] = {}
        self._parser: RequestParser | None = None
        self._vocabulary: CatalogVocabulary | None = None
        self._text_search: ItemTextSearch | None = None
        self.facets = CatalogFacets.of(self.items)
        self.fit_interactions(interactions)

    @contextmanager
    def _current_catalog(self) -> Iterator[None]:
        """Serve the call in the block from the catalog the database holds, at most ``settings.catalog_check_seconds`` old.

        Each worker keeps the catalog, popularity and the collaborative model in memory; the database counts
        ingests and added interactions (``Database.catalog_version``). A call asks for the count when the last
        check is older than ``catalog_check_seconds``; on a change the worker reloads once the calls still using
        the old catalog are done, and calls that arrive meanwhile wait for the new one, so no call mixes the two.
        A call that starts more than ``catalog_check_seconds`` after an ingest commits therefore never shows,
        recommends or explains an item the ingest removed (docs/deployment.md).
        """
        depth = getattr(self._catalog_depth, "n", 0)
        if depth == 0:
            self._follow_catalog()
            with self._catalog_gate:
                while self._catalog_reloading:
                    self._catalog_gate.wait()
                self._catalog_users += 1
        self._catalog_depth.n = depth + 1
        try:
            yield
        finally:
            self._catalog_depth.n = depth
            if depth == 0:
                with self._catalog_gate:
                    self._catalog_users -= 1
                    self._catalog_gate.notify_all()

    def _follow_catalog(self) -> None:
        """Reload the catalog when the database's version moved on since the last reload (see :meth:`_current_catalog`)."""
        interval = self.settings.catalog_check_seconds if self.items else 0.0  # no catalog yet: look on every call
        if time.monotonic() - self._catalog_checked < interval:
            return
        with self._catalog_gate:
            while self._catalog_reloading:
                self._catalog_gate.wait()
            if time.monotonic() - self._catalog_checked < interval:
                return
            self._catalog_checked = time.monotonic()
            version = self.store.db.catalog_version()
            if version == self.catalog_version:
                return
            self._catalog_reloading = True
            while self._catalog_users:
                self._catalog_gate.wait()
        try:
            log.info("the catalog changed (version %d, this worker had %d): reloading it", version, self.catalog_version)
            self.refresh_catalog()
        finally:
            with self._catalog_gate:
                self._catalog_reloading = False
                self._catalog_gate.notify_all()

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
        with self._current_catalog():
            item = self.items.get(str(item_id))
        if item is None:
            raise InputError(f"item {item_id!r} is not in the catalog — search the catalog for its id")
        return item

    def _vectors(self, item_ids: list[str]) -> dict[str, np.ndarray]:
        """Item vectors, memoised: they only change on re-ingest, which calls refresh_catalog."""
        missing = [i for i in dict.fromkeys(item_ids) if i in self.items and i not in self._vector_cache]
        if missing:
            try:
                self._vector_cache.update(zip(missing, self.store.index.vectors(missing), strict=True))
            except KeyError:  # an ingest is removing some of them (vectors go before the catalog): keep the others
                for item_id in missing:
                    try:
                        self._vector_cache[item_id] = self.store.index.vectors([item_id])[0]
                    except KeyError:
                        pass
        return {i: self._vector_cache[i] for i in dict.fromkeys(item_ids) if i in self._vector_cache}

    def _context(self, user_id: str, history: list[Interaction] | None = None) -> UserContext:
        """The stored history and feedback, or (for evaluation and embedding) a given history alone."""
        given = history is not None
        history = history if given else self.store.db.history(user_id)
        feedback = [] if given else self.store.db.feedback(user_id)
        vectors = self._vectors([x.item_id for x in history] + [f.item_id for f in feedback])
        if given:
            profile = self.profiler.profile(user_id, history, feedback, vectors, self.items)
        else:
            profile = self._cached_profile(user_id, history, feedback, vectors)
        seen = {x.item_id for x in history} | {f.item_id for f in feedback}
        events, _ = self.profiler.effective_history(history, feedback)
        return UserContext(profile, events, vectors, seen, set(profile.disliked_item_ids))

    def _cached_profile(self, user_id, history, feedback, vectors) -> InterestProfile:
        key = f"{PROFILE_CACHE_KEY}:{self.store.db.history_version(user_id)}"
        cached = self.store.db.cached_profile(user_id, key)
        if cached is not None:
            return InterestProfile.from_cache(cached)
        profile = self.profiler.profile(user_id, history, feedback, vectors, self.items)
        self.store.db.save_profile(user_id, key, asdict(profile))
        if self.summaries is not None:  # worded in the background; the template shows until it is saved under this key
            self.summaries.submit(user_id, key, profile, self.items)
        return profile

    def profile(self, user_id: str) -> InterestProfile:
        """Long- and short-term interests, their distribution and drift."""
        with self._current_catalog():
            return self._context(str(user_id)).profile

    def feedback(self, user_id: str, item_id: str, kind: str) -> InterestProfile:
        """Record liked / disliked / not_interested; the next profile and list reflect it at once."""
        with self._current_catalog():
            self.store.db.add_feedback(str(user_id), self.item(item_id).item_id, kind)
            return self.profile(str(user_id))

    def search(self, text: str, k: int = 10, categories: list[str] | None = None) -> list[Item]:
        """Catalog items whose text is closest in meaning to ``text``."""
        if not text.strip():
            raise InputError("the search text is empty — describe what you are looking for")
        vector = self.store.embedder.encode([text])
        with self._current_catalog():
            hits = self.store.index.query(vector, n=k, where=metadata_filter(categories))[0]
            return [self.items[i] for i, _ in hits if i in self.items]

    # --- ranking -----------------------------------------------------------

    def _queries(
        self, context: UserContext, request: str | None, like_item_id: str | None, understood: ParsedRequest | None = None
    ) -> list[RetrievalQuery]:
        profile = context.profile
        queries = [RetrievalQuery(f"long-term: {i.label}", np.asarray(i.centroid, dtype=np.float32), i.weight) for i in profile.long_term]
        queries += [RetrievalQuery(f"short-term: {i.label}", np.asarray(i.centroid, dtype=np.float32), 1.0) for i in profile.short_term]
        if understood is not None:  # the parser embedded the request less its exclusions (nothing, for "recent" or gibberish)
            if understood.query_vector is not None and understood.beyond_filters:  # all filter: the filters do the asking
                queries.append(RetrievalQuery(REQUEST_QUERY, understood.query_vector, 2.0))
        elif request and request.strip():
            queries.append(RetrievalQuery(REQUEST_QUERY, self.store.embedder.encode([request])[0], 2.0))
        likes = [like_item_id] if like_item_id else []
        likes += [i for i in (understood.like_item_ids if understood else []) if i not in likes]
        for item_id in likes:
            like = self.item(item_id)
            queries.append(RetrievalQuery(f"more like '{like.title}'", self._vectors([like.item_id])[like.item_id], 2.0))
        for title, vector in zip(understood.unknown_titles if understood else [], understood.unknown_title_vectors if understood else [], strict=False):
            queries.append(RetrievalQuery(f"more like '{title}' (not in the catalog: its words)", vector, 1.5))
        return queries

    @staticmethod
    def _focus(context: UserContext) -> np.ndarray | None:
        """The direction of an explicit ask (request text and/or "more like this"), if any."""
        asks = [q.vector for q in context.queries if q.name == REQUEST_QUERY or q.name.startswith("more like")]
        if not asks:
            return None
        focus = np.mean(asks, axis=0)
        return focus / (np.linalg.norm(focus) or 1.0)

    def _rank(
        self,
        user_id: str,
        request: str | None = None,
        k: int = 10,
        *,
        categories: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        diversity: float | None = None,
        exclude_seen: bool = True,
        like_item_id: str | None = None,
        history: list[Interaction] | None = None,
        now: float | None = None,
        exclude_item_ids: Iterable[str] = (),
    ) -> Ranking:
        if k < 1:
            raise InputError(f"k={k} — ask for at least one recommendation")
        d = self.settings.diversity if diversity is None else diversity
        if not 0.0 <= d <= 1.0:
            raise InputError(f"diversity={d} — use a number from 0 (most relevant) to 1 (most varied)")
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        now = self.moment if now is None else now
        context = self._context(str(user_id), history)
        exclude = (context.seen if exclude_seen else set()) | context.disliked | ({str(like_item_id)} if like_item_id else set())
        exclude = exclude | {str(i) for i in exclude_item_ids}  # items already shown, when a chat asks for "more"
        understood = self.understand(request) if self.request_parsing and request and request.strip() else None
        item_filter, tiers = self._request_filter(understood, exclude, categories, year_min, year_max, k)
        if understood is not None:
            exclude = exclude | set(understood.exclude_item_ids) | set(understood.like_item_ids)
        context.queries = self._queries(context, request, like_item_id, understood)
        if understood is not None and understood.about:
            scores = self.text_search.scores(understood.about)
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
        if context.queries:
            extra = [RankedList(COLLABORATIVE_SOURCE, self._collaborative_hits(context, where, exclude), 2.0)] if context.collaborative else []
            if context.popular_lately:
                extra.append(RankedList(RECENT_SOURCE, self._recent_hits(context, where, exclude), 1.0))
            if context.about is not None:
                hits = self.text_search.hits(context.about, self.settings.candidates, self._allowed(where), exclude)
                extra.append(RankedList(ABOUT_SOURCE, hits, 2.0))
            candidates = retrieve_candidates(self.store.index, context.queries, self.settings.candidates, where, exclude, extra)
        else:  # a new user with no request: popular items are the honest fallback
            allowed = self._allowed(where)
            candidates = [Candidate(i) for i in self.popular if i not in exclude and (allowed is None or i in allowed)][: self.settings.candidates]
        by_id = self._vectors([c.item_id for c in candidates if c.item_id in self.items])
        candidates = [c for c in candidates if c.item_id in by_id]  # in the catalog, with a vector (an ingest may be under way)
        ids = [c.item_id for c in candidates]
        vectors = np.stack([by_id[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
        candidates, vectors = self._drop_near_disliked(context, candidates, vectors)
        timings["retrieve"] = time.perf_counter() - clock

        clock = time.perf_counter()
        scored = self._score(context, request, candidates, vectors, understood)
        timings["rerank"] = time.perf_counter() - clock

        clock = time.perf_counter()
        final = np.array([r.scores["final"] for r in scored])
        # category asks relaxed because too few items meet them all: items meeting more of them come first
        tier = np.array([sum(any(c in r.item.categories for c in g) for g in tiers) for r in scored]) if tiers else np.zeros(len(scored))
        order = np.lexsort((-final, -tier)) if len(scored) else np.zeros(0, dtype=int)
        ranked = [scored[i] for i in order]
        for rank, rec in enumerate(ranked, start=1):
            rec.rank = rank
        categories = [r.item.categories for r in ranked]
        picks = self._pick(final[order], tier[order], vectors[order] if len(order) else vectors, k, d, categories)
        shown = [Recommendation(n, ranked[i].item, ranked[i].scores, None, []) for n, i in enumerate(picks, start=1)]
        timings["diversity"] = time.perf_counter() - clock

        clock = time.perf_counter()
        add_evidence(context, shown, vectors[order][picks] if picks else vectors[:0], self.items, self.collaborative)
        about_terms = self._about_terms(understood)
        for rec in shown:
            rec.trend = self.timeline.trend(rec.item.item_id, now) if "recent_popularity" in rec.scores else None
            rec.story = story_quote(rec.item, about_terms)
        timings["evidence"] = time.perf_counter() - clock
        return Ranking(context, candidates, ranked, shown, where, timings, understood, now)

    @staticmethod
    def _pick(final: np.ndarray, tier: np.ndarray, vectors: np.ndarray, k: int, diversity: float, categories: list[tuple[str, ...]]) -> list[int]:
        """MMR within each tier, best tier first (one tier unless category asks were relaxed)."""
        picks: list[int] = []
        for level in sorted(set(tier.tolist()), reverse=True):
            index = np.flatnonzero(tier == level)
            picks += [int(index[i]) for i in mmr(final[index], vectors[index], k - len(picks), diversity, categories=[categories[i] for i in index])]
            if len(picks) >= k:
                break
        return picks

    def _request_filter(
        self,
        understood: ParsedRequest | None,
        exclude: set[str],
        categories: list[str] | None,
        year_min: int | None,
        year_max: int | None,
        k: int,
    ) -> tuple[ItemFilter, list[tuple[str, ...]]]:
        """The filter: explicit options merged with the request's hard constraints.

        Explicit filters win a conflict (and a note says so). When nothing unseen meets every
        hard constraint, they are relaxed one at a time into preferences, each with a note:
        several category asks first ("funny sci-fi": items that are both come first, then either),
        then the request's years, then its categories. Returns the filter and the category groups
        whose items rank in tiers (empty unless that first relaxation happened).
        """
        explicit = ItemFilter(tuple(categories or ()), year_min=year_min, year_max=year_max)
        if understood is None or not understood.has_hard:
            return explicit, []
        notes = understood.notes
        asked_years = understood.years
        if asked_years and (year_min is not None or year_max is not None):
            yours = YearRange(year_min, year_max, "your year filter")
            both = yours.intersect(asked_years)
            if both is None:
                notes.append(f"Your year filter ({yours.label}) wins over {asked_years.label} from '{asked_years.source}' in your request.")
                understood.boost_years.append(asked_years)
                understood.years = asked_years = None
            else:
                year_min, year_max = both.start, both.end
        elif asked_years:
            year_min, year_max = asked_years.start, asked_years.end
        chosen = set(categories or ())
        clashing = [a for a in understood.exclude_categories if chosen & set(a.categories)]
        for ask in clashing:
            notes.append(f"Your category filter includes {ask.label}, so 'not {ask.source}' in your request was not applied.")
            understood.exclude_categories.remove(ask)
        none_of = tuple(c for a in understood.exclude_categories for c in a.categories)
        blocked = exclude | set(understood.exclude_item_ids) | set(understood.like_item_ids)
        pool = set(self.items) - blocked

        def build() -> ItemFilter:
            groups = tuple(a.categories for a in understood.categories)
            return ItemFilter(tuple(categories or ()), groups, none_of, year_min, year_max)

        def count(f: ItemFilter) -> int:
            return len(self.facets.select(f, pool))

        def soften(asks: list[CategoryAsk]) -> None:
            for ask in asks:
                understood.categories.remove(ask)
                understood.boost_categories.append(ask)

        item_filter, tiers = build(), []
        matching = count(item_filter)
        if matching < k and len(understood.categories) > 1:
            asks = list(understood.categories)
            union = tuple(dict.fromkeys(c for a in asks for c in a.categories))
            relaxed = replace(item_filter, all_of=(union,))
            if count(relaxed) > matching:
                both = " and ".join(a.label for a in asks)
                notes.append(
                    f"Only {_items(matching)} {'is' if matching == 1 else 'are'} {both} at once: they come first, then items that are some of these."
                    if matching
                    else f"No unseen item is {both} at once, so these are items that are some of these."
                )
                tiers = [a.categories for a in asks]
                soften(asks)
                item_filter = relaxed
                understood.categories.append(CategoryAsk(union, " / ".join(a.source for a in asks), "relaxed"))
                matching = count(item_filter)
        if matching == 0 and categories and understood.categories:
            notes.append(f"Your category filter ({', '.join(categories)}) wins over {' and '.join(a.label for a in understood.categories)} from your request.")
            soften([a for a in understood.categories if a.how != "relaxed"])
            understood.categories = [a for a in understood.categories if a.how != "relaxed"]
            item_filter, tiers = build(), []
            matching = count(item_filter)
        if matching == 0 and asked_years and understood.categories:
            wanted = " and ".join([asked_years.label] + [a.label for a in understood.categories])
            notes.append(f"Nothing you have not seen is {wanted}, so these are the closest: {understood.categories[0].label} from other years first.")
            understood.boost_years.append(asked_years)
            understood.years = asked_years = None
            year_min, year_max = explicit.year_min, explicit.year_max
            item_filter = replace(item_filter, year_min=year_min, year_max=year_max)
            matching = count(item_filter)
        if matching == 0 and understood.categories:
            notes.append(f"Nothing you have not seen is {' and '.join(a.label for a in understood.categories)} here, so these lean towards it instead.")
            understood.categories = [a for a in understood.categories if a.how != "relaxed"]
            soften(list(understood.categories))
            tiers = []
            item_filter = replace(item_filter, any_of=explicit.any_of, all_of=())
            matching = count(item_filter)
        if matching == 0 and asked_years:
            notes.append(f"Nothing you have not seen is from {asked_years.label}, so these are from the nearest years.")
            understood.boost_years.append(asked_years)
            understood.years = None
            item_filter = replace(item_filter, year_min=explicit.year_min, year_max=explicit.year_max)
            matching = count(item_filter)
        if 0 < matching < k:
            notes.append(f"Only {_items(matching)} {'matches' if matching == 1 else 'match'} what you asked for.")
        return item_filter, tiers

    def _collaborative_hits(self, context: UserContext, where: dict | None, exclude: set[str]) -> list[tuple[str, float]]:
        allowed = self._allowed(where)
        ranked = sorted(context.collaborative.items(), key=lambda kv: -kv[1])
        hits = [(i, s) for i, s in ranked if s > 0 and i not in exclude and (allowed is None or i in allowed)]
        return hits[: self.settings.candidates]

    def _recent_hits(self, context: UserContext, where: dict | None, exclude: set[str]) -> list[tuple[str, float]]:
        allowed = self._allowed(where)
        hits = [(i, context.recent[i]) for i in context.popular_lately if i not in exclude and (allowed is None or i in allowed)]
        return hits[: self.settings.candidates // 4]

    def _allowed(self, where: dict | None) -> set[str] | None:
        """Ids that pass the metadata filter, or None when there is no filter (everything passes)."""
        if not where:
            return None
        return self.store.index.ids(where)

    def _drop_near_disliked(self, context: UserContext, candidates: list[Candidate], vectors: np.ndarray):
        disliked = [context.vectors[i] for i in context.disliked if i in context.vectors]
        if not disliked or not candidates:
            return candidates, vectors
        keep = (vectors @ np.stack(disliked).T).max(axis=1) < NEAR_DUPLICATE
        return [c for c, k in zip(candidates, keep, strict=True) if k], vectors[keep]

    def _score(
        self, context: UserContext, request: str | None, candidates: list[Candidate], vectors: np.ndarray, understood: ParsedRequest | None = None
    ) -> list[Recommendation]:
        """Final score = weighted reranker, collaborative, retrieval, short-term, request and popularity signals."""
        if not candidates:
            return []
        profile = context.profile
        items = [self.items[c.item_id] for c in candidates]
        retrieval = np.array([max(c.similarity.values(), default=0.0) for c in candidates])
        short = np.asarray(profile.short_term[0].centroid, dtype=np.float32) if profile.short_term else None
        short_term = vectors @ short if short is not None else np.zeros(len(candidates))
        popularity = np.array([self.popularity.get(i.item_id, 0.0) for i in items])
        signals = {"retrieval": retrieval, "short_term": short_term, "popularity": popularity}
        if context.recent:
            signals["recent_popularity"] = np.array([context.recent.get(i.item_id, 0.0) for i in items])
        if context.collaborative:
            signals["collaborative"] = np.array([context.collaborative.get(i.item_id, 0.0) for i in items])
        focus = self._focus(context)
        if focus is not None:
            signals["request"] = vectors @ focus
        weights = {name: getattr(self.weights, name) for name in signals}
        if not context.queries:  # cold start: popularity is all we know
            signals, weights = {"popularity": popularity}, {"popularity": 1.0}
        # what the person asks for is weighed against the other signals together, so it leads however those are tuned
        others = self.weights.from_history(trending="recent_popularity" in signals)
        if "request" in weights:
            weights["request"] = self.weights.request * others
        if context.about is not None and self.weights.about > 0:
            signals["about"] = self.text_search.score_of(context.about, [i.item_id for i in items])
            weights["about"] = self.weights.about * others
        if understood is not None and understood.has_soft and self.weights.asked_for > 0:
            signals["asked_for"] = np.array([understood.soft_match(i) for i in items], dtype=np.float32)
            weights["asked_for"] = self.weights.asked_for * others
        # off (rerank_top 0 on this path) means the saved model is never even loaded
        path = "request" if request and request.strip() else "history"
        top = self.rerank_top_request if path == "request" else self.rerank_top
        reranker = self.reranker if top > 0 and self.weights.reranker > 0 else None
        if reranker is not None and context.queries:
            share = reranker.mix_share_for(path) if self._tuned_reranker_weight else None
            weight = self.weights.with_reranker_share(share).reranker if share is not None else self.weights.reranker
            signals["reranker"], weights["reranker"] = self._rerank_top(reranker, context, request, items, signals, weights, top), weight
        # weights renormalised over the signals present, so the final score stays in [0, 1]
        final = sum(weights[name] * values for name, values in signals.items()) / sum(weights.values())
        return [
            Recommendation(0, item, {name: float(values[n]) for name, values in signals.items()} | {"final": float(final[n])}, None, [])
            for n, item in enumerate(items)
        ]

    def _rerank_top(self, reranker: Reranker, context: UserContext, request, items: list[Item], signals: dict, weights: dict, top_n: int) -> np.ndarray:
        """Cross-encoder scores for the ``top_n`` best candidates by the other signals (:func:`~whyrec.tools.recommend.reranker.cascade_scores`)."""
        first = sum(weights[name] * values for name, values in signals.items())
        query = self.reranker_query(reranker, context, request)
        return cascade_scores(first, top_n, lambda top: reranker.score(query, [reranker.doc(items[i]) for i in top]))

    def reranker_query(self, reranker: Reranker, context: UserContext, request: str | None) -> str:
        """The cross-encoder's query for this user, in the format its card records (training builds it the same way)."""
        return reranker.query(template_summary(context.profile, self.items), liked_items(context.history, self.items), request)

    # --- public verbs ------------------------------------------------------

    def recommend(self, user_id: str, request: str | None = None, k: int = 10, **options) -> RecommendationList:
        """Top-``k`` items for the user, as a list that also carries what the request was understood to ask.

        Options: ``categories``, ``year_min``, ``year_max``, ``diversity``, ``exclude_seen``,
        ``exclude_item_ids`` (items to leave out, e.g. those already shown when a chat asks for more),
        ``like_item_id``, ``history`` — a list of Interactions to use instead of the stored
        history and feedback (for evaluation, or a chatbot that keeps its own history) — and ``now``,
        the moment of the request in Unix seconds ("popular lately" is counted before it; default: the
        log's newest interaction, which is what a live user meets).
        With request parsing on (the default), the request's decades, categories, titles and
        exclusions filter or boost the list; explicit options win a conflict; see
        ``RecommendationList.understood`` and ``.notes``.
        """
        with self._current_catalog():
            ranking = self._rank(user_id, request, k, **options)
            return RecommendationList(ranking.shown, ranking.understood)

    def explain(self, user_id: str, item_id: str, request: str | None = None, k: int = 10, **options) -> Explanation:
        """Evidence for why ``item_id`` is (or is not) recommended to the user, with the same options as recommend."""
        with self._current_catalog():
            return self._explain(user_id, item_id, request, k, **options)

    def _explain(self, user_id: str, item_id: str, request: str | None, k: int, **options) -> Explanation:
        item = self.item(item_id)
        if item.item_id not in self._vectors([item.item_id]):  # removed by an ingest under way: not explained as present
            raise InputError(f"item {item_id!r} is not in the catalog any more — search the catalog for its id")
        ranking = self._rank(user_id, request, k, **options)
        context = ranking.context
        shown = {r.item.item_id: r for r in ranking.shown}
        ranked = {r.item.item_id: r for r in ranking.ranked}
        vector = self._vectors([item.item_id])[item.item_id][None, :]
        if item.item_id in shown:
            cold = context.profile.is_empty and not context.queries
            status, rec = ("cold_start" if cold else "recommended"), shown[item.item_id]
        else:
            rec = ranked.get(item.item_id)
            if rec is None:  # not a candidate: score it alone, the same way
                candidate = Candidate(item.item_id, similarity=self._query_similarities(context, vector))
                rec = self._score(context, request, [candidate], vector)[0]
            status = self._status(item, ranking, vector[0])
            if status == "not_retrieved" and item.item_id in {str(i) for i in options.get("exclude_item_ids", ())}:
                status = "shown_before"
            add_evidence(context, [rec], vector, self.items, self.collaborative)
        matched = {c: context.profile.distribution[c] for c in item.categories if c in context.profile.distribution}
        understood = ranking.understood
        request_notes = [understood.summary()] if understood and understood.summary() else []
        if understood and (fit := understood.item_fit(item)):
            request_notes.append(fit)
        about_terms = self._about_terms(understood)
        story_says = bool(about_terms) and bool(set(about_terms) & set(stems(item.description)))
        explanation = Explanation(
            user_id=str(user_id),
            item=item,
            status=status,
            rank=rec.rank or None,
            scores=rec.scores,
            similar_past_items=rec.because,
            liked_together=rec.liked_together,
            interest=rec.interest,
            matched_categories=matched,
            request_notes=request_notes,
            understood=understood.to_dict() if understood else None,
            trend=rec.trend or (self.timeline.trend(item.item_id, ranking.now) if "recent_popularity" in rec.scores else None),
            story=story_quote(item, about_terms),
            story_matches=understood.about if story_says and understood else None,
            keywords_match=[k for k in item.keywords if set(about_terms) & set(stems(k))],
        )
        explanation.sentences = explanation_sentences(explanation)
        return explanation

    def _about_terms(self, understood: ParsedRequest | None) -> list[str]:
        """The stemmed words of what the request is about that some item's story contains."""
        return self.text_search.terms(understood.about) if understood is not None and understood.about else []

    @staticmethod
    def _query_similarities(context: UserContext, vector: np.ndarray) -> dict[str, float]:
        return {q.name: float(vector[0] @ q.vector) for q in context.queries}

    def _status(self, item: Item, ranking: Ranking, vector: np.ndarray) -> str:
        context = ranking.context
        if context.profile.is_empty and not context.queries:
            return "cold_start"
        disliked = [context.vectors[i] for i in context.disliked if i in context.vectors]
        if item.item_id in context.disliked or (disliked and float((np.stack(disliked) @ vector).max()) >= NEAR_DUPLICATE):
            return "disliked"
        if item.item_id in context.seen:
            return "seen"
        if ranking.understood and item.item_id in ranking.understood.exclude_item_ids + ranking.understood.like_item_ids:
            return "filtered"  # "more like X" leaves X itself out: not "not among the candidates retrieved"
        if ranking.where and item.item_id not in self._allowed(ranking.where):
            return "filtered"
        if any(r.item.item_id == item.item_id for r in ranking.ranked):
            return "candidate"
        return "not_retrieved"
