"""What a message points at in the conversation: "the second one", "that one", "not number 3", a near-miss title.

The request parser reads titles, not the conversation; these rules read the conversation's lists and the item it
was last about (:func:`last_list`, :func:`last_focus`) and resolve a message's pointers into catalog items
(:func:`referenced_item`), for the plan (:mod:`agent.planning`) and the conversation state (:mod:`agent.conversation_state`).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from whyrec.agent import router
from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex, display_title, normalise_title
from whyrec.tools.understanding.words import EXCLUDING

NEAR_TITLE_WORDS = 12  # a misspelt title comes in a short message ("why star war?")
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4, "5th": 4,
    "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7, "ninth": 8, "9th": 8, "tenth": 9, "10th": 9,
    "last": -1,
}
POSITION = re.compile(r"\b(?:the\s+)?(?P<ord>" + "|".join(_ORDINALS) + r")(?:\s+(?:one|item|movie|film|pick))?\b", re.IGNORECASE)
NUMBER = re.compile(r"\b(?:number|no\.?)\s*(?P<n>\d{1,2})\b", re.IGNORECASE)
THAT_ONE = re.compile(r"\b(that one|this one|that|it)\b", re.IGNORECASE)
# every way the parser reads of ruling something out can point at an item ("not really into that one", "skip the third")
NOT_POINTER = re.compile(
    r"\b(?P<not>" + EXCLUDING + r")\s+(?P<ref>that one|this one|(?:the\s+)?(?:" + "|".join(_ORDINALS) + r")(?:\s+one)?|number\s*\d{1,2})\b",
    re.IGNORECASE,
)


def spell_out_pointers(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None) -> str:
    """"Not that one, something older" with the item written out ("not 'Unforgiven', something older"), so the request
    leaves out the item the person points at; the request parser reads titles, not the conversation."""

    def title(match: re.Match[str]) -> str:
        item = referenced_item(match["ref"], titles, shown, focus)
        return f"{match['not']} '{display_title(item.title)}'" if item is not None else match[0]

    return NOT_POINTER.sub(title, text)


def unresolved_pointer(text: str, titles: TitleIndex, shown: list[dict[str, Any]], focus: dict[str, Any] | None) -> str | None:
    """The words of a "not that one" / "not number 9" that point at no single item (several on screen and none
    explained, or past the list's end): the chat asks which one instead of silently leaving nothing out."""
    for match in NOT_POINTER.finditer(text):
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


def last_list(artifacts: list[Any]) -> list[dict[str, Any]]:
    """The item cards of the most recent list shown (the list "the second one" points into).

    An explanation or a feedback note names one item but is not a list: "why the first one?" then "why the
    second one?" still points into the recommendations on screen.
    """
    for artifact in reversed(artifacts):
        if is_list(artifact):
            return list(artifact["items"])
    return []


def is_list(artifact: Any) -> bool:
    """Whether a tool result is a list shown (not an explanation or a feedback note, which name one item)."""
    return isinstance(artifact, dict) and bool(artifact.get("items")) and not ({"explanation", "recorded"} & artifact.keys())


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
    if (item := router.find_item(text, titles)) is not None:
        return item
    focus = focus or (shown[0] if len(shown) == 1 else None)  # a list of one is what the conversation is about
    position = None
    if match := POSITION.search(text):
        position = _ORDINALS[match["ord"].lower()]
    elif match := NUMBER.search(text):
        position = int(match["n"]) - 1
    elif focus is not None and THAT_ONE.search(text):
        return titles.items.get(str(focus["item_id"]))
    if position is not None and -len(shown) <= position < len(shown):
        return titles.items.get(str(shown[position]["item_id"]))
    return _near_title(text, titles)


def _near_title(text: str, titles: TitleIndex) -> Item | None:
    """A title written slightly wrong ("Star War", "the godfather 2"): the closest catalog title, if close. Only in a
    short message: the search compares every phrase with every title, and took 26 s on a 2,000-character one."""
    words = normalise_title(text).split()
    if len(words) > NEAR_TITLE_WORDS:
        return None
    best: tuple[float, Item] | None = None
    for n in range(min(titles.max_words, len(words)), 1, -1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            for match in difflib.get_close_matches(phrase, titles.by_title, n=1, cutoff=0.88):
                score = difflib.SequenceMatcher(None, phrase, match).ratio()
                if best is None or score > best[0]:
                    best = (score, titles.by_title[match][0])
    return best[1] if best else None
