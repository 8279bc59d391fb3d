"""Which words of a request whyrec can read: the embedding model's vocabulary, gibberish and other languages.

A request mostly made of words the model does not know is gibberish ("asdkjh") or in a language the rules do not
read; a mostly English one may still hold a run of such words ("something funny, très drôle"), which is set aside
and named in the notes. The phrasebook (:mod:`~whyrec.tools.understanding.phrasebook`) has already written what it
knows of eight languages out in English.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from whyrec.tools.understanding.draft import RequestDraft
from whyrec.tools.understanding.phrasebook import LANGUAGES
from whyrec.tools.understanding.words import FRAME_WORDS, WORD, blank

if TYPE_CHECKING:
    from whyrec.store.embeddings import ItemEmbedder

PHRASEBOOK_LANGUAGES = ", ".join(name.title() for name in LANGUAGES.values())
MIN_CHARS_PER_PIECE = 2.5  # below this a word is letters, not a word: "asdkjh" 1.2, "heist" 2.5, "smugglers" 4.5
# function words of other languages: a request made mostly of these (or of words the model's vocabulary lacks) is not English
FOREIGN_MARKERS = frozenset(
    ["de", "la", "le", "les", "des", "une", "un", "du", "et", "ou", "avec", "pour", "sans", "el", "los", "las", "una", "unos", "por", "con", "sin", "que", "del", "und", "der", "die", "das", "ein", "eine", "mit", "für", "ohne", "nicht", "il", "lo", "gli", "della", "per", "che", "di", "da", "em", "um", "uma", "não", "os", "com", "para"]
)


class KnownWords:
    """The words the embedding model knows, and what a request holds beyond them (built once per model)."""

    def __init__(self, embedder: ItemEmbedder | None):
        self.embedder = embedder
        self._vocab: set[str] | None = None

    @property
    def vocabulary(self) -> set[str]:
        """Whole words the embedding model knows; a request mostly outside it is gibberish or not English."""
        if self._vocab is None:
            tokenizer = getattr(getattr(self.embedder, "model", None), "tokenizer", None) if self.embedder else None
            # a transformers tokenizer has .vocab; HF's Rust ``tokenizers`` one (the ONNX encoder's) has get_vocab()
            vocab = getattr(tokenizer, "vocab", None) or (tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {})
            self._vocab = {w for w in vocab if w.isalpha()}
        return self._vocab

    def check_language(self, draft: RequestDraft, text: str, removed: list[tuple[int, int]]) -> None:
        """Flags a request mostly made of words the model does not know (gibberish) or of another language."""
        words = WORD.findall(blank(text, removed))
        if not words:
            return
        letters = sum(len(w) for w in words)
        foreign = unknown = 0
        vocab = self.vocabulary
        for word in words:
            lower = word.lower()
            if lower in FOREIGN_MARKERS or not word.isascii() and not (vocab and fold(lower) in vocab):
                foreign += len(word)  # "comédie", not "naïve" or "café": the model knows those
            elif vocab and not self.readable(word):
                unknown += len(word)
        if len(words) < 2 and not foreign and not (unknown and letters > 15):
            return  # one unknown word may be a rare English one ("tearjerker"); a 16-letter one is noise
        if (foreign + unknown) / letters <= 0.5:
            return
        understood = understood_bits(draft)
        used = f"I used only what I recognised: {understood}." if understood else "I used your history instead."
        if foreign >= unknown:
            draft.problem = "language"
            draft.notes.append(f"Your request is in no language the rules read (English, {PHRASEBOOK_LANGUAGES}); {used}")
        else:
            draft.problem = "gibberish"
            draft.notes.append(f"I could not make sense of {draft.quoted(40)}; {used}")

    def unread_spans(self, text: str, removed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Runs of words in a mostly English request that whyrec cannot read: words of another language ("très
        drôle", "muy gracioso") or no word at all ("asdkjh"). A word with an accent counts when the embedding
        model does not know it without its accents ("drôle"; not "café"), and so does a foreign function word, an
        accented word or one the model does not know next to one ("très" before "drôle", "gracioso" after "muy")."""
        vocab = self.vocabulary
        if not vocab:
            return []
        words = list(WORD.finditer(blank(text, removed)))

        def unreadable(word: str) -> bool:
            if word.lower() in FRAME_WORDS:  # "Meh, not that one": an interjection the embedding model never saw
                return False
            if not word.isascii():
                return any(fold(p) not in vocab for p in re.split(r"['’-]", word.lower()) if p)
            return not self.readable(word)

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
            if spans and not WORD.search(text[spans[-1][1] : m.start()]) and not re.search(r"[,.;:!?()]", text[spans[-1][1] : m.start()]):
                spans[-1] = (spans[-1][0], m.end())  # the next word of the same phrase
            else:
                spans.append((m.start(), m.end()))
        return spans

    def readable(self, word: str) -> bool:
        """Whether the embedding model knows an (ASCII) word or it reads as a rare English one; "I'd" and "kid-friendly"
        by their parts (whole, "I'd" fell apart into letters and read as noise)."""
        vocab = self.vocabulary
        return all(p in vocab or self.plausible(p) for p in re.split(r"['’-]", word.lower()) if p)

    def plausible(self, word: str) -> bool:
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


def understood_bits(draft: RequestDraft) -> str:
    """The years and categories read so far, for a note that says only those were used."""
    bits = [draft.years.label] if draft.years else []
    bits += [c.label for c in draft.categories]
    return ", ".join(bits)


def fold(word: str) -> str:
    """A word without its accents ("drôle" -> "drole"), as the embedding model's tokenizer reads it."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
