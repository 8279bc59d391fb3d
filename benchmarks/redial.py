"""Real dialogues: ReDial seekers' own words fed to the chat, Recall@1/10/50 of the films they accepted.

Run:  .venv/bin/python benchmarks/redial.py [--systems popularity,rules,hybrid] [--split all|test|train|valid]
      [--limit N] [--context before-accepted|all]
      (rerun one row, e.g. the hybrid after the model's planning changed: ``--systems hybrid --limit 40``; the rows
      of the systems not rerun are kept from the existing JSON, and the interval pairs against their stored scores)

Protocol: ``benchmarks/data/redial_ml100k.jsonl`` (built by ``build_redial.py``, described in ``redial_ml100k.md``):
ReDial dialogues (Li et al., NeurIPS 2018; CC BY 4.0) with at least one accepted film in the MovieLens-100K catalog.
Each dialogue's seeker is a NEW user of a scratch copy of the store (``chroma`` and ``whyrec.sqlite3`` copied to a
temporary data dir, so the ingested store is never written to), rated 5 on the films they said they liked (the app's
cold-start path, ``ui/api.py`` ``rate``: ratings stamped now; the collaborative model and popularity stay those of
MovieLens-100K, fitted before any seeker is added); a seeker whose likes are not in the catalog has no history.
The seeker's turns (consecutive messages joined; each ``@id`` replaced by the film's ReDial name "Title (Year)") go to
the chat one by one in one new conversation. By default only the turns before any accepted film was first mentioned
in the dialogue are fed (``--context before-accepted``): what the human recommender had heard when suggesting it; later
turns often name the accepted film ("I haven't seen Aliens (1986), is it good?"), which would hand the system the
answer. ``--context all`` feeds every seeker turn.

The ranking scored: the items the chat showed (``ChatSystem._shown``: turns that recommended or searched), in the order
of their first appearance, then the list the conversation's last recommend call asked for (same request, categories,
years, like-item; not its "already shown" exclusions) asked again with k=50 through the same tool code
(``ToolAnswers.recommend``), i.e. with the same understanding of the request; a conversation that never recommended
gets the history-only list. The seeker's liked films are left out (they are the user's history), top 50 kept.
Recall@k of a dialogue = accepted films in its top k / its accepted films in the catalog; the mean over dialogues is
reported (ReDial's CRS papers use Recall@1/10/50 of the mentioned films). Rows:

- ``popularity``: the most rated MovieLens-100K films the seeker has not said they liked, the words ignored;
- ``rules``: ``router_system``, the chat with no model (rules pick the tool, templates answer);
- ``hybrid``: ``agent_system`` with the embedded local model in plan mode (rules when sure, one model call otherwise).

Paired bootstrap 95% intervals (``paired_bootstrap_ci``, dialogues resampled) of Recall@10 against ``rules`` (hybrid)
and against ``popularity`` (rules, hybrid), on the dialogues both rows ran. Writes benchmarks/redial.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

from tqdm import tqdm

HERE = Path(__file__).parent
DATA = HERE / "data" / "redial_ml100k.jsonl"
OUTPUT = HERE / "redial.json"
SYSTEMS = ("popularity", "rules", "hybrid")
KS = (1, 10, 50)
DEPTH = 50
COPIED = ("chroma", "whyrec.sqlite3", "reranker")  # the store's parts a recommender reads (no chats, no simulations)


def recall(ranked: list[str], accepted: list[str], k: int) -> float:
    return len(set(ranked[:k]) & set(accepted)) / len(accepted)


def scratch_store(source: Path, folder: Path):
    """A copy of the store at ``source`` in ``folder``: the benchmark's new users are written there, never to ``source``."""
    from whyrec.store.settings import Settings

    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, folder / name)
        elif path.exists():
            shutil.copy2(path, folder / name)
    if not (folder / "whyrec.sqlite3").exists():
        raise SystemExit(f"no store at {source} — run `whyrec ingest` first (or pass --data-dir)")
    return Settings(data_dir=folder)


class Runner:
    """Runs one dialogue through one system and returns its ranking (top ``DEPTH``) and what the chat did."""

    def __init__(self, recommender, system: str):
        from whyrec.tools.tool_answers import ToolAnswers

        self.recommender = recommender
        self.system = system
        self.answers = ToolAnswers(recommender)
        self.chat = None
        if system == "rules":
            from whyrec.agent.simulated_systems import router_system

            self.chat = router_system(recommender)
        elif system == "hybrid":
            from whyrec.agent.simulated_systems import agent_system

            self.chat = agent_system(recommender, mode="plan")
            print(f"hybrid: {self.chat.agent.start()}", flush=True)

    def add_user(self, dialogue: dict) -> str:
        """A new user for this system and dialogue, rated 5 on the seeker's liked films (the app's cold start)."""
        from whyrec.store.records import Interaction

        user = f"redial-{self.system}-{dialogue['redial_conversation_id']}-{uuid.uuid4().hex[:6]}"
        now = time.time()
        rows = [Interaction(user, item, now + n * 1e-3, 5.0, "rating") for n, item in enumerate(dialogue["liked_item_ids"])]
        if rows:
            self.recommender.store.db.add_interactions(rows)
        return user

    def run(self, dialogue: dict, turns: list[str]) -> tuple[list[str], dict]:
        liked = set(dialogue["liked_item_ids"])
        if self.chat is None:
            return [i for i in self.recommender.popular if i not in liked][:DEPTH], {}
        user = self.add_user(dialogue)
        conversation = f"redial-{dialogue['redial_conversation_id']}-{uuid.uuid4().hex[:8]}"
        agent = self.chat.agent
        shown: list[str] = []
        info = Counter()
        started = time.perf_counter()
        for text in turns:
            if not text.strip():
                continue
            reply = agent.reply(user, conversation, text)
            shown += self.chat._shown(reply)
            info["turns"] += 1
            info["llm_calls"] += reply.llm_calls
            info["turns_with_items"] += bool(self.chat._shown(reply))
            info["fallback_turns"] += bool(reply.fallback and self.system == "hybrid")
            for tool in reply.tools_called:
                info[f"tool {tool}"] += 1
        info["seconds"] = round(time.perf_counter() - started, 2)
        calls = [c for m in agent.messages(user, conversation) if getattr(m, "tool_calls", None) for c in m.tool_calls]
        last = next((dict(c["args"]) for c in reversed(calls) if c["name"] == "recommend"), {})
        last = {key: value for key, value in last.items() if key not in ("k", "exclude") and value is not None}
        _, artifact = self.answers.recommend(user, **last, k=DEPTH)
        final = [str(card["item_id"]) for card in artifact.get("items") or []]
        info["final_request"] = last.get("request")
        ranked = [i for i in dict.fromkeys([*shown, *final]) if i not in liked][:DEPTH]
        info["shown"] = len(dict.fromkeys(i for i in shown if i not in liked))
        return ranked, dict(info)

    def close(self) -> None:
        if self.chat is not None:
            self.chat.agent.close()


def turns_of(dialogue: dict, context: str) -> list[str]:
    turns = dialogue["seeker_messages"]
    return turns if context == "all" else turns[: dialogue["turns_before_accepted"]]


def summarise(system: str, scores: dict[str, list[float]], ids: list[str], split: str) -> dict:
    row = {"system": system, "split": split, "dialogues": len(ids)}
    for k in KS:
        row[f"recall@{k}"] = round(mean(scores[i][KS.index(k)] for i in ids), 4) if ids else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {', '.join(SYSTEMS)}")
    parser.add_argument("--split", choices=["all", "test", "train", "valid"], default="all")
    parser.add_argument("--limit", type=int, default=None, help="the first N kept dialogues (in file order: test, valid, train)")
    parser.add_argument("--context", choices=["before-accepted", "all"], default="before-accepted")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--data-dir", type=Path, default=None, help="the store to copy (default: the settings' data dir)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--fresh", action="store_true", help="do not keep rows of systems not rerun from an existing JSON")
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if unknown := [s for s in systems if s not in SYSTEMS]:
        raise SystemExit(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")

    dialogues = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    dialogues = [d for d in dialogues if args.split == "all" or d["split"] == args.split]
    if args.limit:
        dialogues = dialogues[: args.limit]
    print(f"{len(dialogues)} dialogues ({args.split}), {sum(len(d['accepted_item_ids']) for d in dialogues)} accepted films, "
          f"context: {args.context} ({mean(len(turns_of(d, args.context)) for d in dialogues):.2f} seeker turns a dialogue)", flush=True)

    from whyrec.store.catalog import Store
    from whyrec.store.settings import Settings
    from whyrec.tools.evaluation.metrics import paired_bootstrap_ci
    from whyrec.tools.recommend.recommender import Recommender

    source = args.data_dir or Settings().data_dir
    previous = {}
    if args.output.exists() and not args.fresh:
        old = json.loads(args.output.read_text(encoding="utf-8"))
        if old.get("context") == args.context and old.get("split") == args.split:
            previous = old
    per_dialogue: dict[str, dict[str, list[float]]] = {s: dict(v) for s, v in previous.get("per_dialogue", {}).items() if s not in systems}
    details: dict[str, dict[str, dict]] = {s: dict(v) for s, v in previous.get("details", {}).items() if s not in systems}
    limits = {s: v for s, v in previous.get("limits", {}).items() if s not in systems}
    with tempfile.TemporaryDirectory(prefix="whyrec-redial-") as folder:
        settings = scratch_store(Path(source), Path(folder))
        recommender = Recommender(Store.open(settings))  # fitted on MovieLens-100K before any seeker is added
        for system in systems:
            runner = Runner(recommender, system)
            scores, info = {}, {}
            bar = tqdm(dialogues, desc=system, unit="dialogue")
            for dialogue in bar:
                ranked, extra = runner.run(dialogue, turns_of(dialogue, args.context))
                scores[dialogue["id"]] = [recall(ranked, dialogue["accepted_item_ids"], k) for k in KS]
                info[dialogue["id"]] = {**extra, "top10": ranked[:10]}
                bar.set_postfix({"R@10": f"{mean(s[1] for s in scores.values()):.3f}"})
            runner.close()
            per_dialogue[system] = scores
            details[system] = info
            limits[system] = args.limit

    order = [s for s in SYSTEMS if s in per_dialogue]
    split_of = {d["id"]: d["split"] for d in map(json.loads, filter(str.strip, args.data.read_text(encoding="utf-8").splitlines()))}
    rows, per_split = [], []
    for system in order:
        scores = per_dialogue[system]
        ids = list(scores)
        row = summarise(system, scores, ids, args.split)
        info = details.get(system, {})
        if system != "popularity" and info:
            row["seeker_turns"] = sum(v.get("turns", 0) for v in info.values())
            row["llm_calls"] = sum(v.get("llm_calls", 0) for v in info.values())
            row["turns_with_items"] = sum(v.get("turns_with_items", 0) for v in info.values())
            row["shown_mean"] = round(mean(v.get("shown", 0) for v in info.values()), 1)
            row["seconds_per_dialogue"] = round(mean(v.get("seconds", 0) for v in info.values()), 2)
        row["limit"] = limits.get(system)
        for baseline in ("rules", "popularity"):
            if baseline == system or baseline not in per_dialogue or (system, baseline) == ("popularity", "rules"):
                continue
            shared = [i for i in ids if i in per_dialogue[baseline]]
            if not shared:
                continue
            delta, low, high = paired_bootstrap_ci([scores[i][1] for i in shared], [per_dialogue[baseline][i][1] for i in shared])
            row[f"ci95_vs_{baseline}"] = [round(low, 4), round(high, 4)]
            row[f"delta_recall@10_vs_{baseline}"] = round(delta, 4)
            if len(shared) != len(per_dialogue[baseline]):
                row[f"{baseline}_recall@10_same_dialogues"] = round(mean(per_dialogue[baseline][i][1] for i in shared), 4)
        rows.append(row)
        for split in ("train", "valid", "test"):
            inside = [i for i in ids if split_of.get(i) == split]
            if inside and args.split == "all":
                per_split.append(summarise(system, scores, inside, split))

    print(f"\nReDial seekers -> chat ({args.split}, context {args.context}); Recall of the accepted films in the catalog")
    print("| system | dialogues | Recall@1 | Recall@10 | Recall@50 | ΔR@10 vs rules [95% CI] | ΔR@10 vs popularity [95% CI] |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        vs = [f"{row[f'delta_recall@10_vs_{b}']:+.3f} {row[f'ci95_vs_{b}']}" if f"ci95_vs_{b}" in row else "" for b in ("rules", "popularity")]
        print(f"| {row['system']} | {row['dialogues']} | {row['recall@1']:.3f} | {row['recall@10']:.3f} | {row['recall@50']:.3f} | {vs[0]} | {vs[1]} |")
    if per_split:
        print("\nper split:\n| system | split | dialogues | Recall@1 | Recall@10 | Recall@50 |\n|---|---|---|---|---|---|")
        for row in per_split:
            print(f"| {row['system']} | {row['split']} | {row['dialogues']} | {row['recall@1']:.3f} | {row['recall@10']:.3f} | {row['recall@50']:.3f} |")

    report = {
        "benchmark": "ReDial seekers' messages fed to the chat: Recall@1/10/50 of the films they accepted",
        "dataset": "ReDial (Li et al., NeurIPS 2018, CC BY 4.0), partial public copy, mapped to movielens-100k "
                   "(benchmarks/data/redial_ml100k.md)",
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "split": args.split,
        "context": args.context,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
        "rows": rows,
        "per_split": per_split,
        "limits": limits,
        "per_dialogue": per_dialogue,
        "details": details,
    }
    if previous:
        report["dates"] = {**previous.get("dates", {}), **{s: report["date"] for s in systems}}
    else:
        report["dates"] = {s: report["date"] for s in systems}
    args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
