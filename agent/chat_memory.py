"""Where conversations are kept: LangGraph's checkpointer for the store's database, and :class:`ChatMemory` over it.

With the embedded SQLite store, chats live in ``<data_dir>/chats.sqlite3`` (one worker's machine).
With ``WHYREC_DATABASE_URL`` set, they live in the same PostgreSQL database as the store, through
LangGraph's own ``PostgresSaver``, so a conversation started on one ``whyrec serve`` worker continues
on any other (docs/deployment.md).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from whyrec.store.errors import SetupError
from whyrec.store.settings import Settings

if TYPE_CHECKING:
    from whyrec.agent.turn import Turn

logger = logging.getLogger(__name__)

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


class ChatMemory:
    """The conversations of one chat agent, one LangGraph thread per user and conversation.

    The agent's graph reads and writes them (``graph`` below: it knows the state's shape), and a turn stores the
    checked answer, not what the model first wrote, so the next turn reads what the person read.
    """

    def __init__(self, settings: Settings, checkpointer: Any = None) -> None:
        self._connection: Closable | None = None  # what open_chat_memory opened for the checkpointer: close() closes it
        if checkpointer is None:
            checkpointer, self._connection = open_chat_memory(settings)
        self.checkpointer = checkpointer

    @staticmethod
    def thread_id(user_id: str, conversation_id: str) -> str:
        """Conversations are per user: the same conversation id under another user is another chat."""
        return f"{user_id}:{conversation_id}"

    def config(self, user_id: str, conversation_id: str, callbacks: list[Any] | None = None) -> dict[str, Any]:
        """The graph's run configuration for one conversation (and the callbacks of its turn)."""
        config: dict[str, Any] = {"configurable": {"thread_id": self.thread_id(user_id, conversation_id)}, "recursion_limit": 16}
        if callbacks:
            config["callbacks"] = callbacks
        return config

    def messages(self, graph: Any, user_id: str, conversation_id: str) -> list[BaseMessage]:
        """Everything stored for one conversation, tool calls included."""
        state = graph.get_state(self.config(str(user_id), str(conversation_id)))
        return list(state.values.get("messages", [])) if state and state.values else []

    def history(self, graph: Any, user_id: str, conversation_id: str) -> list[tuple[str, str]]:
        """The conversation as (role, text) pairs, "user" / "assistant", for showing it again."""
        pairs = []
        for message in self.messages(graph, user_id, conversation_id):
            if isinstance(message, HumanMessage):
                pairs.append(("user", message.text))
            elif isinstance(message, AIMessage) and not message.tool_calls and message.text:
                pairs.append(("assistant", message.text))
        return pairs

    def remember(self, graph: Any, turn: Turn, answer: str, steps: Sequence[BaseMessage] = ()) -> None:
        """Store the checked answer (and the question and the tool ``steps``, when the model never stored them) in the chat."""
        config = self.config(turn.user_id, turn.conversation_id)
        answer_id = turn.final.id if turn.final is not None and turn.final.id else f"answer-{uuid.uuid4().hex}"
        try:
            graph.update_state(config, {"messages": [turn.human, *steps, AIMessage(content=answer, id=answer_id)]}, as_node="model")
        except Exception as err:  # memory is a convenience: never lose the answer over it
            logger.warning("could not store the answer in the conversation: %s", err)

    def close(self) -> None:
        """Close the chat database this memory opened (a checkpointer given to it is the giver's to close)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
