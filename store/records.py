"""Typed records that every layer passes around: catalog items, interactions, users."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, get_args


@dataclass(frozen=True)
class Item:
    """A catalog entry. ``item_id`` is a string so any catalog's ids fit."""

    item_id: str
    title: str
    description: str = ""
    categories: tuple[str, ...] = ()
    year: int | None = None
    keywords: tuple[str, ...] = field(default=(), kw_only=True)
    """Short subject tags ("time travel", "heist"), in the catalogue's order. Keyword-only, so the
    positional ``Item(id, title, description, categories, year, metadata)`` keeps its meaning."""
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def display_title(self) -> str:
        """The title as people say and read it ("The Shining (1980)" for the stored "Shining, The (1980)").

        Use it wherever a person or a client reads a title; ``title`` stays the catalog's own form,
        which item ids, the embedded text and title matching keep."""
        return display_title(self.title)

    @property
    def text(self) -> str:
        """The text we embed (format :data:`ITEM_TEXT_VERSION`), built by :func:`item_text`."""
        return item_text(self.title, self.year, self.categories, self.description, self.keywords)

    @property
    def text_hash(self) -> str:
        """Identifies the embedded text, so an unchanged item is never embedded again."""
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


YEAR_SUFFIX = re.compile(r"\s*\((?:19|20)\d\d\)\s*$")  # "Heat (1995)" -> "Heat"
# a catalog's trailing article, "Usual Suspects, The", "Postino, Il", "Star Maker, The (Uomo delle stelle, L')"
ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "lo", "gli", "das", "der", "die", "det", "den", "el", "los", "las")
_ARTICLE_SUFFIX = re.compile(r"^(?P<rest>.+?),\s*(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")$", re.IGNORECASE)
_ALTERNATE = re.compile(r"^(?P<head>.*\S)\s*\((?P<alt>[^()]+)\)$")  # "Seven (Se7en)": the title, then another name


def _article_first(part: str) -> str:
    """'Usual Suspects, The' -> 'The Usual Suspects'; "Uomo delle stelle, L'" -> "L'Uomo delle stelle"."""
    match = _ARTICLE_SUFFIX.match(part.strip())
    if not match:
        return part.strip()
    article = match["article"]
    return f"{article}{'' if article.endswith(chr(39)) else ' '}{match['rest'].strip()}"


def display_title(title: str) -> str:
    """A catalog title in the form people say and read: 'Fog, The (1980)' -> 'The Fog (1980)'.

    The one rule for showing a title (:attr:`Item.display_title`; it lives with the records so every
    layer can show a title without reaching up into ``tools``): MovieLens-style catalogs move a
    leading article to the end ("Usual Suspects, The"), in the title and in an alternate title in
    brackets ("Blue Angel, The (Blaue Engel, Der)" -> "The Blue Angel (Der Blaue Engel)"). Item ids and
    the stored catalog keep the catalog's form; ``tools.understanding.titles.normalise_title`` treats
    both forms as one title, so either is found. A title already in natural form comes back unchanged.
    """
    title = " ".join(unicodedata.normalize("NFKC", str(title)).split())
    year = YEAR_SUFFIX.search(title)
    head, alternates = head_and_alternates(title[: year.start()] if year else title)
    shown = " ".join([_article_first(head), *(f"({_article_first(alt)})" for alt in alternates)])
    return shown + (f" {year[0].strip()}" if year else "")


def head_and_alternates(body: str) -> tuple[str, list[str]]:
    """A title without its year, split into its head and the other names in brackets after it, in order:
    "Like Water For Chocolate (Como agua para chocolate)" -> ("Like Water For Chocolate", ["Como agua para chocolate"])."""
    alternates: list[str] = []
    while (match := _ALTERNATE.match(body)) and match["head"]:
        alternates.insert(0, match["alt"])
        body = match["head"]
    return body, alternates


ITEM_TEXT_VERSION = 2
"""The format of :attr:`Item.text`; the item index records it beside each vector.

1. ``Title (year). Genres: A, B. Description``
2. the same, then ``Keywords: a, b.``; the description is cut at a sentence boundary so the whole
   text fits :data:`ITEM_TEXT_MAX_PIECES`.

Vectors are keyed by the text's hash, not by this number: after a format change only the items
whose text changed are embedded again (here, items with keywords or a long description); the
others only have their recorded version updated."""

ITEM_TEXT_MAX_PIECES = 250
"""Word pieces the embedded text may take. The packaged all-MiniLM-L6-v2 reads 256 (two of them its
[CLS] and [SEP] markers) and silently drops the rest, which would drop the keywords at the end."""
KEYWORDS_MAX_PIECES = 60
"""Of those, at most this many for keywords (about 15 typical ones); later keywords are left out."""

_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s)|[\u3002\uff01\uff1f][\u300d\u300f\uff09\"'\u201d\u2019]*")
"""Where a sentence ends: . ! ? … (and closing quotes) before a space, or the CJK 。！？ anywhere."""


def estimated_word_pieces(text: str) -> int:
    """At least the word pieces a BERT-style (WordPiece) tokenizer makes of natural prose.

    Each punctuation mark is one piece, an ASCII word of n letters 1 + (n - 1) // 5, each digit
    one, and each letter of a word with non-ASCII letters one (CJK is split into single
    characters; accented words are over-counted). Cheap and model-free, so :attr:`Item.text`
    stays a plain function of the item. Prose comes out 0-30 % over the packaged model's count
    (the tests check it); random letter strings can come out under, and then the model drops the
    text's tail, as it would without this budget.
    """
    pieces = 0
    for token in _TOKEN.findall(text):
        if token.isascii() and token.isalpha():
            pieces += 1 + (len(token) - 1) // 5
        else:
            pieces += len(token)
    return pieces


def _keywords_tail(keywords: tuple[str, ...]) -> str:
    """``Keywords: a, b.``, keeping keywords in order while the tail fits :data:`KEYWORDS_MAX_PIECES`."""
    tail = ""
    for n in range(1, len(keywords) + 1):
        longer = "Keywords: " + ", ".join(keywords[:n]) + "."
        if estimated_word_pieces(longer) > KEYWORDS_MAX_PIECES:
            break
        tail = longer
    return tail


def _longest_fitting(text: str, ends: list[int], budget: int) -> str:
    """The longest ``text[:end]`` over ``ends`` (ascending) within ``budget`` pieces; "" when none fits."""
    low, high = 0, len(ends)  # binary search: the estimate only grows with the prefix
    while low < high:
        middle = (low + high + 1) // 2
        if estimated_word_pieces(text[: ends[middle - 1]]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[: ends[low - 1]].strip() if low else ""


def _fit_description(description: str, budget: int) -> str:
    """The longest run of whole sentences within ``budget`` pieces.

    When even the first sentence is too long, it is cut after a word (or, in text without
    spaces, after a character) and ends with "…".
    """
    if estimated_word_pieces(description) <= budget:
        return description
    kept = _longest_fitting(description, [m.end() for m in _SENTENCE_END.finditer(description)], budget)
    if kept:
        return kept
    cut = _longest_fitting(description, [m.start() for m in re.finditer(r"\s+", description)], budget - 1)
    cut = cut or _longest_fitting(description, list(range(1, len(description) + 1)), budget - 1)
    return f"{cut}\u2026" if cut else ""


def item_text(title: str, year: int | None, categories: tuple[str, ...], description: str, keywords: tuple[str, ...]) -> str:
    """Title (year), genres, the description, then keywords, within :data:`ITEM_TEXT_MAX_PIECES` word pieces.

    Keywords come last but are never what gets cut for length: they are capped first at
    :data:`KEYWORDS_MAX_PIECES`, and the description gives way to them, keeping whole sentences.
    An item without keywords whose text fits reads exactly as format 1 did.
    """
    head = f"{title} ({year})" if year else title
    parts = [head]
    if categories:
        parts.append("Genres: " + ", ".join(categories))
    tail = _keywords_tail(keywords)
    if description:
        budget = ITEM_TEXT_MAX_PIECES - estimated_word_pieces(". ".join(parts)) - 1 - estimated_word_pieces(tail) - 1
        description = _fit_description(description, budget)
        if description:
            parts.append(description)
    text = ". ".join(parts)
    if tail:
        text += (" " if text[-1] in ".!?\u2026\u3002\uff01\uff1f" else ". ") + tail
    return text


def user_order(user_id: str) -> tuple:
    """The one stable order of user ids: numeric ids numerically ("2" before "10"), then the others by name.
    Listing users, sampling simulated sessions and splitting training users all sort with it."""
    return (not user_id.isdigit(), int(user_id) if user_id.isdigit() else 0, user_id)


LIKED_RATING = 4.0
"""A rating at or above this counts as "liked" (so 3.5 does not); an unrated event always does."""


@dataclass(frozen=True)
class Interaction:
    """One thing a user did with an item. ``timestamp`` is Unix seconds (UTC)."""

    user_id: str
    item_id: str
    timestamp: float
    rating: float | None = None
    event: str = "rating"

    @property
    def liked(self) -> bool:
        """The one "liked" rule every part of whyrec uses: profiles, evidence, reranker training."""
        return self.rating is None or self.rating >= LIKED_RATING


@dataclass(frozen=True)
class User:
    user_id: str
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


FeedbackKind = Literal["liked", "disliked", "not_interested"]
"""What a user can tell whyrec about an item. The one declaration of the kinds: SQLite's CHECK
constraint, the tools' argument schema and the API endpoint's type all import it."""
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
NEGATIVE_FEEDBACK: tuple[FeedbackKind, ...] = ("disliked", "not_interested")
"""Kinds that take an item (and its near-duplicates) out of the user's profile and recommendations."""


@dataclass
class Dataset:
    """What an ingest reads before anything is written: validated, self-consistent."""

    name: str
    items: list[Item]
    interactions: list[Interaction]
    users: list[User] = field(default_factory=list)
