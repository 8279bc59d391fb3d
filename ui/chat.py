"""The chat panel's link to the agent: one shared agent, created on first use, streamed into gr.Chatbot messages.

The agent (``agent.chat.ChatAgent``) keeps each conversation's memory under its
``conversation_id``, so one instance serves every browser session; each session
passes its own user and conversation id.

Two things a person must see while a turn runs are decided here, not in the agent:

- **their place in line.** The embedded local model answers one turn at a time, so
  :class:`SharedAgent` hands out turns in arrival order (``max_turns`` at once) and tells
  a waiting turn how many are ahead of it, instead of letting it sit silently in llama.cpp.
- **the cards, as soon as a tool returns them.** The turn's stream yields them as typed events
  (:class:`~agent.events.ItemsShown`, :class:`~agent.events.FeedbackRecorded`) between its text
  chunks, so the page shows the recommendations while the model is still writing its answer.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whyrec.agent.events import ItemsShown, TurnEvent

log = logging.getLogger(__name__)

AgentFactory = Callable[[], Any]


def default_agent_factory(recommender, settings, *, fallback_only: bool = False, server=None) -> AgentFactory:
    """A factory for the project's ``ChatAgent`` on the shared recommender (imported on first use).

    ``fallback_only=True`` answers from templates, never starting a language model; ``server``: the embedded model
    the chat shares with the background interest summaries (:func:`ui.recommender_setup.shared_local_model`).
    """

    def make():
        from whyrec.agent.chat import ChatAgent

        return ChatAgent(recommender, settings, fallback_only=fallback_only, server=server)

    return make


def turns_at_once(settings, fallback_only: bool = False) -> int:
    """How many chat turns may run together: one for the embedded model (it serves one at a time)."""
    return 4 if fallback_only or getattr(settings, "llm_base_url", None) else 1


def read_by_the_model(reply: Any) -> bool:
    """Whether a turn's words were read by the chat's model (its reading, not the rules', wrote the request): a plan
    turn the model planned, or any turn of an agent whose model calls the tools itself."""
    if reply is None or getattr(reply, "fallback", False):
        return False
    planned_by = getattr(reply, "planned_by", None)
    return planned_by == "model" or (planned_by is None and getattr(reply, "llm_calls", 0) > 0)


# --- the shared agent and its line ----------------------------------------------------------


class SharedAgent:
    """Creates the agent once, on first use, from any thread; remembers why it could not be created.

    Turns that may call the model enter through :meth:`wait_turn` / :meth:`end_turn`: at most ``max_turns``
    run at once, the rest wait in arrival order and can ask how many are ahead of them. A turn the rules
    decide needs no place in that line, but every turn holds its conversation (:meth:`enter_conversation` /
    :meth:`leave_conversation`): the next message of the same conversation reads the state this one leaves.
    """

    def __init__(self, factory: AgentFactory | None, max_turns: int = 1):
        self.factory = factory
        self.max_turns = max(1, int(max_turns))
        self._agent: Any = None
        self._error: str | None = None if factory else "no chat agent is configured"
        self._lock = threading.Lock()
        self._line = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: list[int] = []
        self._running = 0
        self._conversations: dict[Any, list] = {}  # key -> [lock, turns holding or waiting for it]

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

    def wait_turn(self, poll_seconds: float = 0.5) -> Iterator[int]:
        """Yield how many turns are ahead (1, 2, …) every ``poll_seconds`` while waiting; return once it is this turn's go.

        The caller must call :meth:`end_turn` after the turn, also when it fails or is abandoned.
        """
        with self._line:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
        try:
            while True:
                with self._line:
                    if self._waiting[0] == ticket and self._running < self.max_turns:
                        self._waiting.pop(0)
                        self._running += 1
                        self._line.notify_all()
                        return
                    ahead = max(1, self._waiting.index(ticket) + max(0, self._running - self.max_turns + 1))
                yield ahead
                with self._line:
                    self._line.wait(poll_seconds)
        except BaseException:
            with self._line:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._line.notify_all()
            raise

    def enter_conversation(self, key: Any) -> None:
        """Block until no other turn of conversation ``key`` runs (a message sent before the last answer was saved
        must not read the state from before it). The caller must call :meth:`leave_conversation` afterwards."""
        with self._line:
            entry = self._conversations.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()

    def leave_conversation(self, key: Any) -> None:
        with self._line:
            entry = self._conversations.get(key)
            if entry is None:
                return
            entry[0].release()
            entry[1] -= 1
            if entry[1] <= 0:
                del self._conversations[key]

    def end_turn(self) -> None:
        with self._line:
            self._running = max(0, self._running - 1)
            self._line.notify_all()

    @property
    def busy(self) -> int:
        """Turns running or waiting right now."""
        with self._line:
            return self._running + len(self._waiting)

    def stream(
        self, user_id: str, conversation_id: str, text: str, cards: list[dict] | None = None, request: str | None = None,
        feedback: list[dict] | None = None,
    ) -> Iterable[str | TurnEvent]:
        """The reply as text chunks and events; after iterating, ``.reply`` (when the agent gives one) holds the whole Reply.

        ``cards``: the items on the person's screen ("the second one" points into them); ``request``: the request in
        force as the page shows it, when the person changed it there ("" for none; None keeps the conversation's own);
        ``feedback``: the 👍/👎 given on the cards in this conversation (a dislike there holds in the chat).
        Uses the agent's ``.stream`` when it has one, else its ``.reply`` in one piece; when the
        agent could not be created, one chunk says why.
        """
        agent = self.get()
        if agent is None:
            return Unavailable(f"Chat is unavailable ({self._error}). The recommendations, explanations and profile still work.")
        if hasattr(agent, "stream"):
            extra = {"request": request} if request is not None else {}
            if feedback:
                extra["feedback"] = feedback
            if cards or extra:
                return agent.stream(user_id, conversation_id, text, cards or None, **extra)
            return agent.stream(user_id, conversation_id, text)
        reply = agent.reply(user_id, conversation_id, text)
        return Unavailable(reply.text, reply)


class Unavailable:
    """A one-chunk stream (the ``ReplyStream`` shape: iterate, then read ``.reply``), with the reply's items after it."""

    def __init__(self, text: str, reply: Any = None):
        self.text = text
        self.reply = reply

    def __iter__(self) -> Iterator[str | TurnEvent]:
        yield self.text
        if items := getattr(self.reply, "items", None):
            yield ItemsShown(tuple(items), answered=True)
