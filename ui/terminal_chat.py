"""``whyrec chat --user 42``: a streaming chat in the terminal.

Says where answers come from (the local model or an endpoint), notes while the local
model starts, shows an earlier conversation when resumed, streams each answer and ends
it with one dim line of what it took (tools, model calls, seconds).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from whyrec.agent.chat import ChatAgent
from whyrec.agent.reply import Reply
from whyrec.store.errors import InputError

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings
    from whyrec.tools.recommend.recommender import Recommender

EXIT_WORDS = {"/quit", "/exit", "/q", "quit", "exit"}
HELP = 'Ask for recommendations ("something funny from the 90s"), "why X?", "why not X?", "what are my interests?", or say "I loved X". /quit to leave.'


def _dim(text: str, output: IO[str]) -> str:
    return f"\033[2m{text}\033[0m" if output.isatty() else text


def describe(reply: Reply) -> str:
    """One line of what an answer took: tools, model calls, time, fallback."""
    parts = [", ".join(reply.tools_called) or "no tool", f"{reply.llm_calls} model call{'s' if reply.llm_calls != 1 else ''}", f"{reply.seconds:.1f} s"]
    if reply.first_token_seconds is not None and reply.llm_calls:
        parts.append(f"first text after {reply.first_token_seconds:.1f} s")
    if reply.fallback:
        parts.append(f"template answer: {reply.error}")
    if reply.dropped_lines:
        parts.append(f"{len(reply.dropped_lines)} line(s) naming items no tool returned were cut")
    return "(" + " · ".join(parts) + ")"


def run_terminal_chat(
    settings: Settings,
    user_id: str,
    conversation_id: str | None = None,
    *,
    recommender: Recommender | None = None,
    agent: ChatAgent | None = None,
    server: LocalModelServer | None = None,
    read: Callable[[str], str] = input,
    output: IO[str] = sys.stdout,
) -> None:
    """Chat with ``user_id``'s recommender until /quit, Ctrl-D or Ctrl-C; ``conversation_id`` resumes a chat.
    ``server``: the embedded model the chat shares with the recommender's background summaries, if any."""

    def say(text: str = "", end: str = "\n") -> None:
        output.write(text + end)
        output.flush()

    if agent is None:
        if recommender is None:
            raise TypeError("run_terminal_chat needs a recommender or an agent")
        agent = ChatAgent(recommender, settings, server=server, on_status=lambda note: say(_dim(note, output)))
    # load the models while the person types the first message, not after it. Not daemon threads: a person who
    # quits at once waits for them to finish, because native code (torch, llama.cpp) killed mid-load at
    # interpreter exit aborted the process ("terminate called without an active exception", exit code 134)
    threading.Thread(target=agent.recommender.warm_up, name="whyrec-warm-up").start()
    threading.Thread(target=agent.start, name="whyrec-model-start").start()
    conversation_id = conversation_id or time.strftime("terminal-%Y%m%d-%H%M%S")
    user_id = str(user_id)
    try:
        say(f"whyrec chat — user {user_id}, conversation {conversation_id!r} (resume with --conversation {conversation_id})")
        say(_dim(f"Answers come from: {agent.model_location}", output))
        earlier = agent.history(user_id, conversation_id)
        for role, text in earlier[-6:]:
            say(_dim(f"{'you' if role == 'user' else 'whyrec'}> {text}", output))
        say(_dim(HELP, output))
        while True:
            try:
                text = read("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                say()
                break
            if not text:
                continue
            if text.lower() in EXIT_WORDS:
                break
            say("whyrec> ", end="")
            try:
                stream = agent.stream(user_id, conversation_id, text)
                for chunk in stream:
                    if isinstance(chunk, str):  # the text; the cards' events are for pages
                        say(chunk, end="")
            except InputError as err:
                say(f"\n{err}")
                continue
            except KeyboardInterrupt:
                say("\n(stopped)")
                continue
            if stream.reply is not None:
                if not stream.reply.text.endswith("\n"):
                    say()
                say(_dim(describe(stream.reply), output))
    finally:
        agent.close()
