"""Why an item was (or was not) recommended, as evidence first and words second.

The evidence is data the pipeline produced: the past items most similar to the
item, the interest it serves, its scores and rank, its categories that the
user's distribution contains. The template wording below only ever restates
that evidence; an LLM that rewords it is given the same evidence and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from whyrec.store.records import Item
from whyrec.tools.recommend.popularity import Trend
from whyrec.tools.recommend.profile import share_of_history
from whyrec.tools.recommend.text_search import stems
from whyrec.tools.tool_text import neutralise
from whyrec.tools.understanding.titles import display_title

QUOTE_CHARS = 150
"""The longest span of an item's story quoted in an explanation: a sentence or the start of one, never a paraphrase."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“'(\[])")

TREND_WORTH_SAYING = 0.2
"""A trending score (tools/recommend/popularity.py) from which "it is trending" is a reason worth a sentence."""


@dataclass(frozen=True)
class SimilarPastItem:
    item_id: str
    title: str
    similarity: float
    rating: float | None


@dataclass(frozen=True)
class CoLikedItem:
    """A history item that people who liked it also liked the recommended item with (collaborative evidence)."""

    item_id: str
    title: str
    share: float  # this item's share of the collaborative score
    rating: float | None


@dataclass(frozen=True)
class ServedInterest:
    term: str  # "long-term" or "short-term"
    label: str
    weight: float
    similarity: float
    categories: tuple[str, ...] = ()  # the categories its label names ("Comedy & Drama"); none when a title names it

    def fits(self, categories: tuple[str, ...] | list[str]) -> bool:
        """Whether an item of ``categories`` shares one with this interest (or the interest is not named by categories):
        the interest nearest to a horror film may be "Children's & Drama", and "it fits" would then be false."""
        return not self.categories or bool(set(self.categories) & set(categories))


def story_quote(item: Item, terms: Sequence[str] = ()) -> str | None:
    """A short verbatim span of ``item``'s story: the first sentence holding one of ``terms`` (stemmed words, e.g. what
    a request is about), else the first sentence; cut at a word with "…" past :data:`QUOTE_CHARS`. None without a story.

    Quoting, not summarising, keeps every word traceable to the catalog. The span is catalog text, so it is
    neutralised like any other before a model or a page shows it (tools/tool_text.py)."""
    story = neutralise(item.description)
    if not story:
        return None
    sentences = _SENTENCE_END.split(story)
    wanted = set(terms)
    sentence = next((x for x in sentences if wanted & set(stems(x))), sentences[0]) if wanted else sentences[0]
    if len(sentence) <= QUOTE_CHARS:
        return sentence
    return sentence[: QUOTE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass
class Explanation:
    user_id: str
    item: Item
    status: str  # recommended | candidate | seen | disliked | filtered | not_retrieved | cold_start | shown_before
    rank: int | None
    scores: dict[str, float]
    similar_past_items: list[SimilarPastItem]
    interest: ServedInterest | None
    matched_categories: dict[str, float]
    liked_together: list[CoLikedItem] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    # what the request filtered or boosted, and how this item stands against it
    # ("Filtered to 1980–1989 and Horror because you asked for 'scary from the 80s'.")
    request_notes: list[str] = field(default_factory=list)
    understood: dict | None = None  # ParsedRequest.to_dict() of the request, for a UI to show
    trend: Trend | None = None  # the counts behind its trending score, when people took it up lately
    story: str | None = None  # a verbatim span of the item's story (story_quote), the sentence matching the request first
    story_matches: str | None = None  # what the request is about, when the item's story says it ("shark")
    keywords_match: list[str] = field(default_factory=list)  # the item's own keywords that say what the request is about

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["item"] = item_card(self.item)
        data["text"] = self.text
        return data


def item_card(item: Item) -> dict:
    """The fields of an item a person or a model needs to recognise it (the title as people say it: "The Fog")."""
    return {"item_id": item.item_id, "title": display_title(item.title), "year": item.year, "categories": list(item.categories)}


STATUS_SENTENCES = {
    "recommended": "It is #{rank} in your current recommendations.",
    "candidate": "It was a candidate but ranked #{rank}, below the list shown.",
    "seen": "You have already interacted with it, so it is not recommended again.",
    "disliked": "You marked it (or a near-duplicate) as not for you, so it is left out.",
    "filtered": "Your current filters (category, year or your request) exclude it.",
    "not_retrieved": "It was not among the candidates retrieved for your interests.",
    "cold_start": "You have no history yet, so it is suggested by popularity.",
    "shown_before": "It was in an earlier list, so this one, which you asked to show more, leaves it out.",
}


def _rated(past: SimilarPastItem) -> str:
    return f"you rated it {past.rating:g}, " if past.rating is not None else ""


def _none_of(categories: tuple[str, ...]) -> str:
    """'not Drama', 'neither Children's nor Drama'."""
    if len(categories) == 2:
        return f"neither {categories[0]} nor {categories[1]}"
    return "not " + " or ".join(categories)


def explanation_sentences(e: Explanation) -> list[str]:
    """Template wording: each sentence restates one piece of evidence."""
    title = f"'{display_title(e.item.title)}'"
    sentences = [STATUS_SENTENCES[e.status].format(rank=e.rank)] + list(e.request_notes)
    if e.story and e.story_matches:
        about = f"its about-score {e.scores['about']:.2f}" if "about" in e.scores else "its words"
        sentences.append(f"Its story says what you asked about ('{e.story_matches}', {about}): “{e.story}”")
    elif e.story:
        sentences.append(f"Its story: “{e.story}”")
    if e.keywords_match and not e.story_matches:
        sentences.append(f"Its keywords say what you asked about: {', '.join(neutralise(k, 40) for k in e.keywords_match)}.")
    if e.similar_past_items:
        past = ", ".join(f"'{p.title}' ({_rated(p)}similarity {p.similarity:.2f})" for p in e.similar_past_items[:3])
        sentences.append(f"{title} is most similar to these items from your history: {past}.")
    if e.liked_together and "collaborative" in e.scores:
        together = ", ".join(f"'{c.title}' ({c.share:.0%})" for c in e.liked_together)
        sentences.append(
            f"People whose histories include {together} also liked {title}: its score from people with tastes like "
            f"yours is {e.scores['collaborative']:.2f} (each title's share of it in brackets)."
        )
    if e.interest and not e.interest.fits(e.item.categories):
        sentences.append(
            f"Of your interests it is nearest to your {e.interest.term} interest in {e.interest.label} "
            f"({share_of_history(e.interest.weight, recent=e.interest.term == 'short-term')}, "
            f"similarity {e.interest.similarity:.2f}), though it is {_none_of(e.interest.categories)}."
        )
    elif e.interest:
        sentences.append(
            f"It fits your {e.interest.term} interest in {e.interest.label} "
            f"({share_of_history(e.interest.weight, recent=e.interest.term == 'short-term')}, "
            f"similarity {e.interest.similarity:.2f})."  # the profile summary's words; "of that profile" said nothing
        )
    if e.matched_categories:
        shares = ", ".join(f"{c} ({share:.0%} of your history)" for c, share in e.matched_categories.items())
        sentences.append(f"Its categories match yours: {shares}.")
    if e.trend and e.trend.score >= TREND_WORTH_SAYING:
        until = datetime.fromtimestamp(e.trend.until, UTC).date().isoformat()
        sentences.append(
            f"It is trending: {e.trend.recent_users} people took it up in the {e.trend.window_days:g} days up to {until}, "
            f"out of {e.trend.all_users} so far (trending score {e.trend.score:.2f})."
        )
    if "reranker" in e.scores:
        sentences.append(f"Reranker score {e.scores['reranker']:.2f}, final score {e.scores['final']:.2f}.")
    return sentences
