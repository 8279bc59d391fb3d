"""The final score's mix, and what a ranking returns: scored recommendations and the list they form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from whyrec.store.records import Item
from whyrec.tools.recommend.explanation import (
    CoLikedItem,
    ServedInterest,
    SimilarPastItem,
    item_card,
)
from whyrec.tools.recommend.popularity import Trend
from whyrec.tools.recommend.applied_request import AppliedRequest
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.tools.recommend.retrieval import Candidate
from whyrec.tools.recommend.user_context import UserContext


@dataclass(frozen=True)
class ScoreWeights:
    """How the final score mixes the signals (each in [0, 1]; weights renormalised over those present).

    Tuned on validation of both protocols of MovieLens-100K (benchmarks/tune_weights.py): the
    collaborative signal carries most of the personal accuracy, content similarity adds a little on
    top, and for a returning user what matters is trending (tools/recommend/popularity.py; it sits out
    mid-session, so leave-one-out keeps 0.128 at any trending weight). On the temporal validation
    from four origins before T (420 users) trending : collaborative 3 : 1 gives NDCG@10 0.148,
    6 : 1 0.158, and 9 to 20 : 1 a plateau at 0.161-0.163, against popular-in-the-last-30-days'
    0.101; 6 is the smallest weight within noise of that plateau, which leaves the most of the
    list to the person's own taste. In simulated conversations of people coming back (validation)
    3 to 12 are one plateau, far above none (success@10 in one turn 0.52-0.56 against 0.36); a
    request weighs twice the signals taking part, so what was asked for still leads.
    """

    collaborative: float = 1.0
    retrieval: float = 0.2
    short_term: float = 0.15
    popularity: float = 0.15
    recent_popularity: float = 6.0  # trending in the 30 days before the request: what people watch next on a time split
    reranker: float = 0.3
    # the two below are multiples of the other signals' weights together, so that tuning those never drowns a request
    request: float = 2.0  # only present when the user asked for something: twice everything else, so it comes first (benchmarks/README.md)
    # the request's subject words in the item's text (BM25, best = 1), a multiple of the others like ``request``; only when the
    # request names a subject. On the dev half of the labelled about-requests (benchmarks/concepts.py, 20 requests x 5 users)
    # 0.5 / 1 / 2 gave precision@5 0.750 / 0.760 / 0.762 and hit@5 0.99 / 0.99 / 0.94: the smallest weight within noise
    # of the best, so the person's taste keeps the most say
    about: float = 0.5
    asked_for: float = 0.5  # share of the request's soft asks an item meets ("leaning to Comedy", "old"); only when there are some

    def from_history(self, trending: bool = True) -> float:
        """The configured weights of the signals drawn from the history and the log, together; trending's only
        when it takes part (``trending``).

        What a request weighs is a multiple of this: against the person's taste, plus what is trending when they
        come back. Mid-session trending sits out, and it must not make the request weigh more against their
        taste then: coupled so (session 5), trending 6.0 made a mid-session request weigh 5 times the taste
        signals, and simulated conversations found the target in the first turn 0.445 of the time against
        0.50-0.525 at 1-3 times (benchmarks/README.md, "The request's weight"). A signal that is absent for
        another reason (a new catalog has no collaborative model) still counts, so the request does not weigh
        less against the rest.
        """
        taste = self.collaborative + self.retrieval + self.short_term + self.popularity
        return taste + (self.recent_popularity if trending else 0.0)

    def with_reranker_share(self, share: float) -> ScoreWeights:
        """These weights with the cross-encoder at ``share`` of the other signals' final score.

        Training validates "pipeline final score + share x the cross-encoder's probability"; the final
        score is renormalised over the weights present, so that mix is this reranker weight.
        """
        return replace(self, reranker=share * self.from_history())


CARD_KEYWORDS = 5  # an item's first keywords shown on its card ("about: shark, beach, police chief")


@dataclass
class Recommendation:
    rank: int
    item: Item
    scores: dict[str, float]
    interest: ServedInterest | None
    because: list[SimilarPastItem]
    liked_together: list[CoLikedItem] = field(default_factory=list)
    trend: Trend | None = None  # the counts behind its trending score, when people took it up lately
    story: str | None = None  # a verbatim span of its story, the sentence saying what the request is about first (story_quote)

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            **item_card(self.item),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "interest": asdict(self.interest) if self.interest else None,
            "because": [asdict(b) for b in self.because],
            "liked_together": [asdict(b) for b in self.liked_together],
            "trend": asdict(self.trend) if self.trend else None,
            "story": self.story,
            "keywords": list(self.item.keywords[:CARD_KEYWORDS]),
        }


class RecommendationList(list):
    """The recommendations, best first (a plain list to old callers), and what the request asked and what it did.

    ``request`` is the :class:`~whyrec.tools.recommend.applied_request.AppliedRequest` (None without a request or
    with request parsing off); ``understood`` the request as read; ``notes`` what was read, what was applied
    instead, and why, in plain words for the person.
    """

    def __init__(self, recommendations=(), request: AppliedRequest | None = None):
        super().__init__(recommendations)
        self.request = request

    @property
    def understood(self) -> ParsedRequest | None:
        return self.request.parsed if self.request else None

    @property
    def notes(self) -> list[str]:
        return self.request.notes if self.request else []

    def to_dict(self) -> dict:
        """``{"items": [...], "understood": {...} or None}`` for a UI or an API to show (the request as applied)."""
        return {"items": [r.to_dict() for r in self], "understood": self.request.to_dict() if self.request else None}


@dataclass
class Ranking:
    context: UserContext
    candidates: list[Candidate]
    ranked: list[Recommendation]  # every candidate, best first, before the cut to k
    shown: list[Recommendation]  # the k returned, after diversity
    where: dict | None
    timings: dict[str, float]
    request: AppliedRequest | None = None
    now: float | None = None  # the moment it was asked at (None: the present)
