"""Turns a model answers in a loop with the tools (react mode), its lines checked before they stream out.

LangGraph runs the model and the tools it calls; :meth:`ReactTurns.run` streams the model's messages, holds back
any that may be a tool call, and lets each complete line out only once it names no item the tools did not return
(:func:`agent.turn.emit`). An answer given without any tool call that names items, or that a why / profile /
feedback / search message needed a tool for, is marked for rescue: the router's template answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk

from whyrec.agent import router
from whyrec.agent.events import TurnEvent
from whyrec.agent.turn import MessageBuffer, Turn, emit, take_tool_results
from whyrec.tools.langchain_tools import WhyrecContext

if TYPE_CHECKING:
    from whyrec.agent.chat_memory import ChatMemory
    from whyrec.tools.recommend.recommender import Recommender

logger = logging.getLogger(__name__)


class ReactTurns:
    """Streams one model-and-tools turn of the agent graph into a :class:`Turn`."""

    def __init__(self, recommender: Recommender, memory: ChatMemory) -> None:
        self.recommender = recommender
        self.memory = memory

    def run(self, graph: Any, turn: Turn) -> Iterator[str | TurnEvent]:
        buffers: dict[str, MessageBuffer] = {}
        last: MessageBuffer | None = None
        titles = self.recommender.vocabulary.titles
        config = self.memory.config(turn.user_id, turn.conversation_id, [turn.counter])
        for mode, data in graph.stream(
            {"messages": [turn.human]},
            config,
            context=WhyrecContext(user_id=turn.user_id),
            stream_mode=["messages", "updates"],
        ):
            if mode == "messages":
                chunk, meta = data
                if meta.get("langgraph_node") != "model" or not isinstance(chunk, AIMessageChunk):
                    continue
                piece = chunk.text
                if not piece:
                    continue
                buffer = buffers.get(chunk.id or "")
                if buffer is None:
                    buffer = last = buffers[chunk.id or ""] = MessageBuffer()
                    # before any tool ran this turn, a message is most likely a tool call (maybe after some
                    # chatter such as "Let me look."): show it only once it turns out to be the answer
                    buffer.held = not turn.tools_called
                buffer.add(piece)
                for line in buffer.complete_lines():
                    yield from emit(turn, line + "\n")
            elif mode == "updates":
                for node, update in (data or {}).items():
                    messages = (update or {}).get("messages", []) if isinstance(update, dict) else []
                    if node == "tools":
                        yield from take_tool_results(turn, messages, titles)
                    elif node == "model":
                        final = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
                        if final is None:
                            continue
                        if final.tool_calls:
                            turn.tool_calls += [{"name": c["name"], "args": c["args"]} for c in final.tool_calls]
                            turn.call_args.update({c["id"]: c["args"] for c in final.tool_calls if c.get("id")})
                            continue
                        turn.final = final
                        if not turn.tools_called and self.needs_tools(turn, final.text):
                            turn.rescue = "the model answered without calling a tool"
                            logger.info("the model answered without a tool call: %r", final.text[:500])
                            continue
                        rest = final.text
                        # the lines already shown while this message streamed are not shown again
                        for buffer in (buffers.get(final.id or ""), last):
                            if buffer is not None and buffer.done and final.text.startswith(buffer.text[: buffer.done]):
                                rest = final.text[buffer.done :]
                                break
                        for line in rest.split("\n"):
                            yield from emit(turn, line + "\n")

    def needs_tools(self, turn: Turn, answer: str) -> bool:
        """Whether an answer given without any tool call must be replaced by the router's.

        Yes when it names items no tool returned, or when the request clearly wants a tool other
        than plain recommendations (why / profile / feedback / search): such an answer cannot rest
        on evidence. Small talk ("hi", "thanks") keeps the model's words.
        """
        if any(turn.grounding.problems(line) for line in answer.split("\n")):
            return True
        choice = router.route(turn.text, self.recommender.vocabulary.titles)
        return choice.intent != "recommend" and bool(choice.tool)
