"""Simulated conversations against systems under test: the sessions, the store they run on, the table.

Systems implement :class:`SystemUnderTest`; the plain :class:`Recommender` API is
:class:`RecommenderSystem` here, and the chat systems (keyword router, full agent) live in
``agent/simulated_systems.py`` (dependencies point one way: tools never import agent).

Two protocols choose the sessions, as in ``whyrec evaluate``:

* **leave-one-out** (the default): the hidden target is each user's newest item, asked right after
  the one before it: mostly in the middle of a session;
* **temporal**: the hidden target is each user's first item after the moment T, asked at T with what
  they did before it: a person coming back after a while, which is what a live user of the app is.

The **simulation store** is a copy of the data directory under ``<data_dir>/simulation`` (``simulation-temporal``)
holding every interaction the protocol lets a system see (all but the leave-one-out targets; everything
before T), so that the router and the agent, which read histories from the store, never see the item
the user is looking for.
Each run starts it with no feedback and no cached profiles; the item vectors are copied from
the main store, so nothing is embedded twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.records import NEGATIVE_FEEDBACK, Dataset, Item, user_order
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.conversation.metrics import (
    TABLE_COLUMNS,
    SessionRecord,
    SystemReply,
    TurnRecord,
    summarize,
    why_answer_is_grounded,
)
from whyrec.tools.evaluation.conversation.simulator import Session, SimulatedUser, UserTurn
from whyrec.tools.evaluation.splits import (
    LeaveOneOutSplit,
    TemporalSplit,
    format_table,
    leave_one_out,
)

log = logging.getLogger(__name__)

SIMULATION_DIR = "simulation"
PROTOCOL = (
    "simulated user (tools/evaluation/conversation/simulator.py) with a hidden target = the leave-one-out test item, "
    "asked at the user's own moment (right after their newest history item); temporal: the first item after T, asked at T; "
    "the system's store holds every interaction except the targets; success@k within t turns = target among the "
    "first k items shown in one of the first t turns that ask for items (why turns come on top); "
    "request satisfaction = share of shown items (top 10) meeting every hard constraint stated so far"
)


class SystemUnderTest(Protocol):
    """A recommender a simulated user can talk to."""

    name: str

    def start(self, user_id: str, session_id: str, moment: float | None = None) -> None:
        """A new conversation for this user, asked at ``moment`` (Unix seconds; None: the present)."""

    def respond(self, turn: UserTurn) -> SystemReply:
        """Answer one user turn."""


class RecommenderSystem:
    """The ``Recommender`` API as a caller uses it: the user's words so far as the request, as given.

    No parsing by us: the request is the text of every request/refine/reject turn so far,
    joined; a rejection given as feedback goes through ``Recommender.feedback`` (a UI's
    thumbs-down button); why turns call ``Recommender.explain`` with the same request.
    """

    name = "api"

    def __init__(self, recommender, k: int = 10) -> None:
        self.recommender = recommender
        self.k = k
        self.user_id = ""
        self.said: list[str] = []

    def start(self, user_id: str, session_id: str, moment: float | None = None) -> None:
        self.user_id, self.said = user_id, []
        self.recommender.moment = moment

    def respond(self, turn: UserTurn) -> SystemReply:
        started = time.perf_counter()
        if turn.kind in ("why", "why_not"):
            explanation = self.recommender.explain(self.user_id, turn.item_id, request=self.request, k=self.k)
            return SystemReply([], explanation.text, seconds=time.perf_counter() - started)
        if turn.feedback:
            self.recommender.feedback(self.user_id, turn.item_id, turn.feedback)
        else:
            self.said.append(turn.text)
        recs = self.recommender.recommend(self.user_id, self.request, self.k)
        seconds = time.perf_counter() - started
        items = [r.item.item_id for r in recs]
        return SystemReply(items, "", seconds=seconds, first_item_seconds=seconds if items else None)

    @property
    def request(self) -> str | None:
        return " ".join(self.said) or None


# --- sessions -----------------------------------------------------------------------------------

def pick_sessions(split: LeaveOneOutSplit, items: dict[str, Item], n: int, seed: int = 0) -> list[Session]:
    """``n`` evaluated users drawn with ``seed``, each with their test target and the history before it, asked
    at the split's moment for that history (leave-one-out: right after the newest item, as the protocol replays it;
    the log's end instead would offer what became popular after the person's session, often months later)."""
    users = [u for u in split.users if split.test[u].item_id in items]
    rng = np.random.default_rng(seed)
    chosen = users if n >= len(users) else sorted(rng.choice(users, size=n, replace=False).tolist(), key=user_order)
    sessions = [(u, split.history(u, "test")) for u in chosen]
    return [Session(u, items[split.test[u].item_id], history, seed, split.request_time(history)) for u, history in sessions]


def run_session(
    user: SimulatedUser, system: SystemUnderTest, session: Session, turns: int, store_feedback: Callable[[str], set[str]], session_id: str
) -> SessionRecord:
    """Play one session: up to ``turns`` turns that ask for items, plus the why turns in between."""
    record = SessionRecord(session.user_id, session.target.item_id)
    system.start(session.user_id, session_id, session.asked_at)
    turn, state = user.open(session)
    index = 0
    history_items = [user.items[x.item_id] for x in session.history if x.item_id in user.items]
    while turn is not None:
        if turn.asks_for_items:
            index += 1
        try:
            reply = system.respond(turn)
        except Exception as err:  # noqa: BLE001 — a crash is a failed turn, not a failed benchmark
            log.warning("%s failed on %r: %s", system.name, turn.text, err)
            reply = SystemReply([], "", error=f"{type(err).__name__}: {err}")
        record.turns.append(TurnRecord(turn, reply, index if turn.asks_for_items else 0))
        if turn.kind in ("why", "why_not") and turn.item_id:
            record.why_grounded.append(
                why_answer_is_grounded(reply.text, user.items[turn.item_id], history_items, store_feedback(session.user_id), turn.constraints)
            )
        if turn.asks_for_items and index >= turns:
            break
        turn = user.next_turn(session, state, reply.items if turn.asks_for_items else [])
    return record


# --- the store the sessions run on --------------------------------------------------------------

def protocol_of(split: LeaveOneOutSplit | None) -> str:
    """"temporal" (a person coming back at T) or "leave_one_out" (asked mid-session): names the rows and the store."""
    return "temporal" if isinstance(split, TemporalSplit) else "leave_one_out"


def without_targets(dataset: Dataset, split: LeaveOneOutSplit) -> Dataset:
    """What a system may see: the dataset minus each evaluated user's test interaction (the hidden targets);
    on a temporal split, everything before T."""
    if protocol_of(split) == "temporal":
        kept = [x for x in dataset.interactions if float(x.timestamp) < split.cutoff]
        return Dataset(f"{dataset.name} (before T)", dataset.items, kept, dataset.users)
    hidden = {(u, x.item_id, x.timestamp) for u, x in split.test.items()}
    kept = [x for x in dataset.interactions if (x.user_id, x.item_id, x.timestamp) not in hidden]
    return Dataset(f"{dataset.name} (leave-one-out targets held out)", dataset.items, kept, dataset.users)


def simulation_settings(settings: Settings, split: LeaveOneOutSplit | None = None) -> Settings:
    """Settings for the simulation store of ``split``'s protocol: its own data directory, the main store's trained reranker."""
    folder = f"{SIMULATION_DIR}-temporal" if protocol_of(split) == "temporal" else SIMULATION_DIR
    update: dict = {"data_dir": settings.data_dir / folder, "database_url": None}  # a local scratch store, never the shared database
    if settings.trained_reranker_path.exists():
        update["reranker_path"] = settings.trained_reranker_path
    return settings.model_copy(update=update)


def prepare_simulation_store(settings: Settings, dataset: Dataset, split: LeaveOneOutSplit) -> Store:
    """The simulation store for ``settings``, (re)built when its data differ, with no feedback left over."""
    sim = simulation_settings(settings, split)
    if not sim.chroma_path.exists() and settings.chroma_path.exists():
        shutil.copytree(settings.chroma_path, sim.chroma_path)  # the vectors: nothing to embed again
    store = Store.open(sim)
    held_out = without_targets(dataset, split)
    stats = store.db.stats()
    if stats.interactions != len(held_out.interactions) or stats.items != len(held_out.items):
        log.info("building the simulation store in %s", sim.data_dir)
        store.ingest(held_out, progress=False)
    forget_feedback(store)
    return store


def forget_feedback(store: Store, user_id: str | None = None) -> None:
    """Drop the feedback (and cached profiles) of one user, or of everyone, in the simulation store only:
    each session starts from the user's history as the dataset left it."""
    if not store.settings.data_dir.name.startswith(SIMULATION_DIR):
        raise ValueError(f"{store.settings.data_dir} is not a simulation store — feedback is only ever dropped there")
    store.db.clear_feedback(user_id)


# --- a run --------------------------------------------------------------------------------------

def simulate(
    system: SystemUnderTest,
    user: SimulatedUser,
    sessions: Sequence[Session],
    turns: int,
    store: Store,
    *,
    run_id: str = "",
    on_session: Callable[[list[SessionRecord]], None] | None = None,
    progress: bool = False,
) -> list[SessionRecord]:
    """Play every session against ``system``; ``on_session`` sees the records so far after each one."""
    feedback = lambda user_id: {f.item_id for f in store.db.feedback(user_id) if f.kind in NEGATIVE_FEEDBACK}
    records: list[SessionRecord] = []
    iterator: Iterable[Session] = sessions
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(sessions, desc=f"simulate[{system.name}]")
    for session in iterator:
        forget_feedback(store, session.user_id)
        records.append(run_session(user, system, session, turns, feedback, f"sim-{run_id}-{session.user_id}"))
        if on_session:
            on_session(records)
    return records


def report_row(system: SystemUnderTest, records: Sequence[SessionRecord], items: dict[str, Item], turns: int, k: int, details: dict, complete: bool) -> dict:
    row = summarize(system.name, records, items, turns, k)
    row.update(details)
    row.update(
        complete=complete,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{platform.machine()} {platform.processor() or ''} Python {platform.python_version()}".strip(),
    )
    return row


def write_rows(path: Path, rows: Sequence[dict], dataset: str) -> dict:
    """Merge ``rows`` into the JSON at ``path`` (one row per system, the new one replacing the old)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(tempfile.gettempdir()) / f"whyrec-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:  # runs of different systems may share the file
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
        kept = [r for r in report.get("rows", []) if r.get("system") not in {row["system"] for row in rows}]
        order = {"api-unparsed": 0, "api": 1, "router": 2, "agent": 3}
        merged = sorted([*kept, *rows], key=lambda r: order.get(r.get("system"), 9))
        report = {"dataset": dataset, "protocol": PROTOCOL, "rows": merged}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2))
        tmp.replace(path)
    return report


def table(rows: Sequence[dict]) -> str:
    return format_table([{c: r.get(c) for c in TABLE_COLUMNS} for r in rows], digits=3)


def run_benchmark(
    systems: Sequence[SystemUnderTest],
    store: Store,
    dataset: Dataset,
    *,
    users: int,
    turns: int,
    output: Path | None,
    seed: int = 0,
    k: int = 10,
    paraphrase: Callable[[str], str] | None = None,
    details: dict | None = None,
    progress: bool = False,
    split: LeaveOneOutSplit | None = None,
) -> list[dict]:
    """Simulate ``users`` sessions of ``split`` (default: leave-one-out) against each system; write rows to ``output`` as sessions finish."""
    split = split or leave_one_out(dataset)
    items = store.db.items()
    vectors = dict(zip(items, store.index.vectors(list(items)), strict=True))
    user = SimulatedUser(items, vectors, k=k, paraphrase=paraphrase)
    sessions = pick_sessions(split, items, users, seed)
    rows = []
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for system in systems:
        extra = {"protocol": protocol_of(split), "seed": seed, "k": k, "paraphrased": paraphrase is not None, **(details or {}).get(system.name, {})}

        def save(records: list[SessionRecord], system=system, extra=extra) -> None:
            if output is not None:
                write_rows(output, [report_row(system, records, items, turns, k, extra, complete=len(records) == len(sessions))], dataset.name)

        records = simulate(system, user, sessions, turns, store, run_id=run_id, on_session=save, progress=progress)
        rows.append(report_row(system, records, items, turns, k, extra, complete=True))
    return rows
