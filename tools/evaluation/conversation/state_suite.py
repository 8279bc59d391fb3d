"""Conversation-state scenarios: does a chat keep the right request, respect a dislike, and point at the list on screen?

The template simulator's follow-ups always refine the last request, so it rewards a chat that
piles every request onto the one before. Real people change topic, dislike what they were shown
and ask about the cards in front of them. Three scenarios per user, built from the catalog's own
categories, decades and keywords (seeded):

- **topic change**: "a <category A> from the <decade>", then "a movie about <keyword>" or "a
  <category B>". The second list's request, read by the request parser, must hold no category
  or years of the first that the second message did not say: ``stale_constraint_rate`` (target 0).
- **dislike, then "more like that"**: "recommend me a <category>", "I didn't like <the first
  item>", "more like that". The disliked item must not come back and the list must not be asked
  to be like it: ``dislike_respected`` (target ≥ 0.99).
- **why the Nth one after the cards changed**: a chat list, then the app's cards change to another
  list, then "why the second one?": the explanation must be about the second *card*:
  ``why_nth_on_cards``.

Only chat systems (those with an ``agent``) play it: the API keeps no conversation.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from whyrec.tools.understanding.titles import display_title

MIN_KEYWORD_ITEMS = 4  # a subject the catalog can answer


def _decades(items: dict[str, Any]) -> list[int]:
    years = Counter((item.year // 10) * 10 for item in items.values() if item.year)
    return [decade for decade, count in years.items() if count >= 3]


def _keywords(items: dict[str, Any]) -> list[str]:
    counts = Counter(k for item in items.values() for k in getattr(item, "keywords", ()) if k.isalpha() and len(k) > 3)
    return sorted(k for k, n in counts.items() if MIN_KEYWORD_ITEMS <= n <= 40)


def _request_of(reply: Any) -> str | None:
    return next((call["args"].get("request") for call in reply.tool_calls if call["name"] == "recommend"), None)


def topic_change(agent: Any, user: str, rng: random.Random, categories: list[str], decades: list[int], keywords: list[str]) -> bool:
    """Whether the second request kept a constraint of the first (stale)."""
    first, second = rng.sample(categories, 2)
    decade = rng.choice(decades)
    conversation = f"state-{uuid.uuid4().hex[:8]}"
    agent.reply(user, conversation, f"a {first.lower()} from the {str(decade)[2:]}s")
    message = f"a movie about {rng.choice(keywords)}" if keywords and rng.random() < 0.5 else f"a {second.lower()} movie"
    reply = agent.reply(user, conversation, message)
    request = _request_of(reply)
    if request is None:
        return False
    parsed = agent.recommender.understand(request)
    said = agent.recommender.understand(message)
    asked = {c for ask in parsed.categories for c in ask.categories} - {c for ask in said.categories for c in ask.categories}
    old_years = parsed.years is not None and said.years is None and parsed.years.start == decade
    return first in asked or old_years


def dislike_then_more(agent: Any, user: str, rng: random.Random, categories: list[str]) -> bool:
    """Whether a dislike held through "more like that"."""
    conversation = f"state-{uuid.uuid4().hex[:8]}"
    first = agent.reply(user, conversation, f"recommend me a {rng.choice(categories).lower()}")
    if not first.items:
        return True
    disliked = first.items[0]
    agent.reply(user, conversation, f"I didn't like {display_title(disliked['title'])}")
    more = agent.reply(user, conversation, "more like that")
    like = [call["args"].get("like_item") for call in more.tool_calls if call["name"] == "recommend"]
    shown = {str(card["item_id"]) for card in more.items}
    return str(disliked["item_id"]) not in shown and str(disliked["item_id"]) not in {str(x) for x in like if x}


def why_nth_on_cards(agent: Any, user: str, rng: random.Random, categories: list[str]) -> bool:
    """Whether "why the second one?" explains the second card on screen after the cards changed."""
    conversation = f"state-{uuid.uuid4().hex[:8]}"
    first = agent.reply(user, conversation, f"recommend me a {rng.choice(categories).lower()}")
    shown = {str(card["item_id"]) for card in first.items}
    cards = [
        {"item_id": r.item.item_id, "title": r.item.title}
        for r in agent.recommender.recommend(user, None, 10, exclude_item_ids=sorted(shown))
    ][:5]
    if len(cards) < 2:
        return True
    why = agent.reply(user, conversation, "why the second one?", cards)
    explained = [call["args"].get("item_id") for call in why.tool_calls if call["name"] == "explain_recommendation"]
    return bool(explained) and str(explained[0]) == cards[1]["item_id"]


def run_state_suite(agent: Any, users: list[str], seed: int = 0, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The three scenarios for each user; the rates the conversation benchmark reports."""
    rng = random.Random(seed)
    items = agent.recommender.items
    categories = [c for c in agent.recommender.vocabulary.categories[:12]]
    decades, keywords = _decades(items), _keywords(items)
    stale, respected, pointed = [], [], []
    for n, user in enumerate(users, 1):
        stale.append(topic_change(agent, user, rng, categories, decades, keywords))
        respected.append(dislike_then_more(agent, user, rng, categories))
        pointed.append(why_nth_on_cards(agent, user, rng, categories))
        if progress is not None:
            progress(f"state suite: {n}/{len(users)} users")
    return {
        "state_suite_users": len(users),
        "stale_constraint_rate": round(sum(stale) / len(stale), 3) if stale else None,
        "dislike_respected": round(sum(respected) / len(respected), 3) if respected else None,
        "why_nth_on_cards": round(sum(pointed) / len(pointed), 3) if pointed else None,
    }
