"""What a free-text request asks for, in the catalog's own vocabulary.

"something scary from the 80s" means *years 1980–1989* and *Horror or Thriller*; the request's
embedding alone cannot see either, and collaborative scores drown it out. :class:`RequestParser`
reads a request into

* **hard constraints**, which filter: years (decades, "before 1970", "recent"), categories named
  outright or by an everyday word ("funny" → Comedy), exclusions ("not Nebula Run", "no horror");
* **soft constraints**, which boost: categories a mood word resembles (an embedding match against
  the catalog's category names, so a shop's "Kitchen" or "Toys" work as well as film genres),
  "like <title>" (more like this), titles not in the catalog (their words), "old"/"classic";
* **notes** in plain words, so the person sees what was understood.

Everything is computed against the store's items: the category names, the year range, the
titles. Nothing but the small everyday-word :data:`LEXICON` names a category, and its entries
only count when the catalog has that category. The same parser resolves the titles a chat names
("why Fargo?", "why not the second one?"): :meth:`RequestParser.resolve_title`.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from whyrec.store.records import Item
from whyrec.tools.understanding.phrasebook import LANGUAGES, in_english
from whyrec.tools.understanding.titles import display_title, normalise_title
from whyrec.tools.understanding.vocabulary import CatalogVocabulary

if TYPE_CHECKING:
    from whyrec.store.embeddings import ItemEmbedder

log = logging.getLogger(__name__)
# "take the horror ones out (of that list)", "leave out the comedies", "drop the musicals": a category left out
_TAKE_OUT = re.compile(
    r"\b(?:take|leave|cut|drop|remove|throw)\s+(?:the\s+|all\s+|any\s+)?(?P<what>[\w'’-]+(?:\s+[\w'’-]+)?)\s+"
    r"(?:ones?\s+|films?\s+|movies?\s+)?out\b(?:\s+of\s+(?:that|this|the)\s+(?:list|lot|bunch))?"
    r"|\b(?:take|leave|cut)\s+out\s+(?:the\s+|all\s+|any\s+)?(?P<what2>[\w'’-]+)",
    re.IGNORECASE,
)
PHRASEBOOK_LANGUAGES = ", ".join(name.title() for name in LANGUAGES.values())

MAX_REQUEST_CHARS = 500  # what is read of a request; the embedding model reads ~256 tokens anyway
MAX_MOOD_WORDS = 12  # words matched against the category names by embedding, per request
MOOD_MIN_SIMILARITY = 0.5  # cosine of a word to a category name below which it is not a match …
MOOD_MIN_MARGIN = 0.04  # … or when the runner-up category is this close (the word is not about one category)
FUZZY_CUTOFF = 0.85  # difflib ratio for a misspelt title ("Star Wras" → Star Wars)
TYPO_CUTOFF = 0.8  # difflib ratio for a misspelt category word ("scray" → scary 0.80, "comdy" → comedy 0.91)
RECENT_YEARS = 3  # "recent" = the catalog's newest three years
YEAR_BOOST_SPAN = 5.0  # a year preference ("old", or contradicting years) fades to nothing this many years outside its range
MIN_CHARS_PER_PIECE = 2.5  # below this a word is letters, not a word: "asdkjh" 1.2, "heist" 2.5, "smugglers" 4.5
WORD_CACHE = 4096  # word vectors kept, so a repeated word costs no model call

# everyday words for categories; an entry counts only for the categories a catalog has
LEXICON: dict[str, tuple[str, ...]] = {
    "funny": ("Comedy",), "hilarious": ("Comedy",), "comic": ("Comedy",), "comedic": ("Comedy",),
    "laugh": ("Comedy",), "laughs": ("Comedy",), "lighthearted": ("Comedy",), "witty": ("Comedy",),
    "scary": ("Horror", "Thriller"), "spooky": ("Horror",), "creepy": ("Horror", "Thriller"),
    "frightening": ("Horror", "Thriller"), "terrifying": ("Horror", "Thriller"), "horrifying": ("Horror",),
    "gory": ("Horror",), "slasher": ("Horror",), "zombie": ("Horror",), "zombies": ("Horror",),
    "romantic": ("Romance",), "romcom": ("Romance", "Comedy"), "rom com": ("Romance", "Comedy"), "love story": ("Romance",),
    "sci fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science fiction": ("Sci-Fi",), "space": ("Sci-Fi",),
    "futuristic": ("Sci-Fi",), "aliens": ("Sci-Fi",), "robots": ("Sci-Fi",),
    "animated": ("Animation",), "cartoon": ("Animation",), "cartoons": ("Animation",), "anime": ("Animation",),
    "kids": ("Children's",), "children": ("Children's",), "family": ("Children's",), "child": ("Children's",),
    "thrilling": ("Thriller",), "suspense": ("Thriller",), "suspenseful": ("Thriller",), "tense": ("Thriller",),
    "whodunit": ("Mystery",), "detective": ("Mystery", "Crime"), "gangster": ("Crime",), "gangsters": ("Crime",),
    "heist": ("Crime",), "mafia": ("Crime",), "cowboy": ("Western",), "cowboys": ("Western",),
    "noir": ("Film-Noir",), "sad": ("Drama",), "tearjerker": ("Drama",), "dramatic": ("Drama",),
    "serious": ("Drama",), "moving": ("Drama",), "touching": ("Drama",), "heartfelt": ("Drama",), "poignant": ("Drama",),
    "emotional": ("Drama",), "action packed": ("Action",), "explosions": ("Action",), "magical": ("Fantasy",), "magic": ("Fantasy",),
    "singing": ("Musical",), "epic": ("Adventure",),
    # comparatives and compounds only: a plain "light" or "dark" would also hide titles ("The Dark Knight") from step 2b
    "lighter": ("Comedy",), "light hearted": ("Comedy",), "feel good": ("Comedy",), "upbeat": ("Comedy",),
    "cheerful": ("Comedy",), "darker": ("Thriller", "Crime", "Film-Noir"), "gritty": ("Crime", "Thriller"),
}
# lexicon words too loose to filter on: they favour their category instead
LEANING_WORDS = frozenset(
    ["darker", "gritty", "lighter", "light hearted", "feel good", "upbeat", "cheerful", "space", "futuristic", "aliens", "robots", "family", "epic", "magic", "magical", "sad", "tearjerker", "dramatic", "tense", "heist", "mafia", "gangster", "gangsters", "detective", "explosions", "singing", "child"]
)
# words never matched to a category by embedding: they name the request, not a category
FILLER = frozenset(
    ["a", "an", "the", "some", "any", "something", "anything", "stuff", "thing", "things", "one", "ones", "movie", "movies", "film", "films", "flick", "flicks", "show", "shows", "item", "items", "product", "products", "title", "titles", "watch", "see", "want", "wanna", "need", "looking", "look", "find", "give", "recommend", "recommendation", "recommendations", "suggest", "please", "me", "my", "i", "we", "us", "you", "your", "for", "with", "from", "of", "in", "on", "at", "to", "by", "about", "and", "or", "but", "is", "are", "be", "that", "this", "these", "those", "what", "which", "who", "it", "its", "good", "great", "nice", "best", "really", "very", "quite", "more", "most", "less", "please", "like", "similar", "kind", "sort", "type", "tonight", "today", "now", "new", "old", "classic", "classics", "older", "recent", "latest", "newest", "era", "decade", "decades", "year", "years", "century", "before", "after", "since", "until", "between", "during", "around", "not", "no", "without", "except", "nothing", "none", "avoid", "make", "made", "makes", "do", "does", "did", "have", "has", "had", "get", "got", "just", "also", "too", "so", "than", "then", "there", "here", "where", "when", "how", "why"]
)
# lexicon words that name a subject, not only a mood: they are also what the request is about
SUBJECT_WORDS = frozenset(
    ["heist", "mafia", "gangster", "gangsters", "zombie", "zombies", "aliens", "robots", "space", "cowboy", "cowboys", "detective", "whodunit", "slasher", "love story", "magic"]
)
# words that frame a subject without being one ("a story about", "set on", "one where")
ABOUT_FILLER = frozenset(
    ["set", "else", "only", "big", "real", "story", "stories", "plot", "plots", "tale", "tales", "genre", "where", "involving", "featuring", "starring", "centered", "centred", "around", "based", "someone", "somebody", "people", "person", "guy", "lot", "lots", "bit", "much", "many", "all", "been", "being", "was", "were", "will", "would", "could", "should", "can", "let", "lets", "let's", "show", "tell", "am", "im", "i'm", "mood", "feel", "feeling", "fun", "enjoy", "watching", "night", "evening", "weekend", "again"]
)
# words that negate, compare or bound: accounted for only inside a span a rule read ("nothing before 1990", "no horror");
# left over ("not too violent", "funnier than", "between") they change the request in a way the rules did not read
LOGIC_WORDS = frozenset(
    ["not", "no", "nothing", "none", "never", "nor", "neither", "without", "except", "excluding", "unless", "avoid", "skip", "don't", "dont", "doesn't", "isn't", "aren't", "hate", "than", "less", "fewer", "older", "newer", "earlier", "later", "before", "after", "since", "until", "between", "around", "instead", "rather", "else", "other", "another", "different", "same"]
)
# ABOUT_FILLER words that still ask for something the rules do not read: "something fun", "for movie night"
_WISH_WORDS = frozenset(["fun", "enjoy", "big", "real", "lot", "lots", "bit", "much", "many", "night", "evening", "weekend", "again", "someone", "somebody", "people", "person", "guy"])
# words that frame a request without asking for anything, accounted for wherever they stand
FRAME_WORDS = ((FILLER | ABOUT_FILLER) - LOGIC_WORDS - _WISH_WORDS) | frozenset(
    ["i'd", "we'd", "what's", "it's", "that's", "there's", "may", "might", "maybe", "perhaps", "hi", "hello", "hey", "thanks", "thank", "ok", "okay", "pick", "choose", "suggestion", "suggestions", "idea", "ideas", "options", "list", "our", "they", "them"]
)
NOT_A_SUBJECT = FILLER | ABOUT_FILLER | FRAME_WORDS  # "hey, what's a good thriller?" is about nothing
# what names a request's subject outright: "about a shark", "with zombies", "set on a submarine", "one where a dog…";
# the subject runs to the end of its clause. "watch with my wife" is company, not a subject
_INTRODUCED = re.compile(
    r"\b(?:about|(?<!watch\s)(?<!see\s)with|featuring|involving|starring|set\s+(?:in|on|at|during|around)|where|in\s+which)\b"
    r"(?P<subject>(?:(?!\b(?:and|but|or|nor|so|because|though|although|while|that|which|who|to|for|if|when|after|before|since|until)\b)[^,.;:!?()])*)",
    re.IGNORECASE,
)
HEAD_WORDS = frozenset(["movie", "movies", "film", "films", "flick", "flicks"])  # "a shark movie": the word before is its subject
MAX_HEAD_SUBJECT_WORDS = 2  # "a serial killer movie"; further back is a description, not a compound noun
MAX_ABOUT_CHARS = 120  # the subject is a few words; what is longer is a description, cut to this
# function words of other languages: a request made mostly of these (or of words the model's vocabulary lacks) is not English
FOREIGN_MARKERS = frozenset(
    ["de", "la", "le", "les", "des", "une", "un", "du", "et", "ou", "avec", "pour", "sans", "el", "los", "las", "una", "unos", "por", "con", "sin", "que", "del", "und", "der", "die", "das", "ein", "eine", "mit", "für", "ohne", "nicht", "il", "lo", "gli", "della", "per", "che", "di", "da", "em", "um", "uma", "não", "os", "com", "para"]
)
DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90}
DECADE_PARTS = {"early": (0, 3), "mid": (4, 6), "late": (7, 9)}  # years into the decade: "mid 80s" = 1984–1986
# how a year or decade bounds a request: "before 1990" ends before it, "until 1990" ends with it, "after" starts past it
EARLIER = frozenset(["before", "pre", "prior to", "older than", "earlier than"])
UP_TO = frozenset(["until", "up to", "through"])
LATER = frozenset(["after", "post", "newer than", "later than"])
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)  # a word or a number ("80s", "pre-1970"): what coverage counts
# a colon before a capital continues a title ("Not Mission: Impossible"), and so does the dot of an initial or a
# title's abbreviation ("G.I. Jane", "Mr. Holland's Opus"); elsewhere they end the phrase
_TITLE_COLON = r":(?=\s*(?-i:[A-Z0-9]))"
_TITLE_DOT = r"(?:(?<=\b(?-i:[A-Z]))|(?<=\b(?-i:Mr|Dr|St|Jr|Ms))|(?<=\b(?-i:Mrs)))\."
_PHRASE = rf"(?P<phrase>(?:[^,.;:!?()]|{_TITLE_COLON}|{_TITLE_DOT})+?)"
_BREAK = rf"(?=\s*(?:[,;!?()]|(?!{_TITLE_DOT})\.|:(?!\s*(?-i:[A-Z0-9]))|$|\s(?:but|and not|or not|from|in the|with|that|which|except|please|made|set|released|before|after|since)\b))"
# a year or a decade, in part or whole: "1990", "the 80s", "mid-80s", "the late 1970s", "early eighties"
_WHEN = (
    r"(?:(?P<year>(?:19|20)\d\d)\b|(?:the\s+)?(?:(?P<part>" + "|".join(DECADE_PARTS) + r")[\s-]+)?"
    r"(?:(?P<full>(?:19|20)\d0)|['’]?(?P<short>\d0)|(?P<word>" + "|".join(DECADE_WORDS) + r"))(?:['’]?s\b|(?<=ies)))"
)
_BOUND = re.compile(r"\b(?P<rel>" + "|".join(sorted(EARLIER | UP_TO | LATER | {"since", "from"}, key=len, reverse=True)) + r")[\s-]+" + _WHEN, re.IGNORECASE)
# a bound said the other way round: "nothing from before 1990" asks for 1990 onwards, "no later than 1992" up to 1992
_NEGATED_BOUND = re.compile(
    r"\b(?:not|no|nothing|none|never)\s+(?:(?:made|released|filmed|from|that['’]?s|that\s+is|is|are|anything|movies?|films?)\s+)*"
    r"(?P<rel>" + "|".join(sorted(EARLIER | LATER, key=len, reverse=True)) + r")[\s-]+" + _WHEN,
    re.IGNORECASE,
)


@dataclass(frozen=True)
class YearRange:
    """An inclusive year range; an open end is None. ``source`` is the words it came from."""

    start: int | None
    end: int | None
    source: str

    @property
    def label(self) -> str:
        if self.start is not None and self.end is not None:
            return str(self.start) if self.start == self.end else f"{self.start}–{self.end}"
        if self.start is not None:
            return f"{self.start} or later"
        return f"{self.end} or earlier"

    def contains(self, year: int | None) -> bool:
        if year is None:
            return False
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)

    def distance(self, year: int | None) -> float:
        """Years outside the range (0 inside it); unknown years are far."""
        if year is None:
            return 100.0
        if self.start is not None and year < self.start:
            return float(self.start - year)
        if self.end is not None and year > self.end:
            return float(year - self.end)
        return 0.0

    def intersect(self, other: YearRange) -> YearRange | None:
        start = max((y for y in (self.start, other.start) if y is not None), default=None)
        end = min((y for y in (self.end, other.end) if y is not None), default=None)
        if start is not None and end is not None and start > end:
            return None
        return YearRange(start, end, f"{self.source}; {other.source}")


@dataclass(frozen=True)
class CategoryAsk:
    """Categories one phrase asks for, any of them will do: ("Horror", "Thriller") for "scary"."""

    categories: tuple[str, ...]
    source: str  # the words of the request
    how: str  # "name", "lexicon" or "embedding"
    similarity: float | None = None  # for an embedding match

    @property
    def label(self) -> str:
        return " or ".join(self.categories)

    def met_by(self, item: Item) -> bool:
        return any(c in item.categories for c in self.categories)


# a run of capitalised words, small joining words allowed inside ("Return of the Jedi"), whole words only ("Como a" is
# not a run in "Como agua"); "I" alone is a pronoun
_NAMED = re.compile(r"\b(?!I\b)[A-Z][\w'’:-]*(?:\s+(?:(?:of|the|and|in|a|an|on|to|&)(?![\w'’])|[A-Z][\w'’:-]*))*(?<![\s,])")


def _starts_sentence(text: str, start: int) -> bool:
    """Whether ``start`` is the first word of a sentence (where a capital letter says nothing)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\"'“"


@dataclass
class ParsedRequest:
    """A request read into constraints. Hard ones filter, soft ones boost, notes say what was understood."""

    text: str
    query_text: str = ""  # what is embedded as the request: the text less exclusions and noise; "" = nothing
    about: str = ""  # what the request is about, less its filters and filler ("shark", "set on a submarine"); "" = nothing
    years: YearRange | None = None  # hard
    categories: list[CategoryAsk] = field(default_factory=list)  # hard: each ask any-of, all asks together
    exclude_categories: list[CategoryAsk] = field(default_factory=list)  # hard
    exclude_item_ids: list[str] = field(default_factory=list)  # hard
    boost_categories: list[CategoryAsk] = field(default_factory=list)  # soft
    boost_years: list[YearRange] = field(default_factory=list)  # soft ("old", or two year asks that contradict)
    like_item_ids: list[str] = field(default_factory=list)  # soft: more like these
    unknown_titles: list[str] = field(default_factory=list)  # soft: their words join the request's meaning
    unread: list[str] = field(default_factory=list)  # phrases read as nothing: another language or no words at all
    unaccounted: list[str] = field(default_factory=list)  # words (lower case, in order) the rules did not read for sure
    notes: list[str] = field(default_factory=list)
    problem: str | None = None  # "gibberish", "language", "contradiction", or None
    language: str | None = None  # the language the phrasebook wrote ``text`` out of ("es"), None for English
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    unknown_title_vectors: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)
    titles: dict[str, str] = field(default_factory=dict, repr=False)  # item_id -> title, for the words

    @property
    def has_hard(self) -> bool:
        return bool(self.years or self.categories or self.exclude_categories or self.exclude_item_ids)

    @property
    def beyond_filters(self) -> bool:
        """Whether the words say more than the filters and boosts read from them (a subject: ``about``). Only then
        is the request's embedding a signal: "a horror movie from the 80s" is all filter, and its embedding would
        only rank the 80s horror films by how much their stories resemble the words "horror movie"."""
        return bool(self.about)

    @property
    def rules_sure(self) -> bool:
        """Whether the rules account for every word, so a chat may act on them alone; otherwise one model call reads
        the message ("something to cheer me up", "una película de terror"). Gibberish counts as sure: no model reads
        "asdkjh" better, and the note already says it made no sense."""
        return self.problem in (None, "gibberish") and not self.unread and not self.unaccounted

    @property
    def has_soft(self) -> bool:
        return bool(self.boost_categories or self.boost_years)

    def quoted(self, limit: int = 60) -> str:
        """The request in quotes; a long one keeps its end, where a chat's newest refinement is (its start is older)."""
        text = " ".join(self.text.split())
        if len(text) <= limit:
            return f"'{text}'"
        tail = text[-(limit - 1) :]
        return f"'…{tail.split(' ', 1)[-1] if ' ' in tail else tail}'"

    def summary(self) -> str:
        """One sentence: what the request filtered and boosted, and why ("because you asked for …")."""
        hard = []
        if self.years:
            hard.append(self.years.label)
        hard += [c.label for c in self.categories]
        parts = []
        if hard:
            parts.append("filtered to " + " and ".join(hard))
        left_out = [c.label for c in self.exclude_categories] + [self.titles.get(i, i) for i in self.exclude_item_ids]
        if left_out:
            parts.append("leaving out " + ", ".join(left_out))
        soft = [c.label for c in self.boost_categories] + [y.label for y in self.boost_years]
        if soft:
            parts.append("favouring " + " and ".join(soft))
        if self.about:
            parts.append(f"searching the stories for '{self.about}'")
        if self.like_item_ids or self.unknown_titles:
            parts.append("more like " + ", ".join([f"'{self.titles.get(i, i)}'" for i in self.like_item_ids] + [f"'{t}'" for t in self.unknown_titles]))
        if not parts:
            return ""
        text = "; ".join(parts)
        return f"{text[0].upper()}{text[1:]} because you asked for {self.quoted()}."

    def to_dict(self) -> dict:
        """What was understood, for a UI or an API caller to show (no vectors)."""
        return {
            "request": self.text,
            "summary": self.summary(),
            "years": {"min": self.years.start, "max": self.years.end, "label": self.years.label, "from": self.years.source} if self.years else None,
            "categories": [_ask_dict(c) for c in self.categories],
            "excluded_categories": [_ask_dict(c) for c in self.exclude_categories],
            "excluded_items": [{"item_id": i, "title": self.titles.get(i, i)} for i in self.exclude_item_ids],
            "boost_categories": [_ask_dict(c) for c in self.boost_categories],
            "boost_years": [{"min": y.start, "max": y.end, "label": y.label, "from": y.source} for y in self.boost_years],
            "like_items": [{"item_id": i, "title": self.titles.get(i, i)} for i in self.like_item_ids],
            "about": self.about,
            "unknown_titles": list(self.unknown_titles),
            "unread": list(self.unread),
            "unaccounted": list(self.unaccounted),
            "notes": list(self.notes),
            "problem": self.problem,
        }

    # --- what an item meets ------------------------------------------------------------

    def soft_match(self, item: Item) -> float | None:
        """Share of the soft asks the item meets (a year ask counts partly when near), None without soft asks."""
        scores = [1.0 if c.met_by(item) else 0.0 for c in self.boost_categories]
        if self.boost_years:
            scores.append(max(max(0.0, 1.0 - y.distance(item.year) / YEAR_BOOST_SPAN) for y in self.boost_years))
        return float(np.mean(scores)) if scores else None

    def item_fit(self, item: Item) -> str | None:
        """How one item stands against the request, in words (for "why?" and "why not?"), said after :meth:`summary`:
        "that request" refers back to it, so a long chat request is not quoted twice in a row."""
        if item.item_id in self.like_item_ids:
            return f"You asked for items like it ({self.quoted()}), so it is not listed itself."
        if not (self.has_hard or self.has_soft):
            return None
        misses = []
        if self.years and not self.years.contains(item.year):
            misses.append(f"it is from {item.year or 'an unknown year'}, outside {self.years.label}")
        misses += [f"it is not {c.label}" for c in self.categories if not c.met_by(item)]
        misses += [f"it is {c.label}, which you asked to leave out" for c in self.exclude_categories if c.met_by(item)]
        if item.item_id in self.exclude_item_ids:
            misses.append("you asked to leave it out")
        if misses:
            return "That request rules it out: " + "; ".join(misses) + "."  # after summary(), which quotes the request
        met = []
        if self.years:
            met.append(f"from {item.year}")
        met += [c for ask in self.categories + self.boost_categories for c in ask.categories if c in item.categories]
        if not met:
            return None
        return "It fits that request: " + ", ".join(dict.fromkeys(met)) + "."


def _ask_dict(ask: CategoryAsk) -> dict:
    return {"categories": list(ask.categories), "label": ask.label, "from": ask.source, "how": ask.how}


@dataclass(frozen=True)
class TitleReference:
    """What a chat's "why X?" names: an item, how it was found, or a message saying it is not in the catalog."""

    item: Item | None
    how: str  # "id", "exact", "fuzzy", "position", "not_found"
    message: str = ""
    nearest: tuple[Item, ...] = ()


class RequestParser:
    """Reads requests against one catalog. Built once per catalog (category vectors, titles, years)."""

    def __init__(
        self,
        catalog: CatalogVocabulary | dict[str, Item],
        embedder: ItemEmbedder | None = None,
        search: Callable[[str, int], list[Item]] | None = None,
    ):
        """``catalog`` is the catalog's vocabulary (a plain items dict builds one). ``embedder`` (the store's, e.g.
        all-MiniLM-L6-v2) matches mood words to category names and embeds the request; without one, only names and
        the lexicon map words to categories. ``search`` (e.g. ``Recommender.search``) finds the nearest items to a
        title the catalog lacks."""
        self.catalog = catalog if isinstance(catalog, CatalogVocabulary) else CatalogVocabulary(catalog)
        self.items = self.catalog.items
        self.embedder = embedder
        self.search = search
        self.titles = self.catalog.titles
        self._title_keys = list(self.titles.by_title)
        self.categories = self.catalog.categories
        self._category_patterns = [(c, re.compile(_category_regex(c), re.IGNORECASE)) for c in self.categories]
        self._category_patterns.sort(key=lambda cp: -len(cp[0]))  # "Film-Noir" before "Film"
        self.lexicon = {
            word: tuple(found for c in targets if (found := self.catalog.category(c)) is not None)
            for word, targets in LEXICON.items()
        }
        self.lexicon = {w: t for w, t in self.lexicon.items() if t}
        self._lexicon_pattern = (
            re.compile(r"\b(" + "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in sorted(self.lexicon, key=len, reverse=True)) + r")\b", re.IGNORECASE)
            if self.lexicon
            else None
        )
        self.year_min, self.year_max = self.catalog.year_min, self.catalog.year_max
        self.old_year, self.new_year = self.catalog.old_year, self.catalog.new_year
        self._category_vectors: np.ndarray | None = None
        self._word_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vocab: set[str] | None = None

    # --- the catalog's own words --------------------------------------------------------

    @property
    def category_vectors(self) -> np.ndarray | None:
        """The category names embedded, once per catalog."""
        if self._category_vectors is None and self.embedder is not None and self.categories:
            self._category_vectors = self.embedder.encode(self.categories)
        return self._category_vectors

    @property
    def vocabulary(self) -> set[str]:
        """Whole words the embedding model knows; a request mostly outside it is gibberish or not English."""
        if self._vocab is None:
            tokenizer = getattr(getattr(self.embedder, "model", None), "tokenizer", None) if self.embedder else None
            # a transformers tokenizer has .vocab; HF's Rust ``tokenizers`` one (the ONNX encoder's) has get_vocab()
            vocab = getattr(tokenizer, "vocab", None) or (tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {})
            self._vocab = {w for w in vocab if w.isalpha()}
        return self._vocab

    def coverage(self) -> str:
        """The catalog's span in words, from its own years ("the catalog covers 1922–1998")."""
        return self.catalog.coverage()

    # --- reading a request --------------------------------------------------------------

    def parse(self, request: str | None) -> ParsedRequest:
        """Constraints, notes and the request's vector (one model call for the request and its mood words)."""
        raw = unicodedata.normalize("NFKC", request or "").replace("\x00", " ")
        raw = re.sub(r"\s+", " ", raw).strip()
        parsed = ParsedRequest(text=raw)
        if not raw:
            return parsed
        if len(raw) > MAX_REQUEST_CHARS:
            cut = raw[:MAX_REQUEST_CHARS].rsplit(" ", 1)[0] or raw[:MAX_REQUEST_CHARS]
            parsed.notes.append(f"Your request is {len(raw):,} characters long; I read the first {len(cut):,}.")
            raw = parsed.text = cut
        if (phrased := in_english(raw)).language:  # "una comedia de los 80" is read as "comedy from the 80s"
            raw, parsed.text, parsed.language = phrased.english, phrased.english, phrased.language
        raw = _TAKE_OUT.sub(lambda m: f"without {m['what'] or m['what2']}", raw)  # "take the horror ones out": no Horror
        text = self.titles.keep_titles_whole(raw)
        removed: list[tuple[int, int]] = []  # spans that are not embedded as the request
        certain: list[tuple[int, int]] = []  # those of them a rule read for sure (not "not too violent", not an unknown title)

        def take(start: int, end: int, sure: bool = True) -> None:
            removed.append((start, end))
            if sure:
                certain.append((start, end))

        def free(start: int, end: int) -> bool:
            return not any(s < end and start < e for s, e in removed)

        said_at: dict[tuple[str, str], int] = {}  # ("not" | "like", item id) -> where the request says it
        named: list[str] = []  # capitalised names that are no catalog title

        # 1. exclusions: "not Nebula Run", "no horror", "without romance" (read before anything else claims their words)
        for m in re.finditer(r"\b(?P<how>less|not|no|without|except|excluding|avoid|skip|anything but|nothing|never|hates?|can['’]?t stand|cannot stand|don['’]?t\s+(?:want|like|need|show me))\s+(?:an?\s+|the\s+|any\s+|more\s+|too\s+|so\s+|anything\s+)?" + _PHRASE + _BREAK, text, re.IGNORECASE):
            phrase = m["phrase"].strip(" '\"“”‘’")
            if not phrase or not free(m.start(), m.end()) or _NEGATED_BOUND.match(text, m.start()):
                continue  # "nothing from before 1990" is a year bound, read with the years
            if m["how"].lower() == "less" and not self._categories_in(phrase):
                continue  # "less than two hours": only "less scary" (as "not too scary") asks to leave a category out
            end = self._list_end(text, m.end())  # "no romance, comedy or drama": the list goes on past the comma
            end = max(end, self._title_end(text, m.start("phrase")))  # "not Murder in the First": a title past a break word
            before, before_categories = len(parsed.exclude_item_ids), len(parsed.exclude_categories)
            take(m.start(), end, sure=self._read_exclusion(parsed, text[m.start("phrase") : end].strip(" '\"“”‘’"), m["how"].lower()))
            for i in parsed.exclude_item_ids[before:]:
                said_at[("not", i)] = m.start()
            for ask in parsed.exclude_categories[before_categories:]:
                said_at.update({("not", c): m.start() for c in ask.categories})

        # 2. "like <title>": more like this; a title outside the catalog lends its words
        for m in re.finditer(r"(?P<lead>\b\w+\s+)?\b(?:like|similar to|in the vein of|in the style of|reminds? me of|such as|along the lines of)\s+" + _PHRASE + _BREAK, text, re.IGNORECASE):
            lead = (m["lead"] or "").strip().lower()
            if lead in {"i", "we", "you", "they", "would", "d", "'d", "’d", "to", "really", "also", "don't", "dont", "do", "not", "i'd", "we'd"}:
                continue  # "I'd like a funny movie", "I like horror": the verb, not a comparison
            if not free(m.start("phrase"), m.end()):
                continue
            raw = m["phrase"]
            phrase = raw.strip(" '\"“”‘’")
            before, unknown_before = len(parsed.like_item_ids), len(parsed.unknown_titles)
            read = self._read_like(parsed, phrase, quoted=_is_quoted(text, m.start("phrase")), comparison=lead not in _NOT_A_COMPARISON)
            for i in parsed.like_item_ids[before:]:
                said_at[("like", i)] = m.start()
            if read:  # only the title's words: "like The Terminator and an action movie" still asks for Action
                start = m.start("phrase") + len(raw) - len(raw.lstrip(" '\"“”‘’"))
                take(m.start("phrase"), m.end() if read == len(phrase) else start + read, sure=len(parsed.unknown_titles) == unknown_before)

        # 2b. titles named outright ("Recommend me Inception and The Dark Knight"): capitalised runs that are
        # not the sentence's first word, a category or a pronoun; a catalog title is "more like it", others lend their words
        for m in _NAMED.finditer(text):
            phrase = m[0].strip()
            if not free(m.start(), m.end()) or _starts_sentence(text, m.start()) and " " not in phrase or self._categories_in(phrase):
                continue
            # "Inception and The Dark Knight" is two titles unless the whole run is one ("Romeo and Juliet")
            parts = [phrase] if self._title_items(phrase, fuzzy=False) else re.split(r"\s+(?:and|&)\s+", phrase)
            before, unknown_before = len(parsed.like_item_ids), len(parsed.unknown_titles)
            if any([self._read_like(parsed, part, quoted=False) for part in parts if part]):
                take(m.start(), m.end(), sure=len(parsed.unknown_titles) == unknown_before)
            named += parsed.unknown_titles[unknown_before:]  # "a Christmas movie", "set in Paris": a name, maybe the subject
            for i in parsed.like_item_ids[before:]:
                said_at[("like", i)] = m.start()
        self._settle_like_and_not(parsed, said_at)
        # "I love Nolan", "we enjoyed": verbs about the person, not a mood ("love" is not a wish for Romance)
        for m in re.finditer(r"\b(?:i|we)\s+(?:really\s+|just\s+|absolutely\s+)?(?:love|loved|adore|enjoy|enjoyed|like|liked)\b", text, re.IGNORECASE):
            take(m.start(), m.end())

        # 3. years: ranges, decades, before/after, single years, "recent", "old"
        year_asks = self._read_years(text, take, free)
        self._settle_years(parsed, year_asks)

        # 4. categories by name or everyday word (words already claimed by titles and exclusions are skipped)
        covered: list[tuple[int, int]] = []
        for category, pattern in self._category_patterns:
            for m in pattern.finditer(text):
                if free(m.start(), m.end()) and all(e <= m.start() or s >= m.end() for s, e in covered):
                    covered.append((m.start(), m.end()))
                    _add_ask(parsed.categories, CategoryAsk((category,), m[0], "name"))
                    said_at.setdefault(("ask", category), m.start())
        if self._lexicon_pattern:
            for m in self._lexicon_pattern.finditer(text):
                if free(m.start(), m.end()) and all(e <= m.start() or s >= m.end() for s, e in covered):
                    covered.append((m.start(), m.end()))
                    key = re.sub(r"[\s-]+", " ", m[0].lower())
                    target = parsed.boost_categories if key in LEANING_WORDS else parsed.categories
                    if target is parsed.boost_categories and any(set(self.lexicon[key]) <= set(a.categories) for a in parsed.categories):
                        continue  # "funny … lighter": already filtered to Comedy, "leaning to Comedy" would only repeat it
                    _add_ask(target, CategoryAsk(self.lexicon[key], m[0], "lexicon"))
                    said_at.update({("ask", c): m.start() for c in self.lexicon[key] if ("ask", c) not in said_at})
        # 4b. a category word misspelt ("scray", "comdy", "horor"): the closest one, and a note that says so
        for m in _WORD.finditer(text):
            if not free(m.start(), m.end()) or any(s < m.end() and m.start() < e for s, e in covered):
                continue
            if (meant := self._misspelt_category_word(m[0].lower())) is None:
                continue
            covered.append((m.start(), m.end()))
            categories = self._category_words[meant]
            _add_ask(parsed.boost_categories if meant in LEANING_WORDS else parsed.categories, CategoryAsk(categories, m[0], "typo"))
            said_at.update({("ask", c): m.start() for c in categories if ("ask", c) not in said_at})
            parsed.notes.append(f"Taking '{m[0]}' to mean '{meant}'.")
        self._settle_asked_and_left_out(parsed, said_at)

        # 5. the rest of the words: gibberish/language check, then mood words by embedding
        self._check_language(parsed, text, removed + covered)
        unread = [] if parsed.problem else self._unread_spans(text, removed + covered)  # "something funny, très drôle"
        for start, end in unread:
            parsed.unread.append(text[start:end])
            take(start, end, sure=False)  # neither embedded nor matched to a category: the note says they were not read
        rest = _blank(text, removed + covered)
        words = _WORD.findall(rest)
        candidates = [] if parsed.problem else [w for w in dict.fromkeys(w.lower() for w in words) if w not in FILLER and len(w) > 2][:MAX_MOOD_WORDS]
        parsed.query_text = "" if parsed.problem in ("gibberish", "language") else _query_text(_blank(text, unread), removed)
        parsed.about = "" if parsed.problem else _about_text(text, removed, covered, named)
        self._embed(parsed, candidates)
        parsed.unaccounted = self._unaccounted(parsed, text, certain + covered)
        self._notes(parsed)
        return parsed

    @staticmethod
    def _settle_like_and_not(parsed: ParsedRequest, said_at: dict[tuple[str, str], int]) -> None:
        """An item both liked and left out keeps only what the request said last: a chat's refinements are
        appended to its request, so "like Toy Story. Not Toy Story, something older" must stop asking for more
        like Toy Story (and "not X. Actually, more like X" must stop leaving X out)."""
        for item_id in set(parsed.like_item_ids) & set(parsed.exclude_item_ids):
            if said_at.get(("like", item_id), -1) > said_at.get(("not", item_id), -1):
                parsed.exclude_item_ids.remove(item_id)
            else:
                parsed.like_item_ids.remove(item_id)

    @staticmethod
    def _settle_asked_and_left_out(parsed: ParsedRequest, said_at: dict[tuple[str, str], int]) -> None:
        """A category both asked for and left out keeps only what the request said last ("something scary from the
        80s. Not too scary": 80s films that are not Horror or Thriller; "no horror. OK, horror then": Horror). Both at
        once filtered to it and away from it, so nothing matched and the notes said so twice."""
        for asks in (parsed.categories, parsed.boost_categories):
            for ask in list(asks):
                dropped = {c for c in ask.categories if said_at.get(("not", c), -1) > said_at.get(("ask", c), len(parsed.text))}
                if dropped:
                    kept = tuple(c for c in ask.categories if c not in dropped)
                    asks[asks.index(ask)] = replace(ask, categories=kept)
        parsed.categories = [a for a in parsed.categories if a.categories]
        parsed.boost_categories = [a for a in parsed.boost_categories if a.categories]
        for ask in list(parsed.exclude_categories):
            kept = tuple(c for c in ask.categories if said_at.get(("ask", c), -1) < said_at.get(("not", c), len(parsed.text)))
            if kept != ask.categories:
                parsed.exclude_categories[parsed.exclude_categories.index(ask)] = replace(ask, categories=kept)
        parsed.exclude_categories = [a for a in parsed.exclude_categories if a.categories]

    @functools.cached_property
    def _category_words(self) -> dict[str, tuple[str, ...]]:
        """One-word ways to ask for a category: the lexicon's ("scary") and the catalog's own names ("horror"); built
        once per catalog, as the lexicon and categories are (it was rebuilt for every word of every request)."""
        words = {w: c for w, c in self.lexicon.items() if w.isalpha()}
        for category in self.categories:
            if category.isalpha():
                words.setdefault(category.lower(), (category,))
        return words

    def _misspelt_category_word(self, word: str) -> str | None:
        """The category word ``word`` is a typo of ("scray" -> "scary"), or None. Only for a word of 4+ letters that the
        embedding model does not know, so real words ("scar", "crimes") keep their own meaning."""
        vocab = self.vocabulary
        if len(word) < 4 or not vocab or word in vocab or word in FILLER or not word.isalpha():
            return None
        close = difflib.get_close_matches(word, list(self._category_words), n=1, cutoff=TYPO_CUTOFF)
        return close[0] if close and close[0][0] == word[0] else None

    def _list_end(self, text: str, end: int) -> int:
        """Where a list of categories after 'no' ends: "X, Y or Z" runs on to Z; "X, something else" stops at X."""
        m = re.match(r",\s*([^.;!?]*)", text[end:])
        if not m or not re.search(r"\b(?:or|nor)\b", m[1], re.IGNORECASE):
            return end
        words = [w for w in re.split(r"[\s,]+", m[1].strip()) if w and w.lower() not in FILLER and w.lower() != "nor"]
        named = sum(len(a.source.split()) for a in self._categories_in(m[1]))
        return end + m.end() if words and named >= len(words) else end

    def _read_exclusion(self, parsed: ParsedRequest, phrase: str, how: str = "not") -> bool:
        """A title first ("not Star Wars" is not "not War"), then a category, then a misspelt title. False when the
        phrase names none ("not too violent"): the words were dropped, not read."""
        exact = self._title_items(phrase, prefix=True, fuzzy=False)
        asks = [] if exact else self._categories_in(phrase)
        if asks:  # "no romance, comedy or drama": every category named
            for ask in asks:
                _add_ask(parsed.exclude_categories, ask)
            return True
        items = exact or self._title_items(phrase, prefix=True)
        if items:
            for item in items:
                if item.item_id not in parsed.exclude_item_ids:
                    parsed.exclude_item_ids.append(item.item_id)
                    parsed.titles[item.item_id] = display_title(item.title)
            return True
        if phrase[:1].isupper() or phrase[:1] in "'\"“‘":
            # the word the person wrote: "but no Meg Ryan" is not "(after 'not')"
            parsed.notes.append(f"'{_clip(phrase)}' (after '{how}') is not a title or category of this catalog, so nothing was left out for it.")
        return False

    def _read_like(self, parsed: ParsedRequest, phrase: str, quoted: bool, comparison: bool = False) -> int:
        """Read "like <phrase>"; returns how many leading characters of ``phrase`` it used (0: none).

        A catalog title uses only its own words, so what follows it ("and an action movie") is read
        on its own; a category or a title outside the catalog uses the whole phrase."""
        length, found = self._leading_title(phrase)
        if found:
            item = found[0]
            if item.item_id not in parsed.like_item_ids:
                parsed.like_item_ids.append(item.item_id)
                parsed.titles[item.item_id] = display_title(item.title)
            return length
        ask = self._category_in(phrase)
        if ask is not None:
            _add_ask(parsed.boost_categories, CategoryAsk(ask.categories, ask.source, ask.how))
            return len(phrase)
        if quoted or phrase[:1].isupper():
            title = _clip(phrase.strip(" '\"“”‘’"), 80)
            parsed.unknown_titles.append(title)
            parsed.notes.append(f"'{title}' is not in the catalog ({self.coverage()}); I used its words to find similar items.")
            return len(phrase)
        if comparison and _names_something(phrase):
            # "something like the matrix", written in lower case: it was read as nothing at all, without a word
            parsed.unknown_titles.append(phrase)
            parsed.notes.append(f"I found no title '{_clip(phrase, 80)}' in the catalog ({self.coverage()}); I used its words to find similar items.")
            return len(phrase)
        return 0

    def _categories_in(self, phrase: str) -> list[CategoryAsk]:
        """Every category a phrase names outright or by a lexicon word, in the order named."""
        found: list[tuple[int, CategoryAsk]] = []
        taken: list[tuple[int, int]] = []
        for category, pattern in self._category_patterns:
            for m in pattern.finditer(phrase):
                if all(e <= m.start() or s >= m.end() for s, e in taken):
                    taken.append((m.start(), m.end()))
                    found.append((m.start(), CategoryAsk((category,), m[0], "name")))
        for m in self._lexicon_pattern.finditer(phrase) if self._lexicon_pattern else ():
            if all(e <= m.start() or s >= m.end() for s, e in taken):
                taken.append((m.start(), m.end()))
                found.append((m.start(), CategoryAsk(self.lexicon[re.sub(r"[\s-]+", " ", m[0].lower())], m[0], "lexicon")))
        return [ask for _, ask in sorted(found, key=lambda f: f[0])]

    def _category_in(self, phrase: str) -> CategoryAsk | None:
        """The category a short phrase names outright or by a lexicon word."""
        for category, pattern in self._category_patterns:
            if m := pattern.search(phrase):
                return CategoryAsk((category,), m[0], "name")
        if self._lexicon_pattern and (m := self._lexicon_pattern.search(phrase)):
            return CategoryAsk(self.lexicon[re.sub(r"[\s-]+", " ", m[0].lower())], m[0], "lexicon")
        return None

    def _title_end(self, text: str, start: int, most_words: int = 10) -> int:
        """Where the longest catalog title written from ``start`` ends (exactly spelt), or ``start`` when none does.

        A phrase stops at words like "in the" or "that", which titles hold too ("Murder in the First", "I Like It Like
        That"): without this, "not Murder in the First" left nothing out, and the title's words were searched for."""
        if not text[start : start + 1].isupper():
            return start
        length, _ = self._leading_title(text[start:], fuzzy=False, most_words=most_words)
        return start + len(text[start : start + length].rstrip(" .,;:!?'\"”’"))

    def _leading_title(self, text: str, fuzzy: bool = True, most_words: int | None = None) -> tuple[int, list[Item]]:
        """The longest run of ``text``'s leading words (at most ``most_words``) that is a catalog title: how many
        characters it takes, and its items; ``(0, [])`` when no run is one."""
        words = list(re.finditer(r"\S+", text))[:most_words]
        for n in range(len(words), 0, -1):
            found = self._title_items(text[: words[n - 1].end()], fuzzy=fuzzy)
            if found:
                return words[n - 1].end(), found
        return 0, []

    def _title_items(self, phrase: str, prefix: bool = False, fuzzy: bool = True) -> list[Item]:
        """Items titled ``phrase`` (exactly, then misspelt); with ``prefix``, its sequels too ("Nebula Run II")."""
        key = normalise_title(phrase)
        if not key or key in FILLER:
            return []
        found = list(self.titles.by_title.get(key, []))
        if not found and not key.startswith("the "):
            found = list(self.titles.by_title.get(f"the {key}", []))
        if not found and fuzzy and len(key) >= 4:
            close = difflib.get_close_matches(key, self._title_keys, n=1, cutoff=FUZZY_CUTOFF)
            if close:
                key = close[0]
                found = list(self.titles.by_title[key])
        if found and prefix:
            follow = re.compile(rf"^{re.escape(key)}\s+(?:[ivx]+|\d+|part\b.*)$")
            found += [i for k in self._title_keys if follow.match(k) for i in self.titles.by_title[k]]
        return found

    def _read_years(self, text: str, take, free) -> list[YearRange]:
        """Year asks; of the hard ones, only the last sentence's count. A chat appends each refinement as a sentence,
        so "something scary from the 80s. A 1950s movie from 1995" asks for what the newest sentence says (it used to
        contradict all three, 80s included), while one sentence's own contradiction still says so."""
        asks: list[YearRange] = []
        sentence_of: dict[int, int] = {}  # id of a hard ask -> the sentence it is in
        soft_sentence_of: dict[int, int] = {}  # the same for leanings ("older", "newer")
        said_at: dict[int, int] = {}  # id of an ask -> where the request says it, so the notes name them in order

        def sentence(at: int) -> int:
            return len(re.findall(r"[.!?](?:\s|$)", text[:at]))

        def add(m: re.Match, start: int | None, end: int | None, soft: bool = False) -> None:
            if free(m.start(), m.end()):
                take(m.start(), m.end())
                asks.append(YearRange(start, end, m[0].strip() + ("~soft" if soft else "")))
                (soft_sentence_of if soft else sentence_of)[id(asks[-1])] = sentence(m.start())
                said_at[id(asks[-1])] = m.start()

        for m in re.finditer(r"\b(?:between|from)\s+((?:19|20)\d\d)\s+(?:and|to|-|–|until)\s+((?:19|20)\d\d)\b|\b((?:19|20)\d\d)\s*(?:-|–|to)\s*((?:19|20)\d\d)\b", text, re.IGNORECASE):
            a, b = int(m[1] or m[3]), int(m[2] or m[4])
            add(m, min(a, b), max(a, b))
        for m in _NEGATED_BOUND.finditer(text):  # first: the plain bound would read "nothing before 1990" backwards
            add(m, *_bounded(m["rel"], *self._when(m), negated=True))
        for m in _BOUND.finditer(text):
            add(m, *_bounded(m["rel"], *self._when(m)))
        for m in re.finditer(r"\b" + _WHEN, text, re.IGNORECASE):
            if not m["year"]:  # a year alone is read last, after "1990-1995" and "before 1990" have taken theirs
                add(m, *self._when(m))
        for m in re.finditer(r"(?:\b(?:años|los|années|anni|jahre)\s+['’]?(\d0)\b|\b(\d0)(?:er|年代))", text, re.IGNORECASE):
            start = self._decade_start(None, m[1] or m[2], None)
            add(m, start, start + 9)
        for m in re.finditer(r"\b((?:19|20)\d\d)\b", text):
            add(m, int(m[1]), int(m[1]))
        if self.year_max is not None:
            for m in re.finditer(r"\b(?:(?:in\s+)?recent(?:ly|\s+years)?|lately|(?:in\s+)?the\s+(?:last|past)\s+(?:few|couple(?:\s+of)?|several)\s+years|latest|newest|brand[\s-]new|new releases?)\b", text, re.IGNORECASE):
                add(m, self.year_max - RECENT_YEARS + 1, self.year_max)
            for m in re.finditer(r"\b(?:old(?:er)?|classics?|vintage|oldies)\b", text, re.IGNORECASE):
                add(m, None, self.old_year, soft=True)
            for m in re.finditer(r"\b(?:newer|more modern)\b", text, re.IGNORECASE):  # the mirror of "older": a leaning, not a filter
                add(m, self.new_year, None, soft=True)
        last, last_soft = max(sentence_of.values(), default=0), max(soft_sentence_of.values(), default=0)
        # "something older. something newer" leans newer: a leaning, too, is what the newest sentence says
        kept = [a for a in asks if sentence_of.get(id(a), last) == last and soft_sentence_of.get(id(a), last_soft) == last_soft]
        return sorted(kept, key=lambda a: said_at[id(a)])

    def _when(self, m: re.Match) -> tuple[int, int]:
        """The first and last year a :data:`_WHEN` match names: 1990–1990 for "1990", 1984–1986 for "mid-80s"."""
        if m["year"]:
            return int(m["year"]), int(m["year"])
        start = self._decade_start(m["full"], m["short"], m["word"])
        first, last = DECADE_PARTS.get((m["part"] or "").lower(), (0, 9))
        return start + first, start + last

    def _decade_start(self, full: str | None, short: str | None, word: str | None) -> int:
        if full:
            return int(full)
        tens = int(short) if short else DECADE_WORDS[word.lower()]
        options = [1900 + tens, 2000 + tens]
        if self.year_min is not None and self.year_max is not None:
            inside = [y for y in options if y + 9 >= self.year_min and y <= self.year_max]
            if len(inside) == 1:
                return inside[0]
            return min(options, key=lambda y: abs(y - self.year_max))
        return options[0]

    def _settle_years(self, parsed: ParsedRequest, asks: list[YearRange]) -> None:
        hard = [a for a in asks if not a.source.endswith("~soft")]
        soft = [YearRange(a.start, a.end, a.source.removesuffix("~soft")) for a in asks if a.source.endswith("~soft")]
        parsed.boost_years += soft
        if not hard:
            return
        merged: YearRange | None = hard[0]
        for ask in hard[1:]:
            merged = merged.intersect(ask) if merged else None
        if merged is None:
            labels = " and ".join(f"{a.label} ('{a.source}')" for a in hard)
            parsed.notes.append(f"Nothing matches both {labels}: those years contradict each other, so here are the closest items to either.")
            parsed.problem = "contradiction"
            parsed.boost_years += hard
            return
        if self.year_min is not None and ((merged.end is not None and merged.end < self.year_min) or (merged.start is not None and merged.start > self.year_max)):
            parsed.notes.append(f"Nothing in the catalog is from {merged.label} ({self.coverage()}), so here are the closest years instead.")
            parsed.boost_years.append(merged)
            return
        parsed.years = YearRange(merged.start, merged.end, "; ".join(a.source for a in hard))

    def _check_language(self, parsed: ParsedRequest, text: str, removed: list[tuple[int, int]]) -> None:
        """Flags a request mostly made of words the model does not know (gibberish) or of another language."""
        words = _WORD.findall(_blank(text, removed))
        if not words:
            return
        letters = sum(len(w) for w in words)
        foreign = unknown = 0
        vocab = self.vocabulary
        for word in words:
            lower = word.lower()
            if lower in FOREIGN_MARKERS or not word.isascii() and not (vocab and _fold(lower) in vocab):
                foreign += len(word)  # "comédie", not "naïve" or "café": the model knows those
            elif vocab and not self._readable(word):
                unknown += len(word)
        if len(words) < 2 and not foreign and not (unknown and letters > 15):
            return  # one unknown word may be a rare English one ("tearjerker"); a 16-letter one is noise
        if (foreign + unknown) / letters <= 0.5:
            return
        understood = self._understood_bits(parsed)
        used = f"I used only what I recognised: {understood}." if understood else "I used your history instead."
        if foreign >= unknown:
            parsed.problem = "language"
            parsed.notes.append(f"Your request is in no language the rules read (English, {PHRASEBOOK_LANGUAGES}); {used}")
        else:
            parsed.problem = "gibberish"
            parsed.notes.append(f"I could not make sense of {parsed.quoted(40)}; {used}")

    def _unread_spans(self, text: str, removed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Runs of words in a mostly English request that whyrec cannot read: words of another language ("très
        drôle", "muy gracioso") or no word at all ("asdkjh"). A word with an accent counts when the embedding
        model does not know it without its accents ("drôle"; not "café"), and so does a foreign function word, an
        accented word or one the model does not know next to one ("très" before "drôle", "gracioso" after "muy")."""
        vocab = self.vocabulary
        if not vocab:
            return []
        words = list(_WORD.finditer(_blank(text, removed)))

        def unreadable(word: str) -> bool:
            if not word.isascii():
                return any(_fold(p) not in vocab for p in re.split(r"['’-]", word.lower()) if p)
            return not self._readable(word)

        flagged = [unreadable(m[0]) for m in words]
        changed = any(flagged)
        while changed:  # "très" and "una", "de" go with the foreign word next to them
            changed = False
            for i, m in enumerate(words):
                near = (i > 0 and flagged[i - 1]) or (i + 1 < len(words) and flagged[i + 1])
                if not flagged[i] and near and (not m[0].isascii() or m[0].lower() in FOREIGN_MARKERS or m[0].lower() not in vocab):
                    flagged[i] = changed = True
        spans: list[tuple[int, int]] = []
        for m, bad in zip(words, flagged, strict=True):
            if not bad:
                continue
            if spans and not _WORD.search(text[spans[-1][1] : m.start()]) and not re.search(r"[,.;:!?()]", text[spans[-1][1] : m.start()]):
                spans[-1] = (spans[-1][0], m.end())  # the next word of the same phrase
            else:
                spans.append((m.start(), m.end()))
        return spans

    def _readable(self, word: str) -> bool:
        """Whether the embedding model knows an (ASCII) word or it reads as a rare English one; "I'd" and "kid-friendly"
        by their parts (whole, "I'd" fell apart into letters and read as noise)."""
        vocab = self.vocabulary
        return all(p in vocab or self._plausible(p) for p in re.split(r"['’-]", word.lower()) if p)

    def _plausible(self, word: str) -> bool:
        """A word outside the vocabulary that splits into few word pieces ("smug·glers", "star·ship")
        is a rare English word; one that falls apart into letters ("as·d·k·j·h") is not a word."""
        tokenizer = getattr(getattr(self.embedder, "model", None), "tokenizer", None)
        if tokenizer is None:
            return True
        if hasattr(tokenizer, "tokenize"):  # a transformers tokenizer
            pieces = tokenizer.tokenize(word)
        else:  # HF's Rust ``tokenizers`` (the ONNX encoder's)
            pieces = tokenizer.encode(word, add_special_tokens=False).tokens
        return bool(pieces) and len(word) / len(pieces) >= MIN_CHARS_PER_PIECE

    @staticmethod
    def _understood_bits(parsed: ParsedRequest) -> str:
        bits = [parsed.years.label] if parsed.years else []
        bits += [c.label for c in parsed.categories]
        return ", ".join(bits)

    def _embed(self, parsed: ParsedRequest, words: list[str]) -> None:
        """One model call: the request's text, unknown titles and the mood words not seen before."""
        if self.embedder is None:
            return
        texts = ([parsed.query_text] if parsed.query_text else []) + parsed.unknown_titles
        known = {w: v for w in words if (v := self._word_vectors.get(w)) is not None}  # a local copy: other threads evict
        new_words = [w for w in words if w not in known]
        vectors = self.embedder.encode(texts + new_words) if texts or new_words else np.zeros((0, 0), dtype=np.float32)
        if parsed.query_text:
            parsed.query_vector = vectors[0]
        parsed.unknown_title_vectors = list(vectors[len(texts) - len(parsed.unknown_titles) : len(texts)])
        for word, vector in zip(new_words, vectors[len(texts) :], strict=True):
            known[word] = self._word_vectors[word] = vector
        while len(self._word_vectors) > WORD_CACHE:
            try:
                self._word_vectors.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
        categories = self.category_vectors
        if categories is None or not words:
            return
        asked = {c for ask in parsed.categories + parsed.exclude_categories + parsed.boost_categories for c in ask.categories}
        sims = np.stack([known[w] for w in words]) @ categories.T
        for word, row in zip(words, sims, strict=True):
            order = np.argsort(-row)
            best, second = float(row[order[0]]), float(row[order[1]]) if len(order) > 1 else 0.0
            category = self.categories[int(order[0])]
            if best >= MOOD_MIN_SIMILARITY and best - second >= MOOD_MIN_MARGIN and category not in asked:
                asked.add(category)
                parsed.boost_categories.append(CategoryAsk((category,), word, "embedding", round(best, 3)))

    def _unaccounted(self, parsed: ParsedRequest, text: str, read: list[tuple[int, int]]) -> list[str]:
        """The words of ``text`` the rules did not read for sure, lower case, in order. Read for sure: framing words,
        whatever a rule read (a catalog title, a year span, an exclusion that named something, a category by name,
        lexicon or typo) and a subject the message introduces ("about a shark", "a courtroom drama"). Not: a word
        only matched by embedding, an unread or unknown word, a subject nothing introduces ("What do you think I
        like?" is not about "think") and a negation or comparison no rule consumed ("not too violent")."""
        guessed = {ask.source.lower() for ask in parsed.boost_categories if ask.how == "embedding"}
        subjects = [m.span("subject") for m in _INTRODUCED.finditer(text)] + self._head_subjects(text, read)
        words = []
        for m in _TOKEN.finditer(text):
            word = m[0].lower().replace("’", "'")
            if _overlaps(m.span(), read):
                continue
            noise = parsed.problem == "gibberish" and word.isascii() and not self._readable(word)
            framing = word in FRAME_WORDS or (_overlaps(m.span(), subjects) and word not in guessed)
            if word == "instead" and not re.match(r"\s+of\b", text[m.end():], re.IGNORECASE):
                continue  # "something romantic instead" says the request is new; "instead of a drama" compares
            if word in LOGIC_WORDS or not (framing or noise):
                words.append(word)
        return words

    def _head_subjects(self, text: str, read: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Spans of the nouns right before "movie"/"film" or a category name: "shark" in "a shark movie", "courtroom"
        in "a courtroom drama" (at most :data:`MAX_HEAD_SUBJECT_WORDS`, and none that is framing or was read)."""
        heads = [m.start() for m in _TOKEN.finditer(text) if m[0].lower() in HEAD_WORDS]
        heads += [s for s, e in read if any(p.fullmatch(text[s:e]) for _, p in self._category_patterns)]
        spans = []
        for head in heads:
            end = head
            for _ in range(MAX_HEAD_SUBJECT_WORDS):
                m = re.search(r"([^\W_]+)[\s-]+$", text[:end])
                if m is None or m[1].lower() in FRAME_WORDS or m[1].lower() in LOGIC_WORDS or _overlaps(m.span(1), read):
                    break
                spans.append(m.span(1))
                end = m.start()
        return spans

    def _notes(self, parsed: ParsedRequest) -> None:
        if parsed.unread:
            words = ", ".join(f"'{_clip(w, 40)}'" for w in parsed.unread)
            parsed.notes.append(f"I did not understand {words}, so these follow the rest of your request.")
        understood = []
        if parsed.years:
            understood.append(f"years {parsed.years.label} (from '{parsed.years.source}')")
        understood += [f"{c.label} (from '{c.source}')" for c in parsed.categories]
        understood += [f"not {c.label}" for c in parsed.exclude_categories]
        understood += [f"not '{parsed.titles.get(i, i)}'" for i in parsed.exclude_item_ids]
        understood += [f"leaning to {c.label} (from '{c.source}')" for c in parsed.boost_categories]
        understood += [f"leaning to {y.label} (from '{y.source}')" for y in parsed.boost_years if parsed.problem != "contradiction"]
        understood += [f"more like '{parsed.titles.get(i, i)}'" for i in parsed.like_item_ids]
        if parsed.about:
            understood.append(f"about '{parsed.about}' (searched in the items' stories)")
        if understood:
            parsed.notes.insert(0, "Understood: " + "; ".join(understood) + ".")

    # --- naming one item (chat: "why X?", "why not the second one?") ------------------------

    def resolve_title(self, reference: str, shown: list[str] | None = None, nearest: int = 3) -> TitleReference:
        """The item ``reference`` names: an id, a title in any common spelling, a misspelling, or a
        position in ``shown`` ("the second one", "#3", "the last one"). Not found: a message saying
        so with the catalog's span, and the nearest items by meaning."""
        reference = " ".join(str(reference or "").split()).strip(" ?!.'\"“”‘’")
        if not reference:
            return TitleReference(None, "not_found", "Name an item: a title, an id or a position in the list.")
        if reference in self.items:
            return TitleReference(self.items[reference], "id")
        if shown:
            position = _position(reference, len(shown))
            if position is not None and shown[position] in self.items:
                return TitleReference(self.items[shown[position]], "position")
        exact = self.titles.lookup(reference) or self.titles.by_title.get(f"the {normalise_title(reference)}", [])
        if exact:
            return TitleReference(exact[0], "exact")
        fuzzy = self._title_items(reference)
        if fuzzy:
            return TitleReference(fuzzy[0], "fuzzy", f"Taking '{_clip(reference)}' to mean '{display_title(fuzzy[0].title)}'.")
        near = tuple(self.search(reference, nearest)) if self.search is not None and nearest > 0 else ()
        message = f"'{_clip(reference)}' is not in the catalog ({self.coverage()})."
        if near:
            message += " The nearest items in it: " + ", ".join(f"'{display_title(i.title)}'" for i in near) + "."
        return TitleReference(None, "not_found", message, near)


# --- small pieces ------------------------------------------------------------------------------

def _bounded(relation: str, first: int, last: int, negated: bool = False) -> tuple[int | None, int | None]:
    """The years a relation to the span ``first``–``last`` asks for: "before the 80s" ends in 1979, "since the 80s"
    starts in 1980. Negated, "before" and "after" turn round: "nothing before the 80s" starts in 1980 (it was read as
    "before the 80s", the very years the person ruled out) and "nothing after 1995" ends in 1995."""
    relation = " ".join(relation.lower().split())
    if relation in EARLIER:
        return (first, None) if negated else (None, first - 1)
    if relation in LATER:
        return (None, last) if negated else (last + 1, None)
    if relation in UP_TO:
        return None, last
    if relation == "since":
        return first, None
    return first, last  # "from the early 80s": those years


def _category_regex(name: str) -> str:
    """'Sci-Fi' matches sci-fi, sci fi, scifi; "Children's" matches childrens; plurals count, "comedies" and
    "mysteries" too (they were read as mood words, by embedding, and searched for in the stories)."""
    parts = [re.escape(p) for p in re.split(r"[-'’\s]+", name.strip()) if p]
    body = r"[-'’\s]*".join(parts)
    if re.search(r"[^aeiouy\W]y$", name, re.IGNORECASE):
        return rf"\b{body[:-1]}(?:ies|y(?:s|['’]s)?)\b"
    return rf"\b{body}(?:s|es|['’]s)?\b"


def _add_ask(asks: list[CategoryAsk], ask: CategoryAsk) -> None:
    if not any(set(a.categories) == set(ask.categories) for a in asks):
        asks.append(ask)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def _query_text(text: str, removed: list[tuple[int, int]]) -> str:
    """The request less its exclusions (embedding "not horror" would pull towards horror); "" when only filler is left."""
    rest = re.sub(r"\s+", " ", _blank(text, [s for s in removed if _is_exclusion(text, s)])).strip(" ,.;")
    content = [w for w in _WORD.findall(rest) if w.lower() not in FILLER]
    digits = re.findall(r"\d+", rest)
    return rest if content or digits else ""


def _about_text(text: str, removed: list[tuple[int, int]], covered: list[tuple[int, int]], named: list[str] = ()) -> str:
    """The request's subject: its words less filler, years, titles, exclusions and category names, but with the
    lexicon's subject nouns kept ("a heist movie" is about a heist as much as it leans to Crime) and the names
    that are no catalog title ("a Christmas movie", "set in Paris"). A word joined by a hyphen to a category
    name goes with it ("action-packed" is not about packing)."""
    subjects = [s for s in covered if text[s[0] : s[1]].lower() in SUBJECT_WORDS]
    spans = [_with_hyphenated(text, s) for s in removed + [s for s in covered if s not in subjects]]
    words = [w for w in _WORD.findall(_blank(text, spans)) if w.lower().replace("’", "'") not in NOT_A_SUBJECT]
    words += [w for name in named for w in _WORD.findall(name) if w.lower() not in FILLER and w not in words]
    return " ".join(words)[:MAX_ABOUT_CHARS]


def _with_hyphenated(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` grown over the word parts a hyphen joins to it: "action" in "action-packed" is all of it."""
    start, end = span
    while (m := re.match(r"-[^\W\d_]+", text[end:])) is not None:
        end += m.end()
    while (m := re.search(r"[^\W\d_]+-$", text[:start])) is not None:
        start = m.start()
    return start, end


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in spans)


def _is_exclusion(text: str, span: tuple[int, int]) -> bool:
    return bool(re.match(r"(?:less|not|no|without|except|excluding|avoid|skip|anything but|nothing|never|don['’]?t)\b", text[span[0] : span[1]], re.IGNORECASE))


# what comes before "like" when it is not a comparison with a title: "feel like crying", "looks like rain"
_NOT_A_COMPARISON = frozenset({"feel", "feels", "felt", "feeling", "look", "looks", "looked", "sound", "sounds", "seem", "seems", "just", "more", "much"})
# what a lower-case phrase after "like" starts with when it is not a title: "like the ones my dad likes", "like this"
_NOT_A_TITLE_START = frozenset(
    "a an some any this that these those it them one ones my your his her their our what how when where i you we they he she "
    "something anything everything nothing watching seeing being".split()
)


def _names_something(phrase: str) -> bool:
    """Whether a lower-case phrase after "like" may be a title the person has in mind ("the matrix", "inception"):
    one to four words, not a pronoun or determiner first, and more than filler."""
    words = phrase.lower().split()
    return 0 < len(words) <= 4 and words[0] not in _NOT_A_TITLE_START and any(w not in FILLER for w in words) and phrase.replace(" ", "").replace("-", "").replace("'", "").isalnum()


def _is_quoted(text: str, start: int) -> bool:
    return start < len(text) and text[start] in "'\"“‘"


def _fold(word: str) -> str:
    """A word without its accents ("drôle" -> "drole"), as the embedding model's tokenizer reads it."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _position(reference: str, n: int) -> int | None:
    """0-based index for "the second one", "#3", "number 2", "3rd", "the last one"; None otherwise."""
    text = reference.lower()
    if re.fullmatch(r"(?:the\s+)?last(?:\s+one)?", text):
        return n - 1
    m = re.fullmatch(r"(?:the\s+)?(?:#|no\.?\s*|number\s+|item\s+)?(\d{1,2})(?:st|nd|rd|th)?(?:\s+one)?", text)
    if m:
        index = int(m[1]) - 1
        return index if 0 <= index < n else None
    m = re.fullmatch(r"(?:the\s+)?(" + "|".join(ORDINALS) + r")(?:\s+one)?", text)
    if m:
        index = ORDINALS[m[1]] - 1
        return index if index < n else None
    return None
