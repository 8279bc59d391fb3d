"""The conversation an OpenAI client resends, read back: the cards after an answer and the hidden marker that names them.

OpenAI frontends resend the whole ``messages`` array each turn and cannot set custom headers, so each answer of
:mod:`ui.openai_endpoint` ends with its cards (:func:`cards_text`) and a hidden line,
``<!-- whyrec {"items": [...], "list": true, "request": "..."} -->`` (:func:`history_marker`); the next request
finds the last list an answer showed in the messages it is sent (:func:`shown_list`), so "why the second one?"
points into that list and "only from the 90s" refines that request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from whyrec.ui.openai_wire import ChatMessage

LIST_TOOLS = frozenset({"recommend", "search_catalog"})  # the tools whose answer is a list "the second one" points into
MAX_LIST = 50  # the most items read back from one answer's marker


def cards_text(items: Iterable[dict[str, Any]]) -> str:
    """The item cards as Markdown lines, appended to the answer so plain chat frontends show them."""
    lines = []
    for n, item in enumerate(items, start=1):
        year = f" ({item['year']})" if item.get("year") else ""
        categories = ", ".join(item.get("categories") or [])
        lines.append(f"{n}. **{item['title']}**{year}" + (f" — {categories}" if categories else "") + f" · item `{item['item_id']}`")
    return ("\n\n**Items**\n" + "\n".join(lines)) if lines else ""


_MARKER = re.compile(r"<!-- whyrec (\{.*?\}) -->")
_CARD_LINE = re.compile(r"^\s*\d+\.\s.*·\s*item\s+`([^`\n]+)`\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ShownList:
    """What an earlier answer showed: the item ids of its list, in order, and the request they answered."""

    item_ids: tuple[str, ...]
    request: str | None = None


def history_marker(items: Sequence[dict[str, Any]], reply: Any) -> str:
    """The hidden last line of an answer: its ``items`` (the turn's answered :class:`~agent.events.ItemsShown`),
    whether they are a list, and the request the list answered (from ``reply``'s tool calls).

    ``<`` and ``>`` are written as JSON escapes, so nothing a request says can close the comment early.
    """
    if reply is None or not items:
        return ""
    called = [call for call in reply.tool_calls or [] if call.get("name") in LIST_TOOLS]
    request = next((call["args"].get("request") for call in reversed(called) if call["name"] == "recommend"), None)
    data = {"items": [str(item["item_id"]) for item in items], "list": bool(called), "request": request or None}
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"\n\n<!-- whyrec {text} -->"


def shown_list(messages: list[ChatMessage]) -> ShownList | None:
    """The last list an earlier answer of this endpoint showed, read from the assistant messages a client resent.

    The latest marker that says "list" wins (an explanation since does not replace the list it explained); an
    answer whose marker a client dropped counts by its visible ``item `id``` lines when they name two or more items.
    """
    for message in reversed(messages):
        if message.role != "assistant":
            continue
        text = message.text
        markers = _MARKER.findall(text)
        if markers:
            try:
                data = json.loads(markers[-1])
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("list") and isinstance(data.get("items"), list):
                request = data.get("request")
                ids = tuple(str(i) for i in data["items"][:MAX_LIST])
                return ShownList(ids, str(request) if isinstance(request, str) and request else None)
            continue
        if len(ids := _CARD_LINE.findall(text)) >= 2:
            return ShownList(tuple(ids[:MAX_LIST]))
    return None


def prompt_text(messages: list[ChatMessage]) -> str:
    """The messages as one text, the way a chat template lays them out (role, then content), for counting tokens."""
    return "\n".join(f"{m.role}\n{m.text}" for m in messages)
