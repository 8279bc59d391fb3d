"""Years and decades in a request, read against the catalog's own span.

"the mid 80s" is 1984–1986, "nothing before 1990" is 1990 onwards, "recent" is the catalog's newest three years ("within the last year" its newest one) and
"old" leans to its oldest fifth; a decade written short ("the 20s") is the one the catalog holds. Of the hard year
asks only the newest sentence's count, since a chat appends each refinement to its request as a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from whyrec.tools.understanding.draft import RequestDraft
from whyrec.tools.understanding.phrases import NUMBER_WORDS
from whyrec.tools.understanding.request import YearRange
from whyrec.tools.understanding.vocabulary import CatalogVocabulary

RECENT_YEARS = 3  # "recent" = the catalog's newest three years
DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90}
DECADE_PARTS = {"early": (0, 3), "mid": (4, 6), "late": (7, 9)}  # years into the decade: "mid 80s" = 1984–1986
# the same parts said with "of": "the start of the 80s" is the early 80s, "the second half of the 90s" 1995–1999
DECADE_PARTS_OF = {
    "beginning": (0, 3), "start": (0, 3), "middle": (4, 6), "end": (7, 9),
    "first half": (0, 4), "second half": (5, 9), "latter half": (5, 9), "last half": (5, 9),
}
AROUND_YEARS = 2  # "around 1995" is 1993–1997
# how a year or decade bounds a request: "before 1990" ends before it, "until 1990" ends with it, "after" starts past it
EARLIER = frozenset(["before", "pre", "prior to", "older than", "earlier than"])
UP_TO = frozenset(["until", "up to", "through"])
LATER = frozenset(["after", "post", "newer than", "later than"])


def _when_pattern(suffix: str = "") -> str:
    """A year or a decade, in part or whole: "1990", "the 80s", "mid-80s", "the late 1970s", "early eighties"; its
    groups end in ``suffix``, so that one pattern can hold two of them ("the 1930s or 40s")."""
    return (
        rf"(?:(?P<year{suffix}>(?:19|20)\d\d)\b|(?:the\s+)?(?:(?P<part{suffix}>" + "|".join(DECADE_PARTS) + r")[\s-]+"
        rf"|(?P<partof{suffix}>" + "|".join(p.replace(" ", r"\s+") for p in DECADE_PARTS_OF) + r")\s+of\s+(?:the\s+)?)?"
        rf"(?:(?P<full{suffix}>(?:19|20)\d0)|['’]?(?P<short{suffix}>\d0)|(?P<word{suffix}>" + "|".join(DECADE_WORDS) + r"))(?:['’]?s\b|(?<=ies)))"
    )


_WHEN = _when_pattern()
# two decades said as one span: "the 1930s or 40s", "the 80s and 90s", "70s-80s", "from the seventies to the nineties"
# ("or" and "and" join neighbours only: "the 50s or the 80s" stays two asks, two leanings)
_DECADE_SPAN = re.compile(r"\b" + _WHEN + r"\s*(?P<joint>or|and|to|through|till|until|-|–|/)\s*" + _when_pattern("2"), re.IGNORECASE)
# the catalog's newest years, counted back from its last: "within the last year", "from the past 5 years"
_LAST_YEARS = re.compile(
    r"\b(?:within|in|from|over|during)\s+the\s+(?:last|past)\s+(?:(?P<n>\d{1,2}|" + "|".join(NUMBER_WORDS["en"]) + r")\s+)?(?P<unit>years?|decades?)\b",
    re.IGNORECASE,
)
# a year or decade with an open end said after it: "1990 onwards", "from the 80s on", "1985 or later", "1975 and earlier"
_OPEN_END = re.compile(
    r"\b(?:(?:from|since)\s+)?" + _WHEN + r"(?:\s*(?P<later>\+|(?:and|or)\s+(?:later|after|newer|up|beyond)|onwards?|forwards?"
    r"|on(?=\s*(?:[,.;!?)]|$|(?:and|but|please|with|that|if|ideally|preferably)\b)))"
    r"|\s+(?P<earlier>(?:and|or)\s+(?:earlier|before|older|prior)))",
    re.IGNORECASE,
)
# a year range written with two-digit years: "between '85 and '92", "from 85 to 89", "'75-'79" (not "10 to 20 minutes")
_SHORT_RANGE = re.compile(
    r"(?:\b(?:between|from)\s+['’]?(\d\d)\s+(?:and|to|-|–|until|till)\s+['’]?(\d\d)|['’](\d\d)\s*(?:-|–|to)\s*['’]?(\d\d))\b"
    r"(?!['’]?s\b|\s*(?:%|mins?\b|minutes|hours?|hrs|movies|films|titles|items|picks|recommendations|of\b|years?\s+old|dollars|bucks))",
    re.IGNORECASE,
)
# a year said roughly: "around 1995", "circa 1950", "1995 or so", "1995-ish"
_AROUND = re.compile(
    r"\b(?:around|circa|c\.|about|approximately|roughly|somewhere\s+around)\s+(?:the\s+year\s+)?(?P<y>(?:19|20)\d\d)\b(?!['’]?s)"
    r"|\b(?P<y2>(?:19|20)\d\d)(?:\s+or\s+so\b|-?ish\b)",
    re.IGNORECASE,
)
_BOUND = re.compile(r"\b(?P<rel>" + "|".join(sorted(EARLIER | UP_TO | LATER | {"since", "from"}, key=len, reverse=True)) + r")[\s-]+" + _WHEN, re.IGNORECASE)
# a bound said the other way round: "nothing from before 1990" asks for 1990 onwards, "no later than 1992" up to 1992
NEGATED_BOUND = re.compile(
    r"\b(?:not|no|nothing|none|never|(?:is|are|was|were)n['’]?t)\s+(?:(?:made|released|filmed|from|that['’]?s|that\s+is|is|are|be|anything|movies?|films?)\s+)*"
    r"(?P<rel>" + "|".join(sorted(EARLIER | LATER, key=len, reverse=True)) + r")[\s-]+" + _WHEN,
    re.IGNORECASE,
)


class YearReader:
    """Reads the years a request asks for, against one catalog's span (built once per catalog)."""

    def __init__(self, catalog: CatalogVocabulary):
        self.catalog = catalog
        self.year_min, self.year_max = catalog.year_min, catalog.year_max
        self.old_year, self.new_year = catalog.old_year, catalog.new_year

    def read(self, text: str, take: Callable[[int, int], None], free: Callable[[int, int], bool]) -> list[YearRange]:
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
        for m in _SHORT_RANGE.finditer(text):
            a, b = (self._short_year(m[1] or m[3]), self._short_year(m[2] or m[4]))
            add(m, min(a, b), max(a, b))
        for m in _AROUND.finditer(text):
            year = int(m["y"] or m["y2"])
            add(m, year - AROUND_YEARS, year + AROUND_YEARS)
        for m in _DECADE_SPAN.finditer(text):
            if m["year"] is None and m["year2"] is None and (span := self._decade_span(m)):
                add(m, *span)
        for m in _OPEN_END.finditer(text):  # first: "from 1990" alone is that year, "from 1990 onwards" is not
            first, last = self._when(m)
            add(m, *((first, None) if m["later"] else (None, last)))
        for m in NEGATED_BOUND.finditer(text):  # first: the plain bound would read "nothing before 1990" backwards
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
            for m in _LAST_YEARS.finditer(text):
                unit = m["unit"].lower()
                count = int(m["n"]) if (m["n"] or "").isdigit() else NUMBER_WORDS["en"].get((m["n"] or "").lower(), 1 if unit in ("year", "decade") else RECENT_YEARS)
                count *= 10 if unit.startswith("decade") else 1  # "the last decade": the catalog's newest ten years
                add(m, self.year_max - max(count, 1) + 1, self.year_max)
            for m in re.finditer(r"\b(?:(?:in\s+)?recent(?:ly|\s+years)?|lately|(?:in\s+)?the\s+(?:last|past)\s+(?:few|couple(?:\s+of)?|several)\s+years|latest|newest|brand[\s-]new|new releases?)\b", text, re.IGNORECASE):
                add(m, self.year_max - RECENT_YEARS + 1, self.year_max)
            for m in re.finditer(r"\b(?:old(?:er)?(?:[\s-]school)?|classics?|vintage|oldies)\b", text, re.IGNORECASE):
                add(m, None, self.old_year, soft=True)
            for m in re.finditer(r"\b(?:newer|more modern)\b", text, re.IGNORECASE):  # the mirror of "older": a leaning, not a filter
                add(m, self.new_year, None, soft=True)
        last, last_soft = max(sentence_of.values(), default=0), max(soft_sentence_of.values(), default=0)
        # "something older. something newer" leans newer: a leaning, too, is what the newest sentence says
        kept = [a for a in asks if sentence_of.get(id(a), last) == last and soft_sentence_of.get(id(a), last_soft) == last_soft]
        return sorted(kept, key=lambda a: said_at[id(a)])

    def _when(self, m: re.Match, suffix: str = "") -> tuple[int, int]:
        """The first and last year a :func:`_when_pattern` match names: 1990–1990 for "1990", 1984–1986 for "mid-80s"."""
        if m[f"year{suffix}"]:
            return int(m[f"year{suffix}"]), int(m[f"year{suffix}"])
        start = self._decade_start(m[f"full{suffix}"], m[f"short{suffix}"], m[f"word{suffix}"])
        part_of = " ".join((m[f"partof{suffix}"] or "").lower().split())
        first, last = DECADE_PARTS_OF[part_of] if part_of else DECADE_PARTS.get((m[f"part{suffix}"] or "").lower(), (0, 9))
        return start + first, start + last

    def _short_year(self, digits: str) -> int:
        """A year written with two digits ("'85"), in the century the catalog holds it (1985 for a 1922–1998 one)."""
        return self._decade_start(None, digits[0] + "0", None) + int(digits[1])

    def _decade_span(self, m: re.Match) -> tuple[int, int] | None:
        """The years two decades span as one ask ("the 1930s or 40s" is 1930–1949, "the early 90s or late 80s"
        1987–1993, "the 70s to the 90s" 1970–1999), or None when they are not one span: "or"/"and" between decades
        that do not touch, or "to" from a later decade to an earlier one."""
        (first, first_end), (second, second_end) = self._when(m), self._when(m, "2")
        if m["joint"].lower() in ("or", "and", "/"):
            return (min(first, second), max(first_end, second_end)) if max(first, second) <= min(first_end, second_end) + 1 else None
        return (first, second_end) if second_end > first_end else None

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

    def settle(self, draft: RequestDraft, asks: list[YearRange]) -> None:
        """The year asks into ``draft``: hard ones intersected into its years (a note when they contradict or lie
        outside the catalog), soft ones as leanings."""
        hard = [a for a in asks if not a.source.endswith("~soft")]
        soft = [YearRange(a.start, a.end, a.source.removesuffix("~soft")) for a in asks if a.source.endswith("~soft")]
        draft.boost_years += soft
        if not hard:
            return
        merged: YearRange | None = hard[0]
        for ask in hard[1:]:
            merged = merged.intersect(ask) if merged else None
        if merged is None:
            labels = " and ".join(f"{a.label} ('{a.source}')" for a in hard)
            draft.notes.append(f"Nothing matches both {labels}: those years contradict each other, so here are the closest items to either.")
            draft.problem = "contradiction"
            draft.boost_years += hard
            return
        if self.year_min is not None and ((merged.end is not None and merged.end < self.year_min) or (merged.start is not None and merged.start > self.year_max)):
            draft.notes.append(f"Nothing in the catalog is from {merged.label} ({self.catalog.coverage()}), so here are the closest years instead.")
            draft.boost_years.append(merged)
            return
        draft.years = YearRange(merged.start, merged.end, "; ".join(a.source for a in hard))


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
