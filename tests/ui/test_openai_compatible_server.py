"""The OpenAI-compatible endpoint, driven by the real ``openai`` client against the live server.

The server is what ``whyrec serve --openai --api-key ...`` starts (``launch_app``) on a real
small store (SQLite, Chroma, the packaged MiniLM); only the chat model's answers are scripted
(LangChain's fake chat model calling the real tools).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from openai import OpenAI

from whyrec.agent.chat import ChatAgent
from whyrec.ui.app import launch_app

from tests.agent.chat_fakes import answer_with_titles, scripted
from tests.ui.test_api import U1_HISTORY, free_port

OPEN_KEY = "sk-open-0123"  # may act for any user
U1_KEY = "sk-u1-4567"  # may act only for u1
RECOMMEND_CALL = json.dumps({"name": "recommend", "arguments": {"request": "space adventure", "k": 3}})


class Server:
    def __init__(self, url: str, model: Any, agents: list[ChatAgent]) -> None:
        self.url, self.model, self.agents = url, model, agents

    def client(self, key: str = OPEN_KEY) -> OpenAI:
        return OpenAI(base_url=self.url + "v1", api_key=key, max_retries=0, timeout=120)

    def humans_seen(self, call: int) -> list[str]:
        """The user messages the chat model was sent on its ``call``-th call."""
        return [m.text for m in self.model.seen[call] if isinstance(m, HumanMessage)]


@pytest.fixture
def server(small_store, recommender, settings) -> Iterator[Server]:
    # each turn: the model calls recommend (as text, like the local model), then lists what it returned
    model = scripted(*[step for _ in range(4) for step in (RECOMMEND_CALL, answer_with_titles(2))])
    agents: list[ChatAgent] = []

    def make_agent() -> ChatAgent:
        agents.append(ChatAgent(recommender, settings, model=model))
        return agents[-1]

    demo, url = launch_app(
        settings, port=free_port(), block=False, openai=True, api_keys=[OPEN_KEY, f"{U1_KEY}:u1"], chat_agent_factory=make_agent
    )
    try:
        yield Server(url, model, agents)
    finally:
        demo.close()
        for agent in agents:
            agent.close()


def test_models_lists_whyrec(server):
    assert [m.id for m in server.client().models.list()] == ["whyrec"]
    assert server.client().models.retrieve("whyrec").owned_by == "whyrec"


def test_a_completion_recommends_unseen_items_in_the_text_and_as_cards(server, recommender):
    completion = server.client().chat.completions.create(
        model="whyrec", user="u1", messages=[{"role": "user", "content": "Something with spaceships?"}]
    )

    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop" and completion.model == "whyrec"
    extra = completion.whyrec  # the extra field, kept by the client
    cards = extra["items"]
    assert len(cards) == 2 and extra["tools_called"] == ["recommend"] and not extra["fallback"]
    assert not {c["item_id"] for c in cards} & U1_HISTORY, "items u1 already rated came back"
    for card in cards:
        assert card["title"] == recommender.items[card["item_id"]].title
        assert card["title"] in text and f"`{card['item_id']}`" in text  # named in the answer, and listed as a card
    assert server.humans_seen(0) == ["Something with spaceships?"]


def test_streaming_sends_the_answer_in_chunks_and_the_cards_last(server):
    stream = server.client().chat.completions.create(
        model="whyrec", user="u1", stream=True, messages=[{"role": "user", "content": "Something with spaceships?"}]
    )
    chunks = list(stream)

    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 3, "the answer should arrive line by line, not in one piece"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    cards = chunks[-1].whyrec["items"]
    text = "".join(pieces)
    assert len(cards) == 2 and all(c["title"] in text for c in cards)
    assert not {c["item_id"] for c in cards} & U1_HISTORY
    assert text.startswith("Here you go:")


def test_the_conversation_header_keeps_memory_and_only_the_last_user_message_is_new(server):
    client = server.client()
    first = [{"role": "user", "content": "Something with spaceships?"}]
    headers = {"X-Whyrec-Conversation": "movie-night"}
    reply = client.chat.completions.with_raw_response.create(model="whyrec", user="u1", messages=first, extra_headers=headers)
    assert reply.headers["x-whyrec-conversation"] == "movie-night"
    answer = reply.parse().choices[0].message.content

    # the client resends the whole list; the agent gets only the new message, and remembers the first turn itself
    follow_up = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "More like those, please"}]
    client.chat.completions.create(model="whyrec", user="u1", messages=follow_up, extra_headers=headers)
    assert server.humans_seen(2) == ["Something with spaceships?", "More like those, please"]

    # without the header each request is a new conversation
    client.chat.completions.create(model="whyrec", user="u1", messages=[{"role": "user", "content": "Any space films?"}])
    assert server.humans_seen(4) == ["Any space films?"]


def test_a_scoped_key_acts_for_its_user_without_naming_one(server):
    completion = server.client(U1_KEY).chat.completions.create(
        model="whyrec", messages=[{"role": "user", "content": "Something with spaceships?"}], extra_headers={"X-Whyrec-Conversation": "c1"}
    )
    assert completion.whyrec["items"]
    agent = server.agents[0]
    assert agent.history("u1", "c1")[0] == ("user", "Something with spaceships?")


@pytest.mark.parametrize(
    ("key", "body", "status", "error", "code", "param"),
    [
        (OPEN_KEY, {"model": "whyrec"}, 400, openai.BadRequestError, "missing_user", "user"),
        ("sk-wrong", {"model": "whyrec", "user": "u1"}, 401, openai.AuthenticationError, "invalid_api_key", None),
        (U1_KEY, {"model": "whyrec", "user": "u2"}, 403, openai.PermissionDeniedError, "user_not_allowed", "user"),
        (OPEN_KEY, {"model": "gpt-4o", "user": "u1"}, 404, openai.NotFoundError, "model_not_found", "model"),
    ],
)
def test_refused_requests_get_openai_error_json(server, key, body, status, error, code, param):
    messages = [{"role": "user", "content": "Recommend me something"}]
    with pytest.raises(error) as caught:
        server.client(key).chat.completions.create(messages=messages, **body)
    assert caught.value.status_code == status

    raw = httpx.post(server.url + "v1/chat/completions", json={**body, "messages": messages}, headers={"Authorization": f"Bearer {key}"})
    assert raw.status_code == status
    err = raw.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code and err["param"] == param and "\n" not in err["message"]
    assert server.model.seen == [], "a refused request must not reach the chat model"


def test_missing_key_and_malformed_requests_are_refused(server):
    url = server.url + "v1/"
    auth = {"Authorization": f"Bearer {OPEN_KEY}"}
    assert httpx.get(url + "models").status_code == 401
    assert httpx.get(url + "models", headers={"Authorization": "Bearer nope"}).json()["error"]["code"] == "invalid_api_key"
    no_messages = httpx.post(url + "chat/completions", json={"model": "whyrec", "user": "u1"}, headers=auth)
    assert no_messages.status_code == 400 and no_messages.json()["error"]["param"] == "messages"
    not_json = httpx.post(url + "chat/completions", content=b"{nope", headers=auth)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    only_system = {"model": "whyrec", "user": "u1", "messages": [{"role": "system", "content": "hi"}]}
    assert httpx.post(url + "chat/completions", json=only_system, headers=auth).json()["error"]["code"] == "missing_user_message"
    assert server.model.seen == []
