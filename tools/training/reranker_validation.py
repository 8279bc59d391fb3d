"""Validating a trained cross-encoder on the held-out candidate lists: alone, and mixed into the pipeline as served.

The held-out lists (:func:`tools.training.candidate_lists.build_candidate_lists`) are ranked by the
pipeline without the reranker ("no_reranker"), by the cross-encoder alone, and by the pipeline's final
score plus ``share`` x the cross-encoder's probability on the top candidates
(:func:`tools.recommend.reranker.cascade_mix`, the mix the recommender serves) for a grid of shares and
numbers of candidates rescored; history-only lists and request lists apart, so serving can turn it on per
path. The document length is chosen on the same lists (:data:`DOC_CHARS_CURVE`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from whyrec.tools.evaluation.metrics import paired_bootstrap_ci, per_case_ndcg, ranking_metrics
from whyrec.tools.recommend.reranker import QueryFormat, cascade_mix
from whyrec.tools.training.candidate_lists import CandidateList

SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
"""Reranker shares of the final score tried on validation (final = pipeline + share x probability)."""
RERANK_TOPS = (5, 10)
"""Candidates rescored, tried on validation: the top 10 is what a person sees, and what keeps recommend p50 in budget."""
DOC_CHARS_CURVE = (200, 400, 700)
"""Document lengths (characters) the trained model is validated at; the card keeps the best."""
PATHS = ("history", "request")
"""Where the reranker may act, validated apart: lists without a request, and lists ranked for one."""

VALIDATION_PROTOCOL = (
    "held-out users (never trained on): per user, the pipeline's top candidates (reranker off) for the history before their "
    "last training-prefix item (the positive), once without a request and once for a simulated request describing it; "
    "plus every 4th labelled 'about' request of the dev half asked by some of them (positives: its acceptable films). "
    "'no_reranker' is the pipeline's order, 'cross_encoder_alone' the model's, 'mix' the pipeline's final score + share x "
    "the model's probability on the top rerank_top candidates (the serving cascade), with the paired bootstrap 95% interval "
    "of the NDCG@10 difference; history and request lists apart, and the document length chosen on the same lists"
)


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
            mixed = [cascade_mix(b, top, share, lambda chosen, p=p: p[chosen]) for b, p in zip(base, probs, strict=True)]
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
