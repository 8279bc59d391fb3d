"""The ways a request names one catalog's categories: by name, by an everyday word, misspelt.

"comedies", "sci fi" and "Children's" are the catalog's own names written as people write them; "funny" and
"scary" are :data:`~whyrec.tools.understanding.words.LEXICON` words, counted only for categories the catalog has;
"scray" is a typo of "scary". Built once per catalog, with the parser.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import replace

from whyrec.tools.understanding.request import CategoryAsk
from whyrec.tools.understanding.vocabulary import CatalogVocabulary
from whyrec.tools.understanding.words import FILLER, LEXICON

TYPO_CUTOFF = 0.8  # difflib ratio for a misspelt category word ("scray" → scary 0.80, "comdy" → comedy 0.91)


class CategoryWords:
    """One catalog's categories as a request may write them: name patterns, lexicon words, one-word forms."""

    def __init__(self, catalog: CatalogVocabulary):
        self.categories = catalog.categories
        self.patterns = [(c, re.compile(_category_regex(c), re.IGNORECASE)) for c in self.categories]
        self.patterns.sort(key=lambda cp: -len(cp[0]))  # "Film-Noir" before "Film"
        self.lexicon = {
            word: tuple(found for c in targets if (found := catalog.category(c)) is not None)
            for word, targets in LEXICON.items()
        }
        self.lexicon = {w: t for w, t in self.lexicon.items() if t}
        self.lexicon_pattern = (
            re.compile(r"\b(" + "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in sorted(self.lexicon, key=len, reverse=True)) + r")\b", re.IGNORECASE)
            if self.lexicon
            else None
        )

    @functools.cached_property
    def one_word(self) -> dict[str, tuple[str, ...]]:
        """One-word ways to ask for a category: the lexicon's ("scary") and the catalog's own names ("horror"); built
        once per catalog, as the lexicon and categories are (it was rebuilt for every word of every request)."""
        words = {w: c for w, c in self.lexicon.items() if w.isalpha()}
        for category in self.categories:
            if category.isalpha():
                words.setdefault(category.lower(), (category,))
        return words

    def misspelt(self, word: str, vocab: set[str]) -> str | None:
        """The category word ``word`` is a typo of ("scray" -> "scary"), or None. Only for a word of 4+ letters that the
        embedding model does not know (``vocab``), so real words ("scar", "crimes") keep their own meaning."""
        if len(word) < 4 or not vocab or word in vocab or word in FILLER or not word.isalpha():
            return None
        close = difflib.get_close_matches(word, list(self.one_word), n=1, cutoff=TYPO_CUTOFF)
        return close[0] if close and close[0][0] == word[0] else None

    def named_in(self, phrase: str) -> list[CategoryAsk]:
        """Every category a phrase names outright or by a lexicon word, in the order named."""
        found: list[tuple[int, CategoryAsk]] = []
        taken: list[tuple[int, int]] = []
        for category, pattern in self.patterns:
            for m in pattern.finditer(phrase):
                if all(e <= m.start() or s >= m.end() for s, e in taken):
                    taken.append((m.start(), m.end()))
                    found.append((m.start(), CategoryAsk((category,), m[0], "name")))
        for m in self.lexicon_pattern.finditer(phrase) if self.lexicon_pattern else ():
            if all(e <= m.start() or s >= m.end() for s, e in taken):
                taken.append((m.start(), m.end()))
                found.append((m.start(), CategoryAsk(self.lexicon[lexicon_key(m[0])], m[0], "lexicon")))
        return [ask for _, ask in sorted(found, key=lambda f: f[0])]

    def first_named_in(self, phrase: str) -> CategoryAsk | None:
        """The category a short phrase names outright or by a lexicon word."""
        for category, pattern in self.patterns:
            if m := pattern.search(phrase):
                return CategoryAsk((category,), m[0], "name")
        if self.lexicon_pattern and (m := self.lexicon_pattern.search(phrase)):
            return CategoryAsk(self.lexicon[lexicon_key(m[0])], m[0], "lexicon")
        return None


# what joins genres said as alternatives: "action or comedy", "horror/thriller", "thrillers, suspense, horror and mystery"
_JOINER = re.compile(r"\s*(?:(?:movies?|films?|ones)\s*)?(?P<joint>,\s*(?:(?:and|or)\s+)?|/|\s(?:and/or|or|and|&)\s)\s*(?:(?:an?|some|maybe|even)\s+)?", re.IGNORECASE)
# a list after these is a list of likes, any of which will do ("I like horror and comedy"; not "I'd like a comedy and a
# drama" or "I want to watch a comedy and a drama", which ask for both)
_LIKES_BEFORE = re.compile(r"\b(?<!['’]d )(?<!would )(?:like|love|enjoy|into|fan\s+of)\s+(?:\w+\s+)?$", re.IGNORECASE)


def join_alternatives(text: str, spans: list[tuple[int, int]], asks: list[CategoryAsk]) -> list[CategoryAsk]:
    """``asks`` with genres said as alternatives made one ask any of which will do: "action or comedy",
    "horror/thriller", or likes listed ("I like thrillers, horror and mystery"). Each ask whose
    ``source`` is the text of one of ``spans`` (where the parser read it) may join its neighbours; "a funny action
    movie" and "romantic comedy" stay asks for both."""
    # a span whose ask repeats an earlier one ("thrillers, suspense") has none of its own, but still links the list
    at = sorted((s, e, next((ask for ask in asks if text[s:e] == ask.source), None)) for s, e in spans)
    groups: list[list[tuple[int, int, CategoryAsk | None]]] = []
    joints: list[list[str]] = []
    for start, end, ask in at:
        gap = _JOINER.fullmatch(text, groups[-1][-1][1], start) if groups else None
        if gap is not None:
            groups[-1].append((start, end, ask))
            joints[-1].append(gap["joint"].strip().lower())
        else:
            groups.append([(start, end, ask)])
            joints.append([])
    merged = {id(ask): ask for ask in asks}
    for spanned, joint in zip(groups, joints, strict=True):
        group = [(s, e, a) for s, e, a in spanned if a is not None]
        if len({a.categories for _, _, a in group}) < 2:
            continue
        listed = bool(_LIKES_BEFORE.search(text[: spanned[0][0]]))
        if not (listed or any("or" in j or "/" in j for j in joint)):
            continue  # "a comedy, a drama and a romance", "comedy and romance": all of them
        categories = tuple(dict.fromkeys(c for _, _, a in group for c in a.categories))
        first = group[0][2]
        merged[id(first)] = replace(first, categories=categories, source=text[spanned[0][0] : spanned[-1][1]])
        for _, _, ask in group[1:]:
            merged.pop(id(ask), None)
    return list(merged.values())


def _category_regex(name: str) -> str:
    """'Sci-Fi' matches sci-fi, sci fi, scifi; "Children's" matches childrens; plurals count, "comedies" and
    "mysteries" too (they were read as mood words, by embedding, and searched for in the stories)."""
    parts = [re.escape(p) for p in re.split(r"[-'’\s]+", name.strip()) if p]
    body = r"[-'’\s]*".join(parts)
    if re.search(r"[^aeiouy\W]y$", name, re.IGNORECASE):
        return rf"\b{body[:-1]}(?:ies|y(?:s|['’]s)?)\b"
    return rf"\b{body}(?:s|es|['’]s)?\b"


def add_ask(asks: list[CategoryAsk], ask: CategoryAsk) -> None:
    """``ask`` added to ``asks`` unless one there asks for the same categories."""
    if not any(set(a.categories) == set(ask.categories) for a in asks):
        asks.append(ask)


def lexicon_key(written: str) -> str:
    """The :data:`~whyrec.tools.understanding.words.LEXICON` key of a lexicon word as written: "Rom-Com" is "rom com"."""
    return re.sub(r"[\s-]+", " ", written.lower())
