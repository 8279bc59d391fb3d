"""The candidate lists the cross-encoder reranker learns from and is validated on: the pipeline's own rankings.

Protocol (the saved card repeats :data:`SPLIT_RULE`):

* Each user's history is put in the evaluation's order (:func:`tools.evaluation.splits.split_user_history`);
  the last two interactions (the leave-one-out validation and test targets) are never used: not as
  positives, not as negatives, not inside a query.
* Of the remaining prefix, the last ``cuts_per_user`` positions are cut points. The pipeline
  (:class:`tools.recommend.recommender.Recommender` with the reranker off) is fitted on every user's prefix
  *before* their first cut point, so no positive is ever seen by the collaborative model, and ranks
  for the history before the cut. Its top ``list_size`` is one training list: the positive is the
  item the user took next, the other candidates are the negatives. A list whose positive the
  pipeline did not propose teaches nothing about reordering and is skipped.
* The pair is :class:`tools.recommend.reranker.QueryFormat` (version 3): the request, the recent liked
  items' short text and the profile's interest summaries against the item's title, year, genres,
  keywords and overview; the card carries its parameters and serving reads them.
* Request-conditioned lists:
  - simulated: for some training cuts the conversation simulator's request generator describes the
    next item (genre words, era, "something like <a liked title>") and the pipeline ranks for that request;
  - labelled "about" requests (``concept_requests``): only the rows marked ``dev`` of the frozen set are
    ever read (its ``test`` half is what ``benchmarks/concepts.py`` reports); every 4th of them is kept
    for validation, the rest are asked by a sample of training users; every acceptable film the pipeline
    proposed is a positive.
* Validation lists: held-out users (never trained on), one history list each at their last cut and one for a
  simulated request, plus the held-out "about" requests asked by them (:mod:`tools.training.reranker_validation`
  scores them).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, user_order
from whyrec.tools.evaluation.splits import asked_after, split_user_history
from whyrec.tools.recommend.reranker import QueryFormat
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.training.cross_encoder_fit import TrainingList

log = logging.getLogger(__name__)

SPLIT_RULE = (
    "per user, tools.evaluation.splits.split_user_history: history sorted by (timestamp, insertion order), first interaction "
    "per item; the last 2 interactions are held out and never used (the leave-one-out validation and test targets); cut points are the "
    "last positions of the remaining prefix; the pipeline (reranker off) is fitted on every user's prefix before their "
    "first cut and ranks for the history before the cut; positive = the next item, negatives = the other candidates"
)
MIN_CONTEXT = 5  # interactions needed before a cut point: the profile needs a history to summarise
CONCEPT_USERS = 8
"""Training users who ask each labelled "about" request (each asking is one list)."""


@dataclass
class CandidateList:
    """One ranking the pipeline made with the reranker off: the query, its top candidates and the next item's place."""

    user_id: str
    query: str
    candidates: list[str]  # item ids, the pipeline's order
    docs: list[str]  # the item side of each pair (QueryFormat.doc)
    base: list[float]  # the pipeline's final score for each, reranker off
    positives: list[int]  # indexes in ``candidates`` of the next item (history, simulated) or the acceptable films ("about")
    request: str | None = None
    kind: str = "history"  # history, simulated (a simulator request) or about (a labelled "about" request)

    @property
    def path(self) -> str:
        """history or request: the serving path this list stands for."""
        return "history" if self.request is None else "request"

    def top(self, n: int) -> CandidateList:
        """The pipeline's top ``n`` of this list (a cascade that rescores the top n ranks only those)."""
        return replace(self, candidates=self.candidates[:n], docs=self.docs[:n], base=self.base[:n], positives=[p for p in self.positives if p < n])

    def training_list(self, list_size: int) -> TrainingList:
        """The top ``list_size`` as the training loop reads it."""
        return TrainingList(self.query, self.docs[:list_size], [float(n in self.positives) for n in range(len(self.docs[:list_size]))])


@dataclass
class CandidateLists:
    """The lists of one build, training and validation, with the users each came from and the query format they were written in."""

    train: list[CandidateList]
    validation: list[CandidateList]
    train_users: list[str]
    validation_users: list[str]
    query_format: QueryFormat
    seconds: float = 0.0
    skipped_without_positive: int = 0

    def save(self, path: Path) -> None:
        """Keep the lists (building them is the slow part) to train with another loss on the same data."""
        data = asdict(self)
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> CandidateLists:
        data = json.loads(path.read_text())
        data["train"] = [CandidateList(**x) for x in data["train"]]
        data["validation"] = [CandidateList(**x) for x in data["validation"]]
        data["query_format"] = QueryFormat(**data["query_format"])
        return cls(**data)


def split_history(history: list[Interaction]) -> tuple[list[Interaction], list[Interaction]]:
    """(training prefix, held-out tail): the evaluation's own leave-one-out rule, so the reranker never
    trains on a validation or test target (tools.evaluation.splits.split_user_history: time order, insertion
    order on ties, first interaction per item; users too short to evaluate keep their whole history)."""
    train, valid, test = split_user_history(history)
    return train, [x for x in (valid, test) if x is not None]


def dev_requests(path: Path) -> list[dict]:
    """The labelled "about" requests of ``path`` (JSON lines) marked ``dev``: the only half training may read."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("split") == "dev"]


def build_candidate_lists(
    store: Store,
    *,
    list_size: int = 20,
    cuts_per_user: int = 2,
    validation_users: int = 60,
    request_share: float = 0.3,
    concept_requests: list[dict] | None = None,
    max_users: int | None = None,
    query_format: QueryFormat | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
) -> CandidateLists:
    """The pipeline's own candidate lists at cut points before each user's held-out tail.

    Validation users come first (a history list and a simulated-request list each, at their last cut,
    and the held-out "about" requests), then training users in a seeded random order until
    ``time_budget_s`` is spent; ``request_share`` of the training cuts also get a list ranked for a
    simulated request that describes the next item, and each training "about" request is asked by
    :data:`CONCEPT_USERS` of them. ``concept_requests`` must be the ``dev`` rows (:func:`dev_requests`).
    """
    from whyrec.tools.evaluation.conversation.simulator import Session, SimulatedUser
    from whyrec.tools.recommend.profile import template_summary
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.tools.recommend.reranker import liked_items

    started = time.perf_counter()
    query_format = query_format or QueryFormat()
    rng = random.Random(seed)
    items = store.db.items()
    if not items:
        raise InputError(f"{store.settings.sqlite_path}: the catalog is empty — run `whyrec ingest` first")
    histories: dict[str, list[Interaction]] = {}
    for x in store.db.all_interactions():
        histories.setdefault(x.user_id, []).append(x)
    splits = {u: split_history(h) for u, h in histories.items()}
    prefixes = {u: [x for x in prefix if x.item_id in items] for u, (prefix, _) in splits.items()}
    held_out = {u: {x.item_id for x in tail} for u, (_, tail) in splits.items()}
    users = sorted((u for u, p in prefixes.items() if len(p) >= MIN_CONTEXT + cuts_per_user), key=user_order)
    if not users:
        raise InputError(f"no user has {MIN_CONTEXT + cuts_per_user + 2} interactions — the reranker needs longer histories to learn from")
    fit = [x for u, p in prefixes.items() for x in (p[:-cuts_per_user] if u in users else p)]
    recommender = Recommender(store, None, request_parsing=True)
    recommender.fit_interactions(fit)
    vectors = dict(zip(list(items), store.index.vectors(list(items)), strict=True))
    simulator = SimulatedUser(items, vectors)

    order = users[:]
    rng.shuffle(order)
    n_val = max(0, min(validation_users, len(users) // 2))
    val_users = sorted(order[:n_val], key=user_order)
    train_users = order[n_val:]
    if max_users is not None:
        train_users = train_users[:max_users]

    skipped = 0
    concepts = [r for r in concept_requests or [] if r.get("split") == "dev"]  # never the test half, whatever is passed
    concept_validation, concept_train = concepts[::4], [r for n, r in enumerate(concepts) if n % 4]

    def one(user: str, cut: int, request: str | None, wanted: set[str], kind: str) -> CandidateList:
        history = prefixes[user][:cut]
        ranking = recommender.rank(user, RecommendOptions(request, list_size, diversity=0.0, history=history, now=asked_after(history)))
        ranked = [r for r in ranking.ranked if r.item.item_id not in held_out[user]][:list_size]  # not even as negatives
        ids = [r.item.item_id for r in ranked]
        summary = template_summary(ranking.context.profile, items)
        query = query_format.query(summary, liked_items(ranking.context.history, items), request)
        return CandidateList(
            user, query, ids, [query_format.doc(items[i]) for i in ids], [round(r.scores["final"], 5) for r in ranked],
            [n for n, i in enumerate(ids) if i in wanted], request, kind,
        )

    def at_cut(user: str, cut: int, simulated: bool) -> list[CandidateList]:
        target = prefixes[user][cut].item_id
        made = [one(user, cut, None, {target}, "history")]
        if simulated:
            session = Session(user, items[target], prefixes[user][:cut], seed)
            made.append(one(user, cut, simulator.open(session)[0].text, {target}, "simulated"))
        return made

    validation = [lst for u in val_users for lst in at_cut(u, len(prefixes[u]) - 1, True)]
    validation += [one(u, len(prefixes[u]) - 1, r["request"], set(r["acceptable"]), "about") for r in concept_validation for u in val_users[:CONCEPT_USERS * 2]]
    train: list[CandidateList] = []
    done_users: list[str] = []
    concept_queue = [r for r in concept_train for _ in range(CONCEPT_USERS)]
    rng.shuffle(concept_queue)
    for user in train_users:
        if time_budget_s is not None and time.perf_counter() - started > time_budget_s:
            log.warning("candidate lists stopped after %d of %d training users: their time budget is spent", len(done_users), len(train_users))
            break
        done_users.append(user)
        prefix = prefixes[user]
        made = [lst for cut in range(len(prefix) - cuts_per_user, len(prefix)) for lst in at_cut(user, cut, rng.random() < request_share)]
        if concept_queue:
            ask = concept_queue.pop()
            made.append(one(user, len(prefix), ask["request"], set(ask["acceptable"]), "about"))
        for lst in made:
            if lst.positives:
                train.append(lst)
            else:
                skipped += 1
    seconds = time.perf_counter() - started
    log.info("built %d training lists (%d users, %d skipped: next item not proposed) and %d validation lists in %.0f s",
             len(train), len(done_users), skipped, len(validation), seconds)
    return CandidateLists(train, validation, sorted(done_users, key=user_order), val_users, query_format, round(seconds, 1), skipped)
