"""Requests in other languages, written out as the English the rule parser reads.

The rule parser reads English. A small multilingual model reads other languages, but slowly on a CPU (seconds a
turn) and not always well: the 1.5B model read "polar" and "giallo" as Drama and left "finales de los 90" a whole
decade. Most of what such requests say is a closed vocabulary: genre names, decades, "early/late", "between X and
Y", "nothing before", "without", small numbers, "why", "what do I like", greetings. This phrasebook writes those
out in English, in the eight languages our human request set holds besides English (es, fr, de, it, pt, nl, sv, pl),
and drops the language's remaining function words. Whatever it does not know ("magari italiano", "que no sea de
Hollywood") stays, so the parser leaves it unaccounted and the model still reads the message in its own words.

The language is told by function words (the ``stop-words`` lists) and by the phrasebook's own hits; a message with
more English function words than any other language's is left as it is, so English is never rewritten.
The phrases themselves, per language, are in :mod:`~whyrec.tools.understanding.phrases`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from stop_words import get_stop_words

from whyrec.tools.understanding.phrases import NUMBER_WORDS, RULES

LANGUAGES: dict[str, str] = {
    "es": "spanish", "fr": "french", "de": "german", "it": "italian", "pt": "portuguese", "nl": "dutch", "sv": "swedish", "pl": "polish",
}


@functools.cache
def _compiled(language: str) -> list[tuple[re.Pattern, str | Callable[[re.Match], str]]]:
    return [(re.compile(r"(?<![\w'-])(?:" + pattern + r")(?![\w-])", re.IGNORECASE), english) for pattern, english in RULES[language]]


# English function words, short on purpose: the ``stop-words`` English list (1,333 words) also holds "de", "un",
# "la", "me" and "et", which would count French and Spanish messages as English
ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the and or but if of to in on at by for with from about into over after before between through during "
    "without under i me my we our you your he she it its they them their this that these those what which who whom "
    "is are was were be been being am do does did have has had having will would shall should can could may might "
    "must not no nor so than too very just any some something anything more most other such only own same there here "
    "when where why how all both each few again further once up down out off above below please want like".split()
)
# words that mean the same in English and in the language, kept where it is read ("no musicals", "sin" → "without")
_KEPT = frozenset({"no"})
# phrasebook words that are English too: a hit on them says nothing about the language ("a Hitchcock film")
_SHARED = frozenset(
    "film films western westerns horror thriller thrillers drama dramas action fantasy musical musicals documentary "
    "animation romance mystery no sci-fi comedy".split()
)

# number words of other languages that are English words too ("six", "due"): they tell no language apart
_ENGLISH_LOOKING_NUMBERS = frozenset({"six", "due", "sex", "acht", "tien"})


@functools.cache
def _function_words(language: str) -> frozenset[str]:
    """The language's stop words, less the few that mean the same in English ("no")."""
    return frozenset(get_stop_words(LANGUAGES[language])) - _KEPT


_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)  # "80s" and "rom-com" are one token each
_MARK = 0xE000  # private-use characters: never a word, a digit or a space


@dataclass(frozen=True)
class Phrased:
    """A message and its English: ``language`` is None when the message was left as written (English, or unknown)."""

    text: str
    english: str
    language: str | None = None


def language_of(text: str) -> str | None:
    """The language of ``text`` among :data:`LANGUAGES`, or None for English or a message too short to tell.

    Each language scores its own function words plus the phrasebook phrases it matches; it must beat the
    count of English function words ("a western from the 50s" stays English; "un western des années 50" is French).
    """
    words = [w.lower() for w in _WORD.findall(text) if w.isalpha()]
    english = sum(w in ENGLISH_FUNCTION_WORDS for w in words)
    words = [w for w in words if len(w) > 1]  # a lone letter is a function word in too many languages
    best, best_score = None, 0
    for language in LANGUAGES:
        score = sum(w in _function_words(language) and w not in ENGLISH_FUNCTION_WORDS for w in words)
        score += sum(w in NUMBER_WORDS[language] and w not in _ENGLISH_LOOKING_NUMBERS for w in words)  # "drei Stück", "geef me twee"
        score += sum(any(m[0].lower() not in _SHARED for m in pattern.finditer(text)) for pattern, _ in _compiled(language))
        if score > best_score:
            best, best_score = language, score
    return best if best_score > english else None


def in_english(text: str) -> Phrased:
    """``text`` with the phrasebook's phrases written in English and the language's other function words dropped.

    Small number words become digits first ("drei Stück" → "3 Stück" → "3"). Each English phrase is then held
    behind a private-use mark while the function words around it are dropped, so an English word that is also a
    function word elsewhere ("war" is German for "was") survives.
    """
    language = language_of(text)
    if language is None:
        return Phrased(text, text)
    numbers = NUMBER_WORDS[language]
    english = _WORD.sub(lambda m: str(numbers[m[0].lower()]) if m[0].lower() in numbers else m[0], text)
    held: list[str] = []

    def hold(replacement: str | Callable[[re.Match], str]) -> Callable[[re.Match], str]:
        def mark(m: re.Match) -> str:
            held.append(replacement(m) if callable(replacement) else m.expand(replacement))
            return f" {chr(_MARK + len(held) - 1)} "

        return mark

    for pattern, replacement in _compiled(language):
        english = pattern.sub(hold(replacement), english)
    function_words = _function_words(language)
    english = _WORD.sub(lambda m: "" if m[0].lower() in function_words else m[0], english)
    english = re.sub(f"[{chr(_MARK)}-{chr(_MARK + 255)}]", lambda m: held[ord(m[0]) - _MARK], english)
    english = re.sub(r"[¿¡]", "", english)
    english = re.sub(r",\s*([?!.])", r"\1", english)
    english = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s{2,}", " ", english)).strip(" ,")
    return Phrased(text, english, language)
