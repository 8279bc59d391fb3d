"""The agent against an OpenAI-compatible URL: the real ``ChatOpenAI`` client over real HTTP.

The server is a few lines of ``http.server`` that replays scripted answers as OpenAI's
streaming chunks (native ``tool_calls`` first, then text), so the test checks what
whyrec sends to an endpoint (model, key, tool schemas, the tool result) and that a
hosted model's native tool calls drive the same tools as the local model's text ones.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whyrec.agent.chat import ChatAgent


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class ScriptedEndpoint(ThreadingHTTPServer):
    """``/v1/chat/completions`` answering each request with the next scripted list of stream chunks."""

    def __init__(self, script: list[list[bytes]]) -> None:
        self.script = script
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedEndpoint

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        if self.path != "/v1/chat/completions" or not self.server.script:
            self.send_error(404 if self.server.script else 500)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in self.server.script.pop(0):
            self.wfile.write(chunk)
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(request) -> Iterator[ScriptedEndpoint]:
    server = ScriptedEndpoint(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


TOOL_CALL = [
    _chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "recommend", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps({"request": "space adventure", "k": 2})}}]}),
    _chunk({}, "tool_calls"),
]


PROBE_TOOL_CALL = [
    _chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "probe", "type": "function", "function": {"name": "current_time", "arguments": '{"city": "Paris"}'}}]}),
    _chunk({}, "tool_calls"),
]
PROSE = [_chunk({"role": "assistant", "content": "It is noon in Paris."}), _chunk({}, "stop")]


@pytest.mark.parametrize("endpoint", [[PROBE_TOOL_CALL, TOOL_CALL, [_chunk({"role": "assistant", "content": "Two picks above."}), _chunk({}, "stop")]]], indirect=True)
def test_an_openai_compatible_url_drives_the_tools_with_native_tool_calls(endpoint, recommender, settings) -> None:
    hosted = settings.model_copy(update={"llm_base_url": endpoint.base_url, "llm_model": "test-model", "llm_api_key": "sk-test"})
    with ChatAgent(recommender, hosted) as agent:
        assert agent.start() == f"model test-model at {endpoint.base_url}"
        assert agent.mode == "react"  # the one-time probe got a native tool call
        reply = agent.reply("u1", "c", "Something with spaceships?")

    assert not reply.fallback, reply.error
    assert reply.tools_called == ["recommend"] and reply.llm_calls == 2
    assert reply.tool_calls == [{"name": "recommend", "args": {"request": "space adventure", "k": 2}}]
    assert reply.text == "Two picks above."

    _probe, (headers, first), (_, second) = endpoint.requests
    assert headers["authorization"] == "Bearer sk-test"
    assert first["model"] == "test-model" and first["stream"] is True
    offered = {tool["function"]["name"] for tool in first["tools"]}
    assert offered == {"get_interest_profile", "recommend", "explain_recommendation", "search_catalog", "record_feedback"}
    assert "user_id" not in json.dumps(first["tools"])  # the user is never a model-controlled argument
    tool_result = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_result["tool_call_id"] == "call_1" and "<tool_data" in tool_result["content"]
    shown = json.loads(tool_result["content"].split("\n")[1])["items"]
    seen = {recommender.items[x.item_id].title for x in recommender.store.db.history("u1")}
    assert len(shown) == 2 and not {item["title"] for item in shown} & seen


@pytest.mark.parametrize("endpoint", [[PROSE]], indirect=True)
def test_an_endpoint_without_native_tool_calls_gets_plan_mode(endpoint, recommender, settings) -> None:
    hosted = settings.model_copy(update={"llm_base_url": endpoint.base_url, "llm_model": "test-model"})
    with ChatAgent(recommender, hosted) as agent:
        reply = agent.reply("u1", "c", "Why Star Voyage?")

    assert agent.mode == "plan" and len(endpoint.requests) == 1  # the probe, then rules: no model call for a clear why
    assert reply.tools_called == ["explain_recommendation"] and reply.llm_calls == 0 and not reply.fallback


@pytest.mark.parametrize("endpoint", [[]], indirect=True)
def test_an_endpoint_that_fails_leaves_the_template_answer(endpoint, recommender, settings) -> None:
    hosted = settings.model_copy(update={"llm_base_url": endpoint.base_url, "llm_model": "test-model"})
    with ChatAgent(recommender, hosted, mode="react") as agent:
        reply = agent.reply("u1", "c", "What are my interests?")

    assert reply.fallback and reply.error
    assert reply.tools_called == ["get_interest_profile"]
    assert endpoint.requests and endpoint.requests[0][0]["authorization"] == "Bearer not-needed"
