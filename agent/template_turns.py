"""Turns answered with templates: the tool runs, and its answer is written from what it returned (the items first).

The rules mode of a chat: when no model can run, or a model's turn failed, the keyword router
(:func:`agent.router.route`) picks the tool (:meth:`TemplateTurns.route_turn`); a plan-mode turn runs the tool
its plan names the same way (:meth:`TemplateTurns.answer`). Either way no model writes the words, so nothing in
them can name an item the tools did not return.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain.tools import ToolRuntime
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from whyrec.agent import router
from whyrec.agent.events import TurnEvent
from whyrec.agent.planning import Plan
from whyrec.agent.templates import NO_ITEM_HINT, phrase
from whyrec.agent.turn import Turn, emit, take_tool_results
from whyrec.tools.langchain_tools import WhyrecContext

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from whyrec.agent.chat_memory import ChatMemory
    from whyrec.tools.recommend.recommender import Recommender

NO_ANSWER = "Sorry, I could not answer that from the catalog. Ask me for recommendations, why an item was (not) recommended, or what your interests are."


class TemplateTurns:
    """Runs tools for a turn and answers with their templates; stores the answer in the conversation."""

    def __init__(self, recommender: Recommender, tools_by_name: dict[str, BaseTool], memory: ChatMemory) -> None:
        self.recommender = recommender
        self.tools_by_name = tools_by_name
        self.memory = memory

    def route_turn(self, graph: Any, turn: Turn, separator: bool) -> Iterator[str | TurnEvent]:
        """The keyword router's tool for the message, answered with its template (after a model's words when
        ``separator``)."""
        choice = router.route(turn.text, self.recommender.vocabulary.titles)
        yield from self.answer(graph, turn, choice.tool, choice.args, separator)

    def answer(
        self, graph: Any, turn: Turn, tool: str, args: dict[str, Any], separator: bool, then: Plan | None = None
    ) -> Iterator[str | TurnEvent]:
        """Run one tool (and ``then`` a second, e.g. a new list after a dislike) and answer with their templates (the
        items first), or ask which item when there is no tool."""
        steps: list[BaseMessage] = []
        answers = []
        for name, arguments in [(tool, args), *([(then.tool, then.args)] if then else [])]:
            if not name:
                answers.append(turn.plan.reply if turn.plan is not None and turn.plan.reply else NO_ITEM_HINT)
                continue
            message = call_tool(self.tools_by_name, name, arguments, turn.user_id)
            turn.tool_calls.append({"name": name, "args": arguments})
            turn.call_args[message.tool_call_id] = arguments
            yield from take_tool_results(turn, [message], self.recommender.vocabulary.titles)
            answers.append(phrase(name, message.artifact) or NO_ANSWER)
            if not steps and turn.plan is not None and turn.plan.note:
                answers[-1] = f"{turn.plan.note}\n\n{answers[-1]}"
            # kept in the conversation, so the next turn can point into this one ("why the second one?")
            steps += [AIMessage(content="", tool_calls=[{"name": name, "args": arguments, "id": message.tool_call_id}]), message]
        answer = "\n\n".join(answers)
        yield from emit(turn, ("\n" if separator else "") + answer, check=False)
        self.memory.remember(graph, turn, answer, steps)

    @staticmethod
    def template_answer(turn: Turn) -> str:
        """The template answer for the tools a model called, when none of its own lines passed the check."""
        for name, artifact in zip(reversed(turn.tools_called), reversed(turn.artifacts), strict=True):
            if isinstance(artifact, dict) and artifact.get("blocked"):
                continue  # a refused feedback call is not what the user asked about
            if answer := phrase(name, artifact):
                return answer
        return NO_ANSWER


def call_tool(tools: dict[str, BaseTool], name: str, args: dict[str, Any], user_id: str) -> ToolMessage:
    """Run one tool outside an agent loop, with the user in the runtime context."""
    call_id = f"fallback_{uuid.uuid4().hex[:12]}"
    runtime = ToolRuntime(
        state={"messages": []}, context=WhyrecContext(user_id=user_id), config={}, stream_writer=lambda _: None,
        tool_call_id=call_id, store=None, tools=list(tools.values()),
    )
    return tools[name].invoke({"type": "tool_call", "name": name, "id": call_id, "args": {**args, "runtime": runtime}})
