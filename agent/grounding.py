"""Checks a model's answer against what the tools returned: items it was not given are cut.

A small model happily adds well-known titles that the recommender never returned, or
repeats an item from its training data with a made-up reason. The check is line by
line (answers are lists), so it also works while the answer streams: a line is shown
only once it is complete and checked. A line is dropped when it

* names a catalog item (by title or by id) that no tool returned in this conversation
  and the user did not name themselves, or
* sets off a title the catalog does not have (``"Inception (2010)"``, ``**Inception**``,
  a quoted name) that appears nowhere in the tool data or the user's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from whyrec.store.records import Item
from whyrec.tools.understanding.titles import TitleIndex, display_title, normalise_title

_YEAR_TAGGED = re.compile(r"\((?:19|20)\d\d\)")
_SET_OFF = re.compile(r"\*\*([^*\n]{2,80})\*\*|(?<![\w*])\*([^*\n]{2,80})\*(?![\w*])|\"([^\"\n]{2,80})\"|“([^”\n]{2,80})”")
_ITEM_ID = re.compile(r"\b(?:item[ _]?id|item|id)\s*[:#=]?\s*[\"'`]?([\w-]+)", re.IGNORECASE)
_JOINERS = {"of", "the", "a", "an", "and", "in", "on", "to", "for"}  # small words inside a title run
_HEADINGS = {
    "why", "note", "notes", "summary", "because", "evidence", "reason", "reasons", "recommendations", "profile",
    "long-term", "long term", "short-term", "short term", "recent", "recently", "lately", "interests", "tip",
    "rising", "fading", "status", "rank", "score", "scores", "categories", "similar", "liked", "disliked",
}


@dataclass
class Grounding:
    """What an answer may name: catalog items from tools or the user, and the tool data's words."""

    titles: TitleIndex
    allowed_ids: set[str] = field(default_factory=set)
    vocabulary: str = ""

    @classmethod
    def build(cls, titles: TitleIndex, tool_items: Iterable[dict[str, Any]], tool_texts: Iterable[str], user_text: str = "") -> Grounding:
        allowed = {str(i["item_id"]) for i in tool_items if isinstance(i, dict) and "item_id" in i}
        allowed |= {item.item_id for _, _, item in titles.mentions(user_text)}
        if (named := titles.resolve(user_text.strip())) is not None:
            allowed.add(named.item_id)
        vocabulary = "\n".join([*tool_texts, user_text]).lower()
        return cls(titles, allowed, vocabulary)

    def allows(self, item: Item) -> bool:
        if item.item_id in self.allowed_ids:
            return True
        # the same title under another id (MovieLens has a few duplicates) is the same film to a reader
        return any(i.item_id in self.allowed_ids for i in self.titles.lookup(item.title))

    def problems(self, line: str) -> list[str]:
        """Why ``line`` must not be shown; empty when it may."""
        problems = []
        mentioned = self.titles.mentions(line)
        for _, _, item in mentioned:
            if not self.allows(item):
                problems.append(f"names {item.title!r} ({item.item_id}), which no tool returned")
        for match in _ITEM_ID.finditer(line):
            item = self.titles.items.get(match.group(1))
            if item is not None and not self.allows(item):
                problems.append(f"names item id {item.item_id}, which no tool returned")
        if not any(self.allows(item) for _, _, item in mentioned) and (lead := _list_lead(line)) and not self._known_words(lead):
            problems.append(f"lists {lead!r}, which no tool returned")
        covered = [(s, e) for s, e, _ in mentioned]
        for candidate, start in self._title_candidates(line):
            if any(s <= start < e or start <= s < start + len(candidate) for s, e in covered):
                continue
            if self._known_words(candidate):
                continue
            if known := self.titles.lookup(candidate):
                item = known[0]
                if not self.allows(item):
                    problems.append(f"names {item.title!r}, which no tool returned")
                continue
            problems.append(f"names {candidate!r}, which is not in the catalog")
        return problems

    def _known_words(self, candidate: str) -> bool:
        text = candidate.strip().strip(".,:;!?'\"").lower()
        if not text or text in _HEADINGS or not any(c.isalpha() for c in text):
            return True
        if text in self.vocabulary or normalise_title(text) in normalise_title(self.vocabulary):
            return True
        return candidate[:1].islower()

    def _title_candidates(self, line: str) -> list[tuple[str, int]]:
        """Text the line presents as a title: set off by quotes/bold/italics, or right before '(1999)'."""
        candidates = []
        for match in _SET_OFF.finditer(line):
            group = next(g for g in match.groups() if g is not None)
            after = line[match.end() : match.end() + 2]
            if group.rstrip().endswith((":", ".", "?", "!")) or after.startswith(":") and " " not in group.strip():
                continue  # "**Why:**", "**Note**:" are headings, not titles
            candidates.append((group.strip(), match.start()))
        for match in _YEAR_TAGGED.finditer(line):
            before = line[: match.start()].rstrip(" *_\"'”’")
            words = before.split()
            # the longest run of capitalised words right before the year is the title it tags
            run: list[str] = []
            for word in reversed(words[-8:]):
                if word[:1].isupper() or word[:1].isdigit() or (run and word.lower() in _JOINERS):
                    run.insert(0, word)
                else:
                    break
            while run and run[0].lower() in _JOINERS and len(run) > 1 and not self.titles.lookup(" ".join(run)):
                run.pop(0)
            if not run:
                continue
            # prefer the longest suffix the catalog knows: "Try Star Voyage (1990)" names 'Star Voyage'
            for n in range(len(run)):
                suffix = " ".join(run[n:]).strip("*_\"'“‘:,.-–—1234567890").strip()
                if suffix and (self.titles.lookup(suffix) or suffix.lower() in self.vocabulary):
                    run = run[n:]
                    break
            else:
                while len(run) > 1 and run[0].rstrip(".:,").lower() in {"try", "watch", "see", "recommend", "like", "also", "then"}:
                    run.pop(0)
            title = " ".join(run).strip("*_\"'“‘:,.-–—").strip()
            if title:
                candidates.append((title, line.find(title)))
        return candidates

    def correct(self, line: str) -> str:
        """``line`` with returned items' ids written as titles by their title ('Space3 (2001)' -> 'Alien Frontier (2001)').

        Small models often name an item by the id they were shown next to its title.
        """
        ids = {i.lower(): i for i in self.allowed_ids if i in self.titles.items and not i.isdigit()}
        if not ids:
            return line

        def title_of(match: re.Match[str]) -> str:
            item_id = ids.get(match.group(0).lower())
            return display_title(self.titles.items[item_id].title) if item_id else match.group(0)

        pattern = r"(?<![\w-])(?:" + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r")(?![\w-])"
        return re.sub(pattern, title_of, line, flags=re.IGNORECASE)


_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(?P<body>.+)$")
_SMALL_WORDS = {"of", "the", "a", "an", "and", "in", "on", "to", "for", "at", "with", "from", "by", "vs", "de", "la", "le"}


def _list_lead(line: str) -> str | None:
    """The title-like start of a list line ('1. **Star Wars**: Episode IV - ...' -> 'Star Wars'), if any."""
    match = _LIST_LINE.match(line)
    if not match:
        return None
    lead = re.split(r"\s+[-–—]\s+|:\s|:$|\s\(|,\s|\*\*\s", match.group("body").strip())[0].strip("*_\"'“”‘’ ")
    words = [w for w in lead.split() if w.lower() not in _SMALL_WORDS]
    if not words or len(words) > 8 or not lead[:1].isupper():
        return None
    capitalised = sum(1 for w in words if w[:1].isupper() or w[:1].isdigit())
    return lead if capitalised >= max(1, round(0.6 * len(words))) else None


def ground_answer(text: str, grounding: Grounding) -> tuple[str, list[str]]:
    """The answer without the lines that name items no tool returned (blank runs closed up), and what was cut."""
    kept, dropped = [], []
    for line in text.split("\n"):
        if grounding.problems(line):
            dropped.append(line)
        else:
            kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), dropped


def mentioned_items(text: str, titles: TitleIndex) -> list[Item]:
    """The catalog items ``text`` names, in order, each once."""
    seen: dict[str, Item] = {}
    for _, _, item in titles.mentions(text):
        seen.setdefault(item.item_id, item)
    return list(seen.values())
