"""Users, items, interactions, feedback and cached profiles in one SQLite file.

Every write is one transaction, so a failure half way leaves the previous
contents intact. Each call opens its own connection: SQLite connections are
cheap, and this keeps the store safe to use from Gradio's worker threads.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from whyrec.store.errors import InputError, SetupError
from whyrec.store.records import FEEDBACK_KINDS, Dataset, FeedbackKind, Interaction, Item, user_order

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""1: the first schema. 2: ``items.keywords`` (a JSON list)."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
    categories TEXT NOT NULL, year INTEGER, metadata TEXT NOT NULL, keywords TEXT NOT NULL DEFAULT '[]')""",
    "CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, attributes TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL REFERENCES items(item_id),
    timestamp REAL NOT NULL, rating REAL, event TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS interactions_by_user ON interactions(user_id, timestamp, id)",
    f"""CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ({', '.join(repr(k) for k in FEEDBACK_KINDS)})), timestamp REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS feedback_by_user ON feedback(user_id, id)",
    "CREATE TABLE IF NOT EXISTS profiles (user_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (user_id, key))",
)
"""The latest schema, for a new file."""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE items ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]'",),
}
"""The statements that bring a store from version ``n - 1`` to ``n``, run in order in one transaction."""

ITEM_COLUMNS = "item_id, title, description, categories, year, metadata, keywords"


@dataclass(frozen=True)
class Feedback:
    user_id: str
    item_id: str
    kind: FeedbackKind
    timestamp: float


@dataclass(frozen=True)
class StoreStats:
    users: int
    items: int
    interactions: int
    feedback: int


class Database:
    """The SQLite file under the data directory, with a schema version."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create_or_upgrade()
        except sqlite3.DatabaseError as e:
            if "not a database" not in str(e):
                raise
            raise SetupError(f"{self.path}: not a readable whyrec store ({e}) — move the file aside and ingest again") from None

    def _create_or_upgrade(self) -> None:
        """Create a new file at :data:`SCHEMA_VERSION`, or upgrade an older one in place, in one transaction.

        A store written by a newer whyrec is refused before anything is changed. If an upgrade
        step fails, the transaction rolls back and the file stays at its old version, readable by
        the whyrec that wrote it.
        """
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # transactions by hand: DDL included
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")  # one process upgrades; the others wait, then see it done
            try:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if "meta" in tables else None
                version = int(row[0]) if row else (1 if "items" in tables else SCHEMA_VERSION)
                if version > SCHEMA_VERSION:
                    raise SetupError(f"{self.path}: schema version {version} is newer than this whyrec ({SCHEMA_VERSION}) — upgrade whyrec")
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[step]:
                        conn.execute(statement)
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if version < SCHEMA_VERSION:
                log.info("%s: upgraded the schema from version %d to %d", self.path, version, SCHEMA_VERSION)
        finally:
            conn.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose ``with`` block is one transaction (commit, or rollback on error)."""
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            with conn:
                yield conn
        finally:
            conn.close()

    # --- writes -----------------------------------------------------------

    def replace_dataset(self, dataset: Dataset) -> None:
        """Swap in a new catalog, users and interactions in one transaction.

        Feedback given in the app is kept for items that still exist; cached
        profiles are dropped because the histories behind them changed.
        """
        with self._connect() as conn:
            conn.execute("DELETE FROM interactions")
            conn.execute("DELETE FROM items")
            conn.execute("DELETE FROM users")
            conn.execute("DELETE FROM profiles")
            conn.executemany(
                f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        i.item_id, i.title, i.description, json.dumps(i.categories), i.year,
                        json.dumps(i.metadata, default=str), json.dumps(i.keywords),
                    )
                    for i in dataset.items
                ],
            )
            conn.executemany("INSERT INTO users VALUES (?, ?)", [(u.user_id, json.dumps(u.attributes)) for u in dataset.users])
            conn.executemany(
                "INSERT INTO interactions (user_id, item_id, timestamp, rating, event) VALUES (?, ?, ?, ?, ?)",
                [(x.user_id, x.item_id, x.timestamp, x.rating, x.event) for x in dataset.interactions],
            )
            conn.execute("DELETE FROM feedback WHERE item_id NOT IN (SELECT item_id FROM items)")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('dataset', ?)", (dataset.name,))

    def add_interactions(self, interactions: list[Interaction]) -> None:
        """Append interactions (a new user's cold-start ratings, say); unknown items are refused."""
        with self._connect() as conn:
            known = {r[0] for r in conn.execute("SELECT item_id FROM items")}
            unknown = sorted({x.item_id for x in interactions} - known)
            if unknown:
                raise InputError(f"item {unknown[0]!r} is not in the catalog — pick an item from the catalog")
            conn.executemany(
                "INSERT INTO interactions (user_id, item_id, timestamp, rating, event) VALUES (?, ?, ?, ?, ?)",
                [(x.user_id, x.item_id, x.timestamp, x.rating, x.event) for x in interactions],
            )

    def add_feedback(self, user_id: str, item_id: str, kind: str, timestamp: float | None = None) -> Feedback:
        if kind not in FEEDBACK_KINDS:
            raise InputError(f"feedback {kind!r} is not known — use one of {', '.join(FEEDBACK_KINDS)}")
        if self.item(item_id) is None:
            raise InputError(f"item {item_id!r} is not in the catalog — give feedback on a catalog item")
        feedback = Feedback(user_id, item_id, kind, time.time() if timestamp is None else timestamp)
        with self._connect() as conn:
            conn.execute("INSERT INTO feedback (user_id, item_id, kind, timestamp) VALUES (?, ?, ?, ?)", (feedback.user_id, feedback.item_id, feedback.kind, feedback.timestamp))
        return feedback

    def remove_feedback(self, user_id: str, item_id: str, kind: str | None = None) -> Feedback | None:
        """Take back a user's latest feedback on an item (the latest of ``kind``, when given): the undo of
        :meth:`add_feedback`. Earlier feedback on the item then speaks again. Returns what was removed, or None
        when there was none; the user's cached profiles go with it."""
        if kind is not None and kind not in FEEDBACK_KINDS:
            raise InputError(f"feedback {kind!r} is not known — use one of {', '.join(FEEDBACK_KINDS)}")
        where, args = "user_id = ? AND item_id = ?", [user_id, item_id]
        if kind is not None:
            where, args = where + " AND kind = ?", [*args, kind]
        with self._connect() as conn:
            row = conn.execute(f"SELECT id, user_id, item_id, kind, timestamp FROM feedback WHERE {where} ORDER BY id DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM feedback WHERE id = ?", (row[0],))
            conn.execute("DELETE FROM profiles WHERE user_id = ?", (user_id,))
        return Feedback(*row[1:])

    def clear_feedback(self, user_id: str | None = None) -> None:
        """Forget the feedback (and the cached profiles built on it) of one user, or of everyone.

        Only the conversation simulator's scratch store calls this: a product store never loses feedback.
        """
        where, args = (" WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())
        with self._connect() as conn:
            conn.execute("DELETE FROM feedback" + where, args)
            conn.execute("DELETE FROM profiles" + where, args)

    def save_profile(self, user_id: str, key: str, data: dict) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM profiles WHERE user_id = ?", (user_id,))
            conn.execute("INSERT INTO profiles VALUES (?, ?, ?)", (user_id, key, json.dumps(data)))

    # --- reads ------------------------------------------------------------

    @staticmethod
    def _item(row: tuple) -> Item:
        item_id, title, description, categories, year, metadata, keywords = row
        return Item(
            item_id, title, description, tuple(json.loads(categories)), year, json.loads(metadata), keywords=tuple(json.loads(keywords))
        )

    def items(self) -> dict[str, Item]:
        with self._connect() as conn:
            return {row[0]: self._item(row) for row in conn.execute(f"SELECT {ITEM_COLUMNS} FROM items ORDER BY rowid")}

    def item(self, item_id: str) -> Item | None:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE item_id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def history(self, user_id: str) -> list[Interaction]:
        """A user's interactions, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT user_id, item_id, timestamp, rating, event FROM interactions WHERE user_id = ? ORDER BY timestamp, id",
                (user_id,),
            ).fetchall()
        return [Interaction(*row) for row in rows]

    def all_interactions(self) -> list[Interaction]:
        with self._connect() as conn:
            rows = conn.execute("SELECT user_id, item_id, timestamp, rating, event FROM interactions ORDER BY user_id, timestamp, id").fetchall()
        return [Interaction(*row) for row in rows]

    def feedback(self, user_id: str) -> list[Feedback]:
        """A user's feedback, oldest first (the latest word on an item wins)."""
        with self._connect() as conn:
            rows = conn.execute("SELECT user_id, item_id, kind, timestamp FROM feedback WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
        return [Feedback(*row) for row in rows]

    def users(self) -> list[str]:
        """Every user with a history or feedback, in a stable order (numeric ids numerically)."""
        with self._connect() as conn:
            rows = conn.execute("SELECT user_id FROM users UNION SELECT user_id FROM interactions UNION SELECT user_id FROM feedback").fetchall()
        return sorted((r[0] for r in rows), key=user_order)

    def history_version(self, user_id: str) -> str:
        """Changes whenever the user's interactions or feedback change: the profile cache key."""
        with self._connect() as conn:
            a = conn.execute("SELECT count(*), max(id) FROM interactions WHERE user_id = ?", (user_id,)).fetchone()
            b = conn.execute("SELECT count(*), max(id) FROM feedback WHERE user_id = ?", (user_id,)).fetchone()
        return f"{a[0]}.{a[1]}.{b[0]}.{b[1]}"

    def cached_profile(self, user_id: str, key: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM profiles WHERE user_id = ? AND key = ?", (user_id, key)).fetchone()
        return json.loads(row[0]) if row else None

    def dataset_name(self) -> str:
        """The name of the dataset the last ingest wrote ("unknown" before any ingest)."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'dataset'").fetchone()
        return row[0] if row else "unknown"

    def stats(self) -> StoreStats:
        with self._connect() as conn:
            counts = [
                conn.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
                for source in ("(SELECT user_id FROM users UNION SELECT user_id FROM interactions)", "items", "interactions", "feedback")
            ]
        return StoreStats(*counts)
