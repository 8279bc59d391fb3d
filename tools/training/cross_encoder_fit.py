"""The cross-encoder's training loop: lists of (query, docs, labels) in, fine-tuned weights out.

Why a module of its own, importing only torch and transformers: the GPU machine
(``benchmarks/gpu_device.py``) has those and none of our other dependencies (no chromadb, no
implicit, no ``datasets``, which sentence-transformers needs to import), so this file is loaded there
by path and runs the very loop ``whyrec train-reranker`` runs here on a sentence-transformers
``CrossEncoder``'s own network and tokenizer. A plain PyTorch loop rather than the Hugging Face trainer
for the same reason, and because a time budget is then one check a step.

Losses (:data:`LOSSES`), all on the same lists:

* ``listnet``: softmax cross-entropy between the labels and the list's logits (listwise);
* ``ranknet``: logistic loss on every (positive, negative) pair of a list (pairwise);
* ``bce``: each pair on its own against its 0/1 label (pointwise), the head's bias starting at the
  positives' prior so the first steps learn order, not the label balance.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LOSSES = ("listnet", "ranknet", "bce")

INFERENCE_SPEEDUP = 4.0
"""Scoring a pair costs about 1/5 to 1/8 of training on it (measured on 2 CPU cores); 4 keeps the reserve cautious."""


@dataclass(frozen=True)
class TrainingList:
    """One list as the loop reads it: a query, its candidates' text and a 0/1 label for each."""

    query: str
    docs: list[str]
    labels: list[float]


@dataclass
class FitResult:
    steps: int = 0
    lists_seen: int = 0
    seconds: float = 0.0
    pairs_per_second: float = 0.0
    stopped_at_time_budget: bool = False
    losses: list[float] = field(default_factory=list)  # the mean loss of every ``log_every`` steps


def load_sequence_classifier(base_model: str, device: str):
    """(network, tokenizer) with a one-logit head (a new head when ``base_model`` is a bi-encoder), from local files only,
    with transformers alone: what ``CrossEncoder`` wraps, and what the GPU machine can load."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    network = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1, local_files_only=True)
    return network.float().to(device), AutoTokenizer.from_pretrained(base_model, local_files_only=True)


def _list_loss(name: str, logits, labels):
    """The loss of one batch of lists: ``logits`` and ``labels`` are (lists, candidates); padded slots have label -1."""
    import torch

    valid = labels >= 0
    if name == "listnet":
        masked = logits.masked_fill(~valid, float("-inf"))
        target = torch.where(valid, labels, torch.zeros_like(labels))
        target = target / target.sum(dim=1, keepdim=True).clamp_min(1e-9)
        return -(target * torch.log_softmax(masked, dim=1).masked_fill(~valid, 0.0)).sum(dim=1).mean()
    if name == "ranknet":
        diff = logits.unsqueeze(2) - logits.unsqueeze(1)  # [b, i, j] = s_i - s_j
        better = (labels.unsqueeze(2) > labels.unsqueeze(1)) & valid.unsqueeze(2) & valid.unsqueeze(1)
        return torch.nn.functional.softplus(-diff)[better].mean() if better.any() else logits.sum() * 0.0
    if name == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits[valid], labels[valid])
    raise ValueError(f"loss {name!r} is not one of {', '.join(LOSSES)} — pick one of those")


def _start_at_prior(network, positive_share: float) -> None:
    """Set the new head's bias to the log-odds of a positive, so BCE's first steps learn ranking, not the label balance."""
    import torch

    head = getattr(network, "classifier", None)
    if isinstance(head, torch.nn.Linear) and head.bias is not None and 0.0 < positive_share < 1.0:
        with torch.no_grad():
            head.bias.fill_(math.log(positive_share / (1.0 - positive_share)))


def fit_cross_encoder(
    network,
    tokenizer,
    lists: Sequence[TrainingList],
    *,
    max_length: int = 192,
    loss: str = "listnet",
    batch_lists: int = 4,
    learning_rate: float = 2e-5,
    epochs: int = 1,
    max_steps: int | None = None,
    deadline: float | None = None,
    reserve_pairs: int = 0,
    warmup_steps: int = 5,
    seed: int = 0,
    log_every: int = 10,
) -> FitResult:
    """Fine-tune ``network`` (a transformers sequence classifier with one logit; a ``CrossEncoder``'s ``.model``) in place.

    Pairs are cut to ``max_length`` word pieces, as ``CrossEncoder`` cuts them when it scores.
    Stops after ``epochs`` passes, ``max_steps`` steps, or when the steps so far say that one more
    step plus scoring ``reserve_pairs`` pairs (the validation) would pass ``deadline`` (a
    ``time.perf_counter()`` value). On CUDA the forward pass runs in bf16 (fp16 where bf16 is missing).
    """
    import torch

    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {', '.join(LOSSES)} — pick one of those")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    device = next(network.parameters()).device
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and dtype == torch.float16)
    if loss == "bce":
        pairs = sum(len(x.labels) for x in lists)
        _start_at_prior(network, sum(sum(x.labels) for x in lists) / max(1, pairs))
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, warmup_steps)))
    network.train()
    result, window = FitResult(), []
    started = time.perf_counter()
    timed_from, timed_pairs = None, 0
    order = list(range(len(lists)))
    for _ in range(max(1, epochs)):
        rng.shuffle(order)
        for start in range(0, len(order), batch_lists):
            batch = [lists[i] for i in order[start : start + batch_lists]]
            width = max(len(x.docs) for x in batch)
            features = tokenizer(
                [x.query for x in batch for _ in x.docs], [d for x in batch for d in x.docs],
                padding=True, truncation=True, max_length=max_length, return_tensors="pt",
            ).to(device)
            with torch.autocast(device.type, dtype=dtype, enabled=cuda):
                flat = network(**features).logits.reshape(-1).float()
            logits = torch.full((len(batch), width), 0.0, device=device)
            labels = torch.full((len(batch), width), -1.0, device=device)
            at = 0
            for row, x in enumerate(batch):
                logits[row, : len(x.docs)] = flat[at : at + len(x.docs)]
                labels[row, : len(x.labels)] = torch.tensor(x.labels, device=device)
                at += len(x.docs)
            value = _list_loss(loss, logits, labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(value).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            result.steps += 1
            result.lists_seen += len(batch)
            window.append(float(value.detach()))
            if len(window) == log_every:
                result.losses.append(round(sum(window) / len(window), 4))
                log.info("step %d: %s loss %.4f", result.steps, loss, result.losses[-1])
                window = []
            now = time.perf_counter()
            if timed_from is None:  # the first step carries one-off start-up costs: time the rest from here
                timed_from = now
            else:
                timed_pairs += len(flat)
            if max_steps is not None and result.steps >= max_steps:
                break
            if deadline is not None and now > deadline:
                result.stopped_at_time_budget = True
                break
            if deadline is not None and timed_pairs:
                per_pair = (now - timed_from) / timed_pairs
                if now + per_pair * (len(flat) + reserve_pairs / INFERENCE_SPEEDUP) > deadline:
                    log.warning("reranker training stopped at step %d (%.1f pairs/s): the time budget is spent", result.steps, 1 / per_pair)
                    result.stopped_at_time_budget = True
                    break
        if result.stopped_at_time_budget or (max_steps is not None and result.steps >= max_steps):
            break
    if window:
        result.losses.append(round(sum(window) / len(window), 4))
    network.eval()
    result.seconds = round(time.perf_counter() - started, 1)
    if timed_from is not None and timed_pairs:
        result.pairs_per_second = round(timed_pairs / (time.perf_counter() - timed_from), 1)
    return result
