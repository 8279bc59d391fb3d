"""The keyword router: which tool a message asks for, by its words, without a language model.

Used when no model can run (no endpoint configured and the local model cannot start, or the endpoint fails), so
the chat still recommends, explains, profiles and records feedback with the same tools (:mod:`agent.template_turns`,
whose answers :mod:`agent.templates` words); the plan rules (:mod:`agent.planning`) start from it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex, normalise_title

# "because" is not here: people give reasons in requests ("not too long, because the kids are tired") far more
# often than they ask with it, and such a request was answered with an explanation of whatever title it contained
EXPLAIN = re.compile(r"\b(why|explain|how come|reason)\b", re.IGNORECASE)
# asking why in other words, about a film the message names or points at ("What made you pick Fargo?", "What's so
# special about it?", "How did Fargo end up on my list?"): without a film they ask nothing ("what's so special about heists?")
EXPLAIN_NAMED = re.compile(
    r"\bwhat\s+made\s+you\s+(?:pick|choose|suggest|recommend|include|go\s+(?:with|for)|think\s+of)"
    r"|\bwhat\s+makes\s+.{1,80}?\s+(?:a\s+good|the\s+right|a\s+great|worth|right\s+for|good\s+for|a\s+fit|a\s+match)"
    r"|\bwhat\s+is\s+it\s+about\b|\bwhat(?:'?s|\s+is)\s+(?:so\s+)?(?:special|good|great)\s+about\b"
    r"|\bhow\s+did\s+.{1,80}?\s+(?:end\s+up|get|make\s+it)\s+(?:on|in|into)\b|\bhow\s+does\s+.{1,80}?\s+(?:fit|match)\b",
    re.IGNORECASE,
)


def asks_why(text: str, item: Item | None) -> bool:
    """Whether ``text`` asks why: in so many words, or (:data:`EXPLAIN_NAMED`) about an ``item`` it names."""
    return bool(EXPLAIN.search(text) or (item is not None and EXPLAIN_NAMED.search(text)))

_PROFILE = re.compile(
    r"\b(profile|interests?|tastes?|preferences|my history|summari[sz]e|what (do|did) i (usually |really |mostly |tend to )?(like|watch|enjoy|prefer)|"
    r"what i (like|watch)|about me|(what|which) (genres?|categories) (do|did) i (usually |really |mostly |tend to )?(like|watch|enjoy|prefer)|"
    r"what('?s| is| are| would you (say|guess))( is| are)? my (favou?rite|preferred) (genres?|categories|kinds? of \w+|types? of \w+)|"
    r"(kind|sort|type)s? of \w+ (do|did) i (usually |really |mostly |tend to )?(like|watch|enjoy|prefer)|"
    r"what (do|would) you (think|say|guess) i('?d| would)? (like|enjoy|am into|'?m into)|what am i into|what i'?m into|"
    r"(kind|sort|type)s? of \w+ am i into|what'?s my (taste|type|thing))\b",
    re.IGNORECASE,
)
_LIKED = re.compile(r"\b(i\s+(really\s+|absolutely\s+|truly\s+)?(like|liked|love|loved|enjoyed|adored?)|thumbs up|was great|is great)\b", re.IGNORECASE)
_DISLIKED = re.compile(
    r"\b(dislike|disliked|hate|hated|(did ?n[o']?t|do ?n[o']?t|did not|do not) (like|enjoy)|not for me|was (bad|awful|boring|terrible)|thumbs down"
    r"|(was|were)(n['’]?t| not) (really |much of |ever |exactly )?(a fan of|for me|my (thing|cup of tea))|(was|were) never (really )?a fan of"
    r"|did(n['’]?t| not) (really )?do (it|much|anything) for me)\b",
    re.IGNORECASE,
)
_NOT_INTERESTED = re.compile(r"\b(not interested|no interest|(do ?n[o']?t|do not) (show|recommend|want))\b", re.IGNORECASE)
# ("do you have a favourite Christmas movie?" asks for a pick, not whether the catalog holds one)
_SEARCH = re.compile(r"^\s*(please\s+)?(search( for)?|find|look ?up|look for|is there|do you have(?! an? favou?rite))\b", re.IGNORECASE)
_MORE_LIKE = re.compile(r"\b(more like|similar to|something like|anything like|movies like|films like|like)\s+(?P<ref>.+?)\s*[?.!]*$", re.IGNORECASE)
_ITEM_REF = re.compile(r"(?:\bitem\s*(?:id)?\s*[:#]?\s*|#)(?P<id>[\w-]+)", re.IGNORECASE)
_FILLER = {
    "a", "an", "the", "me", "i", "my", "some", "something", "anything", "any", "please", "recommend", "recommendation",
    "recommendations", "suggest", "suggestion", "suggestions", "give", "show", "what", "should", "could", "can", "would",
    "you", "watch", "next", "to", "for", "tonight", "today", "now", "more", "new", "good", "nice", "items", "item", "movies",
    "movie", "films", "film", "picks", "pick", "want", "like", "id", "i'd", "i'm", "is", "are", "there", "else", "other",
    "few", "couple", "of", "top", "best", "list", "hi", "hello", "hey", "ok", "okay", "thanks", "and", "or", "get",
}

def feedback_kind(text: str, titles: TitleIndex | None = None) -> str | None:
    """liked / disliked / not_interested when ``text`` gives feedback, else None. With ``titles``, the words of a
    catalog title named in ``text`` are no verdict: "No, not Everyone Says I Love You." was stored as a like."""
    if titles is not None:
        for start, end, _ in sorted(titles.mentions(text), key=lambda m: -m[0]):
            text = f"{text[:start]}it{text[end:]}"
    if _NOT_INTERESTED.search(text):
        return "not_interested"
    if _DISLIKED.search(text):
        return "disliked"
    if _LIKED.search(text) and not re.search(r"\b(something|anything|more|similar|movies|films|items|stuff)\s+like\b", text, re.IGNORECASE):
        return "liked"
    return None


def gives_feedback(text: str) -> bool:
    """Whether a user message could be asking to record feedback (broad: a guard, not a router)."""
    return feedback_kind(text) is not None or bool(
        re.search(r"\b(like|love|enjoy|dislike|hate|rate|rating|mark|record|save|feedback|favou?rite|interested|thumbs)", text, re.IGNORECASE)
    )


_VERDICT_OBJECT = re.compile(
    r"\b(?:like|liked|love|loved|enjoy|enjoyed|hate|hated|dislike|disliked|adore|adored|seen|watched|saw)\s+"
    r"(?P<title>(?-i:[A-Z0-9])[^.!?,;]{0,80}?)\s*(?:[.!?,;]|$)",
    re.IGNORECASE,
)


def find_item(text: str, titles: TitleIndex) -> Item | None:
    """The catalog item ``text`` refers to: an id ('item 50', '#50'), a title, or a title in any case."""
    for match in _ITEM_REF.finditer(text):
        if match.group("id") in titles.items:
            return titles.items[match.group("id")]
    found = titles.mentions(text)
    if found:
        return max(found, key=lambda f: f[1] - f[0])[2]
    quoted = re.findall(r"[\"'“‘]([^\"'”’]{2,80})[\"'”’]", text)
    for q in quoted:
        if (item := titles.resolve(q)) is not None:
            return item
    # a short one-word title as the object of a verdict ("I didn't like Jaws.", "I loved Bean"): too short to count in
    # running text, and without it "I didn't like Jaws" was read as a request for more like Jaws
    if (verdict := _VERDICT_OBJECT.search(text)) and (item := titles.resolve(verdict["title"])) is not None:
        return item
    # lower-case titles ("why not star voyage?"): the longest catalog title inside the words, 2+ words or 5+ letters
    words = normalise_title(text).split()
    for n in range(min(titles.max_words, len(words)), 0, -1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            if (n >= 2 or len(phrase) >= 5) and (hits := titles.by_title.get(phrase)):
                return hits[0]
    return None


@dataclass
class Route:
    """The tool a request goes to and its arguments."""

    intent: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)


def route(text: str, titles: TitleIndex) -> Route:
    """Map a request to one tool call, by keywords."""
    item = find_item(text, titles)
    if item is not None and asks_why(text, item):
        return Route("explain", "explain_recommendation", {"item_id": item.item_id})
    if re.match(r"^\s*(why|explain)\b", text, re.IGNORECASE) and item is None:
        return Route("explain", "", {})  # no tool can answer "why?" about an unnamed item: ask which
    if _PROFILE.search(text) and not EXPLAIN.search(text):
        return Route("profile", "get_interest_profile", {})
    kind = feedback_kind(text, titles)
    if kind and item is not None:
        return Route("feedback", "record_feedback", {"item_id": item.item_id, "kind": kind})
    if _SEARCH.search(text):
        query = _SEARCH.sub("", text).strip(" ?.!:") or text
        return Route("search", "search_catalog", {"text": query})
    args: dict[str, Any] = {}
    if item is not None and (match := _MORE_LIKE.search(text)) and find_item(match.group("ref"), titles) == item:
        args["like_item"] = item.item_id
    request = request_text(text, item)
    if request:
        args["request"] = request
    return Route("recommend", "recommend", args)


def request_text(text: str, item: Item | None = None) -> str | None:
    """The part of a recommend request that says what the user wants; None for 'recommend me something'."""
    words = re.findall(r"[\w'-]+", text.lower())
    if item is not None:
        title_words = set(normalise_title(item.title).split())
        words = [w for w in words if w not in title_words]
    meaningful = [w for w in words if w not in _FILLER]
    return text.strip() if meaningful else None


SEEN = re.compile(r"\b(?:(?:have|'ve|already|just)\s+(?:seen|watched)|seen\s+(?:it|that|this|them|those)|saw\s+(?:it|that|this))\b", re.IGNORECASE)
"""'seen it', 'I've watched that one': no feedback kind says it, so the answer asks whether they liked it."""
