"""What a chat turn shows besides its text, as typed events in its reply stream.

A turn's stream (:class:`agent.reply.ReplyStream`) yields the answer's text as ``str`` chunks and, between them,
these events, so a front end shows what the tools found without knowing the tools' names or LangChain's callbacks:

- :class:`ItemsShown` the moment a tool ranks a list for a request (``request`` is what the list was asked with, so a
  page can draw the cards and the request in force while the answer is still being written), and once more, as the
  turn's last event, with the items the finished answer offers (``answered``: the items of :attr:`Reply.items`);
- :class:`FeedbackRecorded` when the person's verdict on an item was stored (a page offers its Undo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ItemsShown:
    """Items a turn puts before the person, as cards (``item_id``, ``title``, ``year``, ``categories``; a ranked list's
    cards also carry their ranking: ``rank``, ``scores``, ``because``…), and the request they answer.

    ``request``: the arguments the ``recommend`` tool ranked the list with (``request``, ``k``, ``diversity``, years,
    categories, ``exclude``, ``like_item``); ``{}`` when the items answer no ranked request (an explanation's item, a
    search's matches, a verdict). ``answered``: False for a tool's list as it returns, True for the items the
    finished answer offers (names, or else recommends), which is the turn's last event.
    """

    items: tuple[dict[str, Any], ...]
    request: dict[str, Any] = field(default_factory=dict)
    answered: bool = False


@dataclass(frozen=True)
class FeedbackRecorded:
    """The person's verdict on an item was stored during the turn ("I didn't like Heat")."""

    item_id: str
    kind: str  # a feedback kind: "liked", "disliked", "not_interested"
    title: str


TurnEvent = ItemsShown | FeedbackRecorded
