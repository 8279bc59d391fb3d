"""The chat: a LangChain agent over the whyrec tools, with memory, streaming and checked answers.

    agent = ChatAgent(Recommender.from_settings(settings), settings)
    reply = agent.reply("42", "movie-night", "Something funny from the 90s?")
    print(reply.text, reply.items, reply.tools_called)

    stream = agent.stream("42", "movie-night", "Why Toy Story?")
    for chunk in stream:          # checked text, line by line, as the model writes it, and events (agent.events)
        print(chunk, end="") if isinstance(chunk, str) else show(chunk)
    stream.reply                  # the Reply, once the stream is exhausted

One turn: the model (any OpenAI-compatible endpoint, or the embedded Qwen started on first use:
:mod:`agent.model_runtime`) calls tools, whose textual calls :class:`TextToolCallMiddleware` turns into real
ones; the tools read the user from the run context; the answer is checked line by line against the items the
tools returned (:mod:`agent.grounding`), and the checked answer is what the user sees and what the conversation
remembers. Conversations live in ``<data_dir>/chats.sqlite3``, or in PostgreSQL when the store is there (a
LangGraph checkpointer, :mod:`agent.chat_memory`), so they survive a restart and move between workers.

This class ties the parts together; each mode's turns run elsewhere: plan (:mod:`agent.plan_turns`), react
(:mod:`agent.react_turns`) and, when no model can run, the router and templates (:mod:`agent.template_turns`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage

from whyrec.agent.chat_memory import ChatMemory
from whyrec.agent.conversation_state import ConversationState
from whyrec.agent.events import ItemsShown, TurnEvent
from whyrec.agent.grounding import Grounding
from whyrec.agent.middleware import FeedbackGuardMiddleware, RecentTurnsMiddleware, ToolPolicyMiddleware
from whyrec.agent.model_runtime import ModelRuntime, NoModel
from whyrec.agent.plan_turns import PlanTurns
from whyrec.agent.prompts import SYSTEM_PROMPT
from whyrec.agent.react_turns import ReactTurns
from whyrec.agent.reply import Reply, ReplyStream
from whyrec.agent.template_turns import TemplateTurns
from whyrec.agent.tool_call_parsing import TextToolCallMiddleware
from whyrec.agent.turn import ModelCallCounter, Turn, emit, finished_reply
from whyrec.store.errors import InputError
from whyrec.tools.langchain_tools import WhyrecContext, get_tools
from whyrec.tools.tool_text import items_in
from whyrec.tools.understanding.titles import TitleIndex

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings
    from whyrec.tools.recommend.recommender import Recommender

logger = logging.getLogger(__name__)

# what a call that must call a tool may write with the embedded model: the model fills every recommend argument
# (~66 tokens), and a recommend call with all of them inside <tool_call> tags is 91
# (see middleware.ToolPolicyMiddleware for why the embedded model needs a cap at all)
LOCAL_CALL_MAX_TOKENS = 96


class ChatAgent:
    """Conversations with one recommender: ``reply`` for a whole answer, ``stream`` for chunks.

    ``model`` is any LangChain chat model; without one the agent uses
    ``settings.llm_base_url`` or starts the embedded local model on first use (it stops
    with :meth:`close`). ``fallback_only=True`` never uses a model.
    """

    def __init__(
        self,
        recommender: Recommender,
        settings: Settings | None = None,
        model: BaseChatModel | None = None,
        *,
        server: LocalModelServer | None = None,
        checkpointer: Any = None,
        max_tokens: int = 320,
        temperature: float = 0.1,
        history_turns: int = 3,
        max_tool_rounds: int = 3,
        request_timeout: float = 600.0,
        fallback_only: bool = False,
        mode: Literal["plan", "react", "auto"] | None = None,
        reading: Literal["hybrid", "model"] = "hybrid",
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        """``mode`` (default: ``settings.agent_mode``): ``react`` lets the model call tools in a loop;
        ``plan`` decides each turn by rules, with at most one schema-constrained model call
        (:mod:`agent.planning`); ``auto`` is plan for the embedded local model, react for a given
        model, and for an endpoint whatever a one-time probe shows it can do (react when it
        returns native tool calls, plan when it does not). ``reading`` (plan mode): ``hybrid`` lets the rules read
        a request alone when they account for all its words and asks the model otherwise; ``model`` has the
        model read every recommend request (to measure it against the rules)."""
        self.recommender = recommender
        self.settings = settings or recommender.settings
        self.runtime = ModelRuntime(
            self.settings, model, server, mode or self.settings.agent_mode, max_tokens=max_tokens, temperature=temperature,
            request_timeout=request_timeout, fallback_only=fallback_only,
            on_status=on_status or (lambda message: logger.info("%s", message)),
        )
        self.tools = get_tools(recommender)
        self.history_turns = history_turns
        self.max_tool_rounds = max_tool_rounds
        self.fallback_only = fallback_only
        self.memory = ChatMemory(self.settings, checkpointer)
        self.templates = TemplateTurns(recommender, {t.name: t for t in self.tools}, self.memory)
        self.plans = PlanTurns(recommender, self.runtime, self.templates, self.memory, reading)
        self.reacts = ReactTurns(recommender, self.memory)
        self._lock = threading.Lock()
        self._graph: Any = None
        self._graph_model: BaseChatModel | None = None

    @property
    def mode(self) -> str:
        """``plan`` or ``react`` (``probe`` until an endpoint under ``auto`` was asked which it can do)."""
        return self.runtime.mode

    @property
    def unavailable(self) -> str | None:
        """Why no model answers (None while one can)."""
        return self.runtime.unavailable

    @property
    def model_location(self) -> str:
        """Where answers come from, in words: for the terminal and the UI."""
        return self.runtime.location

    @property
    def titles(self) -> TitleIndex:
        """The recommender's catalog titles: the one index per catalog, fresh after a re-ingest."""
        return self.recommender.vocabulary.titles

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``: by the embedded model's own tokenizer while it runs, else estimated (for ``usage``)."""
        return self.runtime.count_tokens(text)

    def _agent(self) -> Any:
        """The LangGraph agent: the model's tool loop in react mode, and in every mode the keeper of the chat memory."""
        self.runtime.settle_mode()
        with self._lock:
            if self._graph is None or (self.mode == "react" and isinstance(self._graph_model, NoModel) and self.runtime.model is not None):
                # in plan mode the graph only keeps the conversation: the model starts when a plan needs it
                model = self.runtime.chat_model() if self.mode == "react" else self.runtime.model
                self._graph_model = model or NoModel()
                self._graph = create_agent(
                    self._graph_model,
                    self.tools,
                    system_prompt=SYSTEM_PROMPT,
                    middleware=[
                        RecentTurnsMiddleware(self.history_turns),
                        ToolPolicyMiddleware(self.max_tool_rounds, LOCAL_CALL_MAX_TOKENS if self.runtime.serves_locally() else None),
                        FeedbackGuardMiddleware(),
                        TextToolCallMiddleware(),
                    ],
                    context_schema=WhyrecContext,
                    checkpointer=self.memory.checkpointer,
                )
            return self._graph

    def start(self) -> str:
        """Get the model ready now (instead of on the first message); returns :attr:`model_location`.

        With the embedded model this also has it read the start that every prompt of this mode
        shares (:meth:`ModelRuntime.prefill_prompt_cache`), so the first turn is as quick as the later ones.
        """
        self._agent()
        if self.mode == "plan" and not self.fallback_only:
            self.runtime.chat_model()
        self.runtime.prefill_prompt_cache(self.tools)
        return self.model_location

    def close(self) -> None:
        """Stop the local model this agent started and close the chat database."""
        self.runtime.close()
        self.memory.close()

    def __enter__(self) -> ChatAgent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- conversations -----------------------------------------------------------------------

    def messages(self, user_id: str, conversation_id: str) -> list[BaseMessage]:
        """Everything stored for one conversation, tool calls included."""
        return self.memory.messages(self._agent(), user_id, conversation_id)

    def history(self, user_id: str, conversation_id: str) -> list[tuple[str, str]]:
        """The conversation as (role, text) pairs, "user" / "assistant", for showing it again."""
        return self.memory.history(self._agent(), user_id, conversation_id)

    # --- a turn ------------------------------------------------------------------------------

    def reply(self, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None = None) -> Reply:
        """Answer one message and return the whole :class:`Reply`."""
        stream = self.stream(user_id, conversation_id, text, cards)
        for _ in stream:
            pass
        assert stream.reply is not None
        return stream.reply

    def stream(
        self, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None = None, request: str | None = None,
        feedback: list[dict[str, Any]] | None = None,
    ) -> ReplyStream:
        """Answer one message as a stream of checked text chunks and events (see :class:`ReplyStream`). ``cards``: the
        items on the person's screen when they changed after this conversation's last list (the app's cards);
        ``request``: the request in force as the page shows it, when the person edited it there ("" for none);
        ``feedback``: what the person said about the cards in this conversation (:meth:`ConversationState.with_feedback`)."""
        user_id, conversation_id = str(user_id).strip(), str(conversation_id).strip()
        if not user_id:
            raise InputError("no user id — pass the id of the user who is chatting")
        if not conversation_id:
            raise InputError("no conversation id — pass any name for this conversation, e.g. 'default'")
        if not text or not text.strip():
            raise InputError("the message is empty — ask for recommendations, an explanation or your interests")
        return ReplyStream(lambda holder: self._run(holder, user_id, conversation_id, text.strip(), cards, request, feedback))

    def needs_model(self, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None = None) -> bool:
        """Whether answering ``text`` may call the model: a front end lets the turns that cannot (the rules decide
        them) skip the line of turns waiting for the one embedded model."""
        if self.fallback_only or self.unavailable:
            return False
        if self.mode != "plan":
            return True
        return self.plans.needs_model(ConversationState.from_messages(self.messages(user_id, conversation_id)).with_cards(cards), text)

    def read_request(self, text: str) -> str:
        """A request as the recommender should read it, for callers outside a chat (the API): see :meth:`PlanTurns.read_request`."""
        return self.plans.read_request(text)

    def _run(
        self, holder: ReplyStream, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None, request: str | None,
        feedback: list[dict[str, Any]] | None = None,
    ) -> Iterator[str | TurnEvent]:
        server = self.runtime.server
        with server.turns.turn() if server is not None else contextlib.nullcontext():
            yield from self._turn(holder, user_id, conversation_id, text, cards, request, feedback, time.perf_counter())

    def _turn(
        self, holder: ReplyStream, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None, request: str | None,
        feedback: list[dict[str, Any]] | None, started: float,
    ) -> Iterator[str | TurnEvent]:
        graph = self._agent()
        state = ConversationState.from_messages(self.memory.messages(graph, user_id, conversation_id)).with_cards(cards).with_feedback(feedback)
        state = state.with_request(request)
        turn = Turn(
            user_id=user_id,
            conversation_id=conversation_id,
            text=text,
            human=HumanMessage(content=text, id=f"human-{uuid.uuid4().hex}"),
            counter=ModelCallCounter(),
            started=started,
            grounding=Grounding.build(self.titles, items_in(state.artifacts), state.texts, text),
            state=state,
        )
        if self.mode == "plan":
            yield from self.plans.run(graph, turn)
            reply = finished_reply(turn, self.titles, self.fallback_only, self.unavailable)
        else:
            used_fallback, error = yield from self._react_turn(graph, turn)
            reply = finished_reply(turn, self.titles, used_fallback, error)
        if reply.items:  # what the finished answer offers, for a front end that lists it after the text
            yield ItemsShown(tuple(reply.items), answered=True)
        holder.reply = reply

    def _react_turn(self, graph: Any, turn: Turn) -> Iterator[str | TurnEvent]:
        """The model's turn, with the router's template answer when it cannot run, fails, or answers without
        evidence; returns whether the template answered, and why."""
        error: str | None = None
        use_fallback = isinstance(self._graph_model, NoModel)
        if use_fallback:
            error = self.unavailable
        else:
            try:
                yield from self.reacts.run(graph, turn)
            except (InputError, GeneratorExit):
                raise
            except Exception as err:  # the endpoint is down, times out, or returns garbage
                error = f"{type(err).__name__}: {err}".split("\n")[0]
                logger.warning("the chat model failed, answering with the template fallback: %s", error)
                use_fallback = True
            if turn.rescue:
                error, use_fallback = turn.rescue, True
                logger.info("answering with the template fallback: %s", turn.rescue)
        if use_fallback:
            yield from self.templates.route_turn(graph, turn, separator=bool(turn.emitted))
        elif not "".join(turn.emitted).strip():
            # every line named something no tool returned (or the model said nothing): say what the tools found
            yield from emit(turn, self.templates.template_answer(turn), check=False)
            self.memory.remember(graph, turn, "".join(turn.emitted).strip())
        elif turn.final is not None and "".join(turn.emitted).strip() != turn.final.text.strip():
            self.memory.remember(graph, turn, "".join(turn.emitted).strip())
        return use_fallback, error


def stream_reply(agent: ChatAgent, user_id: str, conversation_id: str, text: str) -> Iterator[str | TurnEvent]:
    """Generator of checked answer chunks and events; its return value (``StopIteration.value``) is the Reply."""
    stream = agent.stream(user_id, conversation_id, text)
    yield from stream
    return stream.reply
