"""The packaged MovieLens-100K, read from the files recbole ships (never copied here).

Its licence forbids redistribution, so we locate recbole's ``dataset_example``
folder through importlib instead of committing the data.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from whyrec.store.errors import SetupError
from whyrec.store.records import Dataset, Interaction, Item, User


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


def load_movielens_100k() -> Dataset:
    """1,682 movies (title, year, genres), 100,000 ratings by 943 users, with timestamps."""
    folder = movielens_100k_dir()
    items = [
        Item(
            item_id=item_id,
            title=title.strip(),
            categories=tuple(genres.split()),
            year=int(year) if year.strip().isdigit() else None,
        )
        for item_id, title, year, genres in _rows(folder / "ml-100k.item")
    ]
    interactions = [
        Interaction(user_id=u, item_id=i, timestamp=float(ts), rating=float(r), event="rating")
        for u, i, r, ts in _rows(folder / "ml-100k.inter")
    ]
    users = [
        User(user_id=u, attributes={"age": int(age), "gender": gender, "occupation": occupation})
        for u, age, gender, occupation, _zip in _rows(folder / "ml-100k.user")
    ]
    return Dataset(name="movielens-100k", items=items, interactions=interactions, users=users)
