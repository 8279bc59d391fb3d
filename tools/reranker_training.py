"""Fine-tuning the cross-encoder reranker on the store's interaction log.

Protocol (written down next to the numbers it produces, in the saved card):

* Each user's history is sorted by (timestamp, insertion order). The last two
  interactions are held out: they are the validation and test targets of our
  evaluation, so training never sees them: not as positives, not as negatives,
  not inside a query.
* From the remaining prefix we take a few cut points per user. At a cut point the
  query is :func:`tools.reranker.query_text` of what the user liked before it
  (newest first), the positive is the item at the cut (only if it was liked:
  rating >= 4, or unrated), the negatives are hard ones from our own retrieval
  (the Chroma index queried with the normalised mean vector of the last liked
  items) mixed with random items the user has not seen.
* A few users are held out entirely; for each, the most recent liked item of the
  prefix is hidden among random unseen items and we report how well the trained
  model ranks it, next to the retrieval (cosine) score on the same candidates.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from whyrec.store.catalog import Store
from whyrec.store.embeddings import pick_device
from whyrec.store.errors import InputError
from whyrec.store.records import Interaction, Item
from whyrec.store.settings import Settings
from whyrec.tools.evaluation import split_user_history
from whyrec.tools.reranker import CARD_NAME, QUERY_ITEMS, Reranker, liked_items, query_text
from whyrec.tools.reranker_backends import resolve_backend

log = logging.getLogger(__name__)

SPLIT_RULE = (
    "per user, tools.evaluation.split_user_history: history sorted by (timestamp, insertion order), first interaction "
    "per item; the last 2 interactions are held out and never used (the leave-one-out validation and test targets); "
    "positives are liked items (rating >= 4 or unrated) at cut points of the remaining prefix, the query is made of the "
    "items liked before the cut; negatives are retrieval hard negatives and random items unseen in the prefix"
)
PROFILE_ITEMS = 10  # the last liked items whose mean vector finds hard negatives, as the recommender's short-term profile does
MIN_CONTEXT = 2  # liked items needed before a cut point


@dataclass(frozen=True)
class TrainingPair:
    """One (query, item text, label) example; ``label`` is 1.0 for the item the user liked next, 0.0 for a negative."""

    query: str
    doc: str
    label: float
    user_id: str
    item_id: str


@dataclass(frozen=True)
class ValidationCase:
    """A held-out user's query and candidates (random unseen items, with the liked ``positive`` among them)."""

    user_id: str
    query: str
    positive: str
    candidates: list[str]
    cosine: list[float]


@dataclass
class TrainingPairs:
    pairs: list[TrainingPair]
    validation: list[ValidationCase]
    train_users: list[str]
    validation_users: list[str]

    @property
    def positives(self) -> int:
        return sum(1 for p in self.pairs if p.label > 0.5)

    @property
    def negatives(self) -> int:
        return len(self.pairs) - self.positives


@dataclass
class TrainingReport:
    """What a training run did, as saved in the model folder's ``whyrec_reranker.json``."""

    path: str
    base_model: str
    dataset: str
    users: int
    validation_users: int
    pairs: int
    positives: int
    negatives: int
    pairs_trained: int
    steps: int
    split_rule: str
    epochs: int
    loss: str
    learning_rate: float
    batch_size: int
    max_seq_length: int
    max_query_items: int
    device: str
    training_seconds: float
    total_seconds: float
    stopped_at_time_budget: bool
    validation: dict[str, float] = field(default_factory=dict)
    baseline_validation: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    date: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def split_history(history: list[Interaction]) -> tuple[list[Interaction], list[Interaction]]:
    """(training prefix, held-out tail): the evaluation's own leave-one-out rule, so the reranker never
    trains on a validation or test target (tools.evaluation.split_user_history: time order, insertion
    order on ties, first interaction per item; users too short to evaluate keep their whole history)."""
    train, valid, test = split_user_history(history)
    return train, [x for x in (valid, test) if x is not None]


def _profile_vector(liked: list[Item], vectors: dict[str, np.ndarray]) -> np.ndarray:
    v = np.mean([vectors[i.item_id] for i in liked[:PROFILE_ITEMS]], axis=0)
    return v / (np.linalg.norm(v) or 1.0)


def _cut_points(prefix: list[Interaction], items: dict[str, Item]) -> list[int]:
    """Positions whose item was liked, with at least :data:`MIN_CONTEXT` liked items before it."""
    cuts, liked_before = [], 0
    for j, x in enumerate(prefix):
        if x.item_id not in items:
            continue
        if x.liked:
            if liked_before >= MIN_CONTEXT:
                cuts.append(j)
            liked_before += 1
    return cuts


def build_training_pairs(
    store: Store,
    *,
    max_users: int | None = None,
    examples_per_user: int = 2,
    negatives_per_positive: int = 4,
    hard_negative_share: float = 0.5,
    hard_negative_pool: int = 30,
    validation_users: int = 64,
    validation_candidates: int = 16,
    max_query_items: int = QUERY_ITEMS,
    seed: int = 0,
) -> TrainingPairs:
    """Training pairs and validation cases from the interaction log, never touching each user's last two interactions.

    ``examples_per_user`` positives per training user (cut points drawn at random,
    seeded), each with ``negatives_per_positive`` negatives of which about
    ``hard_negative_share`` come from retrieval (sampled from its top ``hard_negative_pool``).
    """
    if negatives_per_positive < 1:
        raise InputError(f"negatives_per_positive is {negatives_per_positive} — use 1 or more")
    rng = np.random.default_rng(seed)
    items = store.db.items()
    if not items:
        raise InputError(f"{store.settings.sqlite_path}: the catalog is empty — run `whyrec ingest` first")
    item_ids = list(items)
    vectors = dict(zip(item_ids, store.index.vectors(item_ids), strict=True))

    histories: dict[str, list[Interaction]] = {}
    for x in store.db.all_interactions():
        histories.setdefault(x.user_id, []).append(x)
    prefixes = {u: split_history(h)[0] for u, h in histories.items()}
    cuts = {u: _cut_points(p, items) for u, p in prefixes.items()}
    users = sorted((u for u in prefixes if cuts[u]), key=lambda u: (not u.isdigit(), int(u) if u.isdigit() else 0, u))
    if not users:
        raise InputError("no user has 3 liked interactions before their last two — the reranker needs longer histories to learn from")
    order = list(rng.permutation(len(users)))
    n_val = max(0, min(validation_users, len(users) // 2))  # at least half the users train
    val_users = sorted((users[i] for i in order[:n_val]), key=users.index)
    train_users = [users[i] for i in order[n_val:]]
    if max_users is not None:
        train_users = train_users[:max_users]
    train_users.sort(key=users.index)

    n_hard = int(round(negatives_per_positive * hard_negative_share))
    pairs: list[TrainingPair] = []
    for user in train_users:
        prefix = prefixes[user]
        seen = {x.item_id for x in prefix}
        chosen = sorted(rng.choice(cuts[user], size=min(examples_per_user, len(cuts[user])), replace=False))
        liked_at = [liked_items(prefix[:j], items) for j in chosen]
        hard = store.index.query(np.stack([_profile_vector(lk, vectors) for lk in liked_at]), hard_negative_pool, exclude=seen) if n_hard else [[] for _ in chosen]
        for j, liked, pool in zip(chosen, liked_at, hard, strict=True):
            query = query_text(liked, max_items=max_query_items)
            positive = prefix[j].item_id
            pairs.append(TrainingPair(query, items[positive].text, 1.0, user, positive))
            pool_ids = [i for i, _ in pool]
            negatives = list(rng.choice(pool_ids, size=min(n_hard, len(pool_ids)), replace=False)) if pool_ids else []
            tries = 0
            while len(negatives) < negatives_per_positive and tries < 50 * negatives_per_positive:
                tries += 1
                candidate = item_ids[int(rng.integers(len(item_ids)))]
                if candidate not in seen and candidate not in negatives:
                    negatives.append(candidate)
            pairs.extend(TrainingPair(query, items[n].text, 0.0, user, str(n)) for n in negatives)

    validation: list[ValidationCase] = []
    for user in val_users:
        prefix = prefixes[user]
        j = cuts[user][-1]  # the most recent liked item of the training prefix
        liked = liked_items(prefix[:j], items)
        positive = prefix[j].item_id
        unseen = [i for i in item_ids if i not in {x.item_id for x in prefix}]
        # random unseen candidates: retrieved ones would be the cosine top-N, which the positive can only trail
        candidates = [str(i) for i in rng.choice(unseen, size=min(validation_candidates - 1, len(unseen)), replace=False)]
        candidates.insert(int(rng.integers(len(candidates) + 1)), positive)
        profile = _profile_vector(liked, vectors)
        cosine = [float(vectors[c] @ profile) for c in candidates]
        validation.append(ValidationCase(user, query_text(liked, max_items=max_query_items), positive, candidates, cosine))

    log.info("built %d pairs (%d users) and %d validation cases", len(pairs), len(train_users), len(validation))
    return TrainingPairs(pairs, validation, train_users, val_users)


def ranking_metrics(scores_per_case: list[np.ndarray], positives: list[int], k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR, hit@1 and hit@5 for one relevant candidate per case (ties count against the positive)."""
    if not scores_per_case:
        return {}
    ranks = np.array([int(np.sum(s >= s[p])) for s, p in zip(scores_per_case, positives, strict=True)])  # 1-based, pessimistic
    return {
        f"ndcg@{k}": float(np.mean(np.where(ranks <= k, 1.0 / np.log2(ranks + 1), 0.0))),
        "mrr": float(np.mean(1.0 / ranks)),
        "hit@1": float(np.mean(ranks <= 1)),
        "hit@5": float(np.mean(ranks <= 5)),
        "cases": float(len(ranks)),
    }


def evaluate_reranker(model, cases: list[ValidationCase], items: dict[str, Item], batch_size: int = 64) -> dict[str, float]:
    """Rank each case's candidates with a CrossEncoder ``model`` (higher logit = better)."""
    import torch

    if not cases:
        return {}
    flat = [(c.query, items[i].text) for c in cases for i in c.candidates]
    logits = np.asarray(model.predict(flat, batch_size=batch_size, activation_fn=torch.nn.Identity(), show_progress_bar=False), dtype=np.float64)
    scores, start = [], 0
    for c in cases:
        scores.append(logits[start : start + len(c.candidates)])
        start += len(c.candidates)
    return ranking_metrics(scores, [c.candidates.index(c.positive) for c in cases])


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
            per_pair = (now - self.began) / (state.global_step * batch_size)
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


def train_reranker(
    store: Store,
    output: Path | None = None,
    *,
    max_users: int | None = None,
    negatives_per_positive: int = 4,
    epochs: int = 1,
    batch_size: int = 16,
    progress: bool = True,
    seed: int = 0,
    examples_per_user: int = 1,
    learning_rate: float = 2e-5,  # 1e-4 collapsed the model to a constant (the label prior) within 100 steps
    max_seq_length: int = 128,
    max_query_items: int = QUERY_ITEMS,
    validation_users: int = 64,
    time_budget_s: float | None = 750.0,
    max_steps: int | None = None,
) -> TrainingReport:
    """Fine-tune all-MiniLM-L6-v2 as a cross-encoder on the store's histories and save it with its card.

    ``time_budget_s`` bounds the whole call (pairs, training, validation, saving; ``None`` = no
    limit): training stops early when the steps so far say validation would not fit, and the
    card says how many pairs it got through. On 2 free CPU cores the defaults train MovieLens-100K
    in about 10 minutes; on a busy machine the budget cuts training short instead of running
    long. ``max_steps`` caps the steps (for quick tests).
    """
    import torch
    from datasets import Dataset as HFDataset
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    started = time.perf_counter()
    output = Path(output or store.settings.trained_reranker_path)
    built = build_training_pairs(
        store,
        max_users=max_users,
        examples_per_user=examples_per_user,
        negatives_per_positive=negatives_per_positive,
        validation_users=validation_users,
        max_query_items=max_query_items,
        seed=seed,
    )
    if not built.pairs:
        raise InputError("no training pairs: no user has a liked item after 2 liked ones before their last two interactions")
    dataset_name = store.db.dataset_name()
    base_model = store.settings.resolved_embedding_model()
    device = pick_device(store.settings.device)
    cuda = device.startswith("cuda")
    bf16 = cuda and torch.cuda.is_bf16_supported()

    torch.manual_seed(seed)
    model = CrossEncoder(base_model, num_labels=1, max_length=max_seq_length, device=device, local_files_only=True)
    train = HFDataset.from_dict(
        {"query": [p.query for p in built.pairs], "doc": [p.doc for p in built.pairs], "label": [p.label for p in built.pairs]}
    )
    _start_at_prior(model, built.positives / len(built.pairs))
    loss = BinaryCrossEntropyLoss(model)
    workdir = output.parent / f".{output.name}.work-{os.getpid()}"
    args = CrossEncoderTrainingArguments(
        output_dir=str(workdir),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=batch_size,
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
    deadline = None if time_budget_s is None else started + time_budget_s - 10.0  # 10 s to save
    budget = _budget_callback(deadline, sum(len(c.candidates) for c in built.validation), batch_size)
    trainer_start = time.perf_counter()
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=loss, callbacks=[budget])
    _quiet_printer(trainer)
    log.info("training the reranker on %d pairs from %d users on %s", len(built.pairs), len(built.train_users), device)
    try:
        result = trainer.train()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    training_seconds = time.perf_counter() - trainer_start
    steps = int(result.global_step)

    items = store.db.items()
    log.info("validating on %d held-out users", len(built.validation))
    validation = evaluate_reranker(model, built.validation, items)
    baseline = ranking_metrics([np.asarray(c.cosine) for c in built.validation], [c.candidates.index(c.positive) for c in built.validation])

    report = TrainingReport(
        path=str(output),
        base_model=base_model,
        dataset=dataset_name,
        users=len(built.train_users),
        validation_users=len(built.validation_users),
        pairs=len(built.pairs),
        positives=built.positives,
        negatives=built.negatives,
        pairs_trained=_pairs_seen(len(built.pairs), steps, batch_size),
        steps=steps,
        split_rule=SPLIT_RULE,
        epochs=epochs,
        loss="BinaryCrossEntropyLoss",
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        max_query_items=max_query_items,
        device=device,
        training_seconds=round(training_seconds, 1),
        total_seconds=0.0,
        stopped_at_time_budget=budget.stopped,
        validation=validation,
        baseline_validation=baseline,
        seed=seed,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    report.total_seconds = round(time.perf_counter() - started, 1)
    card = report.to_dict() | {
        "validation_protocol": (
            "held-out users (never trained on); per user the most recent liked item of the training prefix is hidden among "
            "15 random items unseen in the prefix; 'validation' ranks the 16 with the reranker, 'baseline_validation' by "
            "cosine to the mean vector of the last 10 liked items (our retrieval score); a random order gives about ndcg@10 0.28, mrr 0.21"
        ),
        "query_format": "whyrec.tools.reranker.query_text",
    }
    card.pop("path")
    _save_atomically(model, output, card)
    log.info("saved the reranker to %s (validation %s, cosine baseline %s)", output, validation, baseline)
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
