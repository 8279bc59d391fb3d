"""Turn tool calls that a small local model writes as text into real ``AIMessage.tool_calls``.

Why: the embedded Qwen2.5-Coder-1.5B almost never fills OpenAI's ``tool_calls``
field; it writes the call into its answer instead, as bare JSON, in a ```json
fence, inside ``<tool_call>`` / ``<tools>`` tags, or as ``<function=name>`` XML.
The agent loop only runs tools for real ``tool_calls``, so this module finds those
textual calls, checks them against the tools' schemas, and rewrites the message.
Hosted models that call tools natively pass through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

ToolLike = BaseTool | dict[str, Any]

_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARGS_KEYS = ("arguments", "parameters", "args", "input")
# Tags whose presence means the model meant to call a tool, even if what follows is broken.
_CALL_TAG = re.compile(r"<(tool_call|tools|function)\b", re.IGNORECASE)
_FUNCTION_XML = re.compile(
    r"<function(?:=(?P<eq>[\w.-]+)|\s+name=[\"'](?P<attr>[\w.-]+)[\"'])?\s*>(?P<body>.*?)(?:</function>|$)",
    re.DOTALL | re.IGNORECASE,
)
_NAME_XML = re.compile(r"<name>\s*([\w.-]+)\s*</name>", re.IGNORECASE)
_ARGS_XML = re.compile(r"<(arguments|parameters|args)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_PARAM_XML = re.compile(
    r"<parameter(?:=(?P<eq>[\w.-]+)|\s+name=[\"'](?P<attr>[\w.-]+)[\"'])\s*>(?P<value>.*?)</parameter>",
    re.DOTALL | re.IGNORECASE,
)
_LEFTOVER = re.compile(
    r"```(?:json)?\s*```|</?(tool_call|tools|function)\b[^>]*>",
    re.IGNORECASE,
)


class ToolCallError(ValueError):
    """The text tries to call a tool but the call is unusable; the message says why."""


@dataclass(frozen=True)
class _ToolSpec:
    name: str
    parameters: dict[str, Any]
    schema: type[BaseModel] | None

    def signature(self) -> str:
        props = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        args = ", ".join(
            f"{key}: {spec.get('type', 'any')}" + ("" if key in required else " (optional)")
            for key, spec in props.items()
        )
        return f"{self.name}({args})"


def _specs(tools: Iterable[ToolLike]) -> dict[str, _ToolSpec]:
    specs = {}
    for tool in tools:
        function = convert_to_openai_tool(tool).get("function", {})
        name = function.get("name")
        if not name:
            continue
        schema = None
        if isinstance(tool, BaseTool):
            candidate = tool.tool_call_schema
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                schema = candidate
                # the tool's own args_schema keeps its validators (tool_call_schema is a copy without
                # them); use it when it has no field hidden from the model, such as an injected runtime
                full = tool.args_schema
                if isinstance(full, type) and issubclass(full, BaseModel) and set(full.model_fields) <= set(candidate.model_fields):
                    schema = full
        specs[name] = _ToolSpec(name, function.get("parameters") or {}, schema)
    return specs


def _json_objects(text: str) -> Iterable[tuple[int, int, Any]]:
    """Every top-level JSON object in ``text`` with its span, wherever it sits."""
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        yield i, end, value
        i = text.find("{", end)


def _loose_value(raw: str) -> Any:
    raw = raw.strip()
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _call_from_object(obj: Any, known: dict[str, _ToolSpec]) -> tuple[str, Any] | None:
    """(name, args) when ``obj`` is shaped like a tool call, else None."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        return _call_from_object(obj["function"], known)
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if name is None:
        return None
    args_key = next((k for k in _ARGS_KEYS if k in obj), None)
    if args_key is not None:
        return name, obj[args_key]
    if name in known:  # {"name": "search", "query": "..."}: arguments written flat
        return name, {k: v for k, v in obj.items() if k not in _NAME_KEYS and k != "type"}
    return None  # e.g. {"name": "Toy Story", "year": 1995} in an answer


def _xml_calls(text: str) -> list[tuple[int, int, str | None, Any]]:
    """Calls written as ``<function=name>...`` or ``<function><name>..</name><arguments>..``."""
    calls = []
    for match in _FUNCTION_XML.finditer(text):
        body = match.group("body")
        name = match.group("eq") or match.group("attr")
        if name is None and (found := _NAME_XML.search(body)):
            name = found.group(1)
        params = {m.group("eq") or m.group("attr"): _loose_value(m.group("value")) for m in _PARAM_XML.finditer(body)}
        if params:
            args: Any = params
        elif found_args := _ARGS_XML.search(body):
            args = _loose_value(found_args.group(2))
        else:
            stripped = _NAME_XML.sub("", body).strip()
            args = _loose_value(stripped) if stripped else {}
        calls.append((match.start(), match.end(), name, args))
    return calls


def _numbers_to_strings(args: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """``{"user_id": 7}`` for a string field: small models drop the quotes around ids."""
    props = parameters.get("properties", {})
    return {
        key: str(value)
        if props.get(key, {}).get("type") == "string" and isinstance(value, int | float) and not isinstance(value, bool)
        else value
        for key, value in args.items()
    }


def _validated(name: str | None, args: Any, specs: dict[str, _ToolSpec]) -> dict[str, Any]:
    if not name or name not in specs:
        raise ToolCallError(f"there is no tool named {name!r}")
    if isinstance(args, str):  # OpenAI style: arguments as a JSON string
        args = _loose_value(args) if args.strip() else {}
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ToolCallError(f"the arguments of {name} must be a JSON object, not {args!r}")
    spec = specs[name]
    args = _numbers_to_strings(args, spec.parameters)
    if spec.schema is not None:
        try:
            spec.schema.model_validate(args)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in err.errors()
            )
            raise ToolCallError(f"wrong arguments for {name}: {problems}") from None
    else:
        missing = [k for k in spec.parameters.get("required", []) if k not in args]
        if missing:
            raise ToolCallError(f"wrong arguments for {name}: missing {', '.join(missing)}")
    return args


def parse_tool_calls(text: str, tools: Sequence[ToolLike]) -> list[dict[str, Any]]:
    """Tool calls written in ``text`` as LangChain ``ToolCall`` dicts with fresh ids.

    Returns ``[]`` when the text does not try to call a tool (a plain answer, or
    JSON that is not call-shaped). Raises :class:`ToolCallError` when it does try
    but names an unknown tool, has arguments that fail the tool's schema, or is
    broken JSON inside a call tag, so the caller can ask the model to fix it.
    """
    specs = _specs(tools)
    found: list[tuple[int, str | None, Any]] = []
    taken: list[tuple[int, int]] = []
    for start, end, name, args in _xml_calls(text):
        if name is None and (inner := _call_from_object(args, specs)):
            name, args = inner  # <tools><function>{"name": ..., "arguments": ...}</function></tools>
        if name is not None or args:
            found.append((start, name, args))
            taken.append((start, end))
    for start, end, obj in _json_objects(text):
        if any(s <= start < e for s, e in taken):
            continue
        call = _call_from_object(obj, specs)
        if call is None and isinstance(obj, dict) and len(obj) == 1:
            # {"tool_call": {...}} or similar single-key wrapper
            call = _call_from_object(next(iter(obj.values())), specs)
        if call is not None:
            found.append((start, *call))
    if not found:
        if _CALL_TAG.search(text):
            raise ToolCallError("the tool call could not be read (it must be valid JSON with name and arguments)")
        return []
    found.sort(key=lambda call: call[0])
    return [
        {"name": name, "args": _validated(name, args, specs), "id": f"call_{uuid.uuid4().hex[:24]}", "type": "tool_call"}
        for _, name, args in found
    ]


def _strip_calls(text: str) -> str:
    """What is left of the text once the calls are gone: the model's prose, if any."""
    for start, end, _, _ in reversed(_xml_calls(text)):
        text = text[:start] + text[end:]
    spans = [(s, e) for s, e, obj in _json_objects(text) if isinstance(obj, dict)]
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    text = _LEFTOVER.sub("", text).strip()
    return text if any(ch.isalnum() for ch in text) else ""  # drop stray "{}", "```" and the like


def _answered_calls(messages: Sequence[BaseMessage]) -> set[tuple[str, str]]:
    """(name, args) of calls a ToolMessage already answered since the last user message."""
    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1) + 1
    turn = messages[start:]
    answered_ids = {m.tool_call_id for m in turn if isinstance(m, ToolMessage)}
    return {
        (call["name"], json.dumps(call["args"], sort_keys=True))
        for m in turn
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call.get("id") in answered_ids
    }


class TextToolCallMiddleware(AgentMiddleware):
    """Agent middleware that turns textual tool calls into real ones, with one repair try.

    After each model call whose ``AIMessage`` has no native ``tool_calls``, the text
    is parsed with :func:`parse_tool_calls`. A readable call becomes ``tool_calls``
    (the agent then runs the tool). An unreadable or unknown call, or a call the
    tools already answered in this turn, gets one retry with a short correction
    listing the valid tools; if the retry still fails the text is returned as the
    answer. The correction is not stored in the conversation.
    """

    def __init__(self, max_retries: int = 1) -> None:
        super().__init__()
        self.max_retries = max_retries

    def _review(self, request: ModelRequest, response: ModelResponse) -> tuple[ModelResponse, str | None]:
        """The response with calls filled in, or the correction to send back to the model."""
        index, message = _last_ai_message(response.result)
        if message is None or message.tool_calls or not request.tools:
            return response, None
        text = message.text
        try:
            calls = parse_tool_calls(text, request.tools)
        except ToolCallError as err:
            return response, self._correction(str(err), request.tools)
        if not calls:
            return response, None
        logger.debug("tool calls read from the model's text %r: %s", text, calls)
        answered = _answered_calls(request.messages)
        fresh = [c for c in calls if (c["name"], json.dumps(c["args"], sort_keys=True)) not in answered]
        if not fresh:
            names = ", ".join(sorted({c["name"] for c in calls}))
            return response, (
                f"The result of {names} is already above. Do not call it again: "
                "answer the user now in plain text, using that result."
            )
        rewritten = AIMessage(
            content=_strip_calls(text),
            tool_calls=fresh,
            id=message.id,
            name=message.name,
            response_metadata=message.response_metadata,
            usage_metadata=message.usage_metadata,
        )
        result = [*response.result[:index], rewritten, *response.result[index + 1 :]]
        return ModelResponse(result=result, structured_response=response.structured_response), None

    @staticmethod
    def _correction(problem: str, tools: Sequence[ToolLike]) -> str:
        valid = "; ".join(spec.signature() for spec in _specs(tools).values())
        return (
            f"Your tool call was not valid: {problem}. Valid tools: {valid}. "
            'To call one, reply with only {"name": "<tool>", "arguments": {...}}; '
            "otherwise answer in plain text."
        )

    @staticmethod
    def _with_correction(request: ModelRequest, response: ModelResponse, correction: str) -> ModelRequest:
        _, message = _last_ai_message(response.result)
        said = [AIMessage(content=message.text)] if message is not None else []
        return request.override(messages=[*request.messages, *said, HumanMessage(content=correction)])

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse:
        response = handler(request)
        for attempt in range(self.max_retries + 1):
            reviewed, correction = self._review(request, response)
            if correction is None:
                return reviewed
            if attempt == self.max_retries:
                break
            logger.info("asking the model to fix its tool call: %s", correction)
            response = handler(self._with_correction(request, response, correction))
        logger.warning("the model's tool call stayed invalid after %d retries; answering with its text", self.max_retries)
        return response

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        response = await handler(request)
        for attempt in range(self.max_retries + 1):
            reviewed, correction = self._review(request, response)
            if correction is None:
                return reviewed
            if attempt == self.max_retries:
                break
            logger.info("asking the model to fix its tool call: %s", correction)
            response = await handler(self._with_correction(request, response, correction))
        logger.warning("the model's tool call stayed invalid after %d retries; answering with its text", self.max_retries)
        return response


def _last_ai_message(messages: Sequence[BaseMessage]) -> tuple[int, AIMessage | None]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], AIMessage):
            return i, messages[i]  # type: ignore[return-value]
    return -1, None
