"""The chat: a LangChain agent over the whyrec tools, with memory, streaming and checked answers.

    agent = ChatAgent(Recommender.from_settings(settings), settings)
    reply = agent.reply("42", "movie-night", "Something funny from the 90s?")
    print(reply.text, reply.items, reply.tools_called)

    stream = agent.stream("42", "movie-night", "Why Toy Story?")
    for chunk in stream:          # checked text, line by line, as the model writes it
        print(chunk, end="")
    stream.reply                  # the Reply, once the stream is exhausted

One turn: the model (any OpenAI-compatible endpoint, or the embedded Qwen started on
first use) calls tools, whose textual calls :class:`TextToolCallMiddleware` turns into
real ones; the tools read the user from the run context; the answer is checked line by
line against the items the tools returned (:mod:`agent.grounding`), and the checked
answer is what the user sees and what the conversation remembers. Conversations live
in ``<data_dir>/chats.sqlite3`` (a LangGraph checkpointer), so they survive a restart.
When no model can run, :mod:`agent.fallback` answers from the same tools with templates.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from whyrec.agent import fallback
from whyrec.agent.grounding import Grounding, mentioned_items
from whyrec.agent.prompts import SYSTEM_PROMPT
from whyrec.agent.tool_call_parsing import TextToolCallMiddleware
from whyrec.store.errors import InputError
from whyrec.tools.langchain_tools import DATA_NOTE, TitleIndex, WhyrecContext, get_tools, items_in, tool_data

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings
    from whyrec.tools.recommender import Recommender

logger = logging.getLogger(__name__)

CHATS_FILE = "chats.sqlite3"
# Text in a model message that means "this may be a tool call": hold it back until the message ends.
_CALL_MARKER = re.compile(r"[{]|```|<\s*/?\s*(tool_call|tools|function)\b", re.IGNORECASE)
_ECHOED_DATA = re.compile(r"</?\s*tool_data[^>]*>|" + re.escape(DATA_NOTE), re.IGNORECASE)
# raw tool data pasted into an answer ('{"items":[{"title": ...'), or a list marker with nothing after it
_RAW_DATA = re.compile(r"\{\s*\"|\"(?:item_id|items|title|fits|like_past)\"\s*:")
_EMPTY_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*$")
NO_ANSWER = "Sorry, I could not answer that from the catalog. Ask me for recommendations, why an item was (not) recommended, or what your interests are."


@dataclass
class Reply:
    """One answered turn and what it took."""

    text: str
    items: list[dict[str, Any]]  # item cards {item_id, title, year, categories} the answer recommends or names
    tools_called: list[str]
    llm_calls: int
    fallback: bool
    seconds: float
    first_token_seconds: float | None = None
    conversation_id: str = ""
    dropped_lines: list[str] = field(default_factory=list)  # lines cut because they named items no tool returned
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "args"} of each call, as made
    error: str | None = None  # why the fallback answered, when it did

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReplyStream:
    """Iterate for the answer's text chunks; ``.reply`` holds the :class:`Reply` afterwards."""

    def __init__(self, run: Callable[[ReplyStream], Iterator[str]]):
        self.reply: Reply | None = None
        self._chunks = run(self)

    def __iter__(self) -> Iterator[str]:
        return self._chunks

    def __next__(self) -> str:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()  # type: ignore[attr-defined]


class _CountModelCalls(BaseCallbackHandler):
    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.calls += 1


# --- middleware ------------------------------------------------------------------------------

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
    """

    def __init__(self, max_tool_rounds: int = 3) -> None:
        super().__init__()
        self.max_tool_rounds = max_tool_rounds
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

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:
        choice = self._choice(request)
        if choice is None:
            return handler(request)
        try:
            return handler(request.override(tool_choice=choice))
        except Exception as err:
            if self._rejected(err):
                return handler(request)
            raise

    async def awrap_model_call(self, request: ModelRequest, handler: Any) -> ModelResponse:
        choice = self._choice(request)
        if choice is None:
            return await handler(request)
        try:
            return await handler(request.override(tool_choice=choice))
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
        if fallback.gives_feedback(last_user):
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


# --- the agent -------------------------------------------------------------------------------

class _NoModel(BaseChatModel):
    """Stands in when no model can run: the graph still owns the chat memory, the fallback answers."""

    @property
    def _llm_type(self) -> str:
        return "unavailable"

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no chat model is available")

    def bind_tools(self, tools: Any, **kwargs: Any) -> _NoModel:  # type: ignore[override]
        return self


@dataclass
class _Turn:
    """What one turn has produced so far, while it streams."""

    user_id: str
    conversation_id: str
    text: str
    human: HumanMessage
    counter: _CountModelCalls
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
    earlier_artifacts: list[Any] = field(default_factory=list)
    earlier_texts: list[str] = field(default_factory=list)


class _MessageBuffer:
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
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.recommender = recommender
        self.settings = settings or recommender.settings
        self.tools = get_tools(recommender)
        self.tools_by_name = {t.name: t for t in self.tools}
        self.titles = TitleIndex(recommender.items)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.history_turns = history_turns
        self.max_tool_rounds = max_tool_rounds
        self.request_timeout = request_timeout
        self.fallback_only = fallback_only
        self.on_status = on_status or (lambda message: logger.info("%s", message))
        self._model = model
        self._server = server
        self._owns_server = False
        self.unavailable: str | None = "fallback only" if fallback_only else None
        self._lock = threading.Lock()
        self._graph: Any = None
        self._connection: sqlite3.Connection | None = None
        if checkpointer is None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.settings.data_dir / CHATS_FILE, check_same_thread=False)
            checkpointer = SqliteSaver(self._connection)
        self.checkpointer = checkpointer

    # --- the model ---------------------------------------------------------------------------

    @property
    def model_location(self) -> str:
        """Where answers come from, in words: for the terminal and the UI."""
        if self._model is not None and not isinstance(self._model, _NoModel):
            base = getattr(self._model, "openai_api_base", None)
            if self._server is not None and self._server.running:
                return f"local model {self.settings.llm_model} (llama.cpp in this process, {self._server.base_url})"
            return f"model {getattr(self._model, 'model_name', type(self._model).__name__)} at {base}" if base else f"model {type(self._model).__name__}"
        if self.unavailable:
            return f"no language model ({self.unavailable}); answers come from templates"
        if self.settings.llm_base_url:
            return f"model {self.settings.llm_model} at {self.settings.llm_base_url}"
        return f"local model {self.settings.llm_model} (starts on the first message)"

    def _chat_model(self) -> BaseChatModel | None:
        """The model, starting the local one when needed; None (and ``unavailable`` says why) if none can run."""
        if self._model is not None or self.unavailable:
            return self._model
        from whyrec.agent.chat_model import make_chat_model

        options = {"max_tokens": self.max_tokens, "temperature": self.temperature, "timeout": self.request_timeout, "max_retries": 1}
        try:
            if not self.settings.llm_base_url and self._server is None:
                from whyrec.agent.local_model import LocalModelServer

                self.on_status("Starting the local model (the first time this takes a minute)…")
                started = time.perf_counter()
                self._server = LocalModelServer.from_settings(self.settings, progress=False).start()
                self._owns_server = True
                self.on_status(f"Local model ready in {time.perf_counter() - started:.0f} s.")
            elif self._server is not None and not self._server.running:
                self._server.start()
            self._model = make_chat_model(self.settings, server=self._server, **options)
        except Exception as err:  # no package, no memory, port trouble...: answer without a model
            self.unavailable = f"{type(err).__name__}: {err}".split("\n")[0]
            logger.warning("no chat model can run, using the template fallback: %s", self.unavailable)
        return self._model

    def _agent(self) -> Any:
        with self._lock:
            if self._graph is None or (isinstance(self._graph_model, _NoModel) and self._model is not None):
                model = self._chat_model()
                self._graph_model = model or _NoModel()
                self._graph = create_agent(
                    self._graph_model,
                    self.tools,
                    system_prompt=SYSTEM_PROMPT,
                    middleware=[
                        RecentTurnsMiddleware(self.history_turns),
                        ToolPolicyMiddleware(self.max_tool_rounds),
                        FeedbackGuardMiddleware(),
                        TextToolCallMiddleware(),
                    ],
                    context_schema=WhyrecContext,
                    checkpointer=self.checkpointer,
                )
            return self._graph

    _graph_model: BaseChatModel | None = None

    def start(self) -> str:
        """Get the model ready now (instead of on the first message); returns :attr:`model_location`."""
        self._agent()
        return self.model_location

    def close(self) -> None:
        """Stop the local model this agent started and close the chat database."""
        if self._owns_server and self._server is not None:
            self._server.stop()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ChatAgent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- conversations -----------------------------------------------------------------------

    @staticmethod
    def thread_id(user_id: str, conversation_id: str) -> str:
        """Conversations are per user: the same conversation id under another user is another chat."""
        return f"{user_id}:{conversation_id}"

    def _config(self, user_id: str, conversation_id: str, callbacks: list[Any] | None = None) -> dict[str, Any]:
        config: dict[str, Any] = {"configurable": {"thread_id": self.thread_id(user_id, conversation_id)}, "recursion_limit": 16}
        if callbacks:
            config["callbacks"] = callbacks
        return config

    def messages(self, user_id: str, conversation_id: str) -> list[BaseMessage]:
        """Everything stored for one conversation, tool calls included."""
        state = self._agent().get_state(self._config(str(user_id), str(conversation_id)))
        return list(state.values.get("messages", [])) if state and state.values else []

    def history(self, user_id: str, conversation_id: str) -> list[tuple[str, str]]:
        """The conversation as (role, text) pairs, "user" / "assistant", for showing it again."""
        pairs = []
        for message in self.messages(user_id, conversation_id):
            if isinstance(message, HumanMessage):
                pairs.append(("user", message.text))
            elif isinstance(message, AIMessage) and not message.tool_calls and message.text:
                pairs.append(("assistant", message.text))
        return pairs

    # --- a turn ------------------------------------------------------------------------------

    def reply(self, user_id: str, conversation_id: str, text: str) -> Reply:
        """Answer one message and return the whole :class:`Reply`."""
        stream = self.stream(user_id, conversation_id, text)
        for _ in stream:
            pass
        assert stream.reply is not None
        return stream.reply

    def stream(self, user_id: str, conversation_id: str, text: str) -> ReplyStream:
        """Answer one message as a stream of checked text chunks (see :class:`ReplyStream`)."""
        user_id, conversation_id = str(user_id).strip(), str(conversation_id).strip()
        if not user_id:
            raise InputError("no user id — pass the id of the user who is chatting")
        if not conversation_id:
            raise InputError("no conversation id — pass any name for this conversation, e.g. 'default'")
        if not text or not text.strip():
            raise InputError("the message is empty — ask for recommendations, an explanation or your interests")
        return ReplyStream(lambda holder: self._run(holder, user_id, conversation_id, text.strip()))

    def _run(self, holder: ReplyStream, user_id: str, conversation_id: str, text: str) -> Iterator[str]:
        started = time.perf_counter()
        graph = self._agent()
        earlier = self.messages(user_id, conversation_id)
        earlier_artifacts = [m.artifact for m in earlier if isinstance(m, ToolMessage)]
        earlier_texts = [m.text for m in earlier if isinstance(m, ToolMessage)]
        turn = _Turn(
            user_id=user_id,
            conversation_id=conversation_id,
            text=text,
            human=HumanMessage(content=text, id=f"human-{uuid.uuid4().hex}"),
            counter=_CountModelCalls(),
            started=started,
            grounding=Grounding.build(self.titles, items_in(earlier_artifacts), earlier_texts, text),
            earlier_artifacts=earlier_artifacts,
            earlier_texts=earlier_texts,
        )
        error: str | None = None
        use_fallback = isinstance(self._graph_model, _NoModel)
        if use_fallback:
            error = self.unavailable
        else:
            try:
                yield from self._agent_turn(graph, turn)
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
            yield from self._fallback_turn(graph, turn, separator=bool(turn.emitted))
        elif not "".join(turn.emitted).strip():
            # every line named something no tool returned (or the model said nothing): say what the tools found
            yield from self._emit(turn, self._template_answer(turn), check=False)
            self._remember(graph, turn, "".join(turn.emitted).strip())
        elif turn.final is not None and "".join(turn.emitted).strip() != turn.final.text.strip():
            self._remember(graph, turn, "".join(turn.emitted).strip())
        holder.reply = self._reply(turn, use_fallback, error)

    def _agent_turn(self, graph: Any, turn: _Turn) -> Iterator[str]:
        buffers: dict[str, _MessageBuffer] = {}
        last: _MessageBuffer | None = None
        config = self._config(turn.user_id, turn.conversation_id, [turn.counter])
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
                    buffer = last = buffers[chunk.id or ""] = _MessageBuffer()
                    # before any tool ran this turn, a message is most likely a tool call (maybe after some
                    # chatter such as "Let me look."): show it only once it turns out to be the answer
                    buffer.held = not turn.tools_called
                buffer.add(piece)
                for line in buffer.complete_lines():
                    yield from self._emit(turn, line + "\n")
            elif mode == "updates":
                for node, update in (data or {}).items():
                    messages = (update or {}).get("messages", []) if isinstance(update, dict) else []
                    if node == "tools":
                        self._take_tool_results(turn, messages)
                    elif node == "model":
                        final = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
                        if final is None:
                            continue
                        if final.tool_calls:
                            turn.tool_calls += [{"name": c["name"], "args": c["args"]} for c in final.tool_calls]
                            continue
                        turn.final = final
                        if not turn.tools_called and self._needs_tools(turn, final.text):
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
                            yield from self._emit(turn, line + "\n")

    def _needs_tools(self, turn: _Turn, answer: str) -> bool:
        """Whether an answer given without any tool call must be replaced by the router's.

        Yes when it names items no tool returned, or when the request clearly wants a tool other
        than plain recommendations (why / profile / feedback / search): such an answer cannot rest
        on evidence. Small talk ("hi", "thanks") keeps the model's words.
        """
        if any(turn.grounding.problems(line) for line in answer.split("\n")):
            return True
        choice = fallback.route(turn.text, self.titles)
        return choice.intent != "recommend" and bool(choice.tool)

    def _take_tool_results(self, turn: _Turn, messages: Sequence[BaseMessage]) -> None:
        for message in messages:
            if not isinstance(message, ToolMessage):
                continue
            # one artifact per call, blocked ones included, so tools_called[i] and artifacts[i] stay a pair
            turn.tools_called.append(message.name or "")
            turn.artifacts.append(message.artifact)
            turn.tool_texts.append(message.text)
        turn.grounding = Grounding.build(
            self.titles, items_in([*turn.earlier_artifacts, *turn.artifacts]), [*turn.earlier_texts, *turn.tool_texts], turn.text
        )

    def _emit(self, turn: _Turn, text: str, check: bool = True) -> Iterator[str]:
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

    def _template_answer(self, turn: _Turn) -> str:
        for name, artifact in zip(reversed(turn.tools_called), reversed(turn.artifacts), strict=True):
            if isinstance(artifact, dict) and artifact.get("blocked"):
                continue  # a refused feedback call is not what the user asked about
            if answer := fallback.phrase(name, artifact):
                return answer
        return NO_ANSWER

    def _fallback_turn(self, graph: Any, turn: _Turn, separator: bool) -> Iterator[str]:
        choice = fallback.route(turn.text, self.titles)
        if choice.tool:
            message = fallback.call_tool(self.tools_by_name, choice.tool, choice.args, turn.user_id)
            turn.tool_calls.append({"name": choice.tool, "args": choice.args})
            self._take_tool_results(turn, [message])
            answer = fallback.phrase(choice.tool, message.artifact) or NO_ANSWER
        else:
            answer = fallback.NO_ITEM_HINT
        yield from self._emit(turn, ("\n" if separator else "") + answer, check=False)
        self._remember(graph, turn, answer)

    def _remember(self, graph: Any, turn: _Turn, answer: str) -> None:
        """Store the checked answer (and the question, when the model never stored it) in the chat."""
        config = self._config(turn.user_id, turn.conversation_id)
        answer_id = turn.final.id if turn.final is not None and turn.final.id else f"answer-{uuid.uuid4().hex}"
        try:
            graph.update_state(config, {"messages": [turn.human, AIMessage(content=answer, id=answer_id)]}, as_node="model")
        except Exception as err:  # memory is a convenience: never lose the answer over it
            logger.warning("could not store the answer in the conversation: %s", err)

    def _reply(self, turn: _Turn, used_fallback: bool, error: str | None) -> Reply:
        text = "".join(turn.emitted).strip()
        items = self._answer_items(turn, text)
        return Reply(
            text=text,
            items=items,
            tools_called=turn.tools_called,
            llm_calls=turn.counter.calls,
            fallback=used_fallback,
            seconds=time.perf_counter() - turn.started,
            first_token_seconds=turn.first_token,
            conversation_id=turn.conversation_id,
            dropped_lines=turn.dropped,
            tool_calls=turn.tool_calls,
            error=error,
        )

    def _answer_items(self, turn: _Turn, text: str) -> list[dict[str, Any]]:
        """The items this answer offers: those it names from recommend/search/explain, else all recommended."""
        offered: dict[str, dict[str, Any]] = {}
        for name, artifact in zip(turn.tools_called, turn.artifacts, strict=True):
            if isinstance(artifact, dict) and name in ("recommend", "search_catalog", "explain_recommendation", "record_feedback"):
                for card in artifact.get("items") or []:
                    offered.setdefault(str(card["item_id"]), card)
        named = [offered[i.item_id] for i in mentioned_items(text, self.titles) if i.item_id in offered]
        if named:
            return named
        recommended = [a for n, a in zip(turn.tools_called, turn.artifacts, strict=True) if n == "recommend" and isinstance(a, dict)]
        return list(recommended[-1].get("items") or []) if recommended else []


def stream_reply(agent: ChatAgent, user_id: str, conversation_id: str, text: str) -> Iterator[str]:
    """Generator of checked answer chunks; its return value (``StopIteration.value``) is the Reply."""
    stream = agent.stream(user_id, conversation_id, text)
    yield from stream
    return stream.reply
