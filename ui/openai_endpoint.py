"""An OpenAI-compatible chat endpoint: any chat frontend that speaks OpenAI's protocol can talk to whyrec.

``whyrec serve --openai`` mounts, on the same FastAPI app Gradio serves (one port for the
app, its API, MCP and these routes):

- ``GET /v1/models`` (and ``/v1/models/whyrec``): one model, ``whyrec``;
- ``POST /v1/chat/completions``, streaming (server-sent ``chat.completion.chunk`` events) or not.

Each request answers one turn of :class:`~agent.chat.ChatAgent`:

- **The user** is the request's ``user`` field, else the ``X-Whyrec-User`` header; a key scoped to
  one user (:mod:`ui.api_keys`) may leave both out and acts for its own user.
- **The conversation is the ``messages`` array**, as OpenAI frontends expect: they resend it every
  turn and cannot set custom headers. Each answer ends with a hidden line,
  ``<!-- whyrec {"items": [...], "list": true, "request": "..."} -->`` (an HTML comment, which
  Markdown renderers do not show), naming the items it listed and the request they answered; the
  next request reads the latest such line from the assistant messages it is sent, so "why the
  second one?" points into that list and "only from the 90s" refines that request. Where a client
  dropped the comment, the numbered ``item `id``` lines of the visible list serve (when they name two
  or more items). Only the last user message is new to the agent. (The cards and the marker: :mod:`ui.openai_history`.)
- **The ``X-Whyrec-Conversation`` header**, when sent, keeps its meaning: the agent's own memory of
  that conversation (any name; under another user it is another chat) is the context, and the
  messages array is not read. Turns of one such conversation run one after the other.
- **Item cards** the answer offers (the turn's answered :class:`~agent.events.ItemsShown`) are listed after the answer text and returned as data in the
  extra top-level field ``whyrec`` (``items``, ``conversation_id``, ``tools_called``, ``fallback``,
  ``planned_by``: in plan mode whether the rules, the model or the default decided the turn);
  when streaming, that field comes on the last chunk.
- **usage** counts tokens of the messages sent (prompt) and of the answer (completion) with the
  embedded model's own tokenizer while it runs, else as OpenAI's rule of thumb of one token per
  four characters (:func:`agent.chat_model.estimate_tokens`); when streaming it comes in a last
  chunk when ``stream_options.include_usage`` is set, as OpenAI sends it.
- **Limits** (:mod:`ui.request_limits`): a message longer than ``Settings.max_message_chars`` is
  refused (400, ``message_too_long``), and a key's turns past ``Settings.turns_per_minute``
  (429, ``rate_limit_exceeded``, with ``Retry-After``). A turn the rules decide
  (``ChatAgent.needs_model`` is false) runs in its own lane and never waits behind another
  client's model turn; model turns take ``model_turns`` places at a time.
- **Errors** use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400 for a
  malformed request, no user or a message too long, 401 for a missing or unknown key, 403 for a
  key scoped to another user, 404 for a model other than ``whyrec``, 429 past the rate
  (the request's models and the error shape: :mod:`ui.openai_wire`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from whyrec.agent.chat_model import estimate_tokens
from whyrec.agent.events import ItemsShown
from whyrec.store.errors import InputError
from whyrec.ui.api_keys import AccessDenied, ApiKeys
from whyrec.ui.openai_history import ShownList, cards_text, history_marker, prompt_text, shown_list
from whyrec.ui.openai_wire import ChatCompletionRequest, OpenAIError, validation_error
from whyrec.ui.request_limits import LimitExceeded, TurnLimiter, caller_of_request

log = logging.getLogger(__name__)

MODEL_ID = "whyrec"
USER_HEADER = "x-whyrec-user"
CONVERSATION_HEADER = "x-whyrec-conversation"
MAX_CONVERSATION_ID = 200


# --- running a turn ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One accepted request: who asks what in which conversation, and what its messages showed before."""

    user: str
    conversation_id: str
    text: str
    shown: ShownList | None  # read from the messages (no header); None with the header, or before any list
    own_conversation: bool  # the header named it: the agent's memory is the context, its turns go one by one
    prompt: str  # the messages as sent, for usage


@dataclass
class Finished:
    """What a turn left once its stream ended."""

    reply: Any
    items: tuple[dict[str, Any], ...]  # the cards the answer offers: the turn's answered ItemsShown
    tail: str  # the cards and the hidden marker that follow the answer text
    usage: dict[str, int]


def _extra(finished: Finished, conversation_id: str) -> dict[str, Any]:
    reply = finished.reply
    return {
        "items": list(finished.items),
        "conversation_id": conversation_id,
        "tools_called": list(reply.tools_called) if reply is not None else [],
        "fallback": bool(reply.fallback) if reply is not None else True,
        "planned_by": getattr(reply, "planned_by", None),  # plan mode: "rules", "model" or "default"
    }


class OpenAIEndpoint:
    """The ``/v1`` routes over one shared chat agent (a :class:`ui.chat.SharedAgent`: ``get()`` the agent,
    ``stream(user, conversation, text, cards, request=...)`` a turn, ``enter_conversation``/``leave_conversation``).

    ``model_turns``: turns that may call the model running at once (the embedded model answers one at a time, and
    llama.cpp queues the rest); ``rule_turns``: turns the rules decide running at once, in their own lane.
    ``limiter``: the :class:`~ui.request_limits.TurnLimiter` every turn passes (pass the app's, so a key's turns count
    once on every route); without one, one is made from the chat agent's settings on the first request.
    """

    def __init__(
        self,
        agent: Any,
        keys: ApiKeys,
        model_id: str = MODEL_ID,
        *,
        model_turns: int = 1,
        rule_turns: int = 4,
        limiter: TurnLimiter | None = None,
    ) -> None:
        self.agent = agent
        self.keys = keys
        self.model_id = model_id
        self.created = int(time.time())
        self.model_lane = threading.BoundedSemaphore(model_turns)
        self.rules_lane = threading.BoundedSemaphore(rule_turns)
        self.limiter = limiter

    def mount(self, app: FastAPI) -> None:
        """Add the routes to ``app`` (Gradio's FastAPI app: ``demo.server_app`` after ``launch``)."""
        app.add_api_route("/v1/models", self.list_models, methods=["GET"], include_in_schema=False)
        app.add_api_route("/v1/models/{model}", self.retrieve_model, methods=["GET"], include_in_schema=False)
        app.add_api_route("/v1/chat/completions", self.chat_completions, methods=["POST"], include_in_schema=False)

    # --- routes ----------------------------------------------------------------------------

    def _model_card(self) -> dict[str, Any]:
        return {"id": self.model_id, "object": "model", "created": self.created, "owned_by": "whyrec"}

    def _authenticate(self, request: Request):
        try:
            return self.keys.authenticate(request.headers.get("authorization"))
        except AccessDenied as err:
            raise OpenAIError(err.status, str(err), code=err.code) from None

    def _unknown_model(self, name: str) -> OpenAIError:
        return OpenAIError(404, f"The model {name!r} does not exist — use {self.model_id!r} (GET /v1/models lists it)", param="model", code="model_not_found")

    async def list_models(self, request: Request) -> Response:
        try:
            self._authenticate(request)
        except OpenAIError as err:
            return err.response()
        return JSONResponse({"object": "list", "data": [self._model_card()]})

    async def retrieve_model(self, model: str, request: Request) -> Response:
        try:
            self._authenticate(request)
            if model != self.model_id:
                raise self._unknown_model(model)
        except OpenAIError as err:
            return err.response()
        return JSONResponse(self._model_card())

    async def chat_completions(self, request: Request) -> Response:
        try:
            caller = self._authenticate(request)
            body = await self._body(request)
            if body.model != self.model_id:
                raise self._unknown_model(body.model)
            try:
                user = caller.act_for(body.user if body.user is not None else request.headers.get(USER_HEADER))
            except AccessDenied as err:
                raise OpenAIError(err.status, str(err), param="user", code=err.code) from None
            if not user:
                raise OpenAIError(400, "no user — set the request's `user` field (or the X-Whyrec-User header) to the whyrec user id", param="user", code="missing_user")
            text = next((m.text for m in reversed(body.messages) if m.role == "user"), "").strip()
            if not text:
                raise OpenAIError(400, "no user message — the last message with role 'user' must have text", param="messages", code="missing_user_message")
            limiter = self.limiter or await anyio.to_thread.run_sync(self._limiter_from_agent)
            try:
                limiter.check_turn(caller_of_request(request), text)
            except LimitExceeded as err:
                raise OpenAIError.of_limit(err) from None
            given = self._given_conversation(request)
            turn = Turn(
                user=user,
                conversation_id=given or f"openai-{uuid.uuid4().hex}",
                text=text,
                shown=None if given else shown_list(body.messages),
                own_conversation=bool(given),
                prompt=prompt_text(body.messages),
            )
        except OpenAIError as err:
            return err.response()
        headers = {"X-Whyrec-Conversation": turn.conversation_id}
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        if body.stream:
            return StreamingResponse(self._events(turn, completion_id, include_usage), media_type="text/event-stream", headers=headers)
        pieces: list[str] = []
        finished: Finished | None = None
        try:
            async for piece in self._run(turn):
                if isinstance(piece, Finished):
                    finished = piece
                else:
                    pieces.append(piece)
        except InputError as err:
            return OpenAIError(400, str(err), param="messages", code="invalid_request").response()
        except Exception as err:  # the agent answers from templates when the model fails; this is anything else
            log.exception("OpenAI endpoint: the turn failed")
            return OpenAIError(500, f"the turn failed ({type(err).__name__}) — the server log has the details", code="server_error").response()
        assert finished is not None
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_id,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "".join(pieces).strip() + finished.tail}, "finish_reason": "stop", "logprobs": None}
                ],
                "usage": finished.usage,
                "whyrec": _extra(finished, turn.conversation_id),
            },
            headers=headers,
        )

    # --- helpers ---------------------------------------------------------------------------

    async def _body(self, request: Request) -> ChatCompletionRequest:
        try:
            raw = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise OpenAIError(400, "the request body is not JSON — send a chat completions request", code="invalid_json") from None
        if not isinstance(raw, dict):
            raise OpenAIError(400, "the request body must be a JSON object", code="invalid_request")
        try:
            return ChatCompletionRequest.model_validate(raw)
        except ValidationError as err:
            raise validation_error(err) from None

    @staticmethod
    def _given_conversation(request: Request) -> str | None:
        given = (request.headers.get(CONVERSATION_HEADER) or "").strip()
        if len(given) > MAX_CONVERSATION_ID:
            raise OpenAIError(400, f"X-Whyrec-Conversation is {len(given)} characters — use at most {MAX_CONVERSATION_ID}", code="invalid_request")
        return given or None

    def _limiter_from_agent(self) -> TurnLimiter:
        """The limits of the chat agent's settings (defaults when no agent could start), made once."""
        if self.limiter is None:
            settings = getattr(self.agent.get(), "settings", None)
            self.limiter = TurnLimiter.from_settings(settings) if settings is not None else TurnLimiter()
        return self.limiter

    def _cards(self, chat: Any, shown: ShownList | None) -> list[dict[str, Any]] | None:
        """The cards of a list read from the messages, for the ids the catalog has (a client may send any id)."""
        if shown is None or chat is None:
            return None
        catalog = getattr(getattr(chat, "recommender", None), "items", {})
        cards = [{"item_id": i, "title": catalog[i].display_title} for i in shown.item_ids if i in catalog]
        return cards or None

    def _lane(self, chat: Any, turn: Turn, cards: list[dict[str, Any]] | None) -> threading.BoundedSemaphore:
        """The rules' lane for a turn that cannot call the model, else the model's."""
        if chat is None:
            return self.rules_lane  # the turn only says that chat is unavailable
        needs_model = getattr(chat, "needs_model", None)
        if needs_model is None:
            return self.model_lane
        try:
            return self.model_lane if needs_model(turn.user, turn.conversation_id, turn.text, cards) else self.rules_lane
        except Exception:  # the turn itself says what went wrong, in the model's lane
            log.exception("needs_model failed; the turn takes the model's lane")
            return self.model_lane

    @contextmanager
    def _conversation(self, turn: Turn) -> Iterator[None]:
        """Hold the conversation a header named while its turn runs: its next message reads the state this one leaves."""
        if not turn.own_conversation:
            yield
            return
        key = (turn.user, turn.conversation_id)
        self.agent.enter_conversation(key)
        try:
            yield
        finally:
            self.agent.leave_conversation(key)

    def _work(self, turn: Turn, put: Any) -> None:
        """The whole turn in one worker thread, so the agent's generator (and LangGraph's context variables inside
        it) always resumes on the thread that started it; it runs to its end even if the client leaves."""
        chat = self.agent.get()
        cards = self._cards(chat, turn.shown)
        request = turn.shown.request if turn.shown is not None else None
        with self._conversation(turn):
            with self._lane(chat, turn, cards):
                stream = self.agent.stream(turn.user, turn.conversation_id, turn.text, cards, request=request)
                answer, items = [], ()
                for chunk in stream:
                    if isinstance(chunk, ItemsShown):
                        items = chunk.items if chunk.answered else items  # the cards go after the text, as the answer offers them
                    elif isinstance(chunk, str):
                        answer.append(chunk)
                        put(chunk)
        reply = getattr(stream, "reply", None)
        tail = cards_text(items) + history_marker(items, reply)
        put(Finished(reply, items, tail, self._usage(chat, turn.prompt, "".join(answer).strip() + tail)))

    @staticmethod
    def _usage(chat: Any, prompt: str, completion: str) -> dict[str, int]:
        count = getattr(chat, "count_tokens", None) or estimate_tokens
        prompt_tokens, completion_tokens = count(prompt), count(completion)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}

    async def _run(self, turn: Turn) -> AsyncIterator[str | Finished]:
        """The turn's text chunks as the worker thread hands them over, then its :class:`Finished`; no thread of the
        server's pool waits while a turn waits for its lane."""
        loop = asyncio.get_running_loop()
        handoff: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(handoff.put_nowait, (kind, value))
            except RuntimeError:  # the server stopped while the turn ran
                pass

        def work() -> None:
            try:
                self._work(turn, lambda value: put("chunk", value))
            except BaseException as err:  # noqa: BLE001 — handed to the request, which answers with it or re-raises it
                put("error", err)

        threading.Thread(target=work, name="whyrec-openai-turn", daemon=True).start()
        while True:
            kind, value = await handoff.get()
            if kind == "error":
                raise value
            yield value
            if isinstance(value, Finished):
                return

    async def _events(self, turn: Turn, completion_id: str, include_usage: bool) -> AsyncIterator[str]:
        created = int(time.time())

        def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_id,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        finished: Finished | None = None
        try:
            async for piece in self._run(turn):
                if isinstance(piece, Finished):
                    finished = piece
                elif piece:
                    yield event({"content": piece})
        except Exception as err:  # the stream has started: say what went wrong in-band, as OpenAI does
            log.exception("OpenAI endpoint: the turn failed mid-stream")
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error', 'param': None, 'code': None}})}\n\n"
            yield "data: [DONE]\n\n"
            return
        assert finished is not None
        if finished.tail:
            yield event({"content": finished.tail})
        yield event({}, "stop", whyrec=_extra(finished, turn.conversation_id))
        if include_usage:
            yield event(None, usage=finished.usage)
        yield "data: [DONE]\n\n"
