"""What a chat turn hands back: the :class:`Reply` it ends with, and the :class:`ReplyStream` it is read through.

A front end iterates the stream for the checked answer's text (and the typed events of :mod:`agent.events`) as the
turn produces them, then reads ``stream.reply`` for the whole turn: its text, items, tool calls and timings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from whyrec.agent.events import TurnEvent


@dataclass
class Reply:
    """One answered turn and what it took."""

    text: str
    items: list[dict[str, Any]]  # item cards {item_id, title, year, categories} the answer recommends or names
    tools_called: list[str]
    llm_calls: int
    fallback: bool
    seconds: float
    first_token_seconds: float | None = None
    conversation_id: str = ""
    dropped_lines: list[str] = field(default_factory=list)  # lines cut because they named items no tool returned
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "args"} of each call, as made
    error: str | None = None  # why the fallback answered, when it did
    intent: str | None = None  # plan mode: what the turn was understood to ask
    planned_by: str | None = None  # plan mode: "rules", "model" or "default"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReplyStream:
    """Iterate for the answer's text chunks and the turn's events; ``.reply`` holds the :class:`Reply` afterwards."""

    def __init__(self, run: Callable[[ReplyStream], Iterator[str | TurnEvent]]):
        self.reply: Reply | None = None
        self._chunks = run(self)

    def __iter__(self) -> Iterator[str | TurnEvent]:
        return self._chunks

    def __next__(self) -> str | TurnEvent:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()  # type: ignore[attr-defined]
