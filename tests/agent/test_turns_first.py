"""Chat turns before background summaries on the one embedded model, and the one server they share."""

from __future__ import annotations

import threading
import time

import pytest
from whyrec.agent.chat import ChatAgent
from whyrec.agent.local_model import LocalModelServer
from whyrec.agent.turns_first import TurnsFirst
from whyrec.ui.recommender_setup import open_recommender, shared_local_model


def test_background_work_waits_while_a_turn_runs_and_for_the_quiet_after_it() -> None:
    gate = TurnsFirst(quiet_seconds=0.3)
    assert gate.wait_for_quiet(timeout=0)  # nobody chatting: go at once
    waited: list[float] = []

    def background_summary() -> None:
        started = time.monotonic()
        gate.wait_for_quiet()
        waited.append(time.monotonic() - started)

    with gate.turn():
        assert not gate.wait_for_quiet(timeout=0.05)  # a turn in progress: not yet
        worker = threading.Thread(target=background_summary)
        worker.start()
        time.sleep(0.2)
        assert not waited  # still waiting on the turn
    assert not gate.wait_for_quiet(timeout=0.05)  # the turn just ended: the person may type again
    worker.join(timeout=5)
    assert waited and waited[0] >= 0.2 + 0.3 - 0.05  # the turn, then the quiet after it


def test_a_chat_turn_holds_the_gate_of_the_server_it_uses(recommender, settings) -> None:
    server = LocalModelServer.from_settings(settings, progress=False)  # never started: the turns are templates
    server.turns.quiet_seconds = 0
    agent = ChatAgent(recommender, settings, server=server, fallback_only=True)
    stream = agent.stream("u1", "c", "recommend me something")
    next(iter(stream))  # the turn is under way
    assert not server.turns.wait_for_quiet(timeout=0)
    list(stream)
    assert server.turns.wait_for_quiet(timeout=0) and stream.reply.items
    assert not server.running


def test_the_app_shares_one_embedded_model_between_the_chat_and_the_summaries(settings) -> None:
    pytest.importorskip("xllamacpp")
    on = settings.model_copy(update={"model_summaries": True})
    assert shared_local_model(settings) is None  # summaries off: the chat starts its own when it needs one
    assert shared_local_model(on, fallback_only=True) is None  # a templates-only chat starts no model
    assert shared_local_model(on.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})) is None
    server = shared_local_model(on)
    assert server is not None and not server.running  # started by the first that needs it


def test_the_embedded_model_words_summaries_only_on_the_server_a_chat_shares(small_store, settings) -> None:
    on = settings.model_copy(update={"model_summaries": True})
    assert open_recommender(on, small_store).summaries is None  # a one-shot command: no summary written after it exits
    server = LocalModelServer.from_settings(on, progress=False)
    summaries = open_recommender(on, small_store, server).summaries
    assert summaries is not None and summaries.summarizer.server is server


def test_a_summary_never_loads_the_shared_model_itself(recommender, settings) -> None:
    # two API workers each loaded the 2 GB model for a background summary and timed out on /recommend
    from whyrec.agent.interest_writer import InterestWriter

    server = LocalModelServer.from_settings(settings, progress=False)
    profile = recommender.profile("u1")
    assert not profile.is_empty
    assert InterestWriter(settings=settings, server=server)(profile, recommender.vocabulary) is None  # the template stands
    assert not server.running
