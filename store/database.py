"""Users, items, interactions, feedback and cached profiles: in one SQLite file, or in a PostgreSQL database.

SQLite is the embedded default (``<data_dir>/whyrec.sqlite3``); ``WHYREC_DATABASE_URL=postgresql://…``
puts the same tables in a PostgreSQL server that several ``whyrec serve`` workers share. Both go
through SQLAlchemy Core with one set of statements; the tables and their versions live in
:mod:`store.schema`. Every write is one transaction, so a failure half way (a full disk, a server
that went away) leaves the previous contents intact.

Workers keep only caches, and the database says when they are stale: :meth:`Database.history_version`
changes with a user's interactions and feedback (the profile cache's key), and
:meth:`Database.catalog_version` with every ingest (the recommender reloads its catalog on a change).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError

from whyrec.store import schema
from whyrec.store.errors import InputError, SetupError
from whyrec.store.records import FEEDBACK_KINDS, Dataset, FeedbackKind, Interaction, Item, user_order
from whyrec.store.schema import UPSERT_META

if TYPE_CHECKING:
    from whyrec.store.settings import Settings

ITEM_COLUMNS = "item_id, title, description, categories, year, metadata, keywords"
SCHEMA_LOCK = 0x77687972  # "whyr": PostgreSQL's advisory lock for schema changes and ingests
BUMP_CATALOG_VERSION = text(
    "INSERT INTO meta (key, value) VALUES ('catalog_version', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
)


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


def _first_line(error: BaseException) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _sqlite_engine(path: Path) -> Engine:
    """A pooled engine on the file, in WAL mode, with transactions SQLAlchemy begins itself.

    Python's sqlite3 would otherwise begin a transaction only at the first INSERT, so a schema change
    (DDL) and the reads before a write would run outside it. A write transaction starts with
    ``BEGIN IMMEDIATE``: it takes the write lock at once and waits up to 30 s for another writer, instead
    of failing half way when a read turns into a write.
    """
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("whyrec_write") else "BEGIN")

    return engine


def _postgres_engine(url: str) -> Engine:
    """A connection pool on the server through psycopg 3.

    No ping before each use (it would add a round trip to every call): when the server went away, the call
    that finds out fails in one line (:meth:`Database._connect`), SQLAlchemy drops every pooled connection,
    and the next call connects afresh.
    """
    try:
        parsed = make_url(url).set(drivername="postgresql+psycopg")
    except ArgumentError:
        raise SetupError(f"WHYREC_DATABASE_URL {url!r} is not a database URL — write postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    try:
        return create_engine(parsed, pool_size=8, max_overflow=8, pool_recycle=1800, connect_args={"connect_timeout": 10})
    except ModuleNotFoundError:
        raise SetupError("WHYREC_DATABASE_URL names PostgreSQL, whose driver a core install leaves out — run `pip install 'whyrec[postgres]'`") from None


class Database:
    """The store's tables, with a schema version: ``Database(path)`` for SQLite, ``Database("postgresql://…")``."""

    def __init__(self, location: Path | str):
        self.is_postgres = isinstance(location, str) and location.split(":", 1)[0].startswith("postgres")
        if isinstance(location, str) and not self.is_postgres and "://" in location:
            raise SetupError(f"WHYREC_DATABASE_URL {location.split('://')[0]}://… is not a database whyrec can use — give a postgresql:// URL, or leave it empty for SQLite")
        if self.is_postgres:
            self.engine = _postgres_engine(str(location))
            self.where = self.engine.url.render_as_string(hide_password=True)
        else:
            self.path = Path(location)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.path)
            self.where = str(self.path)
        try:
            self._create_or_upgrade()
        except BaseException:
            self.engine.dispose()
            raise

    def _create_or_upgrade(self) -> None:
        """Create the tables, or upgrade an older store in place, in one transaction under the write lock."""
        try:
            conn = self.engine.connect()
        except OperationalError as e:
            if self.is_postgres:
                raise SetupError(f"{self.where}: cannot connect ({_first_line(e)}) — start PostgreSQL or fix WHYREC_DATABASE_URL") from None
            raise
        except DatabaseError as e:
            if "not a database" not in str(e):
                raise
            raise SetupError(f"{self.path}: not a readable whyrec store ({_first_line(e)}) — move the file aside and ingest again") from None
        with conn, conn.execution_options(whyrec_write=True).begin():
            self._lock_schema(conn)
            schema.create_or_upgrade(conn, self.where)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """PostgreSQL when ``settings.database_url`` is set, else the SQLite file in the data directory."""
        return cls(settings.database_url or settings.sqlite_path)

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self.engine.dispose()

    def _lock_schema(self, conn: Connection) -> None:
        """Hold the store's write lock to the end of this transaction: one upgrade or ingest at a time.

        SQLite's ``BEGIN IMMEDIATE`` already holds it; PostgreSQL gets a transaction-scoped advisory lock,
        released by its commit or rollback (a worker killed mid-ingest releases it with its connection).
        """
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[Connection]:
        """A connection whose ``with`` block is one transaction (commit, or rollback on error).

        A database that goes away mid-request is one line (nothing of the transaction was written);
        the pool replaces the dead connection on the next call. PostgreSQL reads run in autocommit, each statement
        reading what is committed, and BEGIN and COMMIT would double their round trips.
        """
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(whyrec_write=True)
                elif self.is_postgres:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                with conn.begin():
                    yield conn
        except (OperationalError, InterfaceError) as e:
            raise SetupError(f"{self.where}: the database failed mid-request ({_first_line(e)}) — nothing of it was written; check that the database is up and retry") from None

    # --- writes -----------------------------------------------------------

    def replace_dataset(self, dataset: Dataset) -> None:
        """Swap in a new catalog, users and interactions in one transaction, and count a new catalog version.

        Feedback given in the app is kept for items that still exist; cached profiles are dropped
        because the histories behind them changed. Readers see the old catalog or the new one, never a mix.
        """
        with self._connect(write=True) as conn:
            self._lock_schema(conn)
            for table in ("interactions", "items", "users", "profiles"):
                conn.execute(text(f"DELETE FROM {table}"))
            if dataset.items:
                conn.execute(schema.items.insert(), [
                    {
                        "item_id": i.item_id, "title": i.title, "description": i.description, "categories": json.dumps(i.categories),
                        "year": i.year, "metadata": json.dumps(i.metadata, default=str), "keywords": json.dumps(i.keywords), "position": n,
                    }
                    for n, i in enumerate(dataset.items)
                ])
            if dataset.users:
                conn.execute(schema.users.insert(), [{"user_id": u.user_id, "attributes": json.dumps(u.attributes)} for u in dataset.users])
            self._insert_interactions(conn, dataset.interactions)
            conn.execute(text("DELETE FROM feedback WHERE item_id NOT IN (SELECT item_id FROM items)"))
            conn.execute(UPSERT_META, {"key": "dataset", "value": dataset.name})
            conn.execute(BUMP_CATALOG_VERSION)

    @staticmethod
    def _insert_interactions(conn: Connection, interactions: list[Interaction]) -> None:
        if interactions:
            conn.execute(schema.interactions.insert(), [
                {"user_id": x.user_id, "item_id": x.item_id, "timestamp": x.timestamp, "rating": x.rating, "event": x.event} for x in interactions
            ])

    def add_interactions(self, interactions: list[Interaction]) -> None:
        """Append interactions (a new user's cold-start ratings, say); unknown items are refused."""
        with self._connect(write=True) as conn:
            known = {r[0] for r in conn.execute(text("SELECT item_id FROM items"))}
            unknown = sorted({x.item_id for x in interactions} - known)
            if unknown:
                raise InputError(f"item {unknown[0]!r} is not in the catalog — pick an item from the catalog")
            self._insert_interactions(conn, interactions)
            conn.execute(BUMP_CATALOG_VERSION)  # popularity and the collaborative model count them: workers refit

    def add_feedback(self, user_id: str, item_id: str, kind: str, timestamp: float | None = None) -> Feedback:
        if kind not in FEEDBACK_KINDS:
            raise InputError(f"feedback {kind!r} is not known — use one of {', '.join(FEEDBACK_KINDS)}")
        feedback = Feedback(user_id, item_id, kind, time.time() if timestamp is None else timestamp)
        with self._connect(write=True) as conn:
            if conn.execute(text("SELECT 1 FROM items WHERE item_id = :i"), {"i": item_id}).first() is None:
                raise InputError(f"item {item_id!r} is not in the catalog — give feedback on a catalog item")
            conn.execute(
                text("INSERT INTO feedback (user_id, item_id, kind, timestamp) VALUES (:u, :i, :k, :t)"),
                {"u": feedback.user_id, "i": feedback.item_id, "k": feedback.kind, "t": feedback.timestamp},
            )
        return feedback

    def remove_feedback(self, user_id: str, item_id: str, kind: str | None = None) -> Feedback | None:
        """Take back a user's latest feedback on an item (the latest of ``kind``, when given): the undo of
        :meth:`add_feedback`. Earlier feedback on the item then speaks again. Returns what was removed, or None
        when there was none; the user's cached profiles go with it."""
        if kind is not None and kind not in FEEDBACK_KINDS:
            raise InputError(f"feedback {kind!r} is not known — use one of {', '.join(FEEDBACK_KINDS)}")
        where, args = "user_id = :u AND item_id = :i", {"u": user_id, "i": item_id}
        if kind is not None:
            where, args = where + " AND kind = :k", {**args, "k": kind}
        with self._connect(write=True) as conn:
            row = conn.execute(text(f"SELECT id, user_id, item_id, kind, timestamp FROM feedback WHERE {where} ORDER BY id DESC LIMIT 1"), args).first()
            if row is None:
                return None
            conn.execute(text("DELETE FROM feedback WHERE id = :id"), {"id": row[0]})
            conn.execute(text("DELETE FROM profiles WHERE user_id = :u"), {"u": user_id})
        return Feedback(*row[1:])

    def clear_feedback(self, user_id: str | None = None) -> None:
        """Forget the feedback (and the cached profiles built on it) of one user, or of everyone.

        Only the conversation simulator's scratch store calls this: a product store never loses feedback.
        """
        where, args = (" WHERE user_id = :u", {"u": user_id}) if user_id is not None else ("", {})
        with self._connect(write=True) as conn:
            conn.execute(text("DELETE FROM feedback" + where), args)
            conn.execute(text("DELETE FROM profiles" + where), args)

    def save_profile(self, user_id: str, key: str, data: dict) -> None:
        """Keep one cached profile per user: this one (two workers saving the same profile at once is fine)."""
        with self._connect(write=True) as conn:
            conn.execute(text("DELETE FROM profiles WHERE user_id = :u AND key <> :k"), {"u": user_id, "k": key})
            conn.execute(
                text("INSERT INTO profiles (user_id, key, data) VALUES (:u, :k, :d) ON CONFLICT (user_id, key) DO UPDATE SET data = excluded.data"),
                {"u": user_id, "k": key, "d": json.dumps(data)},
            )

    # --- reads ------------------------------------------------------------

    @staticmethod
    def _item(row: tuple) -> Item:
        item_id, title, description, categories, year, metadata, keywords = row
        return Item(
            item_id, title, description, tuple(json.loads(categories)), year, json.loads(metadata), keywords=tuple(json.loads(keywords))
        )

    def items(self) -> dict[str, Item]:
        """The catalog, in the order it was ingested."""
        with self._connect() as conn:
            return {row[0]: self._item(row) for row in conn.execute(text(f"SELECT {ITEM_COLUMNS} FROM items ORDER BY position, item_id"))}

    def item(self, item_id: str) -> Item | None:
        with self._connect() as conn:
            row = conn.execute(text(f"SELECT {ITEM_COLUMNS} FROM items WHERE item_id = :i"), {"i": item_id}).first()
        return self._item(row) if row else None

    def history(self, user_id: str) -> list[Interaction]:
        """A user's interactions, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                text("SELECT user_id, item_id, timestamp, rating, event FROM interactions WHERE user_id = :u ORDER BY timestamp, id"),
                {"u": user_id},
            ).all()
        return [Interaction(*row) for row in rows]

    def all_interactions(self) -> list[Interaction]:
        with self._connect() as conn:
            rows = conn.execute(text("SELECT user_id, item_id, timestamp, rating, event FROM interactions ORDER BY user_id, timestamp, id")).all()
        return [Interaction(*row) for row in rows]

    def feedback(self, user_id: str) -> list[Feedback]:
        """A user's feedback, oldest first (the latest word on an item wins)."""
        with self._connect() as conn:
            rows = conn.execute(text("SELECT user_id, item_id, kind, timestamp FROM feedback WHERE user_id = :u ORDER BY id"), {"u": user_id}).all()
        return [Feedback(*row) for row in rows]

    def users(self) -> list[str]:
        """Every user with a history or feedback, in a stable order (numeric ids numerically)."""
        with self._connect() as conn:
            rows = conn.execute(text("SELECT user_id FROM users UNION SELECT user_id FROM interactions UNION SELECT user_id FROM feedback")).all()
        return sorted((r[0] for r in rows), key=user_order)

    def history_version(self, user_id: str) -> str:
        """Changes whenever the user's interactions or feedback change: the profile cache key."""
        with self._connect() as conn:
            a = conn.execute(text("SELECT count(*), max(id) FROM interactions WHERE user_id = :u"), {"u": user_id}).one()
            b = conn.execute(text("SELECT count(*), max(id) FROM feedback WHERE user_id = :u"), {"u": user_id}).one()
        return f"{a[0]}.{a[1]}.{b[0]}.{b[1]}"

    def catalog_version(self) -> int:
        """Counts ingests and added interactions (0 before any): a worker that read the catalog, popularity and the
        collaborative model at another version reloads them (``tools.recommend.catalog_gate.CatalogGate``)."""
        with self._connect() as conn:
            row = conn.execute(text("SELECT value FROM meta WHERE key = 'catalog_version'")).first()
        return int(row[0]) if row else 0

    def cached_profile(self, user_id: str, key: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute(text("SELECT data FROM profiles WHERE user_id = :u AND key = :k"), {"u": user_id, "k": key}).first()
        return json.loads(row[0]) if row else None

    def dataset_name(self) -> str:
        """The name of the dataset the last ingest wrote ("unknown" before any ingest)."""
        with self._connect() as conn:
            row = conn.execute(text("SELECT value FROM meta WHERE key = 'dataset'")).first()
        return row[0] if row else "unknown"

    def stats(self) -> StoreStats:
        with self._connect() as conn:
            counts = [
                conn.execute(text(f"SELECT count(*) FROM {source}")).scalar_one()
                for source in ("(SELECT user_id FROM users UNION SELECT user_id FROM interactions) AS known", "items", "interactions", "feedback")
            ]
        return StoreStats(*counts)
