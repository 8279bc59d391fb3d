"""Build store/data/movielens_100k_text.jsonl.gz: real plot overviews for the MovieLens-100K films.

Run:  .venv/bin/python benchmarks/build_item_text.py --metadata movies_metadata.csv [--keywords keywords.csv ...]

The overviews come from "The Movies Dataset" (Kaggle, released CC0 by its uploader; the overviews
and keywords are TMDB's), whose ``movies_metadata.csv`` follows MovieLens movie ids, so its first
rows are the pre-1999 films MovieLens-100K holds. store/data/SOURCES.md names the copies used and
the exact command.

Matching (MovieLens-100K has no TMDB or IMDb ids, only "Title, The (Other title)", a year, genres):
- every name a film goes by is normalised the same way: accents folded, "&" and "+" read as "and",
  punctuation and spaces dropped, a trailing article moved to the front ("Shining, The" -> "the
  shining"); MovieLens's bracketed other titles ("Seven (Se7en)", "(a.k.a. ...)") and TMDB's
  ``title`` and ``original_title`` all count as names (tier 0);
- looser readings count too, ranked after tier 0 (tier 1): each side of a colon ("Leon: The
  Professional"), the name without a possessive credit ("Bram Stoker's Dracula"), number words
  and Roman numerals as digits ("Eighty Days", "Bloodsport II");
- a pair matches when a name agrees and the release years are at most 1 apart, or at most 2 apart
  when MovieLens's main title equals TMDB's title exactly and their genres do not disagree;
- among several candidates the lower tier wins, then the closer year, then the exact title, then
  the TMDB row with more votes, then the lower TMDB id (so the output is deterministic);
- a TMDB row without an overview never matches.

Writes one JSON object per matched item, sorted by item id, gzip with a fixed mtime, so the same
inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import io
import json
import logging
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger("build_item_text")

OUTPUT = Path(__file__).resolve().parents[1] / "store" / "data" / "movielens_100k_text.jsonl.gz"
SOURCE = "movies_metadata"

# Articles MovieLens moves to the end of a title ("Usual Suspects, The", "Hussard sur le toit, Le").
ARTICLES = (
    "the", "a", "an", "les", "le", "la", "l'", "il", "el", "los", "las", "lo", "das", "der", "die",
    "det", "den", "un", "une", "i", "gli", "o", "os", "as",
)
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+),\s*(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")$", re.I)
_BRACKETS = re.compile(r"\(([^()]*)\)")
_AKA = re.compile(r"^\s*(a\.?k\.?a\.?|aka)\s+", re.I)
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_FOLDED_ARTICLES = frozenset(a.rstrip("'") for a in ARTICLES)
# a credit before the title: "Bram Stoker's Dracula", "Monty Python's Life of Brian" (two or more words,
# so "Schindler's List" keeps its name)
_POSSESSIVE_CREDIT = re.compile(r"^(?:[A-Z][\w.]*\s+){1,3}[A-Z][\w.]*'s\s+")
ABBREVIATIONS = {"blvd": "boulevard"}
_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
NUMBER_WORDS = {**{w: str(i) for i, w in enumerate(_UNITS)}, **{w: str(i) for w, i in _TENS.items()}, **{w: str(i) for w, i in _ROMAN.items()}}
MIN_LOOSE_KEY = 5  # a looser reading shorter than this ("Life", "Bang") matches too much
LOOSE_STOP = frozenset({"the movie", "movie", "the film", "film", "part 2", "part ii"})
MAX_YEAR_GAP = 1
MAX_YEAR_GAP_EXACT_TITLE = 2  # only when the genres do not disagree (genres_agree)
# MovieLens genre -> the TMDB genres that can stand for it
GENRES_TMDB = {
    "Children's": {"Family", "Animation"}, "Sci-Fi": {"Science Fiction"}, "Musical": {"Music"},
    "Film-Noir": {"Crime", "Mystery", "Thriller", "Drama"}, "War": {"War", "History"},
}


def fold(text: str) -> str:
    """Lower case, accents folded, "&"/"+" read as "and", apostrophes dropped, other punctuation a space."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("+", " and ").replace("'", "").replace("\u2019", "")
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def front_article(name: str) -> str:
    """'Shining, The' -> 'The Shining'; "Homme et une femme, Un" -> 'Un Homme et une femme'."""
    match = _TRAILING_ARTICLE.match(name.strip())
    if not match:
        return name.strip()
    article = match["article"]
    return f"{article}{'' if article.endswith(chr(39)) else ' '}{match['body'].strip()}"


def _without_article(folded: str) -> str:
    first, _, rest = folded.partition(" ")
    return rest if rest and first in _FOLDED_ARTICLES else folded


def _numbers_as_digits(folded: str) -> str:
    """'around the world in eighty days' -> '... 80 days'; 'bloodsport ii' -> 'bloodsport 2'."""
    return " ".join(NUMBER_WORDS.get(w, w) for w in folded.split())


def name_keys(name: str) -> dict[str, int]:
    """The keys one name of a film is known by, each with its tier (0 = the whole name, 1 = a looser reading).

    Tier 0: the folded name with spaces removed ("Jungle2Jungle" = "Jungle 2 Jungle", "Alien³" = "Alien 3"),
    with or without a leading article. Tier 1: each side of a colon ("Leon: The Professional" -> "The
    Professional"), the name without a possessive credit ("Bram Stoker's Dracula" -> "Dracula"), and
    number words or Roman numerals read as digits.
    """
    keys: dict[str, int] = {}

    def add(text: str, tier: int) -> None:
        folded = fold(front_article(text))
        for variant in (folded, _without_article(folded)):
            key = variant.replace(" ", "")
            if key and (tier == 0 or len(key) >= MIN_LOOSE_KEY) and variant not in LOOSE_STOP:
                keys[key] = min(tier, keys.get(key, tier))
            numeric = _numbers_as_digits(variant).replace(" ", "")
            if numeric != key and len(numeric) >= MIN_LOOSE_KEY:
                keys[numeric] = min(1, keys.get(numeric, 1))

    add(name, 0)
    credit = _POSSESSIVE_CREDIT.match(name)
    if credit:
        add(name[credit.end():], 1)
    if ":" in name:
        for part in name.split(":"):
            add(part, 1)
    return keys


def movielens_names(title: str) -> tuple[str, list[str]]:
    """The folded main title and every name in MovieLens's "Main, The (Other, La) (a.k.a. Third)"."""
    others = [_AKA.sub("", part).strip() for part in _BRACKETS.findall(title)]
    main = " ".join(_BRACKETS.sub(" ", title).split())
    names = [main] + [o for o in others if o and not o.isdigit()]
    return fold(front_article(main)), names


@dataclass(frozen=True)
class Film:
    tmdb_id: int
    title: str
    original_title: str
    year: int | None
    overview: str
    votes: float
    genres: frozenset[str] = frozenset()


def _year(date: str) -> int | None:
    """'1995-10-30' or '10/30/1995' -> 1995."""
    found = re.search(r"\b(1[89]\d\d|20\d\d)\b", date or "")
    return int(found.group(1)) if found else None


def read_metadata(path: Path) -> list[Film]:
    """Rows of movies_metadata.csv that have an overview and a TMDB id, one per id (the file repeats a few)."""
    csv.field_size_limit(sys.maxsize)
    films: dict[int, Film] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in tqdm(csv.DictReader(f), desc=f"reading {path.name}", unit=" rows"):
            overview = " ".join((row.get("overview") or "").split())
            tmdb_id = (row.get("id") or "").strip()
            if not overview or not tmdb_id.isdigit() or overview.lower() in {"no overview found.", "no overview"}:
                continue
            try:
                votes = float(row.get("vote_count") or 0)
            except ValueError:
                votes = 0.0
            try:
                genres = frozenset(g["name"] for g in ast.literal_eval(row.get("genres") or "[]"))
            except (ValueError, SyntaxError, TypeError, KeyError):
                genres = frozenset()
            films.setdefault(int(tmdb_id), Film(
                tmdb_id=int(tmdb_id),
                title=(row.get("title") or "").strip(),
                original_title=(row.get("original_title") or "").strip(),
                year=_year(row.get("release_date") or ""),
                overview=overview,
                votes=votes,
                genres=genres,
            ))
    log.info("%s: %d films with an overview", path, len(films))
    return list(films.values())


def read_keywords(path: Path) -> dict[int, list[str]]:
    """TMDB id -> keyword names, from a copy of The Movies Dataset's keywords.csv in either shape.

    - as published: ``id,keywords`` with ``"[{'id': 931, 'name': 'jealousy'}, ...]"`` per film;
    - exploded: ``id,keyword``, one row per keyword, upper-cased by whoever exploded it. TMDB keywords
      are lower case (in the published file 8 of 66,820 checked were not), so these are lower-cased back.
    Runs of white space (a few keywords end in a no-break space) become one space. A film listed twice
    keeps its first list; a keyword repeated within a film is kept once.
    """
    csv.field_size_limit(sys.maxsize)
    keywords: dict[int, list[str]] = {}
    exploded: dict[int, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in tqdm(csv.DictReader(f), desc=f"reading {path.name}", unit=" rows"):
            tmdb_id = (row.get("id") or "").strip()
            if not tmdb_id.isdigit():
                continue
            if "keyword" in row:
                name = " ".join((row["keyword"] or "").split()).lower()
                if name and name not in exploded.setdefault(int(tmdb_id), []):
                    exploded[int(tmdb_id)].append(name)
                continue
            try:
                parsed = ast.literal_eval(row.get("keywords") or "[]")
            except (ValueError, SyntaxError):
                log.warning("%s: keywords of TMDB id %s are not a list literal, skipped", path, tmdb_id)
                continue
            names = (" ".join(str(k["name"]).split()) for k in parsed if isinstance(k, dict) and k.get("name"))
            keywords.setdefault(int(tmdb_id), list(dict.fromkeys(n for n in names if n)))
    for tmdb_id, names in exploded.items():
        keywords.setdefault(tmdb_id, names)
    log.info("%s: keywords for %d TMDB ids", path, len(keywords))
    return keywords


def read_movielens_items(path: Path) -> list[tuple[str, str, int | None, frozenset[str]]]:
    """(item id, title, year, genres) from recbole's ml-100k.item (typed header row, tab-separated)."""
    items = []
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    for item_id, title, year, genres in rows:
        title = title.strip()
        in_title = _YEAR_IN_TITLE.search(title)  # one row reads "Land Before Time III: ... (1995)" with year "V"
        if not year.strip().isdigit() and in_title:
            year, title = in_title.group(1), title[: in_title.start()].strip()
        items.append((item_id, title, int(year) if year.strip().isdigit() else None, frozenset(genres.split())))
    return items


def genres_agree(movielens: frozenset[str], tmdb: frozenset[str]) -> bool:
    """True unless both sides name genres and none of them correspond."""
    if not movielens or not tmdb:
        return True
    return bool(tmdb & set().union(*(GENRES_TMDB.get(g, {g}) for g in movielens)))


def match(items: list[tuple[str, str, int | None, frozenset[str]]], films: list[Film]) -> dict[str, Film]:
    """Item id -> the TMDB film it is, by the rules in this module's docstring."""
    by_key: dict[str, list[tuple[Film, int]]] = {}
    for film in films:
        keys: dict[str, int] = {}
        for name in (film.title, film.original_title):
            for key, tier in name_keys(name).items():
                keys[key] = min(tier, keys.get(key, tier))
        for key, tier in keys.items():
            by_key.setdefault(key, []).append((film, tier))
    matched: dict[str, Film] = {}
    for item_id, title, year, genres in tqdm(items, desc="matching", unit=" items"):
        if year is None:
            continue
        main, names = movielens_names(title)
        keys: dict[str, int] = {}
        for name in names:
            for key, tier in name_keys(name).items():
                keys[key] = min(tier, keys.get(key, tier))
        best = None
        for key, item_tier in keys.items():
            for film, film_tier in by_key.get(key, ()):
                if film.year is None:
                    continue
                gap = abs(film.year - year)
                exact = main == fold(film.title)
                if gap > (MAX_YEAR_GAP_EXACT_TITLE if exact else MAX_YEAR_GAP):
                    continue
                if gap > MAX_YEAR_GAP and not genres_agree(genres, film.genres):
                    continue  # "Shooter, The" (1995, action) is not TMDB's western The Shooter (1997)
                rank = (max(item_tier, film_tier), gap, not exact, -film.votes, film.tmdb_id)
                if best is None or rank < best[0]:
                    best = (rank, film)
        if best is not None:
            matched[item_id] = best[1]
    return matched


def write_jsonl_gz(rows: list[dict], path: Path) -> None:
    """Gzip with mtime 0 and no file name inside, so equal rows give equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metadata", type=Path, nargs="+", required=True,
                        help="movies_metadata.csv copies (The Movies Dataset); a TMDB id met again in a later file is ignored")
    parser.add_argument("--keywords", type=Path, nargs="*", default=[],
                        help="keywords.csv copies (id,keywords or id,keyword), optional; the first file that lists a TMDB id wins")
    parser.add_argument("--items", type=Path, default=None,
                        help="ml-100k.item (default: the one inside the installed recbole package)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.items is None:
        from whyrec.store.movielens import movielens_100k_dir

        args.items = movielens_100k_dir() / "ml-100k.item"
    items = read_movielens_items(args.items)
    films: dict[int, Film] = {}
    for path in args.metadata:
        for film in read_metadata(path):
            films.setdefault(film.tmdb_id, film)
    keywords: dict[int, list[str]] = {}
    for path in args.keywords:
        for tmdb_id, names in read_keywords(path).items():
            keywords.setdefault(tmdb_id, names)

    matched = match(items, sorted(films.values(), key=lambda f: f.tmdb_id))
    rows = [
        {
            "item_id": item_id,
            "overview": film.overview,
            "keywords": keywords.get(film.tmdb_id, []),
            "tmdb_id": film.tmdb_id,
            "tmdb_title": film.title,
            "tmdb_year": film.year,
            "source": SOURCE,
        }
        for item_id, film in sorted(matched.items(), key=lambda pair: int(pair[0]))
    ]
    write_jsonl_gz(rows, args.output)
    with_keywords = sum(1 for row in rows if row["keywords"])
    log.info("%d of %d items matched (%.1f %%), %d with keywords -> %s (%d bytes)",
             len(rows), len(items), 100 * len(rows) / len(items), with_keywords, args.output, args.output.stat().st_size)


if __name__ == "__main__":
    main()
