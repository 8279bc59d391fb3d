"""What one chat turn may cost: the limits (:mod:`ui.request_limits`) alone, on the live ``/v1`` endpoint with the real
``openai`` client (where a turn the rules decide must not wait behind another client's model turn), and on the page's chat,
which counts a key's turns with ``/v1``."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from whyrec.agent.chat import ChatAgent
from whyrec.store.ports import free_port
from whyrec.store.records import Dataset
from whyrec.tools.recommend.recommender import Recommender
from whyrec.ui.server import launch_app
from whyrec.ui.request_limits import LimitExceeded, RequestLimits, TurnLimiter, caller_key

from tests.agent.chat_fakes import scripted
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.ui.test_openai_compatible_server import HORROR, OPEN_KEY, SCARY_80S, U1_KEY, Server
from tests.ui.test_route_gate import bearer, page_config, run_event

VAGUE = "a film my grandmother would like on a rainy sunday"  # words the rules cannot account for: the model reads them


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_long_message_is_refused_in_one_line_and_does_not_use_up_turns():
    limiter = TurnLimiter(RequestLimits(max_message_chars=100, turns_per_minute=1))
    with pytest.raises(LimitExceeded) as caught:
        limiter.check_turn("key:a", "x" * 20_000)
    assert caught.value.status == 400 and caught.value.code == "message_too_long"
    assert "20,000 characters" in str(caught.value) and "at most 100" in str(caught.value) and "\n" not in str(caught.value)
    limiter.check_turn("key:a", "short")  # the refused message did not count


def test_turns_past_the_rate_wait_for_the_window_per_key():
    clock = Clock()
    limiter = TurnLimiter(RequestLimits(turns_per_minute=2), clock=clock)
    limiter.admit("key:a")
    clock.now += 20
    limiter.admit("key:a")
    with pytest.raises(LimitExceeded) as caught:
        limiter.admit("key:a")
    assert caught.value.status == 429 and caught.value.retry_after == 40, "the first turn leaves the window 60 s after it started"
    limiter.admit("key:b")  # another key has its own turns
    clock.now += 41
    limiter.admit("key:a")


def test_no_rate_limit_when_set_to_zero():
    limiter = TurnLimiter(RequestLimits(turns_per_minute=0))
    for _ in range(1000):
        limiter.admit("key:a")


def test_callers_are_their_key_else_their_address_and_keys_are_not_kept():
    assert caller_key("Bearer sk-1", "10.0.0.1") == caller_key("bearer sk-1 ", "10.0.0.2")
    assert caller_key("Bearer sk-1", None) != caller_key("Bearer sk-2", None)
    assert "sk-1" not in caller_key("Bearer sk-1", None)
    assert caller_key(None, "10.0.0.1") == "address:10.0.0.1"


# --- on the live endpoint ----------------------------------------------------------------------


class HeldModel:
    """A scripted model whose calls wait until released, then give ``answer``: a model turn that holds the model as long
    as a test needs (as a local model on a busy CPU does), with no sleep to tune."""

    def __init__(self, answer: str = '{"intent": "recommend"}', calls: int = 4) -> None:
        self.release = threading.Event()
        self.called = threading.Event()

        def held(messages: list[Any]) -> str:
            self.called.set()
            self.release.wait(120)
            return answer

        self.model = scripted(*[held] * calls)


@pytest.fixture
def limited_server(empty_store, reranker, settings) -> Iterator[tuple[Server, HeldModel]]:
    """The app over 80s horror, plan mode with a model that holds; 200-character messages, 3 turns a minute per key."""
    empty_store.ingest(Dataset("horror", [*SMALL_CATALOG, *HORROR], list(SMALL_INTERACTIONS)), progress=False)
    settings = settings.model_copy(update={"max_message_chars": 200, "turns_per_minute": 3})
    recommender = Recommender(empty_store, reranker)
    held = HeldModel()
    agents: list[ChatAgent] = []

    def make_agent() -> ChatAgent:
        agents.append(ChatAgent(recommender, settings, model=held.model, mode="plan"))
        return agents[-1]

    demo, url = launch_app(settings, port=free_port(), block=False, openai=True, api_keys=[OPEN_KEY, f"{U1_KEY}:u1"], chat_agent_factory=make_agent)
    try:
        yield Server(url, held.model, agents), held
    finally:
        held.release.set()
        demo.close()
        for agent in agents:
            agent.close()


def test_a_long_message_gets_a_400_in_openai_shape_and_reaches_nothing(limited_server):
    server, _ = limited_server
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().chat.completions.create(
            model="whyrec", user="u1", messages=[{"role": "user", "content": "scary" * 4800}], extra_headers={"X-Whyrec-Conversation": "long"}
        )
    error = caught.value.body
    assert caught.value.status_code == 400 and error["code"] == "message_too_long" and error["param"] == "messages"
    assert "24,000 characters" in error["message"] and "at most 200" in error["message"]
    assert server.model.seen == [], "the model never read it"
    assert not server.agents or server.agents[0].history("u1", "long") == [], "nothing was stored in the conversation"


def test_a_key_past_its_turns_a_minute_gets_a_429_with_retry_after_and_other_keys_go_on(limited_server):
    server, _ = limited_server
    client = server.client()
    for _ in range(3):
        client.chat.completions.create(model="whyrec", user="u1", messages=[{"role": "user", "content": SCARY_80S}])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.with_raw_response.create(model="whyrec", user="u1", messages=[{"role": "user", "content": SCARY_80S}])
    assert caught.value.status_code == 429 and caught.value.body["code"] == "rate_limit_exceeded"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert "try again in" in caught.value.body["message"]

    other = server.client(U1_KEY).chat.completions.create(model="whyrec", messages=[{"role": "user", "content": SCARY_80S}])
    assert other.whyrec["items"]


def test_a_turn_the_rules_decide_does_not_wait_behind_other_clients_model_turns(limited_server):
    server, held = limited_server
    finished: list[Any] = []

    def model_turn() -> None:
        finished.append(server.client(U1_KEY).chat.completions.create(model="whyrec", messages=[{"role": "user", "content": VAGUE}]))

    waiting = [threading.Thread(target=model_turn) for _ in range(2)]  # two clients' model turns: one holds the model, one waits
    for thread in waiting:
        thread.start()
    assert held.called.wait(60), "the vague message should have gone to the model"

    started = time.perf_counter()
    ruled = server.client().chat.completions.create(model="whyrec", user="u2", messages=[{"role": "user", "content": SCARY_80S}])
    seconds = time.perf_counter() - started

    assert all(thread.is_alive() for thread in waiting) and not finished, "the model turns are still holding or waiting for the model"
    assert ruled.whyrec["items"] and all(card["item_id"].startswith("hor") for card in ruled.whyrec["items"])
    assert seconds < 30
    held.release.set()
    for thread in waiting:
        thread.join(60)
    assert len(finished) == 2 and all(reply.choices[0].message.content for reply in finished)


# --- on the page's chat ------------------------------------------------------------------------


class PageChat:
    """The page's chat as a browser drives it, over HTTP: a session with a user picked, and the Send event's two steps:
    ``start_turn`` (run at once outside the queue) admits the turn or refuses it in the notice under the chat, and
    ``run_turn`` answers the turn admitted."""

    def __init__(self, url: str, key: str, user: str) -> None:
        self.url, self.headers, self.session = url, bearer(key), uuid.uuid4().hex
        config = page_config(url)
        self.components = {c["id"]: c for c in config["components"]}
        events = {d["api_name"]: d for d in config["dependencies"] if d.get("backend_fn")}
        picker = self.component("user-picker")
        select = events["select_user"]
        data = [user if i == picker else self.components[i]["props"].get("value") for i in select["inputs"]]
        status, message = run_event(url, self.headers, select, data, self.session)
        assert status == 200 and message and message["success"], message
        self.send, self.run = events["start_turn"], events["run_turn"]
        self.notice = self.send["outputs"].index(self.component("chat-notice"))
        self.text = self.send["outputs"].index(self.component("chat-input"))

    def component(self, elem_id: str) -> int:
        return next(i for i, c in self.components.items() if c["props"].get("elem_id") == elem_id)

    def say(self, message: str) -> str | None:
        """Send ``message``; the refusal under the chat, or None when the turn started (the box is emptied for the answer)."""
        payload = {"data": [message, [], None], "fn_index": self.send["id"], "trigger_id": None, "event_data": None, "session_hash": self.session}
        answer = httpx.post(self.url + "gradio_api/run/predict", json=payload, headers=self.headers, timeout=60)
        assert answer.status_code == 200, answer.text
        out = answer.json()["data"]
        notice = out[self.notice]
        if isinstance(notice, dict) and notice.get("visible"):
            assert out[self.text] in (None, {"__type__": "update"}) or out[self.text].get("value") is None, "a refused message stays in the box"
            return str(notice["value"])
        assert out[self.text] == "" or out[self.text].get("value") == "", out[self.text]
        self.shown = out[self.send["outputs"].index(self.component("chat"))]  # the message and a thinking bubble
        return None

    def answer(self) -> object:
        """The Send event's second step (``run_turn``, queued), as the browser sends it after ``start_turn``: the chat it
        leaves (the state values are the server's own: the client sends only the components')."""
        chat = self.component("chat")
        data = [self.shown if i == chat else self.components[i]["props"].get("value") for i in self.run["inputs"]]
        status, message = run_event(self.url, self.headers, self.run, data, self.session)
        assert status == 200 and message and message["success"], message
        return message["output"]["data"][self.run["outputs"].index(self.component("chat"))]


def test_the_pages_chat_counts_a_keys_turns_with_v1_and_refuses_past_them_in_one_line(limited_server):
    server, _ = limited_server
    page = PageChat(server.url, OPEN_KEY, "u1")

    too_long = page.say("scary" * 120)
    assert too_long is not None and "600 characters" in too_long and "send at most 200" in too_long and "\n" not in too_long
    assert page.say(SCARY_80S) is None
    assert any(item.title in str(page.answer()) for item in HORROR), "the turn the page admitted is answered"
    assert page.answer() == {"__type__": "update"}, "sent again without a new start, the answering step answers nothing"
    assert page.say("why the second one?") is None
    v1 = httpx.post(server.url + "v1/chat/completions", headers=bearer(OPEN_KEY), timeout=120,
                    json={"model": "whyrec", "user": "u1", "messages": [{"role": "user", "content": SCARY_80S}]})
    assert v1.status_code != 429, "the key's third turn of the minute, through /v1"

    refused = page.say("more like the first")
    assert refused is not None and "\n" not in refused
    assert "this API key started 3 chat turns in the last minute, the most allowed — try again in" in refused
    assert "WHYREC_TURNS_PER_MINUTE" in refused
    assert PageChat(server.url, U1_KEY, "u1").say(SCARY_80S) is None, "another key's turns are its own"
