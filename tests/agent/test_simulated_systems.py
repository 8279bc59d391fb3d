"""The chat systems under test, driven by the simulated user: a scripted agent scores what it should."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from whyrec.agent.simulated_systems import agent_system, router_system
from whyrec.store.records import Dataset
from whyrec.tools.evaluation.conversation.benchmark import (
    pick_sessions,
    prepare_simulation_store,
    simulate,
)
from whyrec.tools.evaluation.conversation.metrics import summarize
from whyrec.tools.evaluation.conversation.simulator import SimulatedUser
from whyrec.tools.evaluation.splits import leave_one_out
from whyrec.tools.recommend.recommender import Recommender

from tests.agent.chat_fakes import (
    answer_with_titles,
    last_tool_message,
    scripted,
    tool_payload,
)
from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS

TITLES = sorted(((i.title, i.item_id) for i in SMALL_CATALOG), key=lambda t: -len(t[0]))


def _asked_title(messages: list[BaseMessage]) -> str | None:
    text = next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))
    if not re.match(r"\s*why", text, re.IGNORECASE):
        return None
    return next((title for title, _ in TITLES if title.lower() in text.lower()), None)


def _disliked_title(messages: list[BaseMessage]) -> str | None:
    text = next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))
    if not re.search(r"\b(didn't like|did not enjoy|don't like)\b", text):
        return None
    return next((title for title, _ in TITLES if title.lower() in text.lower()), None)


def good_agent_turns(turns: int = 40) -> list:
    """Explains "why" questions, records dislikes, recommends otherwise, then answers from the tool's data."""

    def decide(messages: list[BaseMessage]) -> str:
        if title := _asked_title(messages):
            return json.dumps({"name": "explain_recommendation", "arguments": {"item_id": title}})
        if title := _disliked_title(messages):
            return json.dumps({"name": "record_feedback", "arguments": {"item_id": title, "kind": "disliked"}})
        text = next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))
        return json.dumps({"name": "recommend", "arguments": {"request": text, "k": 5}})

    def answer(messages: list[BaseMessage]) -> str:
        if _asked_title(messages):
            return " ".join(tool_payload(last_tool_message(messages))["evidence"])
        if title := _disliked_title(messages):
            return f"Noted: you did not like {title}."
        return answer_with_titles(5)(messages)

    return [step for _ in range(turns) for step in (decide, answer)]


def echoing_agent_turns(turns: int = 40) -> list:
    """Recommends for every turn, and answers a why question with the question turned around."""

    def decide(messages: list[BaseMessage]) -> str:
        return json.dumps({"name": "recommend", "arguments": {"k": 5}})

    def answer(messages: list[BaseMessage]) -> str:
        title = _asked_title(messages)
        return f"Why not {title}?" if title else answer_with_titles(5)(messages)

    return [step for _ in range(turns) for step in (decide, answer)]


@pytest.fixture
def simulation(settings, small_store, embedder):
    dataset = Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS))
    split = leave_one_out(dataset)
    store = prepare_simulation_store(settings, dataset, split)
    items = store.db.items()
    user = SimulatedUser(items, dict(zip(items, store.index.vectors(list(items)), strict=True)), why_rate=1.0, k=5, stop_when_found=False)
    return store, items, user, pick_sessions(split, items, 5)


def play(simulation, make_system: Callable) -> tuple[dict, list]:
    store, items, user, sessions = simulation
    system = make_system(Recommender(store, None), store.settings)
    try:
        records = simulate(system, user, sessions, 3, store)
    finally:
        system.agent.close()
    return summarize(system.name, records, items, turns=3, k=5), records


def test_a_scripted_agent_that_calls_the_right_tools_scores_full_marks_on_tools_and_why(simulation) -> None:
    row, records = play(simulation, lambda rec, settings: agent_system(rec, settings, scripted(*good_agent_turns())))
    assert row["why_turns"] >= 3, "why_rate=1: every session asks why"
    assert row["why_answer_rate"] == 1.0, "the answers restate the real evidence"
    assert row["right_tool_rate"] == 1.0
    assert row["llm_calls_per_turn"] == 2.0 and row["fallback_rate"] == 0.0
    assert row["rejections"] >= 1 and row["feedback_respected"] == 1.0, "a recorded dislike never comes back"
    for record in records:
        for t in record.turns:
            if t.turn.asks_for_items and not t.turn.feedback:
                assert 0 < len(t.reply.items) <= 5 and t.reply.first_item_seconds is not None


def test_an_agent_that_echoes_why_questions_gets_no_credit_for_them(simulation) -> None:
    row, _ = play(simulation, lambda rec, settings: agent_system(rec, settings, scripted(*echoing_agent_turns())))
    assert row["why_turns"] >= 3
    assert row["why_answer_rate"] == 0.0, "'Why not X?' cites nothing the user did"
    assert row["right_tool_rate"] < 1.0, "recommend is the wrong tool for a why question"


def test_the_keyword_router_answers_without_a_model(simulation) -> None:
    row, _ = play(simulation, router_system)
    assert row["sessions"] == 3 and row["llm_calls_per_turn"] == 0.0
    assert row["fallback_rate"] == 1.0, "every answer comes from the templates"
    assert row["why_answer_rate"] is not None
