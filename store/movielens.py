"""The packaged MovieLens-100K, read from the files recbole ships (never copied here).

Its licence forbids redistribution, so we locate recbole's ``dataset_example``
folder through importlib instead of committing the data.

MovieLens itself has titles, years and genres only. The plot overviews and keywords come from
``data/movielens_100k_text.jsonl.gz``, which we do ship: TMDB's text as released CC0 in "The
Movies Dataset" (see ``data/SOURCES.md``; rebuilt by ``benchmarks/build_item_text.py``).
"""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import importlib.util
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from whyrec.store.errors import SetupError
from whyrec.store.records import Dataset, Interaction, Item, User

log = logging.getLogger(__name__)

ITEM_TEXT_FILE = "movielens_100k_text.jsonl.gz"
"""Inside this package's ``data`` folder: one JSON object per MovieLens-100K item with a TMDB overview."""


def movielens_100k_dir() -> Path:
    """The folder holding ml-100k.inter/.item/.user inside the installed recbole package."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError("MovieLens-100K not found: the recbole package is missing — run `pip install --no-deps recbole==1.2.1`")
    folder = Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise SetupError(f"{folder}: ml-100k.inter is missing — reinstall with `pip install --no-deps --force-reinstall recbole==1.2.1`")
    return folder


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:]  # the first row is recbole's typed header


@dataclass(frozen=True)
class ItemText:
    """The words a MovieLens film carries beyond its title: TMDB's plot overview and keywords."""

    overview: str
    keywords: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def movielens_100k_text() -> Mapping[str, ItemText]:
    """Item id -> :class:`ItemText`, read from the shipped ``data/movielens_100k_text.jsonl.gz``.

    Best effort on purpose: the text improves what the content model and the explanations can say,
    but a film without it is still a film. A missing or unreadable file gives an empty table (with a
    warning), and a malformed row is skipped, so every item still loads, with ``description=""``.
    """
    resource = importlib.resources.files("whyrec.store") / "data" / ITEM_TEXT_FILE
    try:
        lines = gzip.decompress(resource.read_bytes()).decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        log.warning("%s: cannot read the MovieLens plot overviews (%s) — items load without descriptions; "
                    "rebuild it with benchmarks/build_item_text.py", resource, error)
        return MappingProxyType({})
    table: dict[str, ItemText] = {}
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
            text = ItemText(overview=str(row["overview"]).strip(), keywords=tuple(str(k) for k in row.get("keywords") or ()))
            table[str(row["item_id"])] = text
        except (ValueError, KeyError, TypeError) as error:
            log.warning("%s line %d: skipped (%s)", ITEM_TEXT_FILE, number, error)
    return MappingProxyType(table)


def load_movielens_100k() -> Dataset:
    """1,682 movies (title, year, genres), 100,000 ratings by 943 users, with timestamps.

    About 96 % of the movies also carry TMDB's plot overview as ``description`` and its keywords as
    ``keywords`` (:func:`movielens_100k_text`); the rest keep ``""`` and ``()``.
    """
    folder = movielens_100k_dir()
    texts = movielens_100k_text()
    items = []
    for item_id, title, year, genres in _rows(folder / "ml-100k.item"):
        text = texts.get(item_id)
        items.append(Item(
            item_id=item_id,
            title=title.strip(),
            description=text.overview if text else "",
            categories=tuple(genres.split()),
            year=int(year) if year.strip().isdigit() else None,
            keywords=text.keywords if text else (),
        ))
    interactions = [
        Interaction(user_id=u, item_id=i, timestamp=float(ts), rating=float(r), event="rating")
        for u, i, r, ts in _rows(folder / "ml-100k.inter")
    ]
    users = [
        User(user_id=u, attributes={"age": int(age), "gender": gender, "occupation": occupation})
        for u, age, gender, occupation, _zip in _rows(folder / "ml-100k.user")
    ]
    return Dataset(name="movielens-100k", items=items, interactions=interactions, users=users)
