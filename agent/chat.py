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
in ``<data_dir>/chats.sqlite3``, or in PostgreSQL when the store is there (a LangGraph checkpointer,
:mod:`agent.chat_memory`), so they survive a restart and move between workers.
When no model can run, :mod:`agent.fallback` answers from the same tools with templates.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from whyrec.agent import fallback
from whyrec.agent.chat_memory import open_chat_memory
from whyrec.agent.conversation_state import ConversationState
from whyrec.agent.grounding import Grounding, mentioned_items
from whyrec.agent.middleware import FeedbackGuardMiddleware, RecentTurnsMiddleware, ToolPolicyMiddleware
from whyrec.agent.planning import (
    GREETING,
    Plan,
    asked_count,
    asks_for_more,
    follow_up_request,
    last_focus,
    last_list,
    model_plan,
    more_of_the_list,
    names_new_topic,
    not_understood_reply,
    only_asks_for_more,
    plan_messages,
    rule_plan,
    spell_out_pointers,
    titles_with_words,
    understood_note,
    unresolved_pointer,
    wants_more,
    why_reference,
)
from whyrec.agent.prompts import SYSTEM_PROMPT
from whyrec.agent.tool_call_parsing import TextToolCallMiddleware
from whyrec.agent.turn import MessageBuffer, ModelCallCounter, Turn
from whyrec.store.errors import InputError
from whyrec.tools.langchain_tools import WhyrecContext, get_tools
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.tools.understanding.phrasebook import in_english
from whyrec.tools.understanding.structured import english_request, nothing_read
from whyrec.tools.understanding.titles import TitleIndex, display_title
from whyrec.tools.tool_text import DATA_NOTE, items_in

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings
    from whyrec.tools.recommend.recommender import Recommender

logger = logging.getLogger(__name__)

_ECHOED_DATA = re.compile(r"</?\s*tool_data[^>]*>|" + re.escape(DATA_NOTE), re.IGNORECASE)
# raw tool data pasted into an answer ('{"items":[{"title": ...'), or a list marker with nothing after it
_RAW_DATA = re.compile(r"\{\s*\"|\"(?:item_id|items|title|fits|nearest_interest|like_past)\"\s*:")
_EMPTY_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*$")
# what a call that must call a tool may write with the embedded model: the model fills every recommend argument
# (~66 tokens), and a recommend call with all of them inside <tool_call> tags is 91
# (see middleware.ToolPolicyMiddleware for why the embedded model needs a cap at all)
LOCAL_CALL_MAX_TOKENS = 96
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
    intent: str | None = None  # plan mode: what the turn was understood to ask
    planned_by: str | None = None  # plan mode: "rules", "model" or "default"

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
        self.reading = reading
        self._readings: dict[tuple[tuple[str, str], ...], str] = {}  # the model's answers by prompt (model_plan)
        self.settings = settings or recommender.settings
        mode = mode or self.settings.agent_mode
        if mode == "auto":
            mode = "react" if model is not None else "probe" if self.settings.llm_base_url else "plan"
        self.mode = mode
        self.tools = get_tools(recommender)
        self.tools_by_name = {t.name: t for t in self.tools}
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
        self._model_lock = threading.Lock()
        self._graph: Any = None
        self._connection: Any = None  # what open_chat_memory opened for the checkpointer: close() closes it
        if checkpointer is None:
            checkpointer, self._connection = open_chat_memory(self.settings)
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
        with self._model_lock:  # a background start() and a first turn must not start two servers
            return self._start_model()

    def _start_model(self) -> BaseChatModel | None:
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

    def _settle_mode(self) -> None:
        """For an endpoint under ``auto``: probe once whether it calls tools natively (react) or not (plan)."""
        if self.mode != "probe":
            return
        from whyrec.agent.chat_model import calls_tools_natively

        with self._lock:
            if self.mode == "probe":
                model = self._chat_model()
                native = model is not None and calls_tools_natively(model)
                self.mode = "react" if native else "plan"
                self.on_status(f"The model {'calls tools natively' if native else 'does not call tools natively'}: {self.mode} mode.")

    def _agent(self) -> Any:
        self._settle_mode()
        with self._lock:
            if self._graph is None or (self.mode == "react" and isinstance(self._graph_model, _NoModel) and self._model is not None):
                # in plan mode the graph only keeps the conversation: the model starts when a plan needs it
                model = self._chat_model() if self.mode == "react" else self._model
                self._graph_model = model or _NoModel()
                self._graph = create_agent(
                    self._graph_model,
                    self.tools,
                    system_prompt=SYSTEM_PROMPT,
                    middleware=[
                        RecentTurnsMiddleware(self.history_turns),
                        ToolPolicyMiddleware(self.max_tool_rounds, LOCAL_CALL_MAX_TOKENS if self._serves_locally() else None),
                        FeedbackGuardMiddleware(),
                        TextToolCallMiddleware(),
                    ],
                    context_schema=WhyrecContext,
                    checkpointer=self.checkpointer,
                )
            return self._graph

    _graph_model: BaseChatModel | None = None

    def _serves_locally(self) -> bool:
        """Whether the model is the embedded llama.cpp server (``settings.llm_base_url`` wins over a server)."""
        return self._server is not None and self._server.running and not self.settings.llm_base_url

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``: by the embedded model's own tokenizer while it runs, else estimated (for ``usage``)."""
        from whyrec.agent.chat_model import estimate_tokens

        if self._serves_locally():
            try:
                return self._server.count_tokens(text)
            except Exception as err:  # a count is worth an estimate, never a failed turn
                logger.info("could not count tokens with the local model: %s", err)
        return estimate_tokens(text)

    def start(self) -> str:
        """Get the model ready now (instead of on the first message); returns :attr:`model_location`.

        With the embedded model this also has it read the start that every prompt of this mode
        shares (:meth:`_prefill_prompt_cache`), so the first turn is as quick as the later ones.
        """
        self._agent()
        if self.mode == "plan" and not self.fallback_only:
            self._chat_model()
        self._prefill_prompt_cache()
        return self.model_location

    def _prefill_prompt_cache(self) -> None:
        """Send the embedded model this mode's fixed prompt start once (one token back): llama.cpp keeps it in its
        prompt cache, and every later prompt that starts the same way reads only what follows.

        The start is what a turn sends first: the plan prompt (plan mode), or the system prompt and the five tool
        schemas (react mode). benchmarks/llm_settings.py measured what it saves on 2 shared cores: the first react
        call on a fresh server read all 1,026 prompt tokens (28-48 s to its first token), one after a cached start
        read 9 (under 1 s); a plan call read 108 tokens against 14. A hosted endpoint is left alone: it caches on
        its own terms.
        """
        if self._model is None or not self._serves_locally():
            return
        try:
            if self.mode == "plan":
                self._model.bind(max_tokens=1).invoke(plan_messages("hi", []))
            else:
                self._model.bind_tools(self.tools, max_tokens=1).invoke([SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content="hi")])
        except Exception as err:  # a cold cache only costs time on the first turn
            logger.info("could not prefill the local model's prompt cache: %s", err)

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

    @property
    def titles(self) -> TitleIndex:
        """The recommender's catalog titles: the one index per catalog, fresh after a re-ingest."""
        return self.recommender.vocabulary.titles

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
        """Answer one message as a stream of checked text chunks (see :class:`ReplyStream`). ``cards``: the items
        on the person's screen when they changed after this conversation's last list (the app's cards); ``request``:
        the request in force as the page shows it, when the person edited it there ("" for none); ``feedback``: what
        the person said about the cards in this conversation (:meth:`ConversationState.with_feedback`)."""
        user_id, conversation_id = str(user_id).strip(), str(conversation_id).strip()
        if not user_id:
            raise InputError("no user id — pass the id of the user who is chatting")
        if not conversation_id:
            raise InputError("no conversation id — pass any name for this conversation, e.g. 'default'")
        if not text or not text.strip():
            raise InputError("the message is empty — ask for recommendations, an explanation or your interests")
        return ReplyStream(lambda holder: self._run(holder, user_id, conversation_id, text.strip(), cards, request, feedback))

    def _run(
        self, holder: ReplyStream, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None, request: str | None,
        feedback: list[dict[str, Any]] | None = None,
    ) -> Iterator[str]:
        started = time.perf_counter()
        graph = self._agent()
        state = ConversationState.from_messages(self.messages(user_id, conversation_id)).with_cards(cards).with_feedback(feedback)
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
        error: str | None = None
        use_fallback = isinstance(self._graph_model, _NoModel) and self.mode == "react"
        if self.mode == "plan":
            yield from self._plan_turn(graph, turn)
            holder.reply = self._reply(turn, self.fallback_only, self.unavailable)
            return
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

    def _agent_turn(self, graph: Any, turn: Turn) -> Iterator[str]:
        buffers: dict[str, MessageBuffer] = {}
        last: MessageBuffer | None = None
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
                    buffer = last = buffers[chunk.id or ""] = MessageBuffer()
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

    def _needs_tools(self, turn: Turn, answer: str) -> bool:
        """Whether an answer given without any tool call must be replaced by the router's.

        Yes when it names items no tool returned, or when the request clearly wants a tool other
        than plain recommendations (why / profile / feedback / search): such an answer cannot rest
        on evidence. Small talk ("hi", "thanks") keeps the model's words.
        """
        if any(turn.grounding.problems(line) for line in answer.split("\n")):
            return True
        choice = fallback.route(turn.text, self.titles)
        return choice.intent != "recommend" and bool(choice.tool)

    def _take_tool_results(self, turn: Turn, messages: Sequence[BaseMessage]) -> None:
        for message in messages:
            if not isinstance(message, ToolMessage):
                continue
            # one artifact per call, blocked ones included, so tools_called[i] and artifacts[i] stay a pair
            turn.tools_called.append(message.name or "")
            turn.artifacts.append(message.artifact)
            turn.tool_texts.append(message.text)
        turn.grounding = Grounding.build(
            self.titles, items_in([*turn.state.artifacts, *turn.artifacts]), [*turn.state.texts, *turn.tool_texts], turn.text
        )

    def _emit(self, turn: Turn, text: str, check: bool = True) -> Iterator[str]:
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

    def _template_answer(self, turn: Turn) -> str:
        for name, artifact in zip(reversed(turn.tools_called), reversed(turn.artifacts), strict=True):
            if isinstance(artifact, dict) and artifact.get("blocked"):
                continue  # a refused feedback call is not what the user asked about
            if answer := fallback.phrase(name, artifact):
                return answer
        return NO_ANSWER

    def _fallback_turn(self, graph: Any, turn: Turn, separator: bool) -> Iterator[str]:
        choice = fallback.route(turn.text, self.titles)
        yield from self._answer(graph, turn, choice.tool, choice.args, separator)

    def _rules_plan(
        self, text: str, shown: list[dict[str, Any]], focus: dict[str, Any] | None
    ) -> tuple[Plan | None, Callable[[], ParsedRequest], str]:
        """What the rules make of a message before any model: their plan (None when unsure), the message's parse
        (made once, when first asked for) and the message with its pointers written out. ``text`` is the message
        as the rules read it, in the phrasebook's English (:func:`in_english`: "¿Qué tipo de películas me gustan?"
        asks for the profile)."""
        plan = rule_plan(text, self.titles, shown, focus)
        spelled = spell_out_pointers(text, self.titles, shown, focus)  # "not the second one" → "not 'Unforgiven'"
        read = functools.cache(lambda: self.recommender.understand(spelled))
        if plan is not None and plan.tool == "recommend" and shown and (vague := unresolved_pointer(text, self.titles, shown, focus)):
            # "not that one" with several items on screen and none explained: ask, rather than leave nothing out
            plan = Plan("chit_chat", "", reply=f"Which one do you mean by '{vague}'? Name it, or say 'not the second one'.")
        if plan is None and (understood := read()).has_hard and (self.fallback_only or understood.rules_sure):
            # "a romantic comedy with a happy ending": no recommend keyword, but the catalog's own words say what it asks
            plan = Plan("recommend", "recommend", {"request": text})
        elif plan is None and (understood.problem == "gibberish" or not re.search(r"[^\W_]", text)):
            # "asdkjh qwe zxcv", "?", "🎬🍿": nothing to plan, no model to wait for, nothing to add to the request
            plan = Plan("chit_chat", "", reply=not_understood_reply(understood.quoted(40)))
        return plan, read, spelled

    def needs_model(self, user_id: str, conversation_id: str, text: str, cards: list[dict[str, Any]] | None = None) -> bool:
        """Whether answering ``text`` may call the model: a front end lets the turns that cannot (the rules decide
        them) skip the line of turns waiting for the one embedded model."""
        if self.fallback_only or self.unavailable:
            return False
        if self.mode != "plan":
            return True
        state = ConversationState.from_messages(self.messages(user_id, conversation_id)).with_cards(cards)
        shown, focus = last_list(state.artifacts), last_focus(state.artifacts)
        words = in_english(text.strip()).english
        plan, read, _ = self._rules_plan(words, shown, focus)
        return self._needs_reading(plan, words, read)

    def _plan_turn(self, graph: Any, turn: Turn) -> Iterator[str]:
        """Rules first; one constrained model call only when they are unsure (see :mod:`agent.planning`)."""
        shown, focus = last_list(turn.state.artifacts), last_focus(turn.state.artifacts)
        words = in_english(turn.text).english  # what the rules read; the model reads the message as written
        plan, read, spelled = self._rules_plan(words, shown, focus)
        if not self.fallback_only and self._needs_reading(plan, words, read) and (model := self._chat_model()) is not None:
            try:
                modelled = model_plan(
                    model, turn.text, self.recommender.vocabulary, shown, {"callbacks": [turn.counter]}, focus, self._rules(read), self._readings
                )
            except Exception as err:  # the model is down or returned garbage: the rules' plan or the default answers
                logger.warning("the planning call failed: %s", err)
            else:
                if plan is None:
                    plan = modelled
                elif plan.tool == "recommend":  # the rules knew the intent, not the words: the model reads them
                    plan.read, plan.decided_by = modelled.read, "model"
        if plan is None:
            route = fallback.route(words, self.titles)
            plan = Plan("recommend", "recommend", route.args if route.tool == "recommend" else {}, "default")
        if plan.tool == "recommend":  # "More like X, please" after "a good drama" still asks for a drama
            text = spelled
            if plan.read is not None:  # what the model read, in words the rules read for sure
                text = english_request(plan.read, self._rules(read), self.recommender.vocabulary)
                plan.note = understood_note(turn.text, text)
            new_topic = bool(turn.state.request) and names_new_topic(read(), plan.read)
            if (like := plan.args.get("like_item")) in turn.state.disliked:
                # "more like that" just after "I didn't like The Shining": not more of what they disliked
                del plan.args["like_item"]
                plan.note = f"You said you did not like '{display_title(self.recommender.items[like].title)}', so these are not like it."
            same_request = like in turn.state.disliked or more_of_the_list(words)  # more of the list, no new words
            more = (asks_for_more(words) or same_request) and shown and not plan.args.get("like_item")
            same = more and (only_asks_for_more(words) or same_request)
            request = turn.state.request if same else follow_up_request(text, turn.state.request, new_topic)
            if request and (request != words or plan.args.get("request")):
                plan.args["request"] = request
            if more:  # "more", "something else?": the same request, less every item already shown for it
                plan.args["exclude"] = list(dict.fromkeys([*turn.state.exclude, *(str(card["item_id"]) for card in shown)]))
            if count := asked_count(words) or (plan.read and plan.read.count):  # "recommend 20 movies" shows 20, not the usual 5
                plan.args["k"] = count
            elif more and turn.state.k:  # "more" after "3 sci-fi films": three more, not five
                plan.args["k"] = turn.state.k
        elif plan.intent in ("explain", "why_not") and not plan.tool and (reference := why_reference(words)):
            # "why godfather?", "why Inception?": the parser's title matching names the item or says it is not in the catalog
            found = self.recommender.request_parser.resolve_title(reference, nearest=0)
            series = titles_with_words(reference, self.titles) if found.item is None else []
            item = found.item or (series[0] if len(series) == 1 else None)
            if item is not None:
                plan = Plan(plan.intent, "explain_recommendation", {"item_id": item.item_id}, plan.decided_by)
            elif series:  # "why star trek?": several titles hold those words; naming them beats "not in the catalog"
                named = ", ".join(f"'{display_title(i.title)}'" for i in series[:5]) + (f" and {len(series) - 5} more" if len(series) > 5 else "")
                plan.reply = f"Several titles have '{reference}' in them: {named}. Which one?"
            else:
                plan.reply = f"{found.message} {fallback.ASK_BY_TITLE}"
        if plan.tool == "explain_recommendation":  # "why the first one?" explains the list on screen:
            if turn.state.request:
                plan.args["request"] = turn.state.request  # the request it answered,
            if turn.state.exclude:
                plan.args["exclude"] = turn.state.exclude  # after "more", without the items shown before it,
            if turn.state.like_item:
                plan.args["like_item"] = turn.state.like_item  # after "more like that", like that item,
            if turn.state.k:
                plan.args["k"] = turn.state.k  # and as long as it was asked to be
        turn.plan = plan
        if plan.intent == "chit_chat":
            answer = plan.reply or GREETING
            yield from self._emit(turn, answer, check=False)
            self._remember(graph, turn, answer)
            return
        # "I didn't like X, show me others": the dislike is recorded, and a new list for what was asked comes with it
        then = None
        if plan.intent == "feedback" and plan.args.get("kind") != "liked" and wants_more(words):
            then = Plan("recommend", "recommend", {"request": turn.state.request} if turn.state.request else {})
        yield from self._answer(graph, turn, plan.tool, plan.args, separator=False, then=then)

    def read_request(self, text: str) -> str:
        """A request as the recommender should read it, for callers outside a chat (the API): the words themselves
        when the rules account for all of them, else the model's checked reading in English the rules read for sure
        (:func:`english_request`). Without a model, or when its call fails, the words go as they are."""
        rules = self.recommender.understand(text)
        if not text.strip() or (rules.rules_sure and self.reading == "hybrid"):
            return text
        model = None if self.fallback_only else self._chat_model()
        if model is None:
            return text
        try:
            plan = model_plan(model, text, self.recommender.vocabulary, [], {}, None, self._rules(lambda: rules), self._readings)
        except Exception as err:
            logger.warning("the reading call failed, the rules read the request: %s", err)
            return text
        if plan.read is None or plan.intent != "recommend":
            return text
        return english_request(plan.read, self._rules(lambda: rules), self.recommender.vocabulary)

    def _rules(self, read: Callable[[], ParsedRequest]) -> ParsedRequest:
        """What the rules read, as the model's reading is checked and merged against it: their reading in
        ``hybrid``, nothing at all when the model reads alone (``reading="model"``)."""
        return read() if self.reading == "hybrid" else nothing_read(read().text)

    def _needs_reading(self, plan: Plan | None, text: str, read: Callable[[], ParsedRequest]) -> bool:
        """Whether the model reads this message: when the rules found no plan, or found a recommend plan whose
        words they did not all account for (``ParsedRequest.rules_sure``). "More", "more like the first one" and
        "what's good?" carry no words to read; with ``reading="model"`` (an evaluation setting) the model reads
        every other recommend request, whatever the rules made of it."""
        if plan is None:
            return True
        if plan.tool != "recommend" or plan.args.get("like_item") or only_asks_for_more(text) or not plan.args.get("request"):
            return False
        return self.reading == "model" or not read().rules_sure

    def _answer(self, graph: Any, turn: Turn, tool: str, args: dict[str, Any], separator: bool, then: Plan | None = None) -> Iterator[str]:
        """Run one tool (and ``then`` a second, e.g. a new list after a dislike) and answer with their templates (the
        items first), or ask which item when there is no tool."""
        steps: list[BaseMessage] = []
        answers = []
        for name, arguments in [(tool, args), *([(then.tool, then.args)] if then else [])]:
            if not name:
                answers.append(turn.plan.reply if turn.plan is not None and turn.plan.reply else fallback.NO_ITEM_HINT)
                continue
            message = fallback.call_tool(self.tools_by_name, name, arguments, turn.user_id)
            turn.tool_calls.append({"name": name, "args": arguments})
            self._take_tool_results(turn, [message])
            answers.append(fallback.phrase(name, message.artifact) or NO_ANSWER)
            if not steps and turn.plan is not None and turn.plan.note:
                answers[-1] = f"{turn.plan.note}\n\n{answers[-1]}"
            # kept in the conversation, so the next turn can point into this one ("why the second one?")
            steps += [AIMessage(content="", tool_calls=[{"name": name, "args": arguments, "id": message.tool_call_id}]), message]
        answer = "\n\n".join(answers)
        yield from self._emit(turn, ("\n" if separator else "") + answer, check=False)
        self._remember(graph, turn, answer, steps)

    def _remember(self, graph: Any, turn: Turn, answer: str, steps: Sequence[BaseMessage] = ()) -> None:
        """Store the checked answer (and the question and the tool ``steps``, when the model never stored them) in the chat."""
        config = self._config(turn.user_id, turn.conversation_id)
        answer_id = turn.final.id if turn.final is not None and turn.final.id else f"answer-{uuid.uuid4().hex}"
        try:
            graph.update_state(config, {"messages": [turn.human, *steps, AIMessage(content=answer, id=answer_id)]}, as_node="model")
        except Exception as err:  # memory is a convenience: never lose the answer over it
            logger.warning("could not store the answer in the conversation: %s", err)

    def _reply(self, turn: Turn, used_fallback: bool, error: str | None) -> Reply:
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
            intent=turn.plan.intent if turn.plan else None,
            planned_by=turn.plan.decided_by if turn.plan else None,
        )

    def _answer_items(self, turn: Turn, text: str) -> list[dict[str, Any]]:
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
