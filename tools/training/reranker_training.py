"""Fine-tuning the cross-encoder reranker on the candidate lists it will really rerank, and saving it with its card.

The job in three rooms: the lists are built in :mod:`tools.training.candidate_lists` (the protocol, the
split rule), fitted by :mod:`tools.training.cross_encoder_fit` (the training loop), validated in
:mod:`tools.training.reranker_validation` (the mix serving uses, the document length); here they are put
together, the card is written and the model saved.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from whyrec.store.catalog import Store
from whyrec.store.embeddings import pick_device
from whyrec.store.errors import InputError
from whyrec.store.settings import Settings
from whyrec.tools.recommend.reranker import CARD_NAME, Reranker
from whyrec.tools.recommend.reranker_backends import resolve_backend
from whyrec.tools.training.candidate_lists import SPLIT_RULE, CandidateLists, build_candidate_lists
from whyrec.tools.training.cross_encoder_fit import LOSSES, FitResult, fit_cross_encoder
from whyrec.tools.training.reranker_validation import DOC_CHARS_CURVE, RERANK_TOPS, VALIDATION_PROTOCOL, doc_length_curve

log = logging.getLogger(__name__)


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


def load_cross_encoder(model_path: str, max_seq_length: int, device: str):
    """A sentence-transformers ``CrossEncoder`` with one logit (a new head when ``model_path`` is a bi-encoder), from local files only."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model_path, num_labels=1, max_length=max_seq_length, device=device, local_files_only=True)


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
