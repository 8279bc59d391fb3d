"""Naming catalog items: titles matched in any common spelling, in tool arguments and in free text.

The tools resolve ``"The Usual Suspects"`` to the item stored as ``"Usual Suspects, The (1995)"``;
the agent's answer check and the keyword router find the titles a reply or a request names. All
of them use this one matcher, so an item named one way is recognised the same way everywhere.
The request parser finds titles here too: misspelt (:meth:`TitleIndex.find`), the longest title a phrase
starts with (:meth:`TitleIndex.leading`), and the item a chat's "why X?" or "the second one" names
(:meth:`TitleIndex.reference`). One index is built per catalog, by its
:class:`~whyrec.tools.understanding.vocabulary.CatalogVocabulary`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from whyrec.store.records import YEAR_SUFFIX as _YEAR_SUFFIX
from whyrec.store.records import Item, display_title
from whyrec.store.records import head_and_alternates as _head_and_alternates
from whyrec.tools.understanding.words import FILLER, clip

__all__ = ["TitleIndex", "TitleReference", "display_title", "normalise_title"]  # display_title's rule lives with Item (Item.display_title)

_PHRASE_ENDS = ",.;:!?()"
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in _PHRASE_ENDS})  # "!" -> "！": NFKC maps it back
FUZZY_CUTOFF = 0.85  # difflib ratio for a misspelt title ("Star Wras" → Star Wars)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}


def _names(title: str) -> list[str]:
    """A catalog title, then its head and each alternate name on their own: "Like Water For Chocolate (Como
    agua para chocolate) (1992)" is also found as "Like Water For Chocolate" and "Como agua para chocolate"."""
    head, alternates = _head_and_alternates(_YEAR_SUFFIX.sub("", title).strip())
    return [title, *alternates, head] if alternates else [title]


# the short forms titles are written with, and the words people say for them ("Sunset Blvd." is "Sunset Boulevard",
# "Romeo & Juliet" is "Romeo and Juliet"): both sides of a match are spelled out
_SPELLED_OUT = {"&": "and", "blvd": "boulevard", "vs": "versus", "mr": "mister", "dr": "doctor", "st": "saint", "mt": "mount"}
_SHORT_FORM = re.compile(r"&|\b(?:" + "|".join(k for k in _SPELLED_OUT if k != "&") + r")\b")


def normalise_title(title: str) -> str:
    """Lower case, no year, no punctuation, short forms spelled out: 'Usual Suspects, The' == 'The Usual Suspects',
    'Sunset Blvd.' == 'sunset boulevard'."""
    title = display_title(title).lower()
    title = _YEAR_SUFFIX.sub("", title)
    title = _SHORT_FORM.sub(lambda m: f" {_SPELLED_OUT[m[0]]} ", title)
    title = re.sub(r"[^\w\s]", " ", title)
    return re.sub(r"\s+", " ", title).strip()


@dataclass(frozen=True)
class TitleReference:
    """What a chat's "why X?" names: an item, how it was found, or a message saying it is not in the catalog."""

    item: Item | None
    how: str  # "id", "exact", "fuzzy", "position", "not_found"
    message: str = ""
    nearest: tuple[Item, ...] = ()


class TitleIndex:
    """Finds catalog items by title, exactly (for tool arguments) or inside free text (for answers)."""

    def __init__(self, items: dict[str, Item]):
        self.items = items
        self.by_title: dict[str, list[Item]] = {}
        for item in items.values():
            for key in dict.fromkeys(normalise_title(name) for name in _names(item.title)):
                if key:
                    self.by_title.setdefault(key, []).append(item)
        self.max_words = max((len(k.split()) for k in self.by_title), default=0)
        self._keys = list(self.by_title)  # what a misspelt title is matched against
        self._punctuated: re.Pattern[str] | None = None

    def keep_titles_whole(self, text: str) -> str:
        """``text`` with the punctuation inside the catalog titles it names swapped for its full-width twin.

        A reader that ends a phrase at "!", "(" or "." would cut "not Hot Shots! Part Deux" or "not Like Water
        For Chocolate (Como agua para chocolate)" short and miss the film. The result has the same length
        (spans found in it fit the original) and NFKC, which :func:`normalise_title` applies, maps the
        twins back, so the whole title is still found.
        """
        if self._punctuated is None:
            forms = {
                body
                for item in self.items.values()
                for title in (item.title, display_title(item.title))
                if (body := _YEAR_SUFFIX.sub("", title).strip()) and any(c in _PHRASE_ENDS for c in body)
            }
            alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
            self._punctuated = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if forms else re.compile(r"(?!)")
        return self._punctuated.sub(lambda m: m[0].translate(_FULL_WIDTH), text)

    def resolve(self, reference: str) -> Item | None:
        """The item whose id is ``reference``, or the one item titled ``reference``."""
        reference = str(reference).strip()
        if reference in self.items:
            return self.items[reference]
        stripped = re.sub(r"^(?:item|id)\s*[:#]?\s*", "", reference, flags=re.IGNORECASE).strip()
        if stripped in self.items:
            return self.items[stripped]
        found = self.by_title.get(normalise_title(reference), [])
        return found[0] if len(found) == 1 else None

    def lookup(self, title: str) -> list[Item]:
        return self.by_title.get(normalise_title(title), [])

    def find(self, phrase: str, prefix: bool = False, fuzzy: bool = True) -> list[Item]:
        """Items titled ``phrase`` (exactly, then misspelt); with ``prefix``, its sequels too ("Nebula Run II")."""
        key = normalise_title(phrase)
        if not key or key in FILLER:
            return []
        found = list(self.by_title.get(key, []))
        if not found and not key.startswith("the "):
            found = list(self.by_title.get(f"the {key}", []))
        if not found and fuzzy and len(key) >= 4:
            close = difflib.get_close_matches(key, self._keys, n=1, cutoff=FUZZY_CUTOFF)
            if close:
                key = close[0]
                found = list(self.by_title[key])
        if found and prefix:
            follow = re.compile(rf"^{re.escape(key)}\s+(?:[ivx]+|\d+|part\b.*)$")
            found += [i for k in self._keys if follow.match(k) for i in self.by_title[k]]
        return found

    def leading(self, text: str, fuzzy: bool = True, most_words: int | None = None) -> tuple[int, list[Item]]:
        """The longest run of ``text``'s leading words (at most ``most_words``) that is a catalog title: how many
        characters it takes, and its items; ``(0, [])`` when no run is one."""
        words = list(re.finditer(r"\S+", text))[:most_words]
        for n in range(len(words), 0, -1):
            found = self.find(text[: words[n - 1].end()], fuzzy=fuzzy)
            if found:
                return words[n - 1].end(), found
        return 0, []

    def end_of_title(self, text: str, start: int, most_words: int = 10) -> int:
        """Where the longest catalog title written from ``start`` ends (exactly spelt), or ``start`` when none does.

        A phrase stops at words like "in the" or "that", which titles hold too ("Murder in the First", "I Like It Like
        That"): without this, "not Murder in the First" left nothing out, and the title's words were searched for."""
        if not text[start : start + 1].isupper():
            return start
        length, _ = self.leading(text[start:], fuzzy=False, most_words=most_words)
        return start + len(text[start : start + length].rstrip(" .,;:!?'\"”’"))

    def reference(
        self, reference: str, shown: list[str] | None = None, nearest: int = 3, search: Callable[[str, int], list[Item]] | None = None, coverage: str = ""
    ) -> TitleReference:
        """The item ``reference`` names: an id, a title in any common spelling, a misspelling, or a
        position in ``shown`` ("the second one", "#3", "the last one"). Not found: a message saying
        so with the catalog's span (``coverage``), and the nearest items by meaning (``search``)."""
        reference = " ".join(str(reference or "").split()).strip(" ?!.'\"“”‘’")
        if not reference:
            return TitleReference(None, "not_found", "Name an item: a title, an id or a position in the list.")
        if reference in self.items:
            return TitleReference(self.items[reference], "id")
        if shown:
            position = _position(reference, len(shown))
            if position is not None and shown[position] in self.items:
                return TitleReference(self.items[shown[position]], "position")
        exact = self.lookup(reference) or self.by_title.get(f"the {normalise_title(reference)}", [])
        if exact:
            return TitleReference(exact[0], "exact")
        fuzzy = self.find(reference)
        if fuzzy:
            return TitleReference(fuzzy[0], "fuzzy", f"Taking '{clip(reference)}' to mean '{display_title(fuzzy[0].title)}'.")
        near = tuple(search(reference, nearest)) if search is not None and nearest > 0 else ()
        message = f"'{clip(reference)}' is not in the catalog ({coverage})."
        if near:
            message += " The nearest items in it: " + ", ".join(f"'{display_title(i.title)}'" for i in near) + "."
        return TitleReference(None, "not_found", message, near)

    def mentions(self, text: str) -> list[tuple[int, int, Item]]:
        """Catalog items named in ``text``: (start, end, item), longest title first, no overlaps.

        A multi-word title counts when it appears with the catalog's capitalisation (prose rarely
        capitalises 'Love Letters'); a one-word title only when it is set off as a title: quoted,
        bold or italic, followed by a year, or leading a list line, so 'the heat of summer' is
        not a mention of *Heat*.
        """
        found: list[tuple[int, int, Item]] = []
        taken: list[tuple[int, int]] = []
        words = list(re.finditer(r"[\w'’.:&-]+", text))
        spans: list[tuple[int, int, str]] = []
        for i in range(len(words)):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                start, end = words[i].start(), words[i + n - 1].end()
                spans.append((start, end, text[start:end]))
        spans.sort(key=lambda s: -(s[1] - s[0]))
        for start, end, raw in spans:
            raw_clean = raw.rstrip(".:,;'’")
            end = start + len(raw_clean)
            if any(s < end and start < e for s, e in taken):
                continue
            items = self.lookup(raw_clean)
            if not items:
                continue
            item = items[0]
            if not self._counts(text, start, end, raw_clean, item):
                continue
            found.append((start, end, item))
            taken.append((start, end))
        return sorted(found, key=lambda f: f[0])

    @staticmethod
    def _counts(text: str, start: int, end: int, raw: str, item: Item) -> bool:
        title_words = _YEAR_SUFFIX.sub("", item.title).split()
        before, after = text[max(0, start - 2) : start], text[end : end + 8]
        set_off = bool(
            re.search(r"[\"'“‘*_]$", before) or re.match(r"^[\"'”’*_]", after) or re.match(r"^\s*\((?:19|20)\d\d\)", after)
        )
        line_start = text.rfind("\n", 0, start) + 1
        leads_list = bool(re.fullmatch(r"\s*(?:\d+[.)]|[-*•])\s*(?:\*\*|[\"'“‘])?", text[line_start:start]))
        if len(title_words) >= 2 and (len(raw) >= 10 or raw[:1].isupper()):
            return raw[:1].isupper() or set_off or leads_list
        return set_off or leads_list or (len(raw) >= 7 and raw[:1].isupper() and start != line_start)


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
