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
* The query is :class:`tools.recommend.reranker.QueryFormat`: the profile's short- and long-term interest
  summaries (plus the request when there is one); the card carries its parameters and serving reads them.
* Request-conditioned lists: for some training cuts the conversation simulator's request generator
  describes the next item (genre words, era, "something like <a liked title>") and the pipeline
  ranks for that request.
* Validation: held-out users (never trained on), one list each at their last cut, ranked by the
  pipeline without the reranker ("no_reranker"), by the cross-encoder alone, and by the pipeline's
  final score plus ``share`` x the cross-encoder's probability for a grid of shares and numbers of
  candidates rescored: the mix the recommender serves.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
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

log = logging.getLogger(__name__)

SPLIT_RULE = (
    "per user, tools.evaluation.splits.split_user_history: history sorted by (timestamp, insertion order), first interaction "
    "per item; the last 2 interactions are held out and never used (the leave-one-out validation and test targets); cut points are the "
    "last positions of the remaining prefix; the pipeline (reranker off) is fitted on every user's prefix before their "
    "first cut and ranks for the history before the cut; positive = the next item, negatives = the other candidates"
)
MIN_CONTEXT = 5  # interactions needed before a cut point: the profile needs a history to summarise
LOSSES = ("listnet", "lambda", "ranknet", "bce")
SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
"""Reranker shares of the final score tried on validation (final = pipeline + share x probability)."""
RERANK_TOPS = (10, 20, 30)


@dataclass
class CandidateList:
    """One ranking the pipeline made with the reranker off: the query, its top candidates and the next item's place."""

    user_id: str
    query: str
    candidates: list[str]  # item ids, the pipeline's order
    docs: list[str]  # the item side of each pair (QueryFormat.doc)
    base: list[float]  # the pipeline's final score for each, reranker off
    positive: int  # index of the next item in ``candidates``; -1 when the pipeline did not propose it
    request: str | None = None


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


def build_candidate_lists(
    store: Store,
    *,
    list_size: int = 30,
    cuts_per_user: int = 2,
    validation_users: int = 100,
    request_share: float = 0.3,
    max_users: int | None = None,
    query_format: QueryFormat | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
) -> CandidateLists:
    """The pipeline's own candidate lists at cut points before each user's held-out tail.

    Validation users come first (one list each, at their last cut), then training users in a
    seeded random order until ``time_budget_s`` is spent; ``request_share`` of the training cuts
    also get a list ranked for a simulated request that describes the next item.
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

    def one(user: str, cut: int, request: str | None) -> CandidateList:
        history = prefixes[user][:cut]
        ranking = recommender._rank(user, request, k=list_size, diversity=0.0, history=history, now=asked_after(history))
        ranked = [r for r in ranking.ranked if r.item.item_id not in held_out[user]][:list_size]  # not even as negatives
        ids = [r.item.item_id for r in ranked]
        summary = template_summary(ranking.context.profile, items)
        query = query_format.query(summary, liked_items(ranking.context.history, items), request)
        target = prefixes[user][cut].item_id
        return CandidateList(
            user, query, ids, [query_format.doc(items[i]) for i in ids], [round(r.scores["final"], 5) for r in ranked],
            ids.index(target) if target in ids else -1, request,
        )

    validation = [one(u, len(prefixes[u]) - 1, None) for u in val_users]
    train: list[CandidateList] = []
    done_users: list[str] = []
    for user in train_users:
        if time_budget_s is not None and time.perf_counter() - started > time_budget_s:
            log.warning("candidate lists stopped after %d of %d training users: their time budget is spent", len(done_users), len(train_users))
            break
        done_users.append(user)
        prefix = prefixes[user]
        for cut in range(len(prefix) - cuts_per_user, len(prefix)):
            made = [one(user, cut, None)]
            if rng.random() < request_share:
                session = Session(user, items[prefix[cut].item_id], prefix[:cut], seed)
                made.append(one(user, cut, simulator.open(session)[0].text))
            for lst in made:
                if lst.positive >= 0:
                    train.append(lst)
                else:
                    skipped += 1
    seconds = time.perf_counter() - started
    log.info("built %d training lists (%d users, %d skipped: next item not proposed) and %d validation lists in %.0f s",
             len(train), len(done_users), skipped, len(validation), seconds)
    return CandidateLists(train, validation, sorted(done_users, key=user_order), val_users, query_format, round(seconds, 1), skipped)


def ranking_metrics(scores_per_case: list[np.ndarray], positives: list[int], k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR, hit@1 and hit@k for one relevant candidate per case (ties count against the positive;
    a positive of -1, not in the list, is a miss)."""
    if not scores_per_case:
        return {}
    per = per_case_ndcg(scores_per_case, positives, k)
    ranks = np.array([int(np.sum(s >= s[p])) if p >= 0 else 10**9 for s, p in zip(scores_per_case, positives, strict=True)])
    return {
        f"ndcg@{k}": round(float(np.mean(per)), 4),
        "mrr": round(float(np.mean(1.0 / ranks)), 4),
        "hit@1": round(float(np.mean(ranks <= 1)), 4),
        f"hit@{k}": round(float(np.mean(ranks <= k)), 4),
        "cases": len(ranks),
    }


def per_case_ndcg(scores_per_case: list[np.ndarray], positives: list[int], k: int = 10) -> np.ndarray:
    """Each list's NDCG@k of its one positive, ties counted against it (its 0-based place: the others scoring at least as high)."""
    positions = np.array([int(np.sum(s >= s[p])) - 1 if p >= 0 else -1 for s, p in zip(scores_per_case, positives, strict=True)])
    return ndcg_at_positions(positions, k)


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


def validate(lists: list[CandidateList], probs: list[np.ndarray], k: int = 10, seed: int = 0) -> dict:
    """The reranker against its absence on the same lists: alone, and mixed in at each share and depth."""
    if not lists:
        return {}
    positives = [c.positive for c in lists]
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


INFERENCE_SPEEDUP = 4.0
"""Scoring a pair costs about 1/5 to 1/8 of training on it (measured on 2 CPU cores); 4 keeps the reserve cautious."""


def _budget_callback(deadline: float | None, validation_pairs: int, batch_size: int):
    """Logs the trainer's numbers, and stops training early enough that validation still fits before ``deadline``."""
    from transformers import TrainerCallback

    class LogAndBudget(TrainerCallback):
        stopped = False
        began = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                log.info("step %d/%d: %s", state.global_step, state.max_steps, ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()))

        def on_step_end(self, args, state, control, **kwargs):
            if deadline is None or not state.global_step:
                return control
            now = time.perf_counter()
            if state.global_step == 1:  # the first step carries one-off start-up costs: time the rest from here
                self.began, self.first = now, now - self.began
                return control
            per_pair = (now - self.began) / ((state.global_step - 1) * batch_size)
            reserve = per_pair * (batch_size + validation_pairs / INFERENCE_SPEEDUP)  # one more step, then validation
            if now + reserve > deadline:
                log.warning(
                    "reranker training stopped at step %d/%d (%.1f pairs/s): the time budget is spent", state.global_step, state.max_steps, 1 / per_pair
                )
                self.stopped = True
                control.should_training_stop = True
            return control

    return LogAndBudget()


def _save_atomically(model, output: Path, card: dict) -> None:
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


def _loss(model, name: str):
    """The training loss by name: listwise (ListNet, LambdaLoss), pairwise (RankNet) or pointwise BCE on the same lists."""
    import torch
    from sentence_transformers.cross_encoder import losses

    if name == "listnet":
        return losses.ListNetLoss(model, activation_fn=torch.nn.Identity())
    if name == "lambda":
        return losses.LambdaLoss(model, activation_fn=torch.nn.Identity())
    if name == "ranknet":
        return losses.RankNetLoss(model, activation_fn=torch.nn.Identity())
    if name == "bce":
        return losses.BinaryCrossEntropyLoss(model)
    raise InputError(f"loss {name!r} is not one of {', '.join(LOSSES)} — pick one of those")


def _dataset(lists: list[CandidateList], loss: str, list_size: int):
    """Lists as the trainer reads them: (query, [docs]) with [labels] for the list losses, flat pairs for BCE."""
    from datasets import Dataset as HFDataset

    if loss == "bce":
        rows = [(c.query, d, float(n == c.positive)) for c in lists for n, d in enumerate(c.docs[:list_size])]
        return HFDataset.from_dict({"query": [r[0] for r in rows], "doc": [r[1] for r in rows], "label": [r[2] for r in rows]})
    return HFDataset.from_dict({
        "query": [c.query for c in lists],
        "docs": [c.docs[:list_size] for c in lists],
        "labels": [[float(n == c.positive) for n in range(len(c.docs[:list_size]))] for c in lists],
    })


DEFAULT_CPU_BUDGET_S = 900.0
"""15 minutes for the whole command on a CPU; on CUDA there is no budget unless one is given."""


def train_reranker(
    store: Store,
    output: Path | None = None,
    *,
    loss: str = "listnet",
    list_size: int = 20,
    cuts_per_user: int = 2,
    request_share: float = 0.3,
    max_users: int | None = None,
    epochs: int = 1,
    batch_size: int = 4,
    progress: bool = True,
    seed: int = 0,
    learning_rate: float = 2e-5,  # 1e-4 collapsed the model to a constant (the label prior) within 100 steps
    max_seq_length: int = 128,
    validation_users: int = 100,
    time_budget_s: float | None | str = "auto",
    max_steps: int | None = None,
    lists: CandidateLists | None = None,
) -> TrainingReport:
    """Fine-tune all-MiniLM-L6-v2 as a cross-encoder on the pipeline's own candidate lists and save it with its card.

    ``time_budget_s`` bounds the whole call (lists, training, validation, saving): ``"auto"`` is
    15 minutes on a CPU and no limit on CUDA (all the data), ``None`` no limit. Building lists may
    use up to 40% of it; training stops early when the steps so far say validation would not fit,
    and the card says how many lists it got through. ``batch_size`` counts lists (``list_size``
    pairs each; BCE: pairs). ``lists`` reuses lists built before (to compare losses on the same
    data). ``max_steps`` caps the steps (for quick tests).
    """
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )

    started = time.perf_counter()
    output = Path(output or store.settings.trained_reranker_path)
    device = pick_device(store.settings.device)
    cuda = device.startswith("cuda")
    if time_budget_s == "auto":
        time_budget_s = None if cuda else DEFAULT_CPU_BUDGET_S
    if loss not in LOSSES:
        raise InputError(f"loss {loss!r} is not one of {', '.join(LOSSES)} — pick one of those")
    if lists is None:
        lists = build_candidate_lists(
            store, list_size=max(list_size, max(RERANK_TOPS)), cuts_per_user=cuts_per_user, validation_users=validation_users,
            request_share=request_share, max_users=max_users, seed=seed,
            time_budget_s=None if time_budget_s is None else 0.4 * float(time_budget_s),
        )
    if not lists.train:
        raise InputError("no training lists: the pipeline proposed no user's next item — the reranker needs more interactions to learn from")
    dataset_name = store.db.dataset_name()
    base_model = store.settings.resolved_embedding_model()
    bf16 = cuda and torch.cuda.is_bf16_supported()

    torch.manual_seed(seed)
    model = CrossEncoder(base_model, num_labels=1, max_length=max_seq_length, device=device, local_files_only=True)
    train = _dataset(lists.train, loss, list_size)
    if loss == "bce":
        _start_at_prior(model, 1.0 / list_size)
    workdir = output.parent / f".{output.name}.work-{os.getpid()}"
    args = CrossEncoderTrainingArguments(
        output_dir=str(workdir),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=batch_size if loss != "bce" else batch_size * list_size,
        learning_rate=learning_rate,
        warmup_steps=5,  # a fixed few: a ratio of the planned steps would eat much of a time-budgeted run
        lr_scheduler_type="constant_with_warmup",  # a time-budget stop then leaves no schedule half done
        bf16=bf16,
        fp16=cuda and not bf16,
        use_cpu=not cuda,
        seed=seed,
        data_seed=seed,
        report_to="none",
        save_strategy="no",
        logging_steps=10,
        disable_tqdm=not progress,
        dataloader_num_workers=0,
    )
    pairs_per_step = batch_size * list_size
    deadline = None if time_budget_s is None else started + float(time_budget_s) - 10.0  # 10 s to save
    budget = _budget_callback(deadline, sum(len(c.docs) for c in lists.validation), pairs_per_step)
    trainer_start = time.perf_counter()
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=_loss(model, loss), callbacks=[budget])
    _quiet_printer(trainer)
    log.info("training the reranker (%s) on %d lists from %d users on %s", loss, len(lists.train), len(lists.train_users), device)
    try:
        result = trainer.train()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    training_seconds = time.perf_counter() - trainer_start
    steps = int(result.global_step)

    log.info("validating on %d held-out users' candidate lists", len(lists.validation))
    model.eval()
    validation = validate(lists.validation, score_lists(model, lists.validation), seed=seed)
    requested = [c for c in lists.train if c.request]
    report = TrainingReport(
        path=str(output),
        base_model=base_model,
        dataset=dataset_name,
        users=len(lists.train_users),
        validation_users=len(lists.validation_users),
        lists=len(lists.train),
        request_lists=len(requested),
        pairs=sum(min(len(c.docs), list_size) for c in lists.train),
        list_size=list_size,
        lists_trained=_pairs_seen(len(train), steps, args.per_device_train_batch_size) // (list_size if loss == "bce" else 1),
        steps=steps,
        split_rule=SPLIT_RULE,
        epochs=epochs,
        loss=loss,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        query_format=lists.query_format.to_dict(),
        device=device,
        list_seconds=lists.seconds,
        training_seconds=round(training_seconds, 1),
        total_seconds=0.0,
        stopped_at_time_budget=budget.stopped,
        validation=validation,
        seed=seed,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report.total_seconds = round(time.perf_counter() - started, 1)
    card = report.to_dict() | {
        "validation_protocol": (
            "held-out users (never trained on), one list each: the pipeline's top candidates (reranker off) for the history "
            "before their last training-prefix item, which is the positive; 'no_reranker' is the pipeline's order, "
            "'cross_encoder_alone' the model's, 'mix' the pipeline's final score + share x the model's probability on the "
            "top rerank_top candidates (the serving cascade), with the paired bootstrap 95% interval of the NDCG@10 difference"
        ),
    }
    card.pop("path")
    _save_atomically(model, output, card)
    log.info("saved the reranker to %s (validation: no reranker %s, best mix %s)", output, validation.get("no_reranker"), validation.get("best_mix"))
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


def _start_at_prior(model, positive_share: float) -> None:
    """Set the new head's bias to the log-odds of a positive, so the first steps learn ranking, not the label balance."""
    import torch

    head = getattr(model.transformers_model, "classifier", None)
    if isinstance(head, torch.nn.Linear) and head.bias is not None and 0.0 < positive_share < 1.0:
        with torch.no_grad():
            head.bias.fill_(float(np.log(positive_share / (1.0 - positive_share))))


def _pairs_seen(pairs: int, steps: int, batch_size: int) -> int:
    """Examples the optimiser saw in ``steps`` steps over shuffled epochs of ``pairs`` (the last batch may be short)."""
    per_epoch = -(-pairs // batch_size)
    full, rest = divmod(steps, per_epoch)
    return full * pairs + min(rest * batch_size, pairs)


def _quiet_printer(trainer) -> None:
    """Library code logs instead of printing: drop the trainer's stdout printer (progress bars stay)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
