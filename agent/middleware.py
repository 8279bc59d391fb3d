"""The agent's middleware: what the model sees, which tool calls it must make, which it may not.

Each class wraps one concern around LangChain's agent loop (``create_agent(middleware=[...])``),
so :mod:`agent.chat` only assembles them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from whyrec.agent import router
from whyrec.tools.tool_text import tool_data

logger = logging.getLogger(__name__)


def recent_turns(messages: Sequence[BaseMessage], turns: int) -> list[BaseMessage]:
    """The last ``turns`` user turns; earlier turns keep only the question and the final answer.

    The tool data of old turns is what makes a prompt long, and the small local model reads
    every prompt token on a CPU; the current turn is always kept whole.
    """
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not starts:
        return list(messages)
    window = starts[-turns:] if turns > 0 else starts[-1:]
    current = starts[-1]
    kept: list[BaseMessage] = []
    for i, message in enumerate(messages):
        if i < window[0]:
            continue
        if i >= current:
            kept.append(message)
        elif isinstance(message, HumanMessage) or (isinstance(message, AIMessage) and not message.tool_calls and message.text):
            kept.append(message)
    return kept


class RecentTurnsMiddleware(AgentMiddleware):
    """Sends the model only the recent turns (see :func:`recent_turns`); the stored chat keeps all."""

    def __init__(self, turns: int = 3) -> None:
        super().__init__()
        self.turns = turns

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:
        return handler(request.override(messages=recent_turns(request.messages, self.turns)))

    async def awrap_model_call(self, request: ModelRequest, handler: Any) -> ModelResponse:
        return await handler(request.override(messages=recent_turns(request.messages, self.turns)))


class ToolPolicyMiddleware(AgentMiddleware):
    """The first model call of a turn must call a tool; after ``max_tool_rounds`` rounds it must answer.

    Small models otherwise answer "recommend me something" from memory. Sent as OpenAI's
    ``tool_choice`` ("required" / "none"), which llama.cpp enforces with a grammar; an
    endpoint that rejects ``tool_choice`` gets requests without it from then on.

    ``call_max_tokens`` caps what a call that must call a tool may write. The embedded 1.5B model
    writes its call (~66 tokens for a ``recommend`` call with every argument filled) and then does
    not stop: it adds more calls or blank lines until ``max_tokens``, and on 2 CPU cores every token
    costs 0.1-0.2 s (benchmarks/README.md, "Agent turns": the cap made react turns ~9 s faster).
    Hosted models stop on their own and may need the room to reason first, so the cap is for the
    embedded model only.
    """

    def __init__(self, max_tool_rounds: int = 3, call_max_tokens: int | None = None) -> None:
        super().__init__()
        self.max_tool_rounds = max_tool_rounds
        self.call_max_tokens = call_max_tokens
        self.supported = True

    def _choice(self, request: ModelRequest) -> str | None:
        if not request.tools or not self.supported:
            return None
        last_user = max((i for i, m in enumerate(request.messages) if isinstance(m, HumanMessage)), default=-1)
        rounds = sum(1 for m in request.messages[last_user + 1 :] if isinstance(m, AIMessage) and m.tool_calls)
        if rounds == 0:
            return "required"
        return "none" if rounds >= self.max_tool_rounds else None

    def _rejected(self, err: Exception) -> bool:
        if "tool_choice" in str(err) and getattr(err, "status_code", None) in (400, 422):
            logger.warning("the endpoint does not accept tool_choice; sending requests without it: %s", err)
            self.supported = False
            return True
        return False

    def _with_choice(self, request: ModelRequest, choice: str) -> ModelRequest:
        if choice == "required" and self.call_max_tokens is not None:
            return request.override(tool_choice=choice, model_settings={**request.model_settings, "max_tokens": self.call_max_tokens})
        return request.override(tool_choice=choice)

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:
        choice = self._choice(request)
        if choice is None:
            return handler(request)
        try:
            return handler(self._with_choice(request, choice))
        except Exception as err:
            if self._rejected(err):
                return handler(request)
            raise

    async def awrap_model_call(self, request: ModelRequest, handler: Any) -> ModelResponse:
        choice = self._choice(request)
        if choice is None:
            return await handler(request)
        try:
            return await handler(self._with_choice(request, choice))
        except Exception as err:
            if self._rejected(err):
                return await handler(request)
            raise


class FeedbackGuardMiddleware(AgentMiddleware):
    """Runs ``record_feedback`` only when the user's own last message gives feedback.

    Catalog text or a confused model cannot write to the user's profile: the call gets an
    error result instead, and nothing is stored.
    """

    def _blocked(self, request: Any) -> ToolMessage | None:
        call = request.tool_call
        if call.get("name") != "record_feedback":
            return None
        messages = (request.state or {}).get("messages", []) if isinstance(request.state, dict) else getattr(request.state, "messages", [])
        last_user = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        if router.gives_feedback(last_user):
            return None
        logger.warning("blocked record_feedback %s: the user's message gives no feedback", call.get("args"))
        payload = {"error": "not recorded: the user did not give feedback in their message. Do not record feedback unless the user asks."}
        return ToolMessage(
            content=tool_data("record_feedback", payload),
            tool_call_id=call["id"],
            name="record_feedback",
            status="error",
            artifact={"error": payload["error"], "blocked": True},
        )

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return self._blocked(request) or handler(request)

    async def awrap_tool_call(self, request: Any, handler: Any) -> Any:
        return self._blocked(request) or await handler(request)
