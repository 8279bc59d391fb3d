"""Load a user's own catalog and interactions from CSV, JSONL or Parquet.

Catalog columns: ``item_id`` and ``title`` (required); ``description``,
``categories`` (a list, or a string split on ``|``), ``year`` (optional); any
other column is kept as item metadata.

Interaction columns: ``user_id``, ``item_id``, ``timestamp`` (required; Unix
seconds or ISO 8601); ``rating`` (number) and ``event`` (e.g. view, click,
purchase) are optional.

Everything is validated before anything is written, and each problem is one
line naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whyrec.store.errors import InputError
from whyrec.store.records import Dataset, Interaction, Item

CATALOG_REQUIRED = ("item_id", "title")
CATALOG_KNOWN = (*CATALOG_REQUIRED, "description", "categories", "year")
INTERACTIONS_REQUIRED = ("user_id", "item_id", "timestamp")
FORMATS = (".csv", ".jsonl", ".parquet")

Row = tuple[str, dict[str, Any]]  # ("line 41" or "row 41", the record)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path.name} line {line}: not valid UTF-8 — save the file as UTF-8") from None


def _csv_rows(path: Path) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    if not reader.fieldnames:
        raise InputError(f"{path.name}: the file is empty — add a header line with the column names")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    for record in reader:
        yield f"line {reader.line_num}", record


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path.name} line {number}: not valid JSON ({e.msg}) — write one JSON object per line") from None
        if not isinstance(record, dict):
            raise InputError(f"{path.name} line {number}: expected a JSON object — write one object per line")
        yield f"line {number}", record


def _parquet_rows(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path.name}: not a readable Parquet file ({e}) — re-export it") from None
    for number, record in enumerate(table.to_pylist(), start=1):
        yield f"row {number}", record


def read_rows(path: Path, required: tuple[str, ...]) -> list[Row]:
    """Every record of a CSV/JSONL/Parquet file, after checking the required columns exist."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found — check the path")
    suffix = path.suffix.lower()
    readers = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".parquet": _parquet_rows}
    if suffix not in readers:
        raise InputError(f"{path.name}: unsupported format '{suffix}' — use one of {', '.join(FORMATS)}")
    rows = list(readers[suffix](path))
    if not rows:
        raise InputError(f"{path.name}: no records — the file has a header but no data")
    columns = set().union(*(record.keys() for _, record in rows)) if suffix != ".csv" else set(rows[0][1].keys())
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(f"{path.name}: missing column {', '.join(repr(c) for c in missing)} — required columns are {', '.join(required)}")
    return rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _categories(value: Any) -> tuple[str, ...]:
    if _blank(value):
        return ()
    parts = value if isinstance(value, list | tuple) else str(value).split("|")
    return tuple(p.strip() for p in map(str, parts) if p.strip())


def _year(value: Any, where: str) -> int | None:
    if _blank(value):
        return None
    try:
        return int(float(value))
    except ValueError:
        raise InputError(f"{where}: year {value!r} is not a number — write a year like 1995 or leave it empty") from None


def parse_timestamp(value: Any, where: str) -> float:
    """Unix seconds from a number, a numeric string, or ISO 8601 (naive means UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif _blank(value):
        raise InputError(f"{where}: timestamp is empty — give Unix seconds or an ISO 8601 date")
    else:
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{where}: timestamp {value!r} is not a date — give Unix seconds or ISO 8601 like 2024-05-01T12:00:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def load_catalog(path: Path) -> list[Item]:
    """Items from a catalog file; duplicate ids and empty titles are errors."""
    path = Path(path)
    items: dict[str, Item] = {}
    for where, record in read_rows(path, CATALOG_REQUIRED):
        where = f"{path.name} {where}"
        item_id, title = _text(record.get("item_id")), _text(record.get("title"))
        if not item_id:
            raise InputError(f"{where}: column \"item_id\" is empty — every item needs an id")
        if not title:
            raise InputError(f"{where}: column \"title\" is empty — every item needs a title")
        if item_id in items:
            raise InputError(f"{where}: duplicate item_id {item_id!r} — each item id must appear once")
        metadata = {k: v for k, v in record.items() if k not in CATALOG_KNOWN and not _blank(v)}
        items[item_id] = Item(
            item_id=item_id,
            title=title,
            description=_text(record.get("description")),
            categories=_categories(record.get("categories")),
            year=_year(record.get("year"), where),
            metadata=metadata,
        )
    return list(items.values())


def load_interactions(path: Path, item_ids: set[str]) -> list[Interaction]:
    """Interactions from a file; each must name a known item and a parseable time."""
    path = Path(path)
    interactions = []
    for where, record in read_rows(path, INTERACTIONS_REQUIRED):
        where = f"{path.name} {where}"
        user_id, item_id = _text(record.get("user_id")), _text(record.get("item_id"))
        if not user_id:
            raise InputError(f"{where}: column \"user_id\" is empty — every interaction needs a user")
        if item_id not in item_ids:
            raise InputError(f"{where}: item_id {item_id!r} is not in the catalog — add it to the catalog or remove this line")
        rating = record.get("rating")
        if not _blank(rating):
            try:
                rating = float(rating)
            except ValueError:
                raise InputError(f"{where}: rating {rating!r} is not a number — write a number or leave it empty") from None
        interactions.append(
            Interaction(
                user_id=user_id,
                item_id=item_id,
                timestamp=parse_timestamp(record.get("timestamp"), where),
                rating=None if _blank(rating) else rating,
                event=_text(record.get("event")) or ("rating" if not _blank(rating) else "interaction"),
            )
        )
    return interactions


def load_dataset(catalog: Path, interactions: Path | None = None) -> Dataset:
    """A validated dataset from the user's files (interactions optional)."""
    items = load_catalog(Path(catalog))
    events = load_interactions(Path(interactions), {i.item_id for i in items}) if interactions else []
    return Dataset(name=Path(catalog).stem, items=items, interactions=events)
