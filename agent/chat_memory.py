"""Where conversations are kept: LangGraph's checkpointer for the store's database.

With the embedded SQLite store, chats live in ``<data_dir>/chats.sqlite3`` (one worker's machine).
With ``WHYREC_DATABASE_URL`` set, they live in the same PostgreSQL database as the store, through
LangGraph's own ``PostgresSaver``, so a conversation started on one ``whyrec serve`` worker continues
on any other (docs/deployment.md).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver

from whyrec.store.errors import SetupError
from whyrec.store.settings import Settings

CHATS_FILE = "chats.sqlite3"
CHATS_SETUP_LOCK = 0x63686174  # "chat": one worker creates or upgrades the checkpoint tables at a time


class Closable(Protocol):
    def close(self) -> Any: ...


def open_chat_memory(settings: Settings) -> tuple[BaseCheckpointSaver, Closable]:
    """The checkpointer for these settings, and what to close when the agent is done with it."""
    if settings.database_url:
        return _postgres_memory(settings.database_url)
    from langgraph.checkpoint.sqlite import SqliteSaver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(settings.data_dir / CHATS_FILE, check_same_thread=False)
    return SqliteSaver(connection), connection


def _postgres_memory(url: str) -> tuple[BaseCheckpointSaver, Closable]:
    """A ``PostgresSaver`` on a connection pool, its tables created once whichever worker starts first."""
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ModuleNotFoundError:
        raise SetupError("WHYREC_DATABASE_URL names PostgreSQL, whose chat memory a core install leaves out — run `pip install 'whyrec[postgres]'`") from None
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    pool = ConnectionPool(
        conninfo, min_size=1, max_size=8, open=False, check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    try:
        pool.open(wait=True, timeout=15)
        saver = PostgresSaver(pool)
        with psycopg.connect(conninfo, autocommit=True) as lock:  # LangGraph's setup is not safe to run twice at once
            lock.execute("SELECT pg_advisory_lock(%s)", (CHATS_SETUP_LOCK,))
            saver.setup()
    except (psycopg.Error, TimeoutError) as error:
        pool.close()
        where = psycopg.conninfo.conninfo_to_dict(conninfo)
        raise SetupError(
            f"chat memory at {where.get('host', '')}:{where.get('port', '')}/{where.get('dbname', '')}: "
            f"cannot open ({str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}) — start PostgreSQL or fix WHYREC_DATABASE_URL"
        ) from None
    return saver, pool
