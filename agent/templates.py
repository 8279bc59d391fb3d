"""The template answers: a tool's result restated in a few plain lines, with nothing a model could invent.

:func:`phrase` words what a tool returned (the items first); the hints and :func:`seen_reply` are what a turn says
when no tool can answer yet (which item? liked it or not?). The plan and template turns answer with them.
"""

from __future__ import annotations

from typing import Any

from whyrec.tools.recommend.explanation import TREND_WORTH_SAYING, ServedInterest
from whyrec.tools.understanding.titles import display_title


def _label(card: dict[str, Any]) -> str:
    title = display_title(card["title"])  # a card stored by an older version may hold the catalog's "Fog, The"
    return f"{title} ({card['year']})" if card.get("year") else title


def phrase(tool: str, artifact: dict[str, Any] | None) -> str:
    """A short answer that restates a tool's result and nothing else."""
    artifact = artifact or {}
    if error := artifact.get("error"):
        options = artifact.get("items") or []
        text = f"Sorry — {error}."
        if options:
            text += " Did you mean: " + "; ".join(f"{_label(c)} [id {c['item_id']}]" for c in options) + "?"
        return text
    if tool == "recommend":
        recs = artifact.get("recommendations") or []
        understood = [*(artifact.get("understood") or []), *(artifact.get("notes") or [])]
        if not recs:
            return "\n".join([*understood, "Nothing in the catalog matches that right now — try fewer filters."])
        lines = ["Here is what I recommend:"]
        for r in recs:
            why = []
            # only an interest it shares a category with: a horror film is not "fitting" 'Children's & Drama'
            if (interest := r.get("interest")) and ServedInterest(**interest).fits(r.get("categories") or []):
                why.append(f"fits your {interest['term']} interest in {interest['label']}")
            if r.get("because"):
                why.append("similar to " + ", ".join(f"'{display_title(b['title'])}'" for b in r["because"][:2]))
            if (trend := r.get("trend")) and trend["score"] >= TREND_WORTH_SAYING:
                why.append(f"trending: {trend['recent_users']} people took it up in the last {trend['window_days']:g} days")
            lines.append(f"{r['rank']}. {_label(r)}" + (f" — {'; '.join(why)}" if why else ""))
        if understood:  # after the items, so they come first; says what the request was taken to mean
            # a blank line first: Markdown reads a line right after "5. …" as more of item 5
            lines += ["", "(" + " ".join(n.rstrip(".") + "." for n in understood) + ")"]
        return "\n".join(lines)
    if tool == "explain_recommendation":
        e = artifact.get("explanation") or {}
        # one line per piece of evidence: eight sentences in one paragraph read as a wall
        sentences = [s for s in e.get("sentences") or [e.get("text", "")] if s]
        return "\n".join([f"About {_label(e['item'])}:", *(f"- {s}" for s in sentences)])
    if tool == "get_interest_profile":
        summary = (artifact.get("profile") or {}).get("summary") or {}
        return "\n".join(s for s in (summary.get("long_term"), summary.get("short_term"), summary.get("note") and f"({summary['note']})") if s)
    if tool == "record_feedback":
        card = (artifact.get("items") or [{}])[0]
        words = {"liked": "you liked", "disliked": "you did not like", "not_interested": "you are not interested in"}
        return f"Noted: {words.get(artifact.get('recorded', ''), 'feedback on')} {_label(card)}. Your next recommendations take it into account."
    if tool == "search_catalog":
        items = artifact.get("items") or []
        if not items:
            return "I found nothing like that in the catalog."
        return "In the catalog:\n" + "\n".join(f"- {_label(c)} [id {c['item_id']}]" for c in items)
    return ""


NO_ITEM_HINT = (
    "I could not tell which item you mean — name it by its title, its place in the list (\"the second one\") "
    "or its id (search the catalog to find it)."
)
ASK_BY_TITLE = "Ask \"why <title>?\" with a title from the list, or by its place (\"why the second one?\")."
SEEN_HINT = (
    "Did you like it? Say \"I liked <title>\" or \"I didn't like <title>\" (or \"the second one\"): "
    "either way it leaves your recommendations, and your next list learns from it."
)


def seen_reply(title: str | None) -> str:
    """The answer to "seen it" / "I have seen <title>": whyrec records likes and dislikes, not views, so it asks."""
    if title is None:
        return SEEN_HINT
    return (
        f"Did you like '{title}'? Say \"I liked {title}\" or \"I didn't like {title}\": "
        "either way it leaves your recommendations, and your next list learns from it."
    )
