"""The terminal chat: what a person sees, with a scripted model."""

from __future__ import annotations

import io

from whyrec.agent.chat import ChatAgent
from whyrec.ui.terminal_chat import run_terminal_chat

from tests.agent.chat_fakes import answer_with_titles, scripted


def typed(*lines: str):
    queue = list(lines)

    def read(prompt: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read


def test_a_session_streams_answers_and_says_what_they_took(recommender, settings) -> None:
    model = scripted('{"name": "recommend", "arguments": {"request": "space"}}', answer_with_titles(2))
    out = io.StringIO()

    run_terminal_chat(settings, "u1", "trip", agent=ChatAgent(recommender, settings, model=model), read=typed("", "Something with spaceships?", "/quit"), output=out)

    shown = out.getvalue()
    assert "whyrec chat — user u1, conversation 'trip'" in shown
    assert "Answers come from: model ScriptedChatModel" in shown
    assert "whyrec> Here you go:\n1. " in shown
    assert "(recommend · 2 model calls ·" in shown


def test_resuming_shows_the_earlier_turns_and_a_template_answer_says_so(recommender, settings) -> None:
    first = ChatAgent(recommender, settings, fallback_only=True)
    run_terminal_chat(settings, "u1", "trip", agent=first, read=typed("What are my interests?"), output=io.StringIO())

    out = io.StringIO()
    run_terminal_chat(settings, "u1", "trip", agent=ChatAgent(recommender, settings, fallback_only=True), read=typed("I loved Nebula Run"), output=out)

    shown = out.getvalue()
    assert "you> What are my interests?" in shown and "no language model (fallback only)" in shown
    assert "Noted: you liked Nebula Run (2005)" in shown and "template answer: fallback only" in shown


def test_a_command_missing_an_extra_names_the_extra_to_install(monkeypatch, capsys, tmp_path):
    import builtins

    from whyrec.ui.cli import main

    real_import = builtins.__import__

    def no_langchain(name, *args, **kwargs):
        if name.split(".")[0] == "langgraph":
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_langchain)
    monkeypatch.delitem(__import__("sys").modules, "whyrec.agent.chat", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "whyrec.ui.terminal_chat", raising=False)
    assert main(["--data-dir", str(tmp_path), "chat", "--user", "1"]) == 2
    err = capsys.readouterr().err.strip().replace("\r", "\n").splitlines()[-1]  # progress bars may come first
    assert err.startswith("error: `whyrec chat` needs langgraph") and "pip install 'whyrec[agent]'" in err


def test_quitting_at_once_exits_cleanly_while_the_models_are_still_loading(small_store, tmp_path):
    """The models load in the background; quitting before they are ready must still end with exit code 0."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WHYREC_DATA_DIR": str(small_store.settings.data_dir), "WHYREC_AGENT_MODE": "plan"}
    env.pop("WHYREC_LLM_BASE_URL", None)  # the embedded local model starts in the background
    done = subprocess.run(
        [sys.executable, "-m", "whyrec.ui.cli", "chat", "--user", "u1"], input="/quit\n", capture_output=True, text=True,
        env=env, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr
