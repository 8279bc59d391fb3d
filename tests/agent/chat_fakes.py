"""Scripted chat models for agent tests: no LLM, replies from a script that may read the tool data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

Step = str | AIMessage | Callable[[list[BaseMessage]], str | AIMessage]


class ScriptedChatModel(GenericFakeChatModel):
    """Replies with the next step of a script; a step may be a function of the messages it is sent.

    ``seen`` keeps every list of messages the model was sent; ``bind_tools`` is a no-op, as
    for a local model that writes its tool calls as text, that records the ``tool_choice`` and
    ``max_tokens`` each call was bound with.
    """

    script: list[Any] = []
    seen: list[list[BaseMessage]] = []
    tool_choices: list[Any] = []
    max_tokens: list[Any] = []
    messages: Any = iter(())

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        self.tool_choices.append(kwargs.get("tool_choice"))
        self.max_tokens.append(kwargs.get("max_tokens"))
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        if not self.script:
            raise AssertionError("the model was called more often than scripted")
        step = self.script.pop(0)
        reply = step(list(messages)) if callable(step) else step
        self.messages = iter([reply])
        return super()._generate(messages, *args, **kwargs)


def scripted(*steps: Step) -> ScriptedChatModel:
    return ScriptedChatModel(script=list(steps), seen=[], tool_choices=[], max_tokens=[])


def tool_payload(message: ToolMessage) -> dict[str, Any]:
    """The JSON between the <tool_data> delimiters of a tool result."""
    match = re.search(r"<tool_data[^>]*>\n(.*)\n</tool_data>", message.text, re.DOTALL)
    assert match, f"tool output is not delimited: {message.text!r}"
    return json.loads(match.group(1))


def last_tool_message(messages: list[BaseMessage]) -> ToolMessage:
    return next(m for m in reversed(messages) if isinstance(m, ToolMessage))


def answer_with_titles(n: int = 2, extra: str = "") -> Callable[[list[BaseMessage]], str]:
    """A final answer listing the first ``n`` items the last tool returned (plus ``extra`` lines)."""

    def answer(messages: list[BaseMessage]) -> str:
        results = [tool_payload(m) for m in messages if isinstance(m, ToolMessage)]
        items = next(r["items"] for r in reversed(results) if "items" in r)[:n]
        lines = [f"{i}. {item['title']} ({item['year']}) - a good fit." for i, item in enumerate(items, start=1)]
        return "\n".join(["Here you go:", *lines, *([extra] if extra else [])])

    return answer
