"""The OpenAI-compatible endpoint, driven by the real ``openai`` client (and LangChain's ``ChatOpenAI``) against the
live server.

The server is what ``whyrec serve --openai --api-key ...`` starts (``launch_app``) on a real
small store (SQLite, Chroma, the packaged MiniLM); only the chat model's answers are scripted
(LangChain's fake chat model calling the real tools). Turns the rules decide run with a model that
must never be called.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from openai import OpenAI

from whyrec.agent.chat import ChatAgent
from whyrec.agent.events import ItemsShown
from whyrec.store.ports import free_port
from whyrec.store.records import Dataset, Item
from whyrec.tools.recommend.recommender import Recommender
from whyrec.ui.server import launch_app
from whyrec.ui.openai_history import shown_list
from whyrec.ui.openai_wire import ChatMessage

from tests.agent.chat_fakes import answer_with_titles, scripted
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from tests.ui.test_api import U1_HISTORY

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


# --- the messages array is the conversation ------------------------------------------------------

HORROR = [
    Item("hor1", "The Shining", "A writer goes mad in a snowbound haunted hotel.", ("Horror",), 1980),
    Item("hor2", "The Thing", "A shape-shifting alien terrorises an Antarctic research station.", ("Horror", "Sci-Fi"), 1982),
    Item("hor3", "Poltergeist", "Ghosts haunt a suburban family's house.", ("Horror",), 1982),
    Item("hor4", "A Nightmare on Elm Street", "A killer stalks teenagers in their dreams.", ("Horror",), 1984),
    Item("hor5", "Scream", "A masked killer stalks teenagers in a small town.", ("Horror",), 1996),
]
SCARY_80S = "something scary from the 80s"


@pytest.fixture
def rules_server(empty_store, reranker, settings) -> Iterator[Server]:
    """The app over a catalog with 80s horror, its chat decided by the rules (plan mode; the model is never called)."""
    empty_store.ingest(Dataset("horror", [*SMALL_CATALOG, *HORROR], list(SMALL_INTERACTIONS)), progress=False)
    recommender = Recommender(empty_store, reranker)
    model = scripted()  # no answers: a call to it would fail the turn's reading and show in model.seen
    agents: list[ChatAgent] = []

    def make_agent() -> ChatAgent:
        agents.append(ChatAgent(recommender, settings, model=model, mode="plan"))
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


def numbered_titles(content: str) -> list[str]:
    """The titles of the numbered item list the endpoint appends to an answer, as a person reads them."""
    return re.findall(r"^\d+\. \*\*(.+?)\*\*", content, re.MULTILINE)


def test_the_endpoint_lists_the_cards_the_turn_showed(rules_server):
    """The cards after an answer are the items of the turn's ItemsShown events: the list the page draws as it comes,
    and the items the finished answer offers, which the endpoint lists."""
    ask = "something scary from the 80s"
    completion = rules_server.client().chat.completions.create(model="whyrec", user="u1", messages=[{"role": "user", "content": ask}])
    stream = rules_server.agents[0].stream("u1", "the-same-ask", ask)
    shown = [chunk for chunk in stream if isinstance(chunk, ItemsShown)]

    drawn, answered = shown[0], shown[-1]
    assert not drawn.answered and drawn.request["request"] == ask and answered.answered
    listed = completion.whyrec["items"]
    assert listed and [card["item_id"] for card in listed] == [card["item_id"] for card in answered.items] == [card["item_id"] for card in drawn.items]
    assert numbered_titles(completion.choices[0].message.content) == [card["title"] for card in answered.items]


def test_why_the_second_one_works_from_the_message_history_alone_with_the_openai_client(rules_server):
    first = [{"role": "user", "content": SCARY_80S}]
    listed = rules_server.client().chat.completions.create(model="whyrec", user="u1", messages=first)
    content = listed.choices[0].message.content
    titles = numbered_titles(content)
    assert len(titles) >= 2 and set(titles) <= {"The Shining", "The Thing", "Poltergeist", "A Nightmare on Elm Street"}, content

    # a new client, no header: only the resent history says what "the second one" is
    history = [*first, {"role": "assistant", "content": content}, {"role": "user", "content": "why the second one?"}]
    why = rules_server.client().chat.completions.create(model="whyrec", user="u1", messages=history)

    answer = why.choices[0].message.content
    assert titles[1] in answer and "could not tell which item" not in answer, answer
    assert [card["title"] for card in why.whyrec["items"]] == [titles[1]]
    assert why.whyrec["tools_called"] == ["explain_recommendation"]
    assert rules_server.model.seen == [], "both turns are the rules' to decide"


def test_langchain_chat_openai_holding_a_history_gets_the_second_one_explained(rules_server):
    def chat() -> ChatOpenAI:  # a fresh client per call, as a stateless app would make; the scoped key names the user
        return ChatOpenAI(base_url=rules_server.url + "v1", api_key=U1_KEY, model="whyrec", max_retries=0, timeout=120)

    history: list[Any] = [HumanMessage(SCARY_80S)]
    listed = chat().invoke(history)
    titles = numbered_titles(listed.text)
    assert len(titles) >= 2, listed.text

    history += [listed, HumanMessage("why the second one?")]
    why = chat().invoke(history)

    assert titles[1] in why.text and titles[0] not in why.text, why.text
    usage = why.usage_metadata
    assert usage and usage["input_tokens"] > listed.usage_metadata["input_tokens"] > 0, "the longer history counts more prompt tokens"
    assert usage["output_tokens"] > 0 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_a_refinement_from_history_keeps_the_request_of_the_list(rules_server):
    first = [{"role": "user", "content": SCARY_80S}]
    listed = rules_server.client().chat.completions.create(model="whyrec", user="u1", messages=first)
    history = [*first, {"role": "assistant", "content": listed.choices[0].message.content}, {"role": "user", "content": "just 2"}]

    shorter = rules_server.client().chat.completions.create(model="whyrec", user="u1", messages=history)

    cards = shorter.whyrec["items"]
    assert len(cards) == 2 and all(card["item_id"].startswith("hor") and card["year"] < 1990 for card in cards), cards


def test_usage_is_counted_when_streaming_with_include_usage(rules_server):
    stream = rules_server.client().chat.completions.create(
        model="whyrec", user="u1", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": SCARY_80S}]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.prompt_tokens > 0
    assert len(text) / 8 < usage.completion_tokens < len(text), "about a token per four characters of the answer"


def test_the_header_keeps_its_meaning_over_the_history(rules_server):
    """With X-Whyrec-Conversation the agent's memory of that conversation is the context, not the messages sent."""
    client = rules_server.client()
    headers = {"X-Whyrec-Conversation": "scary-night"}
    listed = client.chat.completions.create(model="whyrec", user="u1", messages=[{"role": "user", "content": SCARY_80S}], extra_headers=headers)
    titles = numbered_titles(listed.choices[0].message.content)

    # a client that sends only the new message: the header's memory still knows the list
    why = client.chat.completions.create(model="whyrec", user="u1", messages=[{"role": "user", "content": "why the second one?"}], extra_headers=headers)
    assert titles[1] in why.choices[0].message.content


def test_the_list_is_read_from_the_visible_items_when_a_client_drops_the_hidden_line():
    content = "Here you go\n\n**Items**\n1. **The Shining** (1980) — Horror · item `hor1`\n2. **The Thing** (1982) — Horror · item `hor2`"
    marked = content + '\n\n<!-- whyrec {"items":["hor1","hor2"],"list":true,"request":"something scary"} -->'
    explained = 'Why The Thing: ...\n\n<!-- whyrec {"items":["hor2"],"list":false,"request":null} -->'

    def messages(*answers: str) -> list[ChatMessage]:
        return [ChatMessage(role=role, content=text) for answer in answers for role, text in (("user", "q"), ("assistant", answer))]

    assert shown_list(messages(content)).item_ids == ("hor1", "hor2")
    assert shown_list(messages(marked)).request == "something scary"
    assert shown_list(messages(marked, explained)).item_ids == ("hor1", "hor2"), "an explanation since does not replace the list"
    assert shown_list(messages("No list here.")) is None


def test_v1_answers_from_the_first_request_the_server_takes(small_store, recommender, settings):
    """Before, ``/v1`` was mounted after ``launch`` returned, so a client polling a starting server got 404s."""
    port, statuses, stop = free_port(), [], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                statuses.append(httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {OPEN_KEY}"}, timeout=5).status_code)
            except httpx.TransportError:  # not listening yet
                time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    demo, _ = launch_app(settings, port=port, block=False, openai=True, api_keys=[OPEN_KEY], fallback_chat=True)
    try:
        deadline = time.monotonic() + 30
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(timeout=10)
        demo.close()
    assert statuses and set(statuses) == {200}
