"""What a simulated conversation scores: the checks and the per-system summary row.

Each check is a plain function on what the system showed or said and on the truth from the
store (the user's real history and feedback), never on the system's own account of itself:

* :func:`why_answer_is_grounded`: a why answer counts only when it cites, by title, an item the
  user really interacted with, or states the asked item's true status (already seen, disliked,
  outside the request), and claims no status that is false.
* :class:`Constraints` (in :mod:`tools.evaluation.conversation.simulator`) decides request satisfaction.
* :func:`summarize` turns session records into one row of ``benchmarks/conversation.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from whyrec.store.records import Item
from whyrec.tools.evaluation.conversation.simulator import (
    Constraints,
    UserTurn,
    names_item,
    normalised,
)

# Phrases that claim a status. Wording of tools.recommend.explanation.STATUS_SENTENCES and ordinary paraphrases.
STATUS_CLAIMS = {
    "seen": re.compile(
        r"\balready (seen|watched|rated|interacted)|\byou(?:'ve| have) (?:already )?(?:seen|watched|rated|interacted with) (?:it|this)\b",
        re.IGNORECASE,
    ),
    "disliked": re.compile(r"\bnot for you\b|\byou (?:disliked|didn't like|did not like|rejected)\b|\bmarked (?:it|this)\b", re.IGNORECASE),
    # a claim about the asked item ("your filters exclude it"), not a description of the request ("Filtered to Comedy")
    "filtered": re.compile(
        r"\bexclude[sd]? (?:it|this)\b|\bfiltered (?:it )?out\b|\brules? (?:it|this) out\b|\b(?:it|this) (?:is|was) (?:excluded|filtered)\b"
        r"|\boutside (?:your|the) (?:request|filters?|years?|range)\b|\b(?:it|this) does(?:n't| not) (?:match|fit) your\b",
        re.IGNORECASE,
    ),
}
MIN_TITLE_CHARS = 4  # shorter titles ("It", "Go") match ordinary words; they do not count as citations


@dataclass
class SystemReply:
    """What a system under test did with one turn."""

    items: list[str]  # item ids shown, best first
    text: str = ""
    tools: list[str] = field(default_factory=list)  # tools called (empty for the plain API)
    llm_calls: int = 0
    fallback: bool = False
    seconds: float = 0.0
    first_item_seconds: float | None = None  # from the message to the first shown item; None when none shown
    error: str | None = None
    planned_by: str | None = None  # the chat's plan mode: "rules", "model" or "default"


@dataclass
class TurnRecord:
    turn: UserTurn
    reply: SystemReply
    index: int  # 1-based among the turns that ask for items (0 for why turns)


@dataclass
class SessionRecord:
    user_id: str
    target_id: str
    turns: list[TurnRecord] = field(default_factory=list)
    why_grounded: list[bool] = field(default_factory=list)

    def success(self, k: int, within: int) -> bool:
        """The target was among the first ``k`` shown items in one of the first ``within`` item turns."""
        return any(t.index and t.index <= within and self.target_id in t.reply.items[:k] for t in self.turns)

    @property
    def item_turns(self) -> int:
        return max((t.index for t in self.turns), default=0)


def true_statuses(item: Item, history_ids: set[str], disliked_ids: set[str], constraints: Constraints) -> set[str]:
    """Every status the asked item really has, from the store and the request: seen, disliked, filtered
    (outside what was asked; a disliked item is filtered out too). Empty when it has none to state."""
    statuses = set()
    if item.item_id in disliked_ids:
        statuses |= {"disliked", "filtered"}
    if item.item_id in history_ids:
        statuses.add("seen")
    if constraints.any and not constraints.met_by(item):
        statuses.add("filtered")
    return statuses


def claimed_statuses(text: str) -> set[str]:
    return {status for status, pattern in STATUS_CLAIMS.items() if pattern.search(text)}


def cited_history(text: str, asked: Item, history: Iterable[Item]) -> list[Item]:
    """History items (other than the asked one) named in ``text`` by title."""
    return [
        h for h in history
        if h.item_id != asked.item_id and len(normalised(h.title)) >= MIN_TITLE_CHARS and names_item(text, h)
    ]


def why_answer_is_grounded(text: str, asked: Item, history: Sequence[Item], disliked_ids: set[str], constraints: Constraints) -> bool:
    """Strict: true evidence (a real history title, or a true status) and no false status claim."""
    statuses = true_statuses(asked, {h.item_id for h in history}, disliked_ids, constraints)
    claims = claimed_statuses(text)
    if claims - statuses:
        return False
    if claims & statuses:
        return True
    return bool(cited_history(text, asked, history))


def turn_satisfaction(shown: Sequence[str], items: Mapping[str, Item], constraints: Constraints, k: int) -> tuple[float, float] | None:
    """(hard, soft) share of the first ``k`` shown items meeting the constraints; None when nothing
    was shown or nothing was asked for yet."""
    top = [items[i] for i in shown[:k] if i in items]
    if not top or not constraints.any:
        return None
    hard = sum(constraints.met_by(i) for i in top) / len(top)
    soft = sum(constraints.softly_met_by(i) for i in top) / len(top)
    return hard, soft


def feedback_outcomes(record: SessionRecord) -> tuple[list[bool], list[bool]]:
    """For each rejection followed by a shown list (the answer to the rejection itself, or a later one):
    (gone from that next list, never came back)."""
    next_turn, never = [], []
    for n, t in enumerate(record.turns):
        if t.turn.kind != "reject" or not t.turn.item_id:
            continue
        later = [u.reply.items for u in record.turns[n:] if u.turn.asks_for_items and u.reply.items]
        if not later:
            continue
        next_turn.append(t.turn.item_id not in later[0])
        never.append(all(t.turn.item_id not in shown for shown in later))
    return next_turn, never


def _share(values: Sequence[bool | float]) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None


def _quantile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.quantile(values, q)), 3) if len(values) else None


def summarize(system: str, records: Sequence[SessionRecord], items: Mapping[str, Item], turns: int, k: int = 10) -> dict:
    """One row of the conversation table (names as in ``benchmarks/conversation.json``); request
    satisfaction reads the first ``k`` items shown."""
    row: dict = {"system": system, "sessions": len(records), "turns": turns}
    for kk in (10, 5):  # the target among the first 10 (5) items shown, whatever the system shows
        for within in (1, 3, 5):
            name = f"success@{kk}_{within}turn" + ("s" if within > 1 else "")
            row[name] = _share([r.success(kk, within) for r in records]) if within <= turns else None
    hard, soft, why, intent, latency, first, llm, fell, by_model = [], [], [], [], [], [], [], [], []
    for r in records:
        why += r.why_grounded
        for t in r.turns:
            latency.append(t.reply.seconds)
            llm.append(t.reply.llm_calls)
            fell.append(t.reply.fallback)
            if t.reply.planned_by is not None:
                by_model.append(t.reply.planned_by == "model")
            if not system.startswith("api"):  # the plain API has no tools to pick: the caller picks the method
                intent.append(t.turn.expected_tool in t.reply.tools)
            if t.turn.asks_for_items:
                if t.reply.first_item_seconds is not None:
                    first.append(t.reply.first_item_seconds)
                if (s := turn_satisfaction(t.reply.items, items, t.turn.constraints, k)) is not None:
                    hard.append(s[0])
                    soft.append(s[1])
    gone_next, never = [], []
    for r in records:
        a, b = feedback_outcomes(r)
        gone_next += a
        never += b
    row.update(
        request_satisfaction=_share(hard),
        request_satisfaction_soft=_share(soft),
        satisfaction_turns=len(hard),
        why_turns=len(why),
        why_answer_rate=_share(why),
        rejections=len(never),
        rejected_gone_next_turn=_share(gone_next),
        feedback_respected=_share(never),
        right_tool_rate=_share(intent) if system != "api" else None,
        turn_p50_s=_quantile(latency, 0.5),
        turn_p95_s=_quantile(latency, 0.95),
        first_items_p50_s=_quantile(first, 0.5),
        first_items_p95_s=_quantile(first, 0.95),
        llm_calls_per_turn=_share(llm),
        fallback_rate=_share(fell),
        planned_by_model_rate=_share(by_model),
        turns_played=len(latency),
    )
    return row


TABLE_COLUMNS = (
    "system", "sessions", "success@10_1turn", "success@10_3turns", "success@10_5turns", "success@5_3turns",
    "request_satisfaction", "request_satisfaction_soft", "why_answer_rate", "feedback_respected", "right_tool_rate",
    "turn_p50_s", "turn_p95_s", "first_items_p50_s", "llm_calls_per_turn", "fallback_rate", "planned_by_model_rate",
    "stale_constraint_rate", "dislike_respected", "why_nth_on_cards",
)
