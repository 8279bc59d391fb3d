"""Rebuild benchmarks/data/redial_ml100k.jsonl: ReDial dialogues whose accepted films are in the MovieLens-100K catalog.

Run:  .venv/bin/python benchmarks/build_redial.py /path/to/redial   [--output ...] [--data-dir ~/.local/share/whyrec]

The folder holds ReDial's ``train_data.jsonl`` / ``valid_data.jsonl`` / ``test_data.jsonl`` (Li et al., NeurIPS
2018, CC BY 4.0; any subset of the three is read). Each film ReDial mentions ("Title (Year)") is mapped to a catalog
item of the store's ``items`` table:

1. normalised title: accents dropped, lower case, "&" read as "and", a trailing article moved to the front and then
   every leading article dropped ("Shining, The" = "The Shining" = "shining"; also Le/La/Les/L'/Il/El/Der/Die/Das),
   punctuation dropped, spaces collapsed; a catalog title's parenthesised alternative ("Seven (Se7en)") is a second
   name of the same item;
2. year within one of the catalog's (MovieLens years are release dates and sometimes a year off);
3. no exact name: the closest catalog name of a year within one, if difflib's ratio is at least 0.92 (printed);
4. a mention without a year maps only when exactly one catalog item has that name;
5. several catalog items on the same name and year (MovieLens has a few duplicate entries): the most rated one.

Per dialogue (the seeker is the ``initiatorWorkerId``): the seeker's answers (``initiatorQuestions``; for a film
missing there, the recommender's ``respondentQuestions``) say per film whether it was ``suggested`` by the
recommender and ``liked`` (0 no, 1 yes, 2 did not say). **Accepted** = suggested and liked; **seeker likes** = not
suggested and liked. A dialogue is kept when at least one accepted film maps to the catalog. Its seeker turns
(consecutive seeker messages joined by a space) have each ``@id`` replaced by the film's ReDial name ("Title (Year)",
spaces collapsed). ``turns_before_accepted`` counts the seeker turns before any accepted film is first mentioned by
either side: what the human recommender had heard when suggesting it. Prints coverage.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sqlite3
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).parent
OUTPUT = HERE / "data" / "redial_ml100k.jsonl"
SPLITS = ("test", "valid", "train")  # the order of the output: --limit in redial.py takes test dialogues first
ARTICLES = ("the", "a", "an", "le", "la", "les", "l'", "il", "el", "der", "die", "das")
FUZZY = 0.92
_TRAILING_ARTICLE = re.compile(r"^(.*),\s*(" + "|".join(re.escape(a) for a in ARTICLES) + r")$", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:" + "|".join(re.escape(a) for a in ARTICLES if a != "l'") + r")\s+|^l'\s*", re.IGNORECASE)
_MENTION = re.compile(r"@(\d+)")
_REDIAL_TITLE = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


def normalise(title: str) -> str:
    """A comparable form of a film title (see the module docstring, rule 1)."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().strip()
    text = text.replace("&", " and ")
    moved = _TRAILING_ARTICLE.match(text)
    if moved:
        text = f"{moved.group(2)} {moved.group(1)}"
    text = text.lower()
    text = _LEADING_ARTICLE.sub("", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def catalog_names(title: str) -> list[str]:
    """The normalised names of a catalog title: the title and its parenthesised alternative, if any."""
    main, _, rest = title.partition(" (")
    names = [normalise(main)]
    if rest.endswith(")"):
        names.append(normalise(rest[:-1]))
    return [n for n in dict.fromkeys(names) if n]


class CatalogMatcher:
    def __init__(self, sqlite_path: Path):
        with sqlite3.connect(sqlite_path) as conn:
            rows = conn.execute("SELECT item_id, title, year FROM items").fetchall()
            ratings = Counter(dict(conn.execute("SELECT item_id, COUNT(*) FROM interactions GROUP BY item_id").fetchall()))
        self.titles = {str(i): (t, y) for i, t, y in rows}
        self.by_name: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
        for item_id, title, year in rows:
            for name in catalog_names(title):
                self.by_name[name].append((str(item_id), year))
        self.ratings = ratings
        self.fuzzy: list[tuple[str, str]] = []  # (ReDial name, catalog title) of every fuzzy match, for the printout

    def _best(self, ids: list[str]) -> str:
        return max(sorted(set(ids)), key=lambda i: self.ratings.get(i, 0))

    def match(self, redial_title: str) -> tuple[str | None, str]:
        """The catalog item for a ReDial name, and how it matched (exact / fuzzy / no-year / none)."""
        parsed = _REDIAL_TITLE.match(redial_title or "")
        name, year = (normalise(parsed.group(1)), int(parsed.group(2))) if parsed else (normalise(redial_title or ""), None)
        if not name:
            return None, "none"
        if year is None:
            found = {i for i, _ in self.by_name.get(name, [])}
            return (found.pop(), "no-year") if len(found) == 1 else (None, "none")
        near = [i for i, y in self.by_name.get(name, []) if y is not None and abs(y - year) <= 1]
        if near:
            return self._best(near), "exact"
        candidates = {n: [i for i, y in hits if y is not None and abs(y - year) <= 1] for n, hits in self.by_name.items()}
        candidates = {n: ids for n, ids in candidates.items() if ids}
        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=FUZZY)
        if close:
            item = self._best(candidates[close[0]])
            self.fuzzy.append((redial_title, f"{self.titles[item][0]} ({self.titles[item][1]})"))
            return item, "fuzzy"
        return None, "none"


def clean_name(title: str) -> str:
    return " ".join((title or "").split())


def answers(dialogue: dict) -> dict[str, dict]:
    """The seeker's answer per film, the recommender's where the seeker gave none."""
    seeker = dialogue.get("initiatorQuestions") or {}
    other = dialogue.get("respondentQuestions") or {}
    return {m: seeker.get(m) or other.get(m) or {} for m in {*seeker, *other}}


def seeker_turns(dialogue: dict) -> tuple[list[str], list[set[str]], list[tuple[int, str]]]:
    """Seeker turns (mentions spelled out), the ReDial ids each turn mentions, and every message's (turn index, ids)."""
    mentions = dialogue.get("movieMentions") or {}
    seeker = dialogue.get("initiatorWorkerId")
    turns: list[list[str]] = []
    turn_ids: list[set[str]] = []
    timeline: list[tuple[int, set[str]]] = []  # for each message: how many seeker turns came before it, and its ids
    last_sender = None
    for message in dialogue.get("messages", []):
        text = message.get("text") or ""
        ids = set(_MENTION.findall(text))
        is_seeker = message.get("senderWorkerId") == seeker
        if is_seeker:
            if last_sender != seeker:
                turns.append([])
                turn_ids.append(set())
            spelled = _MENTION.sub(lambda m: clean_name(mentions[m.group(1)]) if mentions.get(m.group(1)) else m.group(0), text)
            turns[-1].append(" ".join(spelled.split()))
            turn_ids[-1] |= ids
        timeline.append((len(turns) - (1 if is_seeker else 0), ids))
        last_sender = message.get("senderWorkerId")
    return [" ".join(t).strip() for t in turns], turn_ids, timeline


def build(folder: Path, matcher: CatalogMatcher) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    stats: Counter = Counter()
    per_split: dict[str, Counter] = defaultdict(Counter)
    mapped_cache: dict[str, tuple[str | None, str]] = {}
    for split in SPLITS:
        path = folder / f"{split}_data.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            dialogue = json.loads(line)
            per_split[split]["dialogues"] += 1
            mentions = dialogue.get("movieMentions") or {}
            ids = {}
            for redial_id, title in mentions.items():
                if title not in mapped_cache:
                    mapped_cache[title] = matcher.match(title)
                item, how = mapped_cache[title]
                stats[f"mentions {how}"] += 1
                if item is not None:
                    ids[redial_id] = item
            said = answers(dialogue)
            accepted = [m for m, a in said.items() if a.get("suggested") == 1 and a.get("liked") == 1]
            liked = [m for m, a in said.items() if a.get("suggested") == 0 and a.get("liked") == 1]
            per_split[split]["with an accepted film"] += bool(accepted)
            accepted_items = list(dict.fromkeys(ids[m] for m in sorted(accepted) if m in ids))
            liked_items = list(dict.fromkeys(ids[m] for m in sorted(liked) if m in ids))
            accepted_items = [i for i in accepted_items if i not in liked_items]
            if not accepted_items:
                continue
            turns, _, timeline = seeker_turns(dialogue)
            first = next((before for before, found in timeline if found & set(accepted)), len(turns))
            per_split[split]["kept"] += 1
            rows.append({
                "id": f"redial-{dialogue['conversationId']}",
                "split": split,
                "seeker_messages": turns,
                "turns_before_accepted": first,
                "liked_item_ids": liked_items,
                "accepted_item_ids": accepted_items,
                "redial_conversation_id": str(dialogue["conversationId"]),
                "redial_liked_ids": sorted(liked),
                "redial_accepted_ids": sorted(accepted),
                "accepted_unmapped": len([m for m in accepted if m not in ids]),
                "liked_unmapped": len([m for m in liked if m not in ids]),
            })
    stats["distinct names"] = len(mapped_cache)
    stats["distinct names mapped"] = sum(item is not None for item, _ in mapped_cache.values())
    return rows, {"mentions": dict(stats), "splits": {s: dict(c) for s, c in per_split.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder with ReDial's train_data.jsonl / valid_data.jsonl / test_data.jsonl")
    parser.add_argument("--data-dir", type=Path, default=None, help="the store whose items are the catalog (default: the settings' data dir)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if args.data_dir is None:
        from whyrec.store.settings import Settings

        sqlite_path = Settings().sqlite_path
    else:
        sqlite_path = args.data_dir / "whyrec.sqlite3"
    matcher = CatalogMatcher(sqlite_path)
    rows, coverage = build(args.folder, matcher)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    m = coverage["mentions"]
    total = sum(v for k, v in m.items() if k.startswith("mentions "))
    mapped = total - m.get("mentions none", 0)
    print(f"mentions: {total}, mapped {mapped} ({mapped / max(total, 1):.1%}): "
          + ", ".join(f"{k.removeprefix('mentions ')} {v}" for k, v in sorted(m.items()) if k.startswith("mentions ")))
    print(f"distinct ReDial names: {m['distinct names']}, mapped {m['distinct names mapped']}")
    for split, c in coverage["splits"].items():
        print(f"{split}: {c.get('dialogues', 0)} dialogues, {c.get('with an accepted film', 0)} with an accepted film, "
              f"{c.get('kept', 0)} kept (an accepted film in the catalog)")
    accepted = sum(len(r["accepted_item_ids"]) for r in rows)
    liked = sum(len(r["liked_item_ids"]) for r in rows)
    print(f"kept dialogues: {len(rows)}; accepted films mapped {accepted}, unmapped {sum(r['accepted_unmapped'] for r in rows)}; "
          f"seeker likes mapped {liked}, unmapped {sum(r['liked_unmapped'] for r in rows)}; "
          f"without a mapped like (new user, no history) {sum(not r['liked_item_ids'] for r in rows)}")
    print(f"fuzzy matches ({len(matcher.fuzzy)}):")
    for redial, catalog in matcher.fuzzy:
        print(f"  {redial!r} -> {catalog!r}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
