"""What a request is about, what is embedded as its meaning, and which of its words the rules did not read.

"a heist movie set on a submarine" is about "heist submarine" once its filters and framing are set aside; "not
horror" must not be embedded as the request (it would pull towards horror); and a word no rule read for sure ("not
too violent", "something to cheer me up") makes the chat ask the model to read the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from whyrec.tools.understanding.draft import RequestDraft
from whyrec.tools.understanding.words import EXCLUDING, FILLER, FRAME_WORDS, LOGIC_WORDS, NOT_A_SUBJECT, SUBJECT_WORDS, TOKEN, WORD, blank, overlaps

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


def unaccounted(
    draft: RequestDraft, text: str, read: list[tuple[int, int]], readable: Callable[[str], bool], category_patterns: list[tuple[str, re.Pattern]]
) -> list[str]:
    """The words of ``text`` the rules did not read for sure, lower case, in order. Read for sure: framing words,
    whatever a rule read (a catalog title, a year span, an exclusion that named something, a category by name,
    lexicon or typo) and a subject the message introduces ("about a shark", "a courtroom drama"). Not: a word
    only matched by embedding, an unread or unknown word, a subject nothing introduces ("What do you think I
    like?" is not about "think") and a negation or comparison no rule consumed ("not too violent"). ``readable`` says
    whether the embedding model reads a word; ``category_patterns`` find the category names a subject may stand before."""
    guessed = {ask.source.lower() for ask in draft.boost_categories if ask.how == "embedding"}
    subjects = [m.span("subject") for m in _INTRODUCED.finditer(text)] + head_subjects(text, read, category_patterns)
    words = []
    for m in TOKEN.finditer(text):
        word = m[0].lower().replace("’", "'")
        if overlaps(m.span(), read):
            continue
        noise = draft.problem == "gibberish" and word.isascii() and not readable(word)
        framing = word in FRAME_WORDS or (overlaps(m.span(), subjects) and word not in guessed)
        if word in LOGIC_WORDS and said_as_framing(word, text, m.start(), m.end()):
            continue
        if word in LOGIC_WORDS or not (framing or noise):
            words.append(word)
    return words


# logic words that only frame a turn where they stand: "something romantic instead" (not "instead of a drama"),
# "I'd rather have a thriller" (not "rather than"), "Something else?" (not "anything else but horror"), and "No," or
# "No." answering the list on screen ("No, not Heat."; not "no horror"). Left unread, each sent a turn the rules had
# read whole to the model, which lost the request in force on 3 of 128 simulated turns
_FRAMING_LOGIC = {
    "instead": (None, re.compile(r"\s+of\b", re.IGNORECASE)),
    "rather": (None, re.compile(r"\s+than\b", re.IGNORECASE)),
    "else": (re.compile(r"\b(?:something|anything|someone|somebody|somewhere)\s+$", re.IGNORECASE), re.compile(r"\s+(?:than|but|except)\b", re.IGNORECASE)),
}


def said_as_framing(word: str, text: str, start: int, end: int) -> bool:
    """Whether the logic ``word`` at ``text[start:end]`` frames the turn rather than negating or comparing something."""
    if word == "no":
        return bool(re.match(r"\s*[,.!;]", text[end:]))
    before, after = _FRAMING_LOGIC.get(word, (None, None))
    if after is None:
        return False
    return (before is None or bool(before.search(text[:start]))) and not after.match(text[end:])


def head_subjects(text: str, read: list[tuple[int, int]], category_patterns: list[tuple[str, re.Pattern]]) -> list[tuple[int, int]]:
    """Spans of the nouns right before "movie"/"film" or a category name: "shark" in "a shark movie", "courtroom"
    in "a courtroom drama" (at most :data:`MAX_HEAD_SUBJECT_WORDS`, and none that is framing or was read)."""
    heads = [m.start() for m in TOKEN.finditer(text) if m[0].lower() in HEAD_WORDS]
    heads += [s for s, e in read if any(p.fullmatch(text[s:e]) for _, p in category_patterns)]
    spans = []
    for head in heads:
        end = head
        for _ in range(MAX_HEAD_SUBJECT_WORDS):
            m = re.search(r"([^\W_]+)[\s-]+$", text[:end])
            if m is None or m[1].lower() in FRAME_WORDS or m[1].lower() in LOGIC_WORDS or overlaps(m.span(1), read):
                break
            spans.append(m.span(1))
            end = m.start()
    return spans


def query_text(text: str, removed: list[tuple[int, int]]) -> str:
    """The request less its exclusions (embedding "not horror" would pull towards horror); "" when only filler is left."""
    rest = re.sub(r"\s+", " ", blank(text, [s for s in removed if _is_exclusion(text, s)])).strip(" ,.;")
    content = [w for w in WORD.findall(rest) if w.lower() not in FILLER]
    digits = re.findall(r"\d+", rest)
    return rest if content or digits else ""


def about_text(text: str, removed: list[tuple[int, int]], covered: list[tuple[int, int]], named: list[str] = ()) -> str:
    """The request's subject: its words less filler, years, titles, exclusions and category names, but with the
    lexicon's subject nouns kept ("a heist movie" is about a heist as much as it leans to Crime) and the names
    that are no catalog title ("a Christmas movie", "set in Paris"). A word joined by a hyphen to a category
    name goes with it ("action-packed" is not about packing); "instead" or "rather" framing the turn is no subject."""
    subjects = [s for s in covered if text[s[0] : s[1]].lower() in SUBJECT_WORDS]
    spans = [_with_hyphenated(text, s) for s in removed + [s for s in covered if s not in subjects]]
    words = [
        m[0] for m in WORD.finditer(blank(text, spans))
        if (word := m[0].lower().replace("’", "'")) not in NOT_A_SUBJECT and not said_as_framing(word, text, m.start(), m.end())
    ]
    words += [w for name in named for w in WORD.findall(name) if w.lower() not in NOT_A_SUBJECT and w not in words]
    first: dict[str, str] = {}  # each word once, where it first stands ("heist, about heist" is about a heist)
    for word in words:
        first.setdefault(word.lower(), word)
    return " ".join(first.values())[:MAX_ABOUT_CHARS]


def _with_hyphenated(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` grown over the word parts a hyphen joins to it: "action" in "action-packed" is all of it."""
    start, end = span
    while (m := re.match(r"-[^\W\d_]+", text[end:])) is not None:
        end += m.end()
    while (m := re.search(r"[^\W\d_]+-$", text[:start])) is not None:
        start = m.start()
    return start, end


def _is_exclusion(text: str, span: tuple[int, int]) -> bool:
    return bool(re.match(rf"(?:{EXCLUDING})\b", text[span[0] : span[1]], re.IGNORECASE))

