"""Naming catalog items: titles matched in any common spelling, in tool arguments and in free text.

The tools resolve ``"The Usual Suspects"`` to the item stored as ``"Usual Suspects, The (1995)"``;
the agent's answer check and the keyword router find the titles a reply or a request names. All
of them use this one matcher, so an item named one way is recognised the same way everywhere.
"""

from __future__ import annotations

import re

from whyrec.store.records import YEAR_SUFFIX as _YEAR_SUFFIX
from whyrec.store.records import Item, display_title
from whyrec.store.records import head_and_alternates as _head_and_alternates

__all__ = ["TitleIndex", "display_title", "normalise_title"]  # display_title's rule lives with Item (Item.display_title)

_PHRASE_ENDS = ",.;:!?()"
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in _PHRASE_ENDS})  # "!" -> "！": NFKC maps it back


def _names(title: str) -> list[str]:
    """A catalog title, then its head and each alternate name on their own: "Like Water For Chocolate (Como
    agua para chocolate) (1992)" is also found as "Like Water For Chocolate" and "Como agua para chocolate"."""
    head, alternates = _head_and_alternates(_YEAR_SUFFIX.sub("", title).strip())
    return [title, *alternates, head] if alternates else [title]


def normalise_title(title: str) -> str:
    """Lower case, no year, no punctuation, 'Usual Suspects, The' == 'The Usual Suspects'."""
    title = display_title(title).lower()
    title = _YEAR_SUFFIX.sub("", title)
    title = re.sub(r"[^\w\s]", " ", title)
    return re.sub(r"\s+", " ", title).strip()


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
