"""The chat panel's link to the agent: one shared agent, created on first use, streamed into gr.Chatbot messages.

The agent (``agent.chat.ChatAgent``) keeps each conversation's memory under its
``conversation_id``, so one instance serves every browser session; each session
passes its own user and conversation id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

AgentFactory = Callable[[], Any]


def default_agent_factory(recommender, settings, *, fallback_only: bool = False) -> AgentFactory:
    """A factory for the project's ``ChatAgent`` on the shared recommender (imported on first use).

    ``fallback_only=True`` answers from templates, never starting a language model.
    """

    def make():
        from whyrec.agent.chat import ChatAgent

        return ChatAgent(recommender, settings, fallback_only=fallback_only)

    return make


class SharedAgent:
    """Creates the agent once, on first use, from any thread; remembers why it could not be created."""

    def __init__(self, factory: AgentFactory | None):
        self.factory = factory
        self._agent: Any = None
        self._error: str | None = None if factory else "no chat agent is configured"
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._agent is not None or self._error is not None:
            return self._agent
        with self._lock:
            if self._agent is None and self._error is None:
                try:
                    self._agent = self.factory()
                except Exception as e:  # an agent that cannot start must not take the rest of the app down
                    log.exception("chat agent failed to start")
                    self._error = f"{type(e).__name__}: {e}".splitlines()[0]
        return self._agent

    def stream(self, user_id: str, conversation_id: str, text: str) -> Iterable[str]:
        """The reply as text chunks; after iterating, ``.reply`` (when the agent gives one) holds the whole Reply.

        Uses the agent's ``.stream`` when it has one, else its ``.reply`` in one piece; when the
        agent could not be created, one chunk says why.
        """
        agent = self.get()
        if agent is None:
            return Unavailable(f"Chat is unavailable ({self._error}). The recommendations, explanations and profile still work.")
        if hasattr(agent, "stream"):
            return agent.stream(user_id, conversation_id, text)
        reply = agent.reply(user_id, conversation_id, text)
        return Unavailable(reply.text, reply)


class Unavailable:
    """A one-chunk stream (the ``ReplyStream`` shape: iterate, then read ``.reply``)."""

    def __init__(self, text: str, reply: Any = None):
        self.text = text
        self.reply = reply

    def __iter__(self) -> Iterator[str]:
        yield self.text
