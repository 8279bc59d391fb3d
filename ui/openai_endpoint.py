"""An OpenAI-compatible chat endpoint: any chat frontend that speaks OpenAI's protocol can talk to whyrec.

``whyrec serve --openai`` mounts, on the same FastAPI app Gradio serves (one port for the
app, its API, MCP and these routes):

- ``GET /v1/models`` (and ``/v1/models/whyrec``): one model, ``whyrec``;
- ``POST /v1/chat/completions``, streaming (server-sent ``chat.completion.chunk`` events) or not.

Each request answers one turn of :class:`~agent.chat.ChatAgent`:

- **The user** is the request's ``user`` field, else the ``X-Whyrec-User`` header; a key scoped to
  one user (:mod:`ui.api_keys`) may leave both out and acts for its own user.
- **The conversation** is the ``X-Whyrec-Conversation`` header (any name; under another user it is
  another chat), else a fresh one per request. OpenAI clients resend the whole message list every
  turn, but the agent keeps its own memory of each conversation, so only the **last user message**
  is fed to it; earlier messages in the list are ignored. Send the header to keep context.
- **Item cards** the answer offers are listed after the answer text and returned as data in the
  extra top-level field ``whyrec`` (``items``, ``conversation_id``, ``tools_called``, ``fallback``);
  when streaming, that field comes on the last chunk.
- **Errors** use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400 for a
  malformed request or no user, 401 for a missing or unknown key, 403 for a key scoped to
  another user, 404 for a model other than ``whyrec``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from whyrec.store.errors import InputError
from whyrec.ui.api_keys import AccessDenied, ApiKeys

log = logging.getLogger(__name__)

MODEL_ID = "whyrec"
USER_HEADER = "x-whyrec-user"
CONVERSATION_HEADER = "x-whyrec-conversation"
MAX_CONVERSATION_ID = 200


# --- the protocol ------------------------------------------------------------------------------


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts carry anything whyrec reads."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The fields whyrec reads; others (temperature, max_tokens, tools…) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None


class OpenAIError(Exception):
    """An error answered as OpenAI's error JSON with an HTTP status."""

    TYPES: ClassVar[dict[int, str]] = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error"}

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.TYPES.get(self.status, "server_error"), "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


def _validation_error(err: ValidationError) -> OpenAIError:
    first = err.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ())) or None
    return OpenAIError(400, f"{param or 'request'}: {first.get('msg', 'invalid')} — see the OpenAI chat completions format", param=param, code="invalid_request")


def cards_text(items: Iterable[dict[str, Any]]) -> str:
    """The item cards as Markdown lines, appended to the answer so plain chat frontends show them."""
    lines = []
    for n, item in enumerate(items, start=1):
        year = f" ({item['year']})" if item.get("year") else ""
        categories = ", ".join(item.get("categories") or [])
        lines.append(f"{n}. **{item['title']}**{year}" + (f" — {categories}" if categories else "") + f" · item `{item['item_id']}`")
    return ("\n\n**Items**\n" + "\n".join(lines)) if lines else ""


# --- running a turn ----------------------------------------------------------------------------


async def _chunks_of(stream: Any, turns: threading.Semaphore) -> AsyncIterator[str]:
    """Iterate a (blocking) reply stream in one worker thread; the turn runs to its end even if the client leaves.

    One thread for the whole turn, rather than one per chunk, so the agent's generator (and
    LangGraph's context variables inside it) always resumes on the thread that started it.
    ``turns`` bounds how many turns run at once (the model and ranking are CPU-bound).
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            with turns:
                for chunk in stream:
                    handoff.put(("chunk", chunk))
            handoff.put(("done", None))
        except BaseException as err:  # noqa: BLE001 — handed to the request, which answers with it or re-raises it
            handoff.put(("error", err))

    threading.Thread(target=work, name="whyrec-openai-turn", daemon=True).start()
    while True:
        kind, value = await anyio.to_thread.run_sync(handoff.get)
        if kind == "chunk":
            yield value
        elif kind == "error":
            raise value
        else:
            return


def _extra(reply: Any, conversation_id: str) -> dict[str, Any]:
    return {
        "items": list(reply.items) if reply is not None else [],
        "conversation_id": conversation_id,
        "tools_called": list(reply.tools_called) if reply is not None else [],
        "fallback": bool(reply.fallback) if reply is not None else True,
    }


class OpenAIEndpoint:
    """The ``/v1`` routes over one chat agent (anything with ``stream(user, conversation, text)``).

    ``agent.stream`` returns an iterable of text chunks whose ``.reply`` (an
    :class:`~agent.chat.Reply`, or None when no agent could start) is set once exhausted,
    as :class:`ui.chat.SharedAgent` does.
    """

    def __init__(self, agent: Any, keys: ApiKeys, model_id: str = MODEL_ID, max_concurrent_turns: int = 2) -> None:
        self.agent = agent
        self.keys = keys
        self.model_id = model_id
        self.created = int(time.time())
        self.turns = threading.BoundedSemaphore(max_concurrent_turns)  # further requests wait their turn

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
            conversation_id = self._conversation(request)
            try:
                stream = self.agent.stream(user, conversation_id, text)
            except InputError as err:
                raise OpenAIError(400, str(err), param="messages", code="invalid_request") from None
        except OpenAIError as err:
            return err.response()
        headers = {"X-Whyrec-Conversation": conversation_id}
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if body.stream:
            return StreamingResponse(self._events(stream, completion_id, conversation_id), media_type="text/event-stream", headers=headers)
        try:
            answer = "".join([chunk async for chunk in _chunks_of(stream, self.turns)]).strip()
        except InputError as err:
            return OpenAIError(400, str(err), param="messages", code="invalid_request").response()
        except Exception as err:  # the agent answers from templates when the model fails; this is anything else
            log.exception("OpenAI endpoint: the turn failed")
            return OpenAIError(500, f"the turn failed ({type(err).__name__}) — the server log has the details", code="server_error").response()
        reply = getattr(stream, "reply", None)
        extra = _extra(reply, conversation_id)
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer + cards_text(extra["items"])}, "finish_reason": "stop", "logprobs": None}],
                "whyrec": extra,
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
            raise _validation_error(err) from None

    @staticmethod
    def _conversation(request: Request) -> str:
        given = (request.headers.get(CONVERSATION_HEADER) or "").strip()
        if not given:
            return f"openai-{uuid.uuid4().hex}"
        if len(given) > MAX_CONVERSATION_ID:
            raise OpenAIError(400, f"X-Whyrec-Conversation is {len(given)} characters — use at most {MAX_CONVERSATION_ID}", code="invalid_request")
        return given

    async def _events(self, stream: Any, completion_id: str, conversation_id: str) -> AsyncIterator[str]:
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        try:
            async for piece in _chunks_of(stream, self.turns):
                if piece:
                    yield event({"content": piece})
        except Exception as err:  # the stream has started: say what went wrong in-band, as OpenAI does
            log.exception("OpenAI endpoint: the turn failed mid-stream")
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error', 'param': None, 'code': None}})}\n\n"
            yield "data: [DONE]\n\n"
            return
        extra = _extra(getattr(stream, "reply", None), conversation_id)
        if cards := cards_text(extra["items"]):
            yield event({"content": cards})
        yield event({}, "stop", whyrec=extra)
        yield "data: [DONE]\n\n"
