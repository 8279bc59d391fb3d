"""Fine-tuning the cross-encoder reranker on the candidate lists it will really rerank.

Protocol (written down next to the numbers it produces, in the saved card):

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
* Validation: held-out users (never trained on), one history list each at their last cut and one for a
  simulated request, plus the held-out "about" requests asked by them, ranked by the pipeline without
  the reranker ("no_reranker"), by the cross-encoder alone, and by the pipeline's final score plus
  ``share`` x the cross-encoder's probability for a grid of shares and numbers of candidates rescored
  (the mix the recommender serves), for history-only lists and request lists apart, so serving can
  turn it on per path. The document length is chosen on the same lists (:data:`DOC_CHARS_CURVE`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whyrec.store.catalog import Store
from whyrec.store.embeddings import pick_device
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, user_order
from whyrec.store.settings import Settings
from whyrec.tools.evaluation.splits import asked_after, split_user_history
from whyrec.tools.evaluation.metrics import ndcg_at_positions, paired_bootstrap_ci
from whyrec.tools.recommend.reranker import CARD_NAME, QueryFormat, Reranker
from whyrec.tools.recommend.reranker_backends import resolve_backend
from whyrec.tools.training.cross_encoder_fit import LOSSES, FitResult, TrainingList, fit_cross_encoder

log = logging.getLogger(__name__)

SPLIT_RULE = (
    "per user, tools.evaluation.splits.split_user_history: history sorted by (timestamp, insertion order), first interaction "
    "per item; the last 2 interactions are held out and never used (the leave-one-out validation and test targets); cut points are the "
    "last positions of the remaining prefix; the pipeline (reranker off) is fitted on every user's prefix before their "
    "first cut and ranks for the history before the cut; positive = the next item, negatives = the other candidates"
)
MIN_CONTEXT = 5  # interactions needed before a cut point: the profile needs a history to summarise
SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
"""Reranker shares of the final score tried on validation (final = pipeline + share x probability)."""
RERANK_TOPS = (5, 10)
"""Candidates rescored, tried on validation: the top 10 is what a person sees, and what keeps recommend p50 in budget."""
DOC_CHARS_CURVE = (200, 400, 700)
"""Document lengths (characters) the trained model is validated at; the card keeps the best."""
PATHS = ("history", "request")
"""Where the reranker may act, validated apart: lists without a request, and lists ranked for one."""
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


@dataclass
class TrainingReport:
    """What a training run did, as saved in the model folder's ``whyrec_reranker.json``."""

    path: str
    base_model: str
    dataset: str
    users: int
    validation_users: int
    lists: int
    request_lists: int
    pairs: int
    list_size: int
    lists_trained: int
    steps: int
    split_rule: str
    epochs: int
    loss: str
    learning_rate: float
    batch_size: int
    max_seq_length: int
    query_format: dict
    device: str
    list_seconds: float
    training_seconds: float
    total_seconds: float
    stopped_at_time_budget: bool
    validation: dict = field(default_factory=dict)
    seed: int = 0
    date: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


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
        ranking = recommender._rank(user, request, k=list_size, diversity=0.0, history=history, now=asked_after(history))
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


def _places(scores: np.ndarray, positives: list[int]) -> np.ndarray:
    """0-based places of the positives when ``scores`` orders the list, ties counted against the positives."""
    relevant = np.zeros(len(scores), dtype=bool)
    relevant[positives] = True
    order = np.lexsort((relevant, -np.asarray(scores, dtype=np.float64)))  # on a tie the negatives go first
    return np.flatnonzero(relevant[order])


def ranking_metrics(scores_per_case: list[np.ndarray], positives: list[list[int]], k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR (of the first positive), hit@1 and hit@k; ties count against the positives, a list without one is a miss."""
    if not scores_per_case:
        return {}
    per = per_case_ndcg(scores_per_case, positives, k)
    first = np.array([(_places(s, p)[0] + 1) if p else 10**9 for s, p in zip(scores_per_case, positives, strict=True)])
    return {
        f"ndcg@{k}": round(float(np.mean(per)), 4),
        "mrr": round(float(np.mean(1.0 / first)), 4),
        "hit@1": round(float(np.mean(first <= 1)), 4),
        f"hit@{k}": round(float(np.mean(first <= k)), 4),
        "cases": len(first),
    }


def per_case_ndcg(scores_per_case: list[np.ndarray], positives: list[list[int]], k: int = 10) -> np.ndarray:
    """Each list's NDCG@k of its positives (one for a next item, several for an "about" request), ties counted against them."""
    out = np.zeros(len(scores_per_case))
    for n, (s, p) in enumerate(zip(scores_per_case, positives, strict=True)):
        if p:
            ideal = ndcg_at_positions(np.arange(min(len(p), k)), k).sum()
            out[n] = ndcg_at_positions(_places(s, p), k).sum() / ideal
    return out


def load_cross_encoder(model_path: str, max_seq_length: int, device: str):
    """A sentence-transformers ``CrossEncoder`` with one logit (a new head when ``model_path`` is a bi-encoder), from local files only."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model_path, num_labels=1, max_length=max_seq_length, device=device, local_files_only=True)


def score_lists(model, lists: list[CandidateList], batch_size: int = 64) -> list[np.ndarray]:
    """The cross-encoder's probability for every candidate of every list (a sigmoid of its logit, as served)."""
    import torch

    flat = [(c.query, d) for c in lists for d in c.docs]
    if not flat:
        return [np.zeros(0) for _ in lists]
    logits = np.asarray(model.predict(flat, batch_size=batch_size, activation_fn=torch.nn.Identity(), show_progress_bar=False), dtype=np.float64)
    probs = 1.0 / (1.0 + np.exp(-logits))
    out, start = [], 0
    for c in lists:
        out.append(probs[start : start + len(c.docs)])
        start += len(c.docs)
    return out


def _validate_path(lists: list[CandidateList], probs: list[np.ndarray], k: int, seed: int) -> dict:
    """The reranker against its absence on ``lists``: alone, and mixed in at each share and depth."""
    positives = [c.positives for c in lists]
    base = [np.asarray(c.base, dtype=np.float64) for c in lists]
    none = per_case_ndcg(base, positives, k)
    out: dict = {"no_reranker": ranking_metrics(base, positives, k), "cross_encoder_alone": ranking_metrics(probs, positives, k), "mix": []}
    best = None
    depth = max(len(c.docs) for c in lists)
    for top in [t for t in RERANK_TOPS if t <= depth] or [depth]:
        for share in SHARES[1:]:
            mixed = []
            for b, p in zip(base, probs, strict=True):
                extra = np.zeros_like(b)
                extra[:top] = p[:top]
                mixed.append(b + share * extra)
            per = per_case_ndcg(mixed, positives, k)
            delta, low, high = paired_bootstrap_ci(per.tolist(), none.tolist(), seed=seed)
            row = {"rerank_top": top, "share": share, f"ndcg@{k}": round(float(per.mean()), 4),
                   "delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)]}
            out["mix"].append(row)
            if best is None or row[f"ndcg@{k}"] > best[f"ndcg@{k}"]:
                best = row
    out["best_mix"] = best
    out["beats_no_reranker"] = bool(best and best["ci95"][0] > 0)
    return out


def validate(lists: list[CandidateList], probs: list[np.ndarray], k: int = 10, seed: int = 0) -> dict:
    """The reranker against its absence, per serving path (:data:`PATHS`) and per kind of list.

    ``best_mix`` (history-only lists) and ``request.best_mix`` are what serving reads
    (:attr:`tools.recommend.reranker.Reranker.mix_share`).
    """
    out: dict = {}
    for path in PATHS:
        chosen = [n for n, c in enumerate(lists) if c.path == path]
        if chosen:
            out[path] = _validate_path([lists[n] for n in chosen], [probs[n] for n in chosen], k, seed)
    for kind in ("simulated", "about"):
        chosen = [n for n, c in enumerate(lists) if c.kind == kind]
        if chosen:
            part = _validate_path([lists[n] for n in chosen], [probs[n] for n in chosen], k, seed)
            out.setdefault("request_kinds", {})[kind] = {key: part[key] for key in ("no_reranker", "cross_encoder_alone", "best_mix")}
    history = out.get("history") or {}
    out["best_mix"] = history.get("best_mix")
    out["beats_no_reranker"] = bool(history.get("beats_no_reranker"))
    return out


def _summary_score(validation: dict, k: int = 10) -> float:
    """One number to pick a document length by: the best mix's NDCG@k averaged over the paths validated."""
    values = [(validation.get(path) or {}).get("best_mix", {}).get(f"ndcg@{k}") for path in PATHS]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


def doc_length_curve(model, lists: list[CandidateList], items: dict, query_format: QueryFormat, seed: int = 0) -> tuple[QueryFormat, list[dict]]:
    """Validate at each of :data:`DOC_CHARS_CURVE`; the format with the best length, and the curve."""
    curve, best = [], (query_format, -1.0)
    for chars in DOC_CHARS_CURVE:
        fmt = query_format.with_doc_chars(chars)
        relisted = [replace(c, docs=[fmt.doc(items[i]) for i in c.candidates]) for c in lists]
        validation = validate(relisted, score_lists(model, relisted), seed=seed)
        score = _summary_score(validation)
        curve.append({"doc_chars": chars, "mean_best_mix_ndcg@10": round(score, 4), "validation": validation})
        if score > best[1]:
            best = (fmt, score)
    return best[0], curve


def save_reranker(model, output: Path, card: dict) -> None:
    """Write the model and card into a temporary folder beside ``output``, then swap it in."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.parent / f".{output.name}.tmp-{os.getpid()}"
    old = output.parent / f".{output.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp))
        (tmp / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
        if output.exists():
            output.rename(old)
        tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not output.exists():
            old.rename(output)
        raise
    shutil.rmtree(old, ignore_errors=True)


DEFAULT_CPU_BUDGET_S = 900.0
"""15 minutes for the whole command on a CPU; on CUDA there is no budget unless one is given."""

VALIDATION_PROTOCOL = (
    "held-out users (never trained on): per user, the pipeline's top candidates (reranker off) for the history before their "
    "last training-prefix item (the positive), once without a request and once for a simulated request describing it; "
    "plus every 4th labelled 'about' request of the dev half asked by some of them (positives: its acceptable films). "
    "'no_reranker' is the pipeline's order, 'cross_encoder_alone' the model's, 'mix' the pipeline's final score + share x "
    "the model's probability on the top rerank_top candidates (the serving cascade), with the paired bootstrap 95% interval "
    "of the NDCG@10 difference; history and request lists apart, and the document length chosen on the same lists"
)


def train_reranker(
    store: Store,
    output: Path | None = None,
    *,
    loss: str = "listnet",
    base_model: str | None = None,
    list_size: int = 10,
    cuts_per_user: int = 2,
    request_share: float = 0.3,
    concept_requests: list[dict] | None = None,
    max_users: int | None = None,
    epochs: int = 1,
    batch_size: int = 4,
    progress: bool = True,
    seed: int = 0,
    learning_rate: float = 3e-5,  # 1e-4 collapsed the model to a constant (the label prior) within 100 steps
    max_seq_length: int = 192,
    validation_users: int = 60,
    time_budget_s: float | None | str = "auto",
    max_steps: int | None = None,
    lists: CandidateLists | None = None,
) -> TrainingReport:
    """Fine-tune a cross-encoder on the pipeline's own candidate lists and save it with its card.

    ``base_model`` defaults to the packaged all-MiniLM-L6-v2 (a bi-encoder: it gets a new scoring
    head). ``time_budget_s`` bounds the whole call (lists, training, validation, saving): ``"auto"``
    is 15 minutes on a CPU and no limit on CUDA (all the data), ``None`` no limit. Building lists
    may use up to 30% of it; training stops early when the steps so far say validation would not
    fit, and the card says how many lists it got through. ``batch_size`` counts lists of
    ``list_size`` candidates. ``lists`` reuses lists built before (to compare losses and bases on
    the same data). ``max_steps`` caps the steps (for quick tests).
    """
    started = time.perf_counter()
    output = Path(output or store.settings.trained_reranker_path)
    device = pick_device(store.settings.device)
    if time_budget_s == "auto":
        time_budget_s = None if device.startswith("cuda") else DEFAULT_CPU_BUDGET_S
    if loss not in LOSSES:
        raise InputError(f"loss {loss!r} is not one of {', '.join(LOSSES)} — pick one of those")
    if lists is None:
        lists = build_candidate_lists(
            store, list_size=max(list_size, max(RERANK_TOPS)), cuts_per_user=cuts_per_user, validation_users=validation_users,
            request_share=request_share, concept_requests=concept_requests, max_users=max_users, seed=seed,
            time_budget_s=None if time_budget_s is None else 0.3 * float(time_budget_s),
        )
    if not lists.train:
        raise InputError("no training lists: the pipeline proposed no user's next item — the reranker needs more interactions to learn from")
    base_model = base_model or store.settings.resolved_embedding_model()
    model = load_cross_encoder(base_model, max_seq_length, device)
    validation_pairs = sum(len(c.top(max(RERANK_TOPS)).docs) for c in lists.validation) * len(DOC_CHARS_CURVE)
    deadline = None if time_budget_s is None else started + float(time_budget_s) - 10.0  # 10 s to save
    log.info("training the reranker (%s, %s) on %d lists from %d users on %s", base_model, loss, len(lists.train), len(lists.train_users), device)
    fit = fit_cross_encoder(
        model.model, model.tokenizer, [c.training_list(list_size) for c in lists.train if min(c.positives) < list_size], max_length=max_seq_length, loss=loss, batch_lists=batch_size, learning_rate=learning_rate,
        epochs=epochs, max_steps=max_steps, deadline=deadline, reserve_pairs=validation_pairs, seed=seed,
    )
    return validate_and_save(
        model, lists, store, output, fit, base_model=base_model, loss=loss, list_size=list_size, batch_size=batch_size,
        learning_rate=learning_rate, max_seq_length=max_seq_length, epochs=epochs, device=device, seed=seed, started=started,
    )


def validate_and_save(
    model, lists: CandidateLists, store: Store, output: Path, fit: FitResult, *, base_model: str, loss: str, list_size: int,
    batch_size: int, learning_rate: float, max_seq_length: int, epochs: int, device: str, seed: int = 0, started: float | None = None,
) -> TrainingReport:
    """Validate a trained model on the held-out lists (choosing the document length there), write its card, save it.

    One home for the card: ``whyrec train-reranker`` ends here, and so does a model trained on the GPU
    machine (``benchmarks/gpu_finish.py``), validated on this CPU.
    """
    started = time.perf_counter() if started is None else started
    log.info("validating on %d held-out lists at %d document lengths", len(lists.validation), len(DOC_CHARS_CURVE))
    # NDCG@10 of a mix that rescores at most the top 10 is decided inside the top 10: the rest need no scoring
    validation_lists = [c.top(max(RERANK_TOPS)) for c in lists.validation]
    query_format, curve = doc_length_curve(model, validation_lists, store.db.items(), lists.query_format, seed)
    chosen = next(point for point in curve if point["doc_chars"] == query_format.doc_chars)
    report = TrainingReport(
        path=str(output),
        base_model=base_model,
        dataset=store.db.dataset_name(),
        users=len(lists.train_users),
        validation_users=len(lists.validation_users),
        lists=len(lists.train),
        request_lists=sum(1 for c in lists.train if c.request),
        pairs=sum(min(len(c.docs), list_size) for c in lists.train),
        list_size=list_size,
        lists_trained=fit.lists_seen,
        steps=fit.steps,
        split_rule=SPLIT_RULE,
        epochs=epochs,
        loss=loss,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        query_format=query_format.to_dict(),
        device=device,
        list_seconds=lists.seconds,
        training_seconds=fit.seconds,
        total_seconds=0.0,
        stopped_at_time_budget=fit.stopped_at_time_budget,
        validation=chosen["validation"],
        seed=seed,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report.total_seconds = round(time.perf_counter() - started, 1)
    card = report.to_dict() | {
        "lists_by_kind": {kind: sum(1 for c in lists.train if c.kind == kind) for kind in ("history", "simulated", "about")},
        "pairs_per_second": fit.pairs_per_second,
        "loss_curve": fit.losses,
        "doc_chars_curve": [{k: v for k, v in point.items() if k != "validation"} for point in curve],
        "validation_protocol": VALIDATION_PROTOCOL,
    }
    card.pop("path")
    save_reranker(model, output, card)
    log.info("saved the reranker to %s (validation: history %s, request %s)", output,
             (report.validation.get("history") or {}).get("best_mix"), (report.validation.get("request") or {}).get("best_mix"))
    _prepare_backend(output, store.settings)
    return report


def _prepare_backend(output: Path, settings: Settings) -> None:
    """Export the new model for the configured CPU backend now, so the first recommendation after training doesn't wait.

    A failure here is only logged: the model is saved, and loading it later reports the problem in context.
    Torch (a GPU) needs no export, so nothing is loaded then.
    """
    if resolve_backend(settings.reranker_backend, pick_device(settings.device)) == "torch":
        return
    try:
        Reranker.load(output, settings)
    except InputError as err:
        log.warning("the reranker is saved, but its %s backend is not ready: %s", settings.reranker_backend, err)
