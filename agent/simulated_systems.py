"""The chat systems a simulated user talks to (tools/evaluation/conversation/simulator.py): router and agent.

Both are :class:`ChatAgent` as a person meets it in ``whyrec chat``: the keyword router is the
agent with ``fallback_only=True`` (no model ever: rules pick the tool, templates answer), the
agent is the same class with a chat model (the embedded local one, an OpenAI-compatible
endpoint, or a scripted fake in tests) in the mode the settings give (``auto`` by default:
plan mode for the local model, where rules decide when sure and the model is asked otherwise). Each session is a new conversation; the items shown
are those the answer offers (``Reply.items``), and the time to the first item is when the
first streamed chunk names one of them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from whyrec.agent.chat import ChatAgent
from whyrec.tools.evaluation.conversation.metrics import SystemReply
from whyrec.tools.evaluation.conversation.simulator import UserTurn, names_item


class ChatSystem:
    """A :class:`ChatAgent` behind the simulator's system interface."""

    def __init__(self, agent: ChatAgent, name: str) -> None:
        self.agent = agent
        self.name = name
        self.titles = agent.recommender.vocabulary.titles
        self.user_id = ""
        self.conversation_id = ""

    def start(self, user_id: str, session_id: str, moment: float | None = None) -> None:
        self.user_id = user_id
        self.agent.recommender.moment = moment
        self.conversation_id = f"{session_id}-{uuid.uuid4().hex[:8]}"

    def respond(self, turn: UserTurn) -> SystemReply:
        started = time.perf_counter()
        stream = self.agent.stream(self.user_id, self.conversation_id, turn.text)
        chunks: list[tuple[float, str]] = []
        for chunk in stream:
            if isinstance(chunk, str):  # the text as it reached the person; the events are not text
                chunks.append((time.perf_counter() - started, chunk))
        reply = stream.reply
        assert reply is not None
        items = self._shown(reply)
        return SystemReply(
            items=items,
            text=reply.text,
            tools=list(reply.tools_called),
            llm_calls=reply.llm_calls,
            fallback=reply.fallback,
            seconds=reply.seconds,
            first_item_seconds=self._first_item(chunks, reply.items),
            error=reply.error,
            planned_by=getattr(reply, "planned_by", None),
        )

    def _shown(self, reply: Any) -> list[str]:
        """The items the answer offers: only from a turn that recommended or searched, and never the item
        feedback was just given on ("Noted: you did not like X" does not show X again)."""
        if not {"recommend", "search_catalog"} & set(reply.tools_called):
            return []
        about = {
            item.item_id for call in reply.tool_calls if call.get("name") == "record_feedback"
            if (item := self.titles.resolve(str((call.get("args") or {}).get("item_id", "")))) is not None
        }
        return [str(card["item_id"]) for card in reply.items if str(card["item_id"]) not in about]

    def _first_item(self, chunks: list[tuple[float, str]], cards: list[dict[str, Any]]) -> float | None:
        """When the streamed text first named a shown item."""
        if not cards:
            return None
        shown = [self.agent.recommender.items[str(c["item_id"])] for c in cards if str(c["item_id"]) in self.agent.recommender.items]
        text = ""
        for at, chunk in chunks:
            text += chunk
            if any(names_item(text, item) for item in shown):
                return at
        return chunks[-1][0] if chunks else None


def router_system(recommender: Any, settings: Any = None) -> ChatSystem:
    """The no-LLM keyword router, exactly as the chat falls back to it."""
    return ChatSystem(ChatAgent(recommender, settings, fallback_only=True), "router")


def agent_system(recommender: Any, settings: Any = None, model: Any = None, **options: Any) -> ChatSystem:
    """The full agent: ``model`` if given, else the endpoint in settings, else the embedded local model."""
    return ChatSystem(ChatAgent(recommender, settings, model, **options), "agent")
