"""One chat turn while it streams: what the model and the tools have produced so far, and how it grows.

Every turn runner (:mod:`agent.plan_turns`, :mod:`agent.react_turns`, :mod:`agent.template_turns`) fills a
:class:`Turn`: the tools' results join it through :func:`take_tool_results` (which turns them into the stream's
events, :mod:`agent.events`), its text goes out through :func:`emit` (a model's lines checked against what the
tools returned, through a :class:`MessageBuffer` while they stream), and :func:`finished_reply` makes its
:class:`agent.reply.Reply`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from whyrec.agent.conversation_state import ConversationState
from whyrec.agent.events import FeedbackRecorded, ItemsShown, TurnEvent
from whyrec.agent.grounding import Grounding, mentioned_items
from whyrec.agent.planning import Plan
from whyrec.agent.reply import Reply
from whyrec.tools.tool_text import DATA_NOTE, items_in
from whyrec.tools.understanding.titles import TitleIndex

logger = logging.getLogger(__name__)

# Text in a model message that means "this may be a tool call": hold it back until the message ends.
_CALL_MARKER = re.compile(r"[{]|```|<\s*/?\s*(tool_call|tools|function)\b", re.IGNORECASE)
_ECHOED_DATA = re.compile(r"</?\s*tool_data[^>]*>|" + re.escape(DATA_NOTE), re.IGNORECASE)
# raw tool data pasted into an answer ('{"items":[{"title": ...'), or a list marker with nothing after it
_RAW_DATA = re.compile(r"\{\s*\"|\"(?:item_id|items|title|fits|nearest_interest|like_past)\"\s*:")
_EMPTY_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*$")


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
    call_args: dict[str, dict[str, Any]] = field(default_factory=dict)  # the arguments of each tool call, by its id


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


def take_tool_results(turn: Turn, messages: Sequence[BaseMessage], titles: TitleIndex) -> list[TurnEvent]:
    """Add the tool results among ``messages`` to the turn (the answer check then accepts the items they name), and
    return what they show the person: a ranked list (:class:`ItemsShown`), a stored verdict (:class:`FeedbackRecorded`)."""
    events: list[TurnEvent] = []
    for message in messages:
        if not isinstance(message, ToolMessage):
            continue
        # one artifact per call, blocked ones included, so tools_called[i] and artifacts[i] stay a pair
        turn.tools_called.append(message.name or "")
        turn.artifacts.append(message.artifact)
        turn.tool_texts.append(message.text)
        artifact = message.artifact if isinstance(message.artifact, dict) else {}
        if message.name == "recommend" and artifact.get("recommendations") is not None:
            arguments = {k: v for k, v in turn.call_args.get(message.tool_call_id, {}).items() if k != "runtime"}
            events.append(ItemsShown(tuple(artifact["recommendations"]), arguments))
        elif message.name == "record_feedback" and artifact.get("recorded") and artifact.get("items"):
            card = artifact["items"][0]
            events.append(FeedbackRecorded(str(card["item_id"]), str(artifact["recorded"]), str(card.get("title") or "")))
    turn.grounding = Grounding.build(titles, items_in([*turn.state.artifacts, *turn.artifacts]), [*turn.state.texts, *turn.tool_texts], turn.text)
    return events


def emit(turn: Turn, text: str, check: bool = True) -> Iterator[str]:
    """Yield ``text`` (one line, or a whole template answer) once it passes the check."""
    if check:
        line = turn.grounding.correct(_ECHOED_DATA.sub("", text.rstrip("\n")).rstrip())
        if turn.grounding.problems(line) or _RAW_DATA.search(line) or _EMPTY_LIST_LINE.match(line):
            turn.dropped.append(line)
            logger.info("dropped a line naming items no tool returned: %r", line)
            return
        if not line.strip() and (not turn.emitted or turn.emitted[-1].endswith("\n\n")):
            return  # no leading or doubled blank lines
        text = line + "\n"
    if turn.first_token is None and text.strip():
        turn.first_token = time.perf_counter() - turn.started
    turn.emitted.append(text)
    yield text


def finished_reply(turn: Turn, titles: TitleIndex, used_fallback: bool, error: str | None) -> Reply:
    """The :class:`Reply` of a turn that has ended."""
    text = "".join(turn.emitted).strip()
    return Reply(
        text=text,
        items=answer_items(turn, text, titles),
        tools_called=turn.tools_called,
        llm_calls=turn.counter.calls,
        fallback=used_fallback,
        seconds=time.perf_counter() - turn.started,
        first_token_seconds=turn.first_token,
        conversation_id=turn.conversation_id,
        dropped_lines=turn.dropped,
        tool_calls=turn.tool_calls,
        error=error,
        intent=turn.plan.intent if turn.plan else None,
        planned_by=turn.plan.decided_by if turn.plan else None,
    )


def answer_items(turn: Turn, text: str, titles: TitleIndex) -> list[dict[str, Any]]:
    """The items this answer offers: those it names from recommend/search/explain, else all recommended. The item a
    verdict was recorded on is offered only when no list follows it: after "I didn't like Heat, something else" the
    answer offers the new list, and Heat named in "Noted" is not one of its items."""
    sources = {"recommend", "search_catalog", "explain_recommendation"} | ({"record_feedback"} if "recommend" not in turn.tools_called else set())
    offered: dict[str, dict[str, Any]] = {}
    for name, artifact in zip(turn.tools_called, turn.artifacts, strict=True):
        if isinstance(artifact, dict) and name in sources:
            for card in artifact.get("items") or []:
                offered.setdefault(str(card["item_id"]), card)
    named = [offered[i.item_id] for i in mentioned_items(text, titles) if i.item_id in offered]
    if named:
        return named
    recommended = [a for n, a in zip(turn.tools_called, turn.artifacts, strict=True) if n == "recommend" and isinstance(a, dict)]
    return list(recommended[-1].get("items") or []) if recommended else []
