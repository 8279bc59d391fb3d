"""Textual tool calls from a small local model become real tool calls in a real agent loop."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from whyrec.agent.tool_call_parsing import TextToolCallMiddleware, ToolCallError, parse_tool_calls

CALLS: list[tuple[str, dict[str, Any]]] = []


@tool
def recommend(user_id: str, request: str = "", k: int = 5) -> str:
    """Recommend items for a user."""
    CALLS.append(("recommend", {"user_id": user_id, "request": request, "k": k}))
    return f"Top {k} for user {user_id}: Alien (1979), Blade Runner (1982)"


@tool
def explain(user_id: str, item_id: str) -> str:
    """Explain why an item suits a user."""
    CALLS.append(("explain", {"user_id": user_id, "item_id": item_id}))
    return f"Item {item_id} matches user {user_id}'s sci-fi interest"


TOOLS = [recommend, explain]


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


class ScriptedChatModel(GenericFakeChatModel):
    """Replies from a script and remembers what it was sent; tools are 'bound' as a no-op."""

    seen: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*replies: str | AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies), seen=[])


def run_agent(model: ScriptedChatModel, question: str = "Something like Alien for user 7?") -> list[BaseMessage]:
    agent = create_agent(model, tools=TOOLS, middleware=[TextToolCallMiddleware()])
    return agent.invoke({"messages": [HumanMessage(question)]})["messages"]


# --- parse_tool_calls: each textual form -------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        '{"name": "explain", "arguments": {"user_id": "7", "item_id": "50"}}',
        'Let me check.\n```json\n{"name": "explain", "arguments": {"user_id": "7", "item_id": "50"}}\n```',
        '<tool_call>\n{"name": "explain", "arguments": {"user_id": "7", "item_id": "50"}}\n</tool_call>',
        '<tools>\n{"name": "explain", "arguments": "{\\"user_id\\": \\"7\\", \\"item_id\\": \\"50\\"}"}\n</tools>',
        "<tools><function><name>explain</name>"
        '<arguments>{"user_id": "7", "item_id": "50"}</arguments></function></tools>',
        '<tools><function>{"name": "explain", "parameters": {"user_id": "7", "item_id": "50"}}</function></tools>',
        '<function=explain>{"user_id": "7", "item_id": "50"}</function>',
        "<function=explain>\n<parameter=user_id>\n7\n</parameter>\n<parameter=item_id>\n50\n</parameter>\n</function>",
        '{"type": "function", "function": {"name": "explain", "arguments": {"user_id": 7, "item_id": 50}}}',
        '{"name": "explain", "user_id": "7", "item_id": "50"}',
    ],
    ids=["bare", "fence", "tool_call_tag", "tools_tag_string_args", "xml_name_args", "xml_json_body",
         "function_eq_json", "function_eq_params", "openai_shape", "flat_args"],
)
def test_each_textual_form_becomes_one_call_with_string_ids(text: str) -> None:
    calls = parse_tool_calls(text, TOOLS)

    assert [(c["name"], c["args"]) for c in calls] == [("explain", {"user_id": "7", "item_id": "50"})]
    assert calls[0]["id"] and calls[0]["type"] == "tool_call"


def test_two_calls_keep_their_order_and_get_distinct_ids() -> None:
    text = (
        '<tool_call>{"name": "recommend", "arguments": {"user_id": "7", "k": 2}}</tool_call>\n'
        '<tool_call>{"name": "explain", "arguments": {"user_id": "7", "item_id": "1"}}</tool_call>'
    )
    calls = parse_tool_calls(text, TOOLS)

    assert [c["name"] for c in calls] == ["recommend", "explain"]
    assert calls[0]["id"] != calls[1]["id"]


@pytest.mark.parametrize(
    "text",
    [
        "I recommend Alien (1979): tense, claustrophobic sci-fi.",
        'Here is one: {"name": "Alien", "year": 1979}',
        "",
    ],
)
def test_answers_that_are_not_calls_give_no_calls(text: str) -> None:
    assert parse_tool_calls(text, TOOLS) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', "no tool named 'get_weather'"),
        ('{"name": "explain", "arguments": {"user_id": "7"}}', "item_id: Field required"),
        ('{"name": "recommend", "arguments": {"user_id": "7", "k": "many"}}', "k: Input should be a valid integer"),
        ('<tool_call>{"name": "recommend", "arguments": {"user_id": </tool_call>', "could not be read"),
        ('{"name": "recommend", "arguments": ["7"]}', "must be a JSON object"),
    ],
    ids=["unknown_tool", "missing_arg", "wrong_type", "broken_json", "args_not_object"],
)
def test_bad_calls_raise_saying_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ToolCallError, match=message):
        parse_tool_calls(text, TOOLS)


# --- the middleware inside create_agent ---------------------------------------------------

def test_textual_call_runs_the_tool_and_the_answer_reaches_the_user() -> None:
    model = scripted(
        'Let me look.\n```json\n{"name": "recommend", "arguments": {"user_id": 7, "request": "like Alien", "k": 2}}\n```',
        "Try Blade Runner (1982): it shares Alien's bleak future.",
    )
    messages = run_agent(model)

    assert CALLS == [("recommend", {"user_id": "7", "request": "like Alien", "k": 2})]
    calling = next(m for m in messages if isinstance(m, AIMessage) and m.tool_calls)
    assert calling.content == "Let me look.", "the call's JSON is not kept as text the user would see"
    tool_reply = next(m for m in messages if isinstance(m, ToolMessage))
    assert "Blade Runner" in tool_reply.content
    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].content == "Try Blade Runner (1982): it shares Alien's bleak future."
    assert not messages[-1].tool_calls


def test_native_tool_calls_pass_through_untouched() -> None:
    native = AIMessage(
        content="",
        tool_calls=[{"name": "explain", "args": {"user_id": "7", "item_id": "50"}, "id": "native-1"}],
    )
    messages = run_agent(scripted(native, "Because you like sci-fi."))

    assert CALLS == [("explain", {"user_id": "7", "item_id": "50"})]
    assert next(m for m in messages if isinstance(m, ToolMessage)).tool_call_id == "native-1"
    assert messages[-1].content == "Because you like sci-fi."


def test_malformed_call_is_retried_once_with_a_correction_listing_the_tools() -> None:
    model = scripted(
        '<tool_call>{"name": "explain", "arguments": {"user_id": "7"}}</tool_call>',
        '<tool_call>{"name": "explain", "arguments": {"user_id": "7", "item_id": "50"}}</tool_call>',
        "Item 50 matches your sci-fi interest.",
    )
    messages = run_agent(model)

    assert CALLS == [("explain", {"user_id": "7", "item_id": "50"})]
    correction = model.seen[1][-1]
    assert isinstance(correction, HumanMessage)
    assert "item_id: Field required" in correction.content
    assert "recommend(user_id: string" in correction.content and "explain(user_id: string, item_id: string)" in correction.content
    # The correction was for the model only: the stored conversation does not keep it.
    assert not any("not valid" in str(m.content) for m in messages)
    assert messages[-1].content == "Item 50 matches your sci-fi interest."


def test_unknown_tool_gets_one_retry_then_the_text_is_the_answer() -> None:
    model = scripted(
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "never used",
    )
    messages = run_agent(model, "What's the weather?")

    assert CALLS == []
    assert len(model.seen) == 2, "one retry, not more"
    assert "no tool named 'get_weather'" in model.seen[1][-1].content
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls


def test_after_the_tool_answered_a_repeated_call_is_not_run_again() -> None:
    call = '{"name": "explain", "arguments": {"user_id": "7", "item_id": "50"}}'
    model = scripted(call, call, "Item 50 matches your sci-fi interest.")
    messages = run_agent(model)

    assert CALLS == [("explain", {"user_id": "7", "item_id": "50"})]
    assert "answer the user now in plain text" in model.seen[2][-1].content
    assert messages[-1].content == "Item 50 matches your sci-fi interest."


async def _arun(model: ScriptedChatModel) -> list[BaseMessage]:
    agent = create_agent(model, tools=TOOLS, middleware=[TextToolCallMiddleware()])
    result = await agent.ainvoke({"messages": [HumanMessage("Why item 50?")]})
    return result["messages"]


def test_async_agent_gets_the_same_treatment() -> None:
    import asyncio

    model = scripted(
        '<function=explain>{"user_id": "7", "item_id": "50"}</function>',
        "Item 50 matches your sci-fi interest.",
    )
    messages = asyncio.run(_arun(model))

    assert CALLS == [("explain", {"user_id": "7", "item_id": "50"})]
    assert messages[-1].content == "Item 50 matches your sci-fi interest."
