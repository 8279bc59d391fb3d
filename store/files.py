"""Load a user's own catalog and interactions from CSV, JSONL or Parquet.

Catalog columns: ``item_id`` and ``title`` (required); ``description``,
``categories`` (a list, or a string split on ``|``), ``keywords`` (a list, a
JSON list, or a string split on ``|``, else on ``,``), ``year`` (optional); any
other column is kept as item metadata.

A description is read as plain text: HTML tags and Markdown markup are taken out
(their words stay), entities decoded, whitespace collapsed. One longer than
:data:`DESCRIPTION_MAX_CHARS` is cut at a word boundary and ends with "…", and
the load logs a warning saying how many were cut. An empty description is fine:
the item is embedded from its title, year, categories and keywords.

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
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from whyrec.store.errors import InputError
from whyrec.store.records import Dataset, Interaction, Item

CATALOG_REQUIRED = ("item_id", "title")
CATALOG_KNOWN = (*CATALOG_REQUIRED, "description", "categories", "keywords", "year")
INTERACTIONS_REQUIRED = ("user_id", "item_id", "timestamp")
FORMATS = (".csv", ".jsonl", ".parquet")

DESCRIPTION_MAX_CHARS = 2000
"""A description is stored and shown up to this many characters; the embedded text takes less (:data:`ITEM_TEXT_MAX_PIECES`)."""
KEYWORD_MAX_CHARS = 100
"""A keyword is a short tag; a longer one is an error (it is usually a description in the wrong column)."""
CSV_FIELD_MAX_CHARS = 16 * 1024 * 1024
"""The csv module's default limit (131,072) would stop a file with one long description; we read up to this."""

log = logging.getLogger(__name__)

Row = tuple[str, dict[str, Any]]  # ("line 41" or "row 41", the record)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path.name} line {line}: not valid UTF-8 — save the file as UTF-8") from None


def _csv_rows(path: Path) -> Iterator[Row]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_MAX_CHARS))
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    try:
        if not reader.fieldnames:
            raise InputError(f"{path.name}: the file is empty — add a header line with the column names")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        for record in reader:
            yield f"line {reader.line_num}", record
    except csv.Error as e:
        line = reader.line_num + 1  # the line being read when it failed is not counted yet
        if "field limit" in str(e):
            raise InputError(
                f"{path.name} line {line}: a field is longer than {CSV_FIELD_MAX_CHARS:,} characters — shorten it "
                f"(descriptions are kept to {DESCRIPTION_MAX_CHARS:,} characters anyway)"
            ) from None
        raise InputError(f"{path.name} line {line}: not readable as CSV ({e}) — re-export the file as CSV with quoted fields") from None


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


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header hr li ol p pre section table td th tr ul".split()
)
_MARKUP = re.compile(r"[<>&*_`#\\\[\]~]|^[ \t]*(?:[-+=]|\d{1,9}[.)])(?:[ \t]|$)", re.MULTILINE)
"""Characters that may be HTML or Markdown; text without any reads the same after rendering."""


class _TextOfHtml(HTMLParser):
    """The words of an HTML fragment: tags dropped (block tags leave a space), scripts and styles skipped, entities decoded.

    Numbered lists keep their numbers, so Markdown's reading of "1995. The war ends." as a list
    starting at 1995 gives the text back unchanged.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._skipping = 0
        self._numbers: list[int | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag == "ol":
            start = dict(attrs).get("start") or "1"
            self._numbers.append(int(start) if start.isdigit() else 1)
        elif tag == "ul":
            self._numbers.append(None)
        if tag in _BLOCK_TAGS:
            self.words.append(" ")
        if tag == "li" and self._numbers and self._numbers[-1] is not None:
            self.words.append(f"{self._numbers[-1]}. ")
            self._numbers[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("ol", "ul") and self._numbers:
            self._numbers.pop()
        if tag in _BLOCK_TAGS:
            self.words.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.words.append(data)


def plain_text(text: str) -> str:
    """``text`` without HTML tags or Markdown markup, on one line: what a person reads when it is rendered.

    Markdown is read by markdown-it-py (CommonMark, raw HTML allowed), and the HTML it gives by
    the standard library's parser. Text with no markup character skips both.
    """
    if _MARKUP.search(text):
        from markdown_it import MarkdownIt

        parser = _TextOfHtml()
        parser.feed(MarkdownIt("commonmark").render(text))
        parser.close()
        text = "".join(parser.words)
    return " ".join(text.split())


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its longest run of whole words that fits with a closing "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2 and not text[limit - 1].isspace():
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def _description(value: Any, where: str) -> str:
    if isinstance(value, bytes):  # a Parquet binary column
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: description is not valid UTF-8 — save the text as UTF-8") from None
    if isinstance(value, dict | list | tuple):
        raise InputError(f"{where}: description is a {type(value).__name__}, not text — write the description as one string")
    return "" if _blank(value) else plain_text(str(value))


def _keywords(value: Any, where: str) -> tuple[str, ...]:
    """Keywords from a list, a JSON list, or a string split on ``|`` (else on ``,``); blanks and repeats dropped."""
    if _blank(value):
        return ()
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(f"{where}: keywords {cut_at_word(value, 40)!r} look like a list but are not JSON — write a JSON list or 'heist|betrayal'") from None
    if isinstance(value, list | tuple):
        parts = value
    elif isinstance(value, dict):
        parts = [value]
    else:
        text = str(value)
        parts = text.split("|") if "|" in text else text.split(",")
    keywords: dict[str, str] = {}
    for part in parts:
        if isinstance(part, dict | list | tuple):
            raise InputError(f"{where}: keywords hold a {type(part).__name__} — give a list of words, or a string like 'heist|betrayal'")
        if _blank(part):
            continue
        keyword = " ".join(str(part).split())
        if len(keyword) > KEYWORD_MAX_CHARS:
            raise InputError(
                f"{where}: keyword {cut_at_word(keyword, 40)!r} is {len(keyword):,} characters — keywords are short tags "
                f"(at most {KEYWORD_MAX_CHARS}); put longer text in the description column"
            )
        keywords.setdefault(keyword.casefold(), keyword)
    return tuple(keywords.values())


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
    cut: list[str] = []
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
        description = _description(record.get("description"), where)
        if len(description) > DESCRIPTION_MAX_CHARS:
            cut.append(where)
            description = cut_at_word(description, DESCRIPTION_MAX_CHARS)
        items[item_id] = Item(
            item_id=item_id,
            title=title,
            description=description,
            categories=_categories(record.get("categories")),
            year=_year(record.get("year"), where),
            keywords=_keywords(record.get("keywords"), where),
            metadata=metadata,
        )
    if cut:
        log.warning(
            "%s: %d description%s longer than %s characters cut at a word boundary (first: %s)",
            path.name, len(cut), "" if len(cut) == 1 else "s", f"{DESCRIPTION_MAX_CHARS:,}", cut[0].removeprefix(f"{path.name} "),
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
