"""One chat turn while it streams: what the model and the tools have produced so far.

:class:`agent.chat.ChatAgent` fills a :class:`Turn` as LangGraph streams, and checks each
model message line by line through a :class:`MessageBuffer` before any of it reaches the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage

from whyrec.agent.conversation_state import ConversationState
from whyrec.agent.grounding import Grounding
from whyrec.agent.planning import Plan

# Text in a model message that means "this may be a tool call": hold it back until the message ends.
_CALL_MARKER = re.compile(r"[{]|```|<\s*/?\s*(tool_call|tools|function)\b", re.IGNORECASE)


class ModelCallCounter(BaseCallbackHandler):
    """Counts the model calls of one turn (a benchmark figure, and a sign of a looping model)."""

    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.calls += 1


@dataclass
class Turn:
    """What one turn has produced so far, while it streams."""

    user_id: str
    conversation_id: str
    text: str
    human: HumanMessage
    counter: ModelCallCounter
    started: float
    grounding: Grounding
    tools_called: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Any] = field(default_factory=list)
    tool_texts: list[str] = field(default_factory=list)
    emitted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    first_token: float | None = None
    final: AIMessage | None = None
    rescue: str | None = None  # why the router answers although the model ran
    state: ConversationState = field(default_factory=ConversationState)  # what the conversation had in force before it
    plan: Plan | None = None  # plan mode only


class MessageBuffer:
    """One model message as it streams: complete, checked lines go out unless it may be a tool call."""

    def __init__(self) -> None:
        self.text = ""
        self.done = 0  # characters of ``text`` already checked
        self.held = False

    def add(self, piece: str) -> None:
        self.text += piece
        if not self.held and _CALL_MARKER.search(self.text):
            self.held = True

    def complete_lines(self) -> list[str]:
        if self.held:
            return []
        end = self.text.rfind("\n", self.done)
        if end < 0:
            return []
        lines = self.text[self.done : end].split("\n")
        self.done = end + 1
        return lines
