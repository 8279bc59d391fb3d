"""The model-time budget (``Settings.model_seconds_per_turn``): the real ``ChatOpenAI`` client against a real HTTP endpoint
that answers too slowly, streamed or not, and the agent's turn that then answers without it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whyrec.agent.chat import ChatAgent
from whyrec.agent.chat_model import estimate_tokens, make_chat_model


class SlowEndpoint(ThreadingHTTPServer):
    """``/v1/chat/completions`` that streams one word every 0.3 s for 30 s, or (not streamed) answers after 30 s."""

    daemon_threads = True

    def __init__(self) -> None:
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), _SlowHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _SlowHandler(BaseHTTPRequestHandler):
    server: SlowEndpoint

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            if not body.get("stream"):
                self.server.stop.wait(30)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for _ in range(100):
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                if self.server.stop.wait(0.3):
                    return
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            return

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_endpoint() -> Iterator[SlowEndpoint]:
    server = SlowEndpoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


def test_a_streamed_answer_is_cut_at_the_budget(slow_endpoint, settings):
    model = make_chat_model(settings.model_copy(update={"llm_base_url": slow_endpoint.base_url, "model_seconds_per_turn": 1.0}))
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="more than 1 s"):
        model.invoke("write a long story")
    assert time.perf_counter() - started < 3


def test_a_turn_whose_model_call_runs_past_the_budget_is_answered_by_the_rules(slow_endpoint, recommender, settings):
    settings = settings.model_copy(update={"llm_base_url": slow_endpoint.base_url, "model_seconds_per_turn": 1.0, "agent_mode": "plan"})
    with ChatAgent(recommender, settings) as agent:
        text = "space films my grandmother would like on a rainy sunday"
        assert agent.needs_model("u1", "c", text), "the rules cannot account for these words: the model reads them"
        started = time.perf_counter()
        reply = agent.reply("u1", "c", text)
    # the endpoint would take 30 s; a 1 s budget (a hosted endpoint gets one retry) leaves the rest to the rules and ranking,
    # which a loaded 2-core box can stretch to several seconds
    assert time.perf_counter() - started < 20
    assert reply.items and reply.tools_called == ["recommend"] and reply.planned_by != "model"


def test_the_estimate_is_a_token_per_four_characters():
    assert estimate_tokens("") == 0
    assert estimate_tokens("why the second one?") == 5  # 19 characters
