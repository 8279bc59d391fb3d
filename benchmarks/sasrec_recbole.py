"""SASRec (RecBole 1.2.1) on MovieLens-100K with our leave-one-out-by-time split.

Usage::

    .venv/bin/python benchmarks/sasrec_recbole.py [--budget-minutes 9] [--threads 1]

Protocol: the one in :mod:`tools.evaluation.splits` (last interaction = test, second-to-last =
validation, full ranking over all unseen items). RecBole's
``eval_args: {split: {LS: valid_and_test}, order: TO, group_by: user, mode: full}`` builds
the same split (stable sort by timestamp on the file order); the script checks that every
user's validation and test item match ours before training and stops if not.

Two numbers are reported for SASRec:

* ``recbole``: RecBole's own evaluator. For sequential models RecBole does **not** mask
  the user's history in full ranking, so seen items compete with the target.
* ``harness``: the trained model wrapped as a ranker and scored by
  :func:`tools.evaluation.splits.evaluate` (history masked) — comparable with the baselines,
  which are fitted on the train part and scored in the same run.

Training is time-boxed: epochs run until ``--max-epochs``, early stopping on validation
NDCG@10 (``--patience``), or until another epoch would overrun ``--budget-minutes``; the
best-validation weights are kept.

Needs, besides recbole (installed --no-deps): colorlog, colorama, tabulate, texttable,
tensorboard (``torch.utils.tensorboard`` is imported by recbole.utils). Not needed:
ray / hyperopt / thop / plotly (only quick_start and hyper-parameter tuning import them).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


# RecBole 1.2.1 assigns np.float_ etc., which NumPy 2 removed.
for _name, _value in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_}.items():
    if not hasattr(np, _name):
        setattr(np, _name, _value)

import recbole  # noqa: E402
from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.data.interaction import Interaction as RBInteraction  # noqa: E402
from recbole.model.sequential_recommender import SASRec  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import init_seed  # noqa: E402

# recbole/model/sequential_recommender/sine.py turns on autograd anomaly detection for the
# whole process at import time; it makes every backward pass ~5x slower.
torch.autograd.set_detect_anomaly(False)

from whyrec.store.movielens import load_movielens_100k  # noqa: E402
from whyrec.tools.evaluation.baselines import EASERanker, ItemKNNRanker, PopularityRanker  # noqa: E402
from whyrec.tools.evaluation.splits import evaluate, format_table, leave_one_out  # noqa: E402

log = logging.getLogger("sasrec_recbole")
K = 10
DATASET = "ml-100k-exact-time"


def write_exact_time_copy(workdir: str) -> str:
    """Copy ml-100k.inter with each timestamp replaced by its dense rank; returns data_path.

    Config(dataset="ml-100k") always reads recbole's packaged folder, whatever
    ``data_path`` says, so the copy goes under another dataset name.

    RecBole stores float fields as float32, whose step at ~8.9e8 (Unix seconds in 1998)
    is 64 s: interactions minutes apart would become ties and the split would differ
    from ours for ~250 users. Ranks (< 2**24) are exact in float32 and keep the order,
    the ties and the file's row order, which is all ``order: TO`` uses.
    """
    source = Path(recbole.__file__).parent / "dataset_example" / "ml-100k" / "ml-100k.inter"
    lines = source.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:] if line]
    ranks = {ts: r for r, ts in enumerate(sorted({float(row[3]) for row in rows}))}
    target = Path(workdir) / DATASET  # not "ml-100k": RecBole then forces its packaged folder
    target.mkdir(parents=True, exist_ok=True)
    body = "\n".join("\t".join(row[:3] + [str(ranks[float(row[3])])]) for row in rows)
    (target / f"{DATASET}.inter").write_text(header + "\n" + body + "\n", encoding="utf-8")
    return workdir


def recbole_config(args: argparse.Namespace, workdir: str) -> Config:
    data_path = write_exact_time_copy(workdir)
    return Config(
        model="SASRec",
        dataset=DATASET,
        config_dict={
            "data_path": data_path,
            "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
            "normalize_all": False,
            "MAX_ITEM_LIST_LENGTH": 50,
            "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
            "train_neg_sample_args": None,
            "loss_type": "CE",
            "train_batch_size": args.batch_size,
            "learning_rate": args.lr,
            "eval_batch_size": 4096,
            "metrics": ["Recall", "NDCG", "MRR", "Hit"],
            "topk": [K],
            "valid_metric": f"NDCG@{K}",
            "use_gpu": False,
            "device": "cpu",
            "seed": args.seed,
            "reproducibility": True,
            "show_progress": False,
            "checkpoint_dir": os.path.join(workdir, "saved"),
            "state": "WARNING",
        },
    )


def check_same_split(rb_valid, rb_test, dataset, split) -> int:
    """Every user's RecBole validation/test item must equal ours. Returns users checked."""
    uid, iid = dataset.uid_field, dataset.iid_field
    checked = 0
    for rb, ours in ((rb_valid, split.valid), (rb_test, split.test)):
        feat = rb.dataset.inter_feat
        users = dataset.id2token(uid, feat[uid].numpy())
        items = dataset.id2token(iid, feat[iid].numpy())
        theirs = dict(zip(users, items))
        if set(theirs) != set(ours):
            raise SystemExit(f"RecBole evaluates {len(theirs)} users, we evaluate {len(ours)} — splits differ")
        bad = [u for u in ours if theirs[u] != ours[u].item_id]
        if bad:
            raise SystemExit(f"user {bad[0]}: RecBole target {theirs[bad[0]]} != ours {ours[bad[0]].item_id} ({len(bad)} users differ)")
        checked += len(ours)
    return checked


class SASRecRanker:
    """A trained RecBole SASRec as a ``tools.evaluation.splits`` ranker."""

    def __init__(self, model: SASRec, dataset) -> None:
        self.model = model.eval()
        self.dataset = dataset
        self.iid = dataset.iid_field
        self.max_len = model.max_seq_length
        tokens = dataset.field2id_token[self.iid]
        self.token2id = {t: i for i, t in enumerate(tokens)}
        self.id2token = tokens

    @torch.no_grad()
    def __call__(self, user_id, history, exclude, n):
        seq = [self.token2id[h.item_id] for h in history if h.item_id in self.token2id][-self.max_len :]
        items = torch.zeros((1, self.max_len), dtype=torch.long)
        items[0, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        batch = RBInteraction(
            {
                self.model.ITEM_SEQ: items,
                self.model.ITEM_SEQ_LEN: torch.tensor([max(len(seq), 1)], dtype=torch.long),
            }
        )
        scores = self.model.full_sort_predict(batch)[0].clone()
        scores[0] = -torch.inf  # padding id
        masked = [self.token2id[i] for i in exclude if i in self.token2id]
        scores[masked] = -torch.inf
        top = torch.topk(scores, min(n, int(torch.isfinite(scores).sum()))).indices.tolist()
        return [str(self.id2token[i]) for i in top]


def train(args, cfg, train_data, valid_data, dataset):
    init_seed(cfg["seed"], cfg["reproducibility"])
    model = SASRec(cfg, train_data.dataset).to("cpu")
    trainer = Trainer(cfg, model)
    budget = args.budget_minutes * 60
    start = time.perf_counter()
    best, best_state, since_best, history = -1.0, None, 0, []
    for epoch in range(args.max_epochs):
        t0 = time.perf_counter()
        loss = trainer._train_epoch(train_data, epoch, show_progress=False)
        score, result = trainer._valid_epoch(valid_data, show_progress=False)
        took = time.perf_counter() - t0
        history.append({"epoch": epoch, "loss": float(loss), f"valid_NDCG@{K}": float(score), "seconds": round(took, 1)})
        log.info("epoch %d loss %.4f valid NDCG@%d %.4f (%.0fs)", epoch, float(loss), K, score, took)
        if score > best:
            best, best_state, since_best = score, copy.deepcopy(model.state_dict()), 0
        else:
            since_best += 1
        elapsed = time.perf_counter() - start
        if since_best >= args.patience:
            log.info("early stop: no validation gain for %d epochs", args.patience)
            break
        if elapsed + took > budget:
            log.info("time budget reached after %d epochs (%.0fs)", epoch + 1, elapsed)
            break
    if best_state is not None:  # --max-epochs 0 keeps the untrained model (smoke test)
        model.load_state_dict(best_state)
    return trainer, model, history, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget-minutes", type=float, default=9.0)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--threads", type=int, default=1, help="1 is fastest on a shared 2-core box")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    split = leave_one_out(load_movielens_100k())
    workdir = tempfile.mkdtemp(prefix="sasrec_recbole_")
    os.chdir(workdir)  # recbole writes log/ and log_tensorboard/ into the working directory
    cfg = recbole_config(args, workdir)
    init_seed(cfg["seed"], cfg["reproducibility"])
    dataset = create_dataset(cfg)
    train_data, valid_data, test_data = data_preparation(cfg, dataset)
    checked = check_same_split(valid_data, test_data, dataset, split)
    log.info("split identical to tools.evaluation.splits.leave_one_out (%d targets checked)", checked)

    trainer, model, history, train_seconds = train(args, cfg, train_data, valid_data, dataset)
    rb_test = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    recbole_numbers = {key: float(v) for key, v in rb_test.items()}

    rows = []
    train_part = split.train_interactions()
    for name, ranker in [
        ("Popularity", PopularityRanker()),
        # settings picked on validation by benchmarks/classical_baselines.py
        ("ItemKNN (neighbours=20, half_life=5)", ItemKNNRanker(neighbours=20, half_life=5.0)),
        ("EASE (l2=500, half_life=5)", EASERanker(l2=500.0, half_life=5.0)),
    ]:
        t0 = time.perf_counter()
        ranker.fit(train_part, split.items)
        row = {"model": name, **evaluate(ranker, split, k=K), "fit_seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
    sasrec_row = {"model": "SASRec (RecBole)", **evaluate(SASRecRanker(model, dataset), split, k=K),
                  "fit_seconds": round(train_seconds, 1)}
    rows.append(sasrec_row)
    rows.append({"model": "SASRec (RecBole evaluator, history not masked)", f"Recall@{K}": recbole_numbers[f"recall@{K}"],
                 f"NDCG@{K}": recbole_numbers[f"ndcg@{K}"], f"MRR@{K}": recbole_numbers[f"mrr@{K}"]})

    table = format_table(rows)
    print(table)
    report = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch_threads": args.threads, "torch": torch.__version__,
                    "recbole": recbole.__version__},
        "dataset": "MovieLens-100K (recbole dataset_example/ml-100k, 943 users, 1,682 items, 100,000 ratings)",
        "protocol": "leave-one-out by time (stable tiebreak on file order), full ranking over unseen items, "
                    "single target per user; see tools/evaluation/splits.py. Baselines fitted on train only. "
                    "SASRec trained on RecBole's identical split, early-stopped on validation NDCG@10.",
        "split_targets_checked": checked,
        "sasrec_config": {"MAX_ITEM_LIST_LENGTH": 50, "n_layers": cfg["n_layers"], "n_heads": cfg["n_heads"],
                          "hidden_size": cfg["hidden_size"], "dropout": cfg["hidden_dropout_prob"],
                          "loss_type": "CE", "batch_size": args.batch_size, "lr": args.lr,
                          "epochs_trained": len(history), "budget_minutes": args.budget_minutes,
                          "patience": args.patience, "seed": args.seed},
        "sasrec_epochs": history,
        "sasrec_recbole_evaluator_test": recbole_numbers,
        "results": rows,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nSASRec test (our harness): Recall@{K} {sasrec_row[f'Recall@{K}']:.4f}  NDCG@{K} {sasrec_row[f'NDCG@{K}']:.4f}  "
          f"MRR@{K} {sasrec_row[f'MRR@{K}']:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
