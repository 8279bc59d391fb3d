"""Plan-first turns for small models: rules decide where they are sure, one constrained model call where not.

A small local model on a CPU pays for every token it reads and writes, and left to pick tools on
its own it answers "why X?" with a recommendation and invents films and years. A plan-mode turn
therefore goes:

1. :func:`rule_plan`: the keyword router (:mod:`agent.fallback`) plus references to the last
   turn's list ("why the second one?", "more like that"), greetings, and near-miss titles.
   When it is sure, no model is called at all.
2. :func:`model_plan`: otherwise ONE model call, constrained by a JSON schema (llama.cpp turns it
   into a grammar), that returns the intent and the item references as written. The plan is then
   checked against the message (:func:`checked_plan`): items only when their words appear in the
   message or the last list, so an invented title can never reach a tool.
3. The tool runs and its template answer (the items first) goes out at once.

This is InteRecAgent's "plan-first" idea, with a grammar instead of a free-form plan.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from whyrec.agent import fallback
from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex, display_title, normalise_title

logger = logging.getLogger(__name__)

Intent = Literal["recommend", "explain", "why_not", "profile", "search", "feedback", "chit_chat"]
INTENTS: tuple[str, ...] = ("recommend", "explain", "why_not", "profile", "search", "feedback", "chit_chat")

HOW_TO_ASK = "Ask for something (\"a funny 90s movie\"), ask \"why <title>?\", or tell me what you liked."
GREETING = f"Hello! I recommend items from the catalog and say why. {HOW_TO_ASK}"
OFF_TOPIC = f"I can only help with the catalog: recommendations and why. {HOW_TO_ASK}"
_THANKS = re.compile(r"^\W*(thanks?|thank you|cheers)\b", re.IGNORECASE)
_BYE = re.compile(r"^\W*(bye|goodbye)\b", re.IGNORECASE)


def small_talk_reply(text: str) -> str:
    """The answer to small talk: thanks and goodbyes get their own short line, not the greeting's instructions."""
    if _THANKS.match(text):
        return "You're welcome! Ask for more whenever you like."
    if _BYE.match(text):
        return "Bye! Your conversation is kept, so you can pick it up later."
    return GREETING


def not_understood_reply(quoted: str) -> str:
    """The answer to a message the request parser could not read as words ("asdkjh qwe"), without a model call."""
    return f"I could not make sense of {quoted}. {HOW_TO_ASK}"
_CHIT_CHAT = re.compile(
    r"^\s*(hi|hello|hey|hiya|good (morning|afternoon|evening)|thanks?( you)?|thank you|ok(ay)?|cool|great|bye|goodbye|"
    r"who are you|what can you do|how are you|help)\b[\s!.?,]*(there|whyrec|so much|a lot)?[\s!.?]*$",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4, "5th": 4,
    "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7, "ninth": 8, "9th": 8, "tenth": 9, "10th": 9,
    "last": -1,
}
_POSITION = re.compile(r"\b(?:the\s+)?(?P<ord>" + "|".join(_ORDINALS) + r")(?:\s+(?:one|item|movie|film|pick))?\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b(?:number|no\.?)\s*(?P<n>\d{1,2})\b", re.IGNORECASE)
_THAT_ONE = re.compile(r"\b(that one|this one|that|it)\b", re.IGNORECASE)
_WHY_NOT = re.compile(r"\bwhy\s+(not|didn'?t you|no)\b|\bnot recommend", re.IGNORECASE)
_RECOMMEND_WORDS = re.compile(
    r"\b(recommend|suggest|show me|give me|something|anything|movie|movies|film|films|watch|looking for|in the mood|more like|similar)\b",
    re.IGNORECASE,
)

# "what's good?", "anything new tonight?": an open request for the usual list (it waited on a model call, 8-45 s)
_WHATS_GOOD = re.compile(
    r"^\W*(so\s+)?(what'?s|whats|what is|anything)\s+(good|new|hot|popular|trending)(\s+(tonight|today|now|lately|here|to watch))?\W*$",
    re.IGNORECASE,
)
# a message that starts a new request rather than refining the last one ("Recommend me...", "I want...")
_FRESH_REQUEST = re.compile(
    r"^\s*(please\s+)?(recommend|suggest|show me|give me|find me|i want|i'?d like|i would like|i'?m in the mood|"
    r"can you (suggest|recommend|show|find)|what should i watch|any (good )?(movie|film)s?\b|(what'?s|whats|what is|anything) (good|new|hot|popular|trending)\b)",
    re.IGNORECASE,
)
# words that add a category to the last request rather than change the subject ("but funny", "sci-fi too",
# "I'd rather have something funny", "it should be scary": said of the list on screen, so what was asked before holds)
# ("too" and "as well" only at the end: "not too long", "too old for cartoons" add nothing)
_ADDS_TO = re.compile(
    r"^\s*(but|and|plus|make it|only|just|preferably|ideally|with|(a\s+(little|bit)\s+)?(more|less))\b|\b(too|as well)\W*$"
    r"|\b(also|rather|prefer|should)\b",
    re.IGNORECASE,
)
_MORE = re.compile(r"\b(show me|others?|something else|anything else|another|instead|more|alternatives?)\b", re.IGNORECASE)
# "more", "others?", "another one": a list follows a list, no model call needed to see that
# ("better ones?", "any different ones?": the same ask, other items; it took a model call and showed the same list)
_MORE_ONLY = re.compile(
    r"^\W*(some\s+|any\s+)?(more|others?|another( one)?|next|again|(better|different|other|new)\s+ones?)(\s+(please|pls|ones?))?\W*$",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_CHARS = 400  # the request understanding reads 500; the newest words must never be the ones cut


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                 "twelve": 12, "fifteen": 15, "twenty": 20}
_COUNT = re.compile(
    # up to two describing words between ("8 sci-fi movies", "ten good old films"), but not a length ("a 2 hour movie")
    r"\b(?P<n>\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")\s+(?:(?!(?:hours?|minutes?|mins?|years?|stars?)\b)[a-z][\w-]*\s+){0,2}"
    r"(?:movies?|films?|titles?|items?|recommendations?|suggestions?|picks?|options?)\b",
    re.IGNORECASE,
)
MAX_LIST_LENGTH = 20  # the recommend tool's own limit


def asked_count(text: str) -> int | None:
    """How many items a message asks for ("recommend 20 movies", "give me ten films"), at most
    :data:`MAX_LIST_LENGTH`; None when it names no number of items (the chat's usual list length then)."""
    match = _COUNT.search(text)
    if match is None:
        return None
    word = match["n"].lower()
    count = _NUMBER_WORDS[word] if word in _NUMBER_WORDS else int(word)
    return min(count, MAX_LIST_LENGTH) if count > 0 else None


def follow_up_request(text: str, previous: str | None, names_categories: bool = False) -> str:
    """The request a recommend turn stands for: a refinement ("Make it from the 90s.", "Not Scream. Something
    else?", "something lighter") adds to the conversation's last request, so what was asked before still holds; a
    fresh request ("Recommend me a western", or any message that ``names_categories`` of its own, such as "a romantic
    comedy", unless it says it adds them: "but funny", "sci-fi too") starts over. Without that, every later request
    carried all the earlier ones: "a romantic comedy" after "a 1950s movie from 1995" still leaned to those years."""
    if not previous or _FRESH_REQUEST.match(text) or (names_categories and not _ADDS_TO.search(text)):
        return text
    previous = previous.rstrip()
    combined = f"{previous}{'' if previous[-1:] in '.!?' else '.'} {text.strip()}"  # sentences stay sentences
    if len(combined) > MAX_FOLLOW_UP_CHARS:  # the oldest words give way
        combined = combined[-MAX_FOLLOW_UP_CHARS:].split(" ", 1)[-1]
    return combined


_WHY_ABOUT = re.compile(
    r"^\W*(?:so\s+|and\s+|but\s+)?(?:why|how come)\s+(?:not\s+)?(?:(?:did|didn'?t|do|don'?t|would|wouldn'?t|will|won'?t|should|shouldn'?t)\s+"
    r"(?:you|i)\s+(?:recommend|suggest|pick|choose|show|list|like|love|enjoy|watch)(?:\s+me)?\s+|is\s+|was\s+|isn'?t\s+|wasn'?t\s+)?"
    r"(?P<ref>.+?)[\s?.!]*$",
    re.IGNORECASE,
)


def why_reference(text: str) -> str | None:
    """The words a "why X?" names when they are not an item we found ("why Inception?" → "Inception"), so the
    answer can say that X is not in the catalog; None for "why?" or a pointer ("why that one?", "why the 2nd?")."""
    match = _WHY_ABOUT.match(text)
    if match is None:
        return None
    reference = match["ref"].strip(" '\"“”‘’")
    if not reference or _THAT_ONE.fullmatch(reference) or _POSITION.search(reference) or _NUMBER.search(reference):
        return None
    return reference


_NOT_POINTER = re.compile(
    r"\b(?P<not>not|no|except|without)\s+(?P<ref>that one|this one|(?:the\s+)?(?:" + "|".join(_ORDINALS) + r")(?:\s+one)?|number\s*\d{1,2})\b",
    re.IGNORECASE,
)


def spell_out_pointers(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None) -> str:
    """"Not that one, something older" with the item written out ("not 'Unforgiven', something older"), so the request
    leaves out the item the person points at; the request parser reads titles, not the conversation."""

    def title(match: re.Match[str]) -> str:
        item = referenced_item(match["ref"], titles, shown, focus)
        return f"{match['not']} '{display_title(item.title)}'" if item is not None else match[0]

    return _NOT_POINTER.sub(title, text)


def unresolved_pointer(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None) -> str | None:
    """The words of a "not that one" / "not number 9" that point at no single item (several on screen and none
    explained, or past the list's end): the chat asks which one instead of silently leaving nothing out."""
    for match in _NOT_POINTER.finditer(text):
        if referenced_item(match["ref"], titles, shown, focus) is None:
            return match[0]
    return None


def titles_with_words(reference: str, titles: TitleIndex) -> list[Item]:
    """Catalog items whose title holds ``reference``'s words, those that start with them first, then oldest first:
    for a "why X?" that names a series ("star trek") or part of a title ("lebowski"), where saying "X is not in the
    catalog" would be false."""
    key = normalise_title(reference)
    if not key:
        return []
    words = re.compile(rf"(?:^|\s){re.escape(key)}(?:\s|$)")
    found = [item for title, items in titles.by_title.items() if words.search(title) for item in items]
    starts = {item.item_id for title, items in titles.by_title.items() if title.startswith((key, f"the {key}")) for item in items}
    return sorted(found, key=lambda item: (item.item_id not in starts, item.year or 0, item.title))


_MORE_ITEMS = re.compile(r"\b(something|anything) else\b|\bshow me (some )?more\b|\bmore (of them|options|please)\b|\bother ones\b", re.IGNORECASE)


def only_asks_for_more(text: str) -> bool:
    """A bare "more" / "others?": the last request stands as it was, word for word."""
    return bool(_MORE_ONLY.match(text))


def asks_for_more(text: str) -> bool:
    """Whether a recommend message asks for items beyond the list shown ("more", "something else?"), which then
    leaves that list out; "more like X" and "more romantic" ask for something else and are not this."""
    return bool(_MORE_ONLY.match(text) or _MORE_ITEMS.search(text))


def wants_more(text: str) -> bool:
    """Whether a message also asks for new items ("I didn't like X, show me others")."""
    return bool(_MORE.search(text))


PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": list(INTENTS)},
        "items": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["intent", "items"],
    "additionalProperties": False,
}
PLAN_PROMPT = (
    "Classify the user's message for a movie recommender. intent: recommend (wants suggestions), explain (asks why an "
    "item was recommended or would suit them), why_not (asks why an item was not recommended), profile (asks about their "
    "own tastes), search (looks up an item), feedback (says they liked or disliked an item), chit_chat (anything else). "
    "items: titles exactly as the user wrote them, or [] when none."
)


@dataclass
class Plan:
    """What a turn will do: one tool (or none) and its arguments, and who decided."""

    intent: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    decided_by: Literal["rules", "model", "default"] = "rules"
    reply: str = ""  # what the answer says when no tool runs (empty: ask which item is meant)


def last_list(artifacts: list[Any]) -> list[dict[str, Any]]:
    """The item cards of the most recent list shown (the list "the second one" points into).

    An explanation or a feedback note names one item but is not a list: "why the first one?" then "why the
    second one?" still points into the recommendations on screen.
    """
    for artifact in reversed(artifacts):
        if isinstance(artifact, dict) and artifact.get("items") and not ({"explanation", "recorded"} & artifact.keys()):
            return list(artifact["items"])
    return []


def last_focus(artifacts: list[Any]) -> dict[str, Any] | None:
    """The one item the conversation was last about ("that one", "it"): the card of the most recent tool result that
    named exactly one item (an explanation, a feedback note, a list of one); None when the last result named several."""
    for artifact in reversed(artifacts):
        if isinstance(artifact, dict) and artifact.get("items"):
            return dict(artifact["items"][0]) if len(artifact["items"]) == 1 else None
    return None


def referenced_item(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None = None) -> Item | None:
    """The item a message points at: a title or id, a position in the last list, "that one" (``focus``), or a
    near-miss title."""
    if (item := fallback.find_item(text, titles)) is not None:
        return item
    focus = focus or (shown[0] if len(shown) == 1 else None)  # a list of one is what the conversation is about
    position = None
    if match := _POSITION.search(text):
        position = _ORDINALS[match["ord"].lower()]
    elif match := _NUMBER.search(text):
        position = int(match["n"]) - 1
    elif focus is not None and _THAT_ONE.search(text):
        return titles.items.get(str(focus["item_id"]))
    if position is not None and -len(shown) <= position < len(shown):
        return titles.items.get(str(shown[position]["item_id"]))
    return _near_title(text, titles)


def _near_title(text: str, titles: TitleIndex) -> Item | None:
    """A title written slightly wrong ("Star War", "the godfather 2"): the closest catalog title, if close."""
    words = normalise_title(text).split()
    best: tuple[float, Item] | None = None
    for n in range(min(titles.max_words, len(words)), 1, -1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            for match in difflib.get_close_matches(phrase, titles.by_title, n=1, cutoff=0.88):
                score = difflib.SequenceMatcher(None, phrase, match).ratio()
                if best is None or score > best[0]:
                    best = (score, titles.by_title[match][0])
    return best[1] if best else None


def rule_plan(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None = None) -> Plan | None:
    """The plan when the rules are sure of it, else None (then :func:`model_plan` decides); ``shown`` is the last list,
    ``focus`` the one item the conversation was last about (:func:`last_focus`)."""
    if _CHIT_CHAT.match(text):
        return Plan("chit_chat", "", reply=small_talk_reply(text))
    asks_why = bool(fallback.EXPLAIN.search(text))
    item = referenced_item(text, titles, shown, focus)
    if asks_why:
        if item is None:
            return Plan("explain", "")  # "why?" about nothing we can name: the answer asks which
        return Plan("why_not" if _WHY_NOT.search(text) else "explain", "explain_recommendation", {"item_id": item.item_id})
    route = fallback.route(text, titles)
    if route.intent in ("profile", "search"):
        return Plan(route.intent, route.tool, route.args)
    if fallback.SEEN.search(text) and not fallback.feedback_kind(text):
        # no feedback kind says "seen": ask whether they liked it ("I have seen Sabrina" went to a catalog search)
        return Plan("seen", "", reply=fallback.seen_reply(display_title(item.title) if item is not None else None))
    if item is None and fallback.feedback_kind(text) and _THAT_ONE.search(text):
        # "I loved it" after a list of five: guessing which one would store a verdict the user never gave
        return Plan("feedback", "")
    if route.intent == "feedback" or (item is not None and (kind := fallback.feedback_kind(text))):
        if route.intent == "feedback":
            return Plan("feedback", route.tool, route.args)
        return Plan("feedback", "record_feedback", {"item_id": item.item_id, "kind": kind})
    # "another one like the first one": the item is the whole ask; "something like Fargo from the 70s" says more,
    # so it goes through the request understanding below, which reads the title and the years together
    if re.search(r"\b(more like|similar to|(another|one)( one)? like)\b", text, re.IGNORECASE) and item is not None:
        return Plan("recommend", "recommend", {"like_item": item.item_id})
    # "not that one", "no, not the third": a list without the item pointed at (the chat asks which when it points at
    # none); the model called a bare "not that one" an explanation of the first item on screen
    if _WHATS_GOOD.match(text):
        return Plan("recommend", "recommend", {})  # no words to read: the user's own list, not the last request's
    if _RECOMMEND_WORDS.search(text) or route.args.get("like_item") or (shown and (_MORE_ONLY.match(text) or _NOT_POINTER.search(text))):
        return Plan("recommend", route.tool, route.args)
    return None


def checked_plan(
    raw: dict[str, Any], text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None = None
) -> Plan:
    """A model's plan, kept only as far as the message supports it.

    The intent must be one we know; an item counts only when its title's words appear in the
    message or it is in the last list, so an invented title never reaches a tool. Feedback, which
    writes to the user's history, needs more: the message itself must name the item or its place
    ("I loved it" after a list of five is not the model's to guess).
    """
    intent = raw.get("intent") if raw.get("intent") in INTENTS else "recommend"
    mentioned = normalise_title(text)
    shown_ids = {str(card["item_id"]) for card in [*shown, *([focus] if focus else [])]}
    item = None
    for reference in raw.get("items") or []:
        candidate = titles.resolve(str(reference)) if isinstance(reference, str) else None
        if candidate is not None and (normalise_title(candidate.title) in mentioned or candidate.item_id in shown_ids):
            item = candidate
            break
    item = item or referenced_item(text, titles, shown, focus)
    if intent in ("explain", "why_not"):
        if item is None and not fallback.EXPLAIN.search(text):
            # "what do you think about politics?": the small model calls it explain; "which item do you mean?" would baffle
            return Plan("chit_chat", "", decided_by="model", reply=OFF_TOPIC)
        if item is None:
            return Plan(intent, "", decided_by="model")
        return Plan(intent, "explain_recommendation", {"item_id": item.item_id}, "model")
    if intent == "feedback" and (kind := fallback.feedback_kind(text)):
        if (named := referenced_item(text, titles, shown, focus)) is None:
            return Plan("feedback", "", decided_by="model")
        return Plan("feedback", "record_feedback", {"item_id": named.item_id, "kind": kind}, "model")
    if intent == "profile":
        return Plan("profile", "get_interest_profile", {}, "model")
    if intent == "search":
        return Plan("search", "search_catalog", {"text": text}, "model")
    if intent == "chit_chat":
        return Plan("chit_chat", "", decided_by="model")
    route = fallback.route(text, titles)
    return Plan("recommend", "recommend", route.args if route.tool == "recommend" else {}, "model")


def plan_messages(text: str, shown: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The planning call's messages. :data:`PLAN_PROMPT` comes first and never changes, so llama.cpp serves it from
    its prompt cache; what varies (the last list, the message) comes after it."""
    listed = "; ".join(f"{n}. {card['title']}" for n, card in enumerate(shown[:10], 1))
    return [("system", PLAN_PROMPT + (f" The last list shown: {listed}." if listed else "")), ("human", text[:2000])]


def model_plan(
    model: BaseChatModel, text: str, titles: TitleIndex, shown: list[dict[str, Any]], config: dict[str, Any], focus: dict[str, Any] | None = None
) -> Plan:
    """ONE schema-constrained call for the intent and the items as written, then :func:`checked_plan`."""
    constrained = model.bind(response_format={"type": "json_schema", "json_schema": {"name": "plan", "strict": True, "schema": PLAN_SCHEMA}})
    answer = constrained.invoke(plan_messages(text, shown), config=config).text
    try:
        raw = json.loads(answer[answer.find("{") : answer.rfind("}") + 1])
    except ValueError:
        logger.info("the plan was not JSON, recommending: %r", answer[:200])
        raw = {}
    return checked_plan(raw if isinstance(raw, dict) else {}, text, titles, shown, focus)
