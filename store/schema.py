"""The tables of a whyrec store, their version, and the steps that bring an older store up to date.

One declaration serves both backends: SQLAlchemy writes it as SQLite's or PostgreSQL's DDL (an
``Integer`` primary key is SQLite's rowid alias and PostgreSQL's ``SERIAL``). The version lives in
the ``meta`` table; :func:`create_or_upgrade` runs in one transaction, so a failed step leaves the
store at its old version, readable by the whyrec that wrote it.
"""

from __future__ import annotations

import logging

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
    text,
)

from whyrec.store.errors import SetupError
from whyrec.store.records import FEEDBACK_KINDS

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
"""1: the first schema. 2: ``items.keywords`` (a JSON list). 3: ``items.position`` (the catalog's order,
which SQLite kept in its rowid and PostgreSQL has no word for) and ``meta.catalog_version``."""

metadata = MetaData()

meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))
items = Table(
    "items", metadata,
    Column("item_id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("categories", Text, nullable=False),  # JSON list
    Column("year", Integer),
    Column("metadata", Text, nullable=False),  # JSON object
    Column("keywords", Text, nullable=False, server_default="[]"),  # JSON list
    Column("position", Integer, nullable=False, server_default="0"),
)
users = Table("users", metadata, Column("user_id", Text, primary_key=True), Column("attributes", Text, nullable=False))
interactions = Table(
    "interactions", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("item_id", Text, ForeignKey("items.item_id"), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("rating", Float),
    Column("event", Text, nullable=False),
    Index("interactions_by_user", "user_id", "timestamp", "id"),
)
feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("timestamp", Float, nullable=False),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in FEEDBACK_KINDS)})", name="feedback_kind"),
    Index("feedback_by_user", "user_id", "id"),
)
profiles = Table(
    "profiles", metadata,
    Column("user_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("data", Text, nullable=False),
)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE items ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]'",),
    3: (
        "ALTER TABLE items ADD COLUMN position INTEGER NOT NULL DEFAULT 0",
        "UPDATE items SET position = rowid",  # only SQLite stores predate version 3
    ),
}
"""The statements that bring a store from version ``n - 1`` to ``n``, run in order in one transaction."""

UPSERT_META = text("INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
"""Set one ``meta`` value (SQLite and PostgreSQL write an upsert the same way)."""


def create_or_upgrade(conn: Connection, where: str) -> int:
    """Create a new store at :data:`SCHEMA_VERSION`, or upgrade an older one; returns the version found.

    ``conn`` is inside a transaction that holds the store's write lock (SQLite's ``BEGIN IMMEDIATE``,
    PostgreSQL's advisory lock), so of several workers starting at once one upgrades and the others then
    find it done. A store written by a newer whyrec is refused before anything is changed.
    """
    tables = set(inspect(conn).get_table_names())
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first() if "meta" in tables else None
    version = int(row[0]) if row else (1 if "items" in tables else SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise SetupError(f"{where}: schema version {version} is newer than this whyrec ({SCHEMA_VERSION}) — upgrade whyrec")
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[step]:
            conn.exec_driver_sql(statement)
    metadata.create_all(conn, checkfirst=True)
    conn.execute(UPSERT_META, {"key": "schema_version", "value": str(SCHEMA_VERSION)})
    if version < SCHEMA_VERSION:
        log.info("%s: upgraded the schema from version %d to %d", where, version, SCHEMA_VERSION)
    return version
