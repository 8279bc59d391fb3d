"""Request understanding: do people get what they asked for? The pipeline with and without request parsing.

Run:  .venv/bin/python benchmarks/request_understanding.py [--users 5] [--k 10]

Protocol: 24 hand-written requests, each with the genre(s) and/or years it states (written down
below, next to the request, by hand; never by the parser), asked by the same users (a seeded
sample of MovieLens-100K users, whose histories steer the rest of the list). For each
(request, user) we take the top-k and count the share of the items shown that meet every
stated constraint: in at least one category of each stated group, in the stated years, in none
of the excluded categories. Both rows are the same Recommender (reranker as configured: the
trained one when it exists, else none), once with ``request_parsing=False`` (the request is only
embedded) and once with it on. The difference comes with a paired bootstrap 95% interval over the
(request, user) pairs. Latency: ``recommend`` p50/p95 over the same calls, and the parser alone
(p50, including its one model call for the request and its mood words) against a plain encode of
the request (which the baseline pays too). Bad inputs: each must return items or a note, never raise.
Writes benchmarks/request_understanding.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from whyrec.store.records import Item
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender
from whyrec.ui.cli import ensure_ingested


@dataclass(frozen=True)
class Ask:
    """A request and what it states, written by hand."""

    text: str
    groups: tuple[tuple[str, ...], ...] = ()  # each: any of these categories; all groups
    years: tuple[int | None, int | None] | None = None
    not_categories: tuple[str, ...] = ()

    def met_by(self, item: Item) -> bool:
        if any(not set(g) & set(item.categories) for g in self.groups) or set(self.not_categories) & set(item.categories):
            return False
        if self.years is None:
            return True
        lo, hi = self.years
        return item.year is not None and (lo is None or item.year >= lo) and (hi is None or item.year <= hi)


ASKS = [
    Ask("something scary from the 80s", (("Horror", "Thriller"),), (1980, 1989)),
    Ask("a funny sci-fi movie", (("Comedy",), ("Sci-Fi",))),
    Ask("a romantic comedy", (("Romance",), ("Comedy",))),
    Ask("a classic western", (("Western",),)),
    Ask("a war movie from the 60s", (("War",),), (1960, 1969)),
    Ask("an animated film", (("Animation",),)),
    Ask("a thriller from the 90s", (("Thriller",),), (1990, 1999)),
    Ask("some film noir", (("Film-Noir",),)),
    Ask("a musical", (("Musical",),)),
    Ask("a documentary", (("Documentary",),)),
    Ask("something recent", (), (1996, 1998)),
    Ask("a movie made before 1970", (), (None, 1969)),
    Ask("a crime drama from the 70s", (("Crime",), ("Drama",)), (1970, 1979)),
    Ask("an action movie from the 80s", (("Action",),), (1980, 1989)),
    Ask("a good mystery", (("Mystery",),)),
    Ask("a fantasy adventure", (("Fantasy",), ("Adventure",))),
    Ask("a horror comedy", (("Horror",), ("Comedy",))),
    Ask("something funny from the 50s", (("Comedy",),), (1950, 1959)),
    Ask("late 90s sci-fi", (("Sci-Fi",),), (1996, 1999)),
    Ask("a children's movie", (("Children's",),)),
    Ask("a drama from the forties", (("Drama",),), (1940, 1949)),
    Ask("no drama, something from the 90s", (), (1990, 1999), ("Drama",)),
    Ask("a space adventure", (("Adventure",),)),
    Ask("a romantic movie from the 30s", (("Romance",),), (1930, 1939)),
]
BAD_INPUTS = {
    "another language": "películas de terror de los años 80",
    "gibberish": "asdkjh qwpoeiru zzxvbn",
    "5,000 characters": ("I would like a really good film please " * 130)[:5000],
    "contradiction": "a 1950s movie from 1995",
    "title not in the catalog": "something like The Matrix",
    "empty after exclusions": "not Star Wars",
}


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q) * 1000), 1) if values else float("nan")


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    diffs = b - a
    means = [diffs[rng.integers(0, len(diffs), len(diffs))].mean() for _ in range(n)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("request_understanding.json"))
    args = parser.parse_args()

    settings = Settings()
    store = ensure_ingested(settings)
    users = random.Random(0).sample(sorted(store.db.users()), min(args.users, len(store.db.users())))
    systems = {"without request parsing": Recommender(store, request_parsing=False), "with request parsing": Recommender(store)}
    for recommender in systems.values():  # warm-up: model, category vectors, caches
        recommender.recommend(users[0], "a funny movie from the 90s", args.k)

    rows, shares, latency = [], {}, {}
    for name, recommender in systems.items():
        per_pair, seconds, shown = [], [], []
        for ask in ASKS:
            for user in users:
                start = time.perf_counter()
                recs = recommender.recommend(user, ask.text, args.k)
                seconds.append(time.perf_counter() - start)
                shown.append(len(recs))
                per_pair.append(float(np.mean([ask.met_by(r.item) for r in recs])) if recs else 0.0)
        shares[name], latency[name] = np.array(per_pair), seconds
        rows.append({
            "system": name,
            "request_satisfaction": round(float(np.mean(per_pair)), 3),
            "lists_fully_satisfying": round(float(np.mean([s == 1.0 for s in per_pair])), 3),
            "mean_items_shown": round(float(np.mean(shown)), 2),
            "recommend_p50_ms": ms(seconds, 50),
            "recommend_p95_ms": ms(seconds, 95),
        })
    base, parsed = shares["without request parsing"], shares["with request parsing"]
    low, high = paired_bootstrap(base, parsed)

    per_request = []
    for n, ask in enumerate(ASKS):
        chunk = slice(n * len(users), (n + 1) * len(users))
        per_request.append({"request": ask.text, "without": round(float(base[chunk].mean()), 2), "with": round(float(parsed[chunk].mean()), 2)})

    understanding = systems["with request parsing"]
    parser_model = understanding.request_parser
    model_s: list[float] = []
    real_encode = store.embedder.encode

    def timed_encode(texts, *a, **kw):  # the parser's one model call, timed apart from its own work
        start = time.perf_counter()
        try:
            return real_encode(texts, *a, **kw)
        finally:
            model_s.append(time.perf_counter() - start)

    parse_s, own_s, encode_s = [], [], []
    for ask in ASKS:
        for _ in range(3):
            store.embedder.encode = timed_encode
            model_s.clear()
            start = time.perf_counter()
            parser_model.parse(ask.text)
            parse_s.append(time.perf_counter() - start)
            own_s.append(parse_s[-1] - sum(model_s))
            store.embedder.encode = real_encode
            start = time.perf_counter()
            store.embedder.encode([ask.text])
            encode_s.append(time.perf_counter() - start)

    bad = []
    for kind, text in BAD_INPUTS.items():
        try:
            recs = understanding.recommend(users[0], text, args.k)
            bad.append({"input": kind, "raised": None, "items": len(recs), "note": (recs.notes or [""])[-1][:160]})
        except Exception as err:  # noqa: BLE001 - the benchmark records any crash as a failure
            bad.append({"input": kind, "raised": f"{type(err).__name__}: {err}", "items": 0, "note": ""})

    print(f"\nRequest satisfaction: share of the top-{args.k} meeting the stated genre/years; {len(ASKS)} requests x {len(users)} users")
    print("| system | satisfaction | lists fully satisfying | items shown | recommend p50 / p95 ms |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['system']} | {row['request_satisfaction']:.3f} | {row['lists_fully_satisfying']:.3f} | {row['mean_items_shown']} | {row['recommend_p50_ms']} / {row['recommend_p95_ms']} |")
    print(f"difference {parsed.mean() - base.mean():+.3f}, paired bootstrap 95% CI [{low:+.3f}, {high:+.3f}]")
    print(
        f"parser p50 {ms(parse_s, 50)} ms (p95 {ms(parse_s, 95)}) including its one model call; its own work (rules, lookups) "
        f"p50 {ms(own_s, 50)} ms (p95 {ms(own_s, 95)}); a plain encode of the request (the baseline pays it too) p50 {ms(encode_s, 50)} ms"
    )
    print("\n| request | without | with |\n|---|---|---|")
    for row in per_request:
        print(f"| {row['request']} | {row['without']:.2f} | {row['with']:.2f} |")
    print("\n| bad input | raised | items | note |\n|---|---|---|---|")
    for row in bad:
        print(f"| {row['input']} | {row['raised'] or 'no'} | {row['items']} | {row['note']} |")

    report = {
        "benchmark": "request understanding: request satisfaction with and without request parsing",
        "dataset": "movielens-100k",
        "protocol": __doc__.split("Protocol:", 1)[1].split("Writes", 1)[0].strip(),
        "users": users,
        "k": args.k,
        "reranker": "trained" if understanding.reranker is not None else "none (not trained in this data directory)",
        "rows": rows,
        "difference": {"mean": round(float(parsed.mean() - base.mean()), 3), "ci95": [round(low, 3), round(high, 3)]},
        "parser_p50_ms": ms(parse_s, 50),
        "parser_p95_ms": ms(parse_s, 95),
        "parser_own_work_p50_ms": ms(own_s, 50),
        "parser_own_work_p95_ms": ms(own_s, 95),
        "encode_request_p50_ms": ms(encode_s, 50),
        "per_request": per_request,
        "bad_inputs": bad,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
