"""One conversation's state, in one place: the request in force, the list on screen, the feedback given.

It is derived from what the conversation stored (the tool calls and results in its checkpoint), so
a restart, a second tab or a reload reads the same state, and nothing else keeps a copy that could
drift. The chat reads it at the start of a turn; the app may hand it the cards on screen when they
changed after the chat's last list ("why the second one?" then points at the cards).

A new message either **refines** the request in force ("only from the 80s", "not that one",
"just 3", "but funny") or **replaces** it: a message that names its own subject, category or film
("a movie about a shark" after "a thriller, but nothing from before 1990") starts over, so no
constraint of an old topic leaks into a new one (:func:`agent.planning.follow_up_request`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from whyrec.agent.references import is_list

NEGATIVE_KINDS = frozenset({"disliked", "not_interested"})


@dataclass
class ConversationState:
    """What a conversation has in force before its next message."""

    request: str | None = None  # the request the last list answered ("" or None: the person's own list)
    exclude: list[str] = field(default_factory=list)  # items that list left out as already shown ("more")
    like_item: str | None = None  # the item that list was asked to be like ("more like that")
    k: int | None = None  # its length, when a number was asked for ("just 3")
    artifacts: list[Any] = field(default_factory=list)  # every tool result so far, oldest first
    texts: list[str] = field(default_factory=list)  # their texts, for grounding the answer's claims
    disliked: list[str] = field(default_factory=list)  # items this conversation said it disliked or is not interested in

    @classmethod
    def from_messages(cls, messages: list[BaseMessage]) -> ConversationState:
        """The state a stored conversation is in: its last recommend call and the feedback it recorded."""
        calls = [call for message in messages if isinstance(message, AIMessage) for call in message.tool_calls]
        last = next((call["args"] for call in reversed(calls) if call["name"] == "recommend"), {})
        disliked = [
            str(call["args"].get("item_id")) for call in calls
            if call["name"] == "record_feedback" and call["args"].get("kind") in NEGATIVE_KINDS
        ]
        tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
        return cls(
            request=last.get("request"),
            exclude=list(last.get("exclude") or []),
            like_item=last.get("like_item"),
            k=last.get("k"),
            artifacts=[m.artifact for m in tool_messages],
            texts=[m.text for m in tool_messages],
            disliked=list(dict.fromkeys(disliked)),
        )

    def with_cards(self, cards: list[dict[str, Any]] | None) -> ConversationState:
        """The state with the cards on screen as the list "the second one" points into (the app's cards changed
        after the chat's last list: a filter, a 👎, a new user's first list)."""
        if cards:
            # right after the conversation's last list, not at the end: an explanation or a feedback note given
            # since stays what "that one" means ("I didn't like X" … "more like that")
            lists = [n for n, artifact in enumerate(self.artifacts) if is_list(artifact)]
            at = lists[-1] + 1 if lists else 0
            self.artifacts = [*self.artifacts[:at], {"recommendations": [], "items": [dict(card) for card in cards]}, *self.artifacts[at:]]
        return self

    def with_feedback(self, feedback: list[dict[str, Any]] | None) -> ConversationState:
        """The state with the feedback given on the app's cards in this conversation (``{"item_id", "kind", "title",
        "fresh"}`` each): a dislike holds as one said in the chat does, and the item of the newest feedback given since
        the last message (``fresh``) is what "that one" means ("more like that" right after its 👎)."""
        for entry in feedback or []:
            if entry.get("kind") in NEGATIVE_KINDS and str(entry["item_id"]) not in self.disliked:
                self.disliked.append(str(entry["item_id"]))
        if fresh := [entry for entry in feedback or [] if entry.get("fresh")]:
            card = {"item_id": str(fresh[-1]["item_id"]), "title": str(fresh[-1].get("title") or "")}
            self.artifacts = [*self.artifacts, {"recorded": fresh[-1].get("kind"), "item_id": card["item_id"], "items": [card]}]
        return self

    def with_request(self, request: str | None) -> ConversationState:
        """The state with the request the page shows in force (the person removed a constraint there); None keeps
        the conversation's own."""
        if request is not None and request != self.request:
            self.request, self.exclude, self.like_item, self.k = request or None, [], None, None
        return self
