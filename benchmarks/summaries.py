"""Interest summaries the local model writes: how many are kept whole after their check, and how long each takes.

Run:  nice -n 15 .venv/bin/python benchmarks/summaries.py [--users 200] [--limit N] [--allowed-words 150 | 0]

Protocol: the ingested MovieLens-100K text catalog of the default store (~/.local/share/whyrec), copied to a
temporary folder first, so nothing is written to it. ``--users`` users drawn with seed 0 from every user
of the store; each one's stored history is profiled (the product's profiler, no profile cache) and worded by
the embedded local model through the product's own call (``agent.interest_writer.InterestWriter``: one call
per user, the JSON schema, greedy decoding), on the 2 shared CPU cores of this box, one user at a time.
The schema's grammar offers each sentence only the words the checker accepts for its section, at most
``--allowed-words`` data words each (``tools.recommend.profile_summary.summary_schema``); ``--allowed-words 0``
leaves the words free, the baseline the grammar is measured against (same users, same seed).
Every sentence is checked claim by claim (``tools.recommend.summary_claims``) against its own section's data.

Reported:
- ``kept_whole``: the share of users whose every sentence passed its check (no template words had to stand in);
- ``template_only``: the share where no sentence passed (the plain template shows, unmarked);
- ``claims_checked`` and ``claims_dropped``: claims the checker looked at, and those it found unsupported;
- ``unsupported_shown``: an independent audit of the text that is shown, written apart from the checker and
  over the whole profile rather than a section: a catalog title the shown summary names that is not in the
  person's history, a number that is none of the profile's counts, shares, years or decades, a link or markup;
- ``p50_s`` / ``p90_s``: wall seconds per summary (the model call and the check), with the other helpers'
  jobs sharing the cores, so the time a person would wait for the summary to replace the template;
- ``default``: whether model summaries are on by default, which this run decides: on only when
  kept_whole >= 0.90 and unsupported_shown == 0, on the product's grammar (``--allowed-words`` left as it is).
Writes benchmarks/summaries.json after every user, with ``"complete": false`` until all ``--users`` are done
(``--until HH:MM`` stops a run on a deadline; ``default`` is then false, whatever the partial numbers say).
Each user's row is also appended to ``--rows`` as it is done; ``--resume`` keeps the rows an earlier run of the same
configuration (model, grammar, tokens, seed) finished there and words only the other users, so a run stopped by a
session's end goes on where it stopped (``resumed_users`` in the JSON says how many rows came from before).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from whyrec.agent.interest_writer import MAX_TOKENS, InterestWriter
from whyrec.agent.local_model import LocalModelServer
from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.profile import InterestProfile
from whyrec.tools.recommend.profile_summary import ALLOWED_WORDS
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.understanding.titles import TitleIndex

HERE = Path(__file__).parent
KEPT_WHOLE_TARGET = 0.90
EXAMPLES = 12  # dropped sentences kept in the JSON, so a reader sees what the checker caught


def copied_store(source: Path) -> Store:
    """The default store copied to a temporary folder: the benchmark never writes to the one people use."""
    copy = Path(tempfile.mkdtemp(prefix="whyrec-summaries-"))
    for name in ("chroma", "whyrec.sqlite3"):
        (shutil.copytree if (source / name).is_dir() else shutil.copy2)(source / name, copy / name)
    return Store.open(Settings(data_dir=copy, rerank_top=0))


def audit(shown: str, profile: InterestProfile, recommender: Recommender, titles: TitleIndex) -> list[str]:
    """What the shown model text says that the profile does not hold (see the module docstring); [] when clean."""
    problems = []
    history = {i for interest in profile.long_term + profile.short_term for i in interest.item_ids}
    for _, _, item in titles.mentions(shown):
        if not {found.item_id for found in titles.lookup(item.title)} & history:
            problems.append(f"title not in the history: {item.title}")
    years = {recommender.items[i].year for i in history if i in recommender.items and recommender.items[i].year}
    numbers = {profile.interactions, round(profile.drift * 100), 0, 1} | years | {y // 10 * 10 for y in years} | {y // 10 * 10 % 100 for y in years}
    for interest in profile.long_term + profile.short_term:
        numbers |= {len(interest.item_ids), round(interest.weight * 100)} | {round(p * 100) for p in interest.categories.values()}
    numbers |= {round(p * 100) for p in list(profile.distribution.values()) + list(profile.short_term_distribution.values())}
    for start, end, _ in reversed(titles.mentions(shown)):  # a title's own digits ('Apollo 13') are not numbers
        shown = shown[:start] + " " + shown[end:]
    shown = re.sub(r"(?<!\w)'[^']*'(?!\w)", " ", shown)  # nor are a cited title's
    for match in re.finditer(r"(?<![\w.])'?(\d+(?:\.\d+)?)", shown):
        value = float(match[1])
        if value not in numbers and value != round(profile.drift, 2):
            problems.append(f"number not in the profile: {match[0]}")
    if re.search(r"https?:|www\.|\w@\w|[<>{}\[\]`]", shown):
        problems.append("a link or markup")
    return problems


def finished_rows(path: Path, config: dict, users: list[str]) -> list[dict]:
    """The rows an earlier run of ``config`` wrote to ``path`` for ``users``, in their order (each user once)."""
    found: dict[str, dict] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        row = json.loads(line)
        if row.pop("config", None) == config:
            row.pop("threads", None)
            found[row["user"]] = row
    return [found[u] for u in users if u in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--limit", type=int, default=0, help="stop after N users (a quick look; the JSON says so)")
    parser.add_argument("--until", default="", help="HH:MM UTC: start no user after this time (the JSON says the run was cut short)")
    parser.add_argument("--allowed-words", type=int, default=ALLOWED_WORDS, help="data words each sentence's grammar offers; 0: words left free (the baseline)")
    parser.add_argument("--show", action="store_true", help="print each user's data and sentences with their verdicts")
    parser.add_argument("--output", type=Path, default=HERE / "summaries.json")
    parser.add_argument("--rows", type=Path, default=Path.home() / ".cache" / "whyrec-benchmarks" / "summaries-rows.jsonl")
    parser.add_argument("--resume", action="store_true", help="keep the users an earlier run of this configuration finished in --rows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings()
    store = copied_store(settings.data_dir)
    recommender = Recommender(store, reranker=None)
    titles = recommender.vocabulary.titles  # the catalog's one title index
    users = random.Random(0).sample(store.db.users(), min(args.users, len(store.db.users())))
    users = users[: args.limit] if args.limit else users
    server = LocalModelServer.from_settings(settings, progress=False).start()
    writer = InterestWriter(settings=settings, server=server, allowed_words=args.allowed_words or None)
    grammar = f"each sentence held to the checker's words, at most {args.allowed_words} data words" if args.allowed_words else "words left free"
    config = {"model": settings.llm_model, "max_tokens": MAX_TOKENS, "allowed_words": args.allowed_words, "seed": 0}
    rows = finished_rows(args.rows, config, users) if args.resume else []
    resumed = len(rows)
    args.rows.parent.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        args.rows.write_text("")
    started = datetime.now(UTC)

    def report(complete: bool) -> dict:
        times = [r["seconds"] for r in rows]
        kept = sum(r["kept_whole"] for r in rows)
        result = {
            "users": len(rows),
            "kept_whole": round(kept / len(rows), 3) if rows else None,
            "template_only": round(sum(r["template_only"] for r in rows) / len(rows), 3) if rows else None,
            "calls_failed": sum(r["failed"] for r in rows),
            "unsupported_shown": sum(len(r["audit"]) for r in rows),
            "claims_checked": sum(r["claims"] for r in rows),
            "claims_dropped": sum(r["dropped"] for r in rows),
            "sentences_checked": sum(r["sentences"] for r in rows),
            "sentences_dropped": sum(r["sentences_dropped"] for r in rows),
            "dropped_by_kind": dict(Counter(k for r in rows for k in r["dropped_kinds"]).most_common()),
            "p50_s": round(statistics.median(times), 2) if times else None,
            "p90_s": round(statistics.quantiles(times, n=10)[-1], 2) if len(times) >= 10 else None,
            # the product's configuration only: its grammar, all the users asked for
            "default": bool(complete and args.allowed_words == ALLOWED_WORDS and rows and kept / len(rows) >= KEPT_WHOLE_TARGET and not any(r["audit"] for r in rows)),
            "complete": complete,
            "resumed_users": resumed,
            "targets": {"kept_whole": KEPT_WHOLE_TARGET, "unsupported_shown": 0},
            "dataset": f"MovieLens-100K text catalog ({store.db.dataset_name()}), {len(recommender.items)} items, users drawn with seed 0",
            "model": f"{settings.llm_model} Q4_K_M, llama.cpp (xllamacpp), {server.threads} thread(s), max_tokens {MAX_TOKENS}, temperature 0",
            "grammar": grammar,
            "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(), "load": f"1-min load average {os.getloadavg()[0]:.1f} at this write, nice {os.nice(0)}"},
            "date": started.isoformat(timespec="seconds"),
            "dropped_examples": [e for r in rows for e in r["examples"]][:EXAMPLES],
        }
        args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return result

    try:
        done = {r["user"] for r in rows}
        for n, user in enumerate(tqdm([u for u in users if u not in done], desc="summaries", initial=len(done), total=len(users)), 1):
            profile = recommender._context(user, store.db.history(user)).profile  # given history: no profile cache written
            clock = time.perf_counter()
            try:
                worded = writer(profile, recommender.vocabulary)
            except Exception as err:  # a failed call shows the template, as in the product; counted, not fatal
                logging.warning("user %s: %s", user, str(err).splitlines()[0])
                worded = None
            seconds = time.perf_counter() - clock
            if args.show:
                from whyrec.tools.recommend.profile_summary import summary_facts

                print(f"\n--- user {user} ({seconds:.1f} s)\n{summary_facts(profile, recommender.items).prompt_data()}")
                print(f"  shown: {worded.summary if worded else None}")
                for key, sentence in (worded.checked if worded else {}).items():
                    print(f"  {key}: {sentence.text!r} {'OK' if sentence.kept else sentence.unsupported}")
            checked = worded.checked if worded else {}
            shown = " ".join(v for k, v in worded.summary.items() if k != "note") if worded and worded.summary else ""
            rows.append({
                "user": user,
                "interactions": profile.interactions,
                "seconds": seconds,
                "kept_whole": bool(worded and worded.kept_whole),
                "template_only": worded is None or worded.summary is None,
                "failed": worded is None,
                "claims": worded.claims if worded else 0,
                "dropped": worded.dropped if worded else 0,
                "sentences": len(checked) if worded else 0,
                "sentences_dropped": sum(not c.kept for c in checked.values()),
                "dropped_kinds": [u.split(" ")[0] for c in checked.values() for u in c.unsupported],
                "examples": [{"user": user, "section": k, "sentence": c.text, "unsupported": c.unsupported} for k, c in checked.items() if not c.kept][:1],
                "audit": audit(shown, profile, recommender, titles),
            })
            with args.rows.open("a") as out:
                out.write(json.dumps({**rows[-1], "config": config, "threads": server.threads}, ensure_ascii=False) + "\n")
            report(complete=False)
            if args.until and datetime.now(UTC).strftime("%H:%M") >= args.until:
                logging.warning("stopping at %s UTC (--until) after %d of %d users", args.until, n, len(users))
                break
    finally:
        server.stop()
    result = report(complete=not args.limit and len(rows) == len(users))
    print(f"{'users':<22}{result['users']}")
    for key in ("kept_whole", "template_only", "unsupported_shown", "claims_checked", "claims_dropped", "sentences_dropped", "p50_s", "p90_s", "default"):
        print(f"{key:<22}{result[key]}")
    print(f"{'dropped by kind':<22}{result['dropped_by_kind']}")


if __name__ == "__main__":
    main()
