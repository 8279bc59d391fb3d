"""Plot overviews for MovieLens-100K: how many films get one, and are they the right films?

Run:  .venv/bin/python benchmarks/item_text.py

Protocol: the items come from ``load_movielens_100k()`` exactly as the app loads them; an item "has
text" when its ``description`` (TMDB's overview, from store/data/movielens_100k_text.jsonl.gz) is not
empty. The baseline is MovieLens alone, whose files hold titles, years and genres only. Coverage is
given over items, over the 100,000 ratings (what a user meets more often), and by release decade.
Correctness: 50 matched items drawn with ``random.Random(SAMPLE_SEED).sample`` from the shipped item
ids (sorted as numbers), each judged by hand, from film knowledge, on whether the overview tells that
MovieLens film's story (benchmarks/data/item_text_sample.csv); reported with a Wilson 95 % interval.
The script checks that the sample file is that draw and that its TMDB titles are still the shipped
ones, so a rebuilt file cannot keep an old verdict. ``--new-sample PATH`` writes a fresh, unjudged
sample file to fill in after a rebuild.
Writes benchmarks/item_text.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.resources
import json
import math
import os
import platform
import random
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.movielens import ITEM_TEXT_FILE, load_movielens_100k, movielens_100k_text

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "data" / "item_text_sample.csv"
SAMPLE_SEED = 20261207
SAMPLE_SIZE = 50
SOURCE = ("The Movies Dataset (Kaggle, Rounak Banik): movies_metadata.csv overviews and keywords.csv, "
          "TMDB text; copies named in store/data/SOURCES.md")
LICENCE = "CC0 1.0 (public domain dedication by the dataset's uploader); TMDB attribution kept in store/data/SOURCES.md"


def draw_sample(item_ids: list[str], size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> list[str]:
    """The hand-checked sample: a seeded draw from the shipped ids, returned in id order."""
    ordered = sorted(item_ids, key=int)
    return sorted(random.Random(seed).sample(ordered, size), key=int)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3))


def decade(year: int | None) -> str:
    if year is None:
        return "unknown"
    if year < 1970:
        return "before 1970"
    if year < 1990:
        return "1970-1989"
    return f"{year - year % 5}-{year - year % 5 + 4}" if year < 1995 else "1995-1998"


def read_sample(path: Path, table: dict, titles: dict[str, str]) -> list[dict[str, str]]:
    """The judged rows, after checking they are the seeded draw and still match the shipped file."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = draw_sample(list(table))
    found = [row["item_id"] for row in rows]
    if found != expected:
        raise SystemExit(f"{path}: its item ids are not the seeded draw from the shipped file "
                         f"(seed {SAMPLE_SEED}) — run with --new-sample {path} and judge the new rows")
    for number, row in enumerate(rows, start=2):
        shipped = f"{table[row['item_id']]['tmdb_title']} ({table[row['item_id']]['tmdb_year']})"
        if row["tmdb_title"] != shipped:
            raise SystemExit(f"{path} line {number}: judged {row['tmdb_title']!r} but the shipped file now matches "
                             f"{shipped!r} — judge that row again")
        if row["correct"] not in {"yes", "no"}:
            raise SystemExit(f"{path} line {number}: column 'correct' is {row['correct']!r} — write yes or no")
        if row["ml_title"] != titles[row["item_id"]]:
            raise SystemExit(f"{path} line {number}: ml_title {row['ml_title']!r} is not MovieLens's {titles[row['item_id']]!r}")
    return rows


def shipped_rows() -> dict[str, dict]:
    """The shipped file's rows by item id (the loader keeps only overview and keywords)."""
    raw = (importlib.resources.files("whyrec.store") / "data" / ITEM_TEXT_FILE).read_bytes()
    return {row["item_id"]: row for row in map(json.loads, gzip.decompress(raw).decode("utf-8").splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--new-sample", type=Path, default=None, help="write an unjudged sample file here and stop")
    parser.add_argument("--output", type=Path, default=HERE / "item_text.json")
    args = parser.parse_args()

    dataset = load_movielens_100k()
    table = shipped_rows()
    assert set(table) == set(movielens_100k_text()), "the loader and the shipped file disagree"
    titles = {item.item_id: f"{item.title} ({item.year})" for item in dataset.items}

    if args.new_sample:
        args.new_sample.parent.mkdir(parents=True, exist_ok=True)
        with args.new_sample.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["item_id", "ml_title", "tmdb_title", "overview_start", "correct", "note"])
            for item_id in draw_sample(list(table)):
                row = table[item_id]
                writer.writerow([item_id, titles[item_id], f"{row['tmdb_title']} ({row['tmdb_year']})", row["overview"][:100], "", ""])
        print(f"wrote {args.new_sample}: fill in 'correct' (yes/no) and 'note' by hand")
        return

    items = dataset.items
    with_text = [item for item in items if item.description]
    with_keywords = [item for item in items if item.keywords]
    has_text = {item.item_id for item in with_text}
    ratings = Counter(i.item_id for i in dataset.interactions)
    by_decade: dict[str, list[int]] = {}
    for item in items:
        counts = by_decade.setdefault(decade(item.year), [0, 0])
        counts[0] += item.item_id in has_text
        counts[1] += 1
    sample = read_sample(args.sample, table, titles)
    correct = sum(row["correct"] == "yes" for row in sample)

    rows = [
        {"row": "MovieLens-100K alone (baseline)", "items_with_text": 0, "coverage": 0.0, "rating_coverage": 0.0},
        {
            "row": "with the shipped TMDB overviews",
            "items_with_text": len(with_text),
            "coverage": round(len(with_text) / len(items), 4),
            "rating_coverage": round(sum(n for i, n in ratings.items() if i in has_text) / sum(ratings.values()), 4),
        },
    ]
    print(f"{'':34} {'items with text':>15} {'of items':>9} {'of ratings':>10}")
    for row in rows:
        print(f"{row['row']:34} {row['items_with_text']:>15} {row['coverage']:>9.1%} {row['rating_coverage']:>10.1%}")
    print(f"\n{'released':12} {'with text':>9} {'items':>6}")
    order = ["before 1970", "1970-1989", "1990-1994", "1995-1998", "unknown"]
    for name in order:
        if name in by_decade:
            got, total = by_decade[name]
            print(f"{name:12} {got:>9} {total:>6}  {got / total:.1%}")
    interval = wilson(correct, len(sample))
    print(f"\nkeywords: {len(with_keywords)} items; overview length: median {statistics.median(len(i.description.split()) for i in with_text):.0f} words")
    print(f"hand check: {correct} of {len(sample)} sampled matches tell the right film's story (Wilson 95 % {interval[0]:.3f}-{interval[1]:.3f})")
    for row in sample:
        if row["correct"] != "yes":
            print(f"  wrong: {row['item_id']} {row['ml_title']} -> {row['tmdb_title']}: {row['note']}")

    report = {
        "benchmark": "item_text",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "dataset": dataset.name,
        "protocol": "items from load_movielens_100k(); an item has text when its description is not empty; baseline: "
        "MovieLens alone; rating coverage weights items by their ratings; hand check of "
        f"{len(sample)} matches drawn with random.Random({SAMPLE_SEED}).sample from the shipped ids, judged from "
        "film knowledge on whether the overview tells that film's story (benchmarks/data/item_text_sample.csv)",
        "source": SOURCE,
        "licence": LICENCE,
        "items": len(items),
        "items_with_text": len(with_text),
        "coverage": round(len(with_text) / len(items), 4),
        "items_with_keywords": len(with_keywords),
        "rating_coverage": rows[1]["rating_coverage"],
        "coverage_by_release": {name: {"with_text": by_decade[name][0], "items": by_decade[name][1]} for name in order if name in by_decade},
        "median_overview_words": statistics.median(len(i.description.split()) for i in with_text),
        "sample_seed": SAMPLE_SEED,
        "sample_checked": len(sample),
        "sample_correct": correct,
        "sample_correct_interval_95": list(interval),
        "sample_notes": [{"item_id": r["item_id"], "note": r["note"]} for r in sample if r["note"]],
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
