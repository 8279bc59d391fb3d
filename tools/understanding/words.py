"""The words a request is read by: the everyday words for categories and the word sets that frame, negate or fill.

The rule parser, its category, subject and title readers all count words against these tables, so a word that
frames a request ("something", "please") is framing to every one of them. :data:`LEXICON` is the only place a word
names a category, and its entries count only for the categories a catalog has.
"""

from __future__ import annotations

import re

# everyday words for categories; an entry counts only for the categories a catalog has
LEXICON: dict[str, tuple[str, ...]] = {
    "funny": ("Comedy",), "funnier": ("Comedy",), "funniest": ("Comedy",), "hilarious": ("Comedy",), "laugh out loud": ("Comedy",), "comic": ("Comedy",), "comedic": ("Comedy",),
    "laugh": ("Comedy",), "laughs": ("Comedy",), "lighthearted": ("Comedy",), "witty": ("Comedy",),
    "scary": ("Horror", "Thriller"), "spooky": ("Horror",), "creepy": ("Horror", "Thriller"),
    "frightening": ("Horror", "Thriller"), "terrifying": ("Horror", "Thriller"), "horrifying": ("Horror",),
    "gory": ("Horror",), "gore": ("Horror",), "slashers": ("Horror",), "slasher": ("Horror",), "zombie": ("Horror",), "zombies": ("Horror",),
    "romantic": ("Romance",), "romcom": ("Romance", "Comedy"), "rom com": ("Romance", "Comedy"), "love story": ("Romance",),
    "sci fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science fiction": ("Sci-Fi",), "space": ("Sci-Fi",),
    "futuristic": ("Sci-Fi",), "aliens": ("Sci-Fi",), "robots": ("Sci-Fi",),
    "animated": ("Animation",), "cartoon": ("Animation",), "cartoons": ("Animation",), "anime": ("Animation",),
    "kids": ("Children's",), "children": ("Children's",), "family": ("Children's",), "child": ("Children's",),
    "family friendly": ("Children's",), "kid friendly": ("Children's",), "kids friendly": ("Children's",),
    "thrilling": ("Thriller",), "suspense": ("Thriller",), "suspenseful": ("Thriller",), "tense": ("Thriller",),
    "whodunit": ("Mystery",), "detective": ("Mystery", "Crime"), "gangster": ("Crime",), "gangsters": ("Crime",),
    "heist": ("Crime",), "mafia": ("Crime",), "mob": ("Crime",), "whodunnit": ("Mystery",), "whodunits": ("Mystery",), "whodunnits": ("Mystery",), "cowboy": ("Western",), "cowboys": ("Western",),
    "noir": ("Film-Noir",), "sad": ("Drama",), "dramatic": ("Drama",),
    # a film to cry at is a drama or a romance, either will do
    "tearjerker": ("Drama", "Romance"), "tear jerker": ("Drama", "Romance"), "weepy": ("Drama", "Romance"), "weepie": ("Drama", "Romance"),
    "tearjerkers": ("Drama", "Romance"), "tear jerkers": ("Drama", "Romance"), "weepies": ("Drama", "Romance"),
    "make me cry": ("Drama", "Romance"), "makes me cry": ("Drama", "Romance"), "made me cry": ("Drama", "Romance"), "a good cry": ("Drama", "Romance"),
    "chick flick": ("Romance",), "chick flicks": ("Romance",),
    "serious": ("Drama",), "moving": ("Drama",), "touching": ("Drama",), "heartfelt": ("Drama",), "poignant": ("Drama",),
    "emotional": ("Drama",), "action packed": ("Action",), "explosions": ("Action",), "magical": ("Fantasy",), "magic": ("Fantasy",),
    "sword and sorcery": ("Fantasy",), "sorcery": ("Fantasy",), "wizard": ("Fantasy",), "wizards": ("Fantasy",), "dragon": ("Fantasy",),
    "dragons": ("Fantasy",), "witches": ("Fantasy",),
    "singing": ("Musical",), "epic": ("Adventure",),
    # comparatives and compounds only: a plain "light" or "dark" would also hide titles ("The Dark Knight") from step 2b
    "lighter": ("Comedy",), "light hearted": ("Comedy",), "feel good": ("Comedy",), "upbeat": ("Comedy",),
    "cheerful": ("Comedy",), "darker": ("Thriller", "Crime", "Film-Noir"), "gritty": ("Crime", "Thriller"),
}
# lexicon words too loose to filter on: they favour their category instead
LEANING_WORDS = frozenset(
    ["darker", "gritty", "lighter", "light hearted", "feel good", "upbeat", "cheerful", "space", "futuristic", "aliens", "robots", "epic", "magic", "magical", "sad", "dramatic", "sorcery", "wizard", "wizards", "dragon", "dragons", "witches", "tense", "heist", "mafia", "gangster", "gangsters", "detective", "explosions", "singing", "child"]
)
# words never matched to a category by embedding: they name the request, not a category
FILLER = frozenset(
    ["a", "an", "the", "some", "any", "something", "anything", "stuff", "thing", "things", "one", "ones", "movie", "movies", "film", "films", "flick", "flicks", "show", "shows", "item", "items", "product", "products", "title", "titles", "watch", "see", "want", "wanna", "need", "looking", "look", "find", "give", "recommend", "recommendation", "recommendations", "suggest", "please", "me", "my", "i", "we", "us", "you", "your", "for", "with", "from", "of", "in", "on", "at", "to", "by", "about", "and", "or", "but", "is", "are", "be", "that", "this", "these", "those", "what", "which", "who", "it", "its", "good", "great", "nice", "best", "really", "very", "quite", "more", "most", "less", "please", "like", "similar", "kind", "sort", "type", "tonight", "today", "now", "new", "old", "classic", "classics", "older", "recent", "latest", "newest", "era", "decade", "decades", "year", "years", "century", "before", "after", "since", "until", "between", "during", "around", "not", "no", "without", "except", "nothing", "none", "avoid", "make", "made", "makes", "released", "do", "does", "did", "have", "has", "had", "get", "got", "just", "also", "too", "so", "than", "then", "there", "here", "where", "when", "how", "why"]
)
# lexicon words that name a subject, not only a mood: they are also what the request is about
SUBJECT_WORDS = frozenset(
    ["heist", "mafia", "gangster", "gangsters", "zombie", "zombies", "aliens", "robots", "space", "cowboy", "cowboys", "detective", "whodunit", "slasher", "love story", "magic",
     "sorcery", "wizard", "wizards", "dragon", "dragons", "witches", "mob"]
)
# words that frame a subject without being one ("a story about", "set on", "one where")
ABOUT_FILLER = frozenset(
    ["set", "else", "only", "whole", "big", "real", "story", "stories", "plot", "plots", "tale", "tales", "genre", "where", "involving", "featuring", "starring", "centered", "centred", "around", "based", "someone", "somebody", "people", "person", "guy", "lot", "lots", "bit", "much", "many", "all", "been", "being", "was", "were", "will", "would", "could", "should", "can", "let", "lets", "let's", "show", "tell", "am", "im", "i'm", "mood", "feel", "feeling", "fun", "enjoy", "watching", "night", "evening", "weekend", "again"]
)
# words that negate, compare or bound: accounted for only inside a span a rule read ("nothing before 1990", "no horror");
# left over ("not too violent", "funnier than", "between") they change the request in a way the rules did not read
LOGIC_WORDS = frozenset(
    ["not", "no", "nothing", "none", "never", "nor", "neither", "without", "except", "excluding", "unless", "avoid", "skip", "don't", "dont", "doesn't", "isn't", "aren't", "hate", "than", "less", "fewer", "older", "newer", "earlier", "later", "before", "after", "since", "until", "between", "around", "instead", "rather", "else", "other", "another", "different", "same"]
)
# ABOUT_FILLER words that still ask for something the rules do not read: "something fun", "for movie night"
_WISH_WORDS = frozenset(["fun", "enjoy", "big", "real", "lot", "lots", "bit", "much", "many", "night", "evening", "weekend", "again", "someone", "somebody", "people", "person", "guy"])
# words that open a reply without changing it ("Sure, make it from the 70s."): the chat's follow-up test skips them too
INTERJECTIONS = ("sure", "ok", "okay", "yes", "yeah", "yep", "alright", "absolutely", "well", "so", "hmm", "meh", "nah", "then")
# words that frame a request without asking for anything, accounted for wherever they stand
FRAME_WORDS = ((FILLER | ABOUT_FILLER) - LOGIC_WORDS - _WISH_WORDS) | frozenset(INTERJECTIONS) | frozenset(
    ["i'd", "we'd", "i'll", "we'll", "i've", "we've", "what's", "whats", "it's", "that's", "there's", "may", "might", "maybe", "perhaps", "hi", "hello", "hey", "thanks", "thank", "preferably", "ideally", "possibly", "especially", "particularly", "mostly", "mainly", "usually", "generally", "pick", "choose", "suggestion", "suggestions", "idea", "ideas", "options", "list", "our", "they", "them", "favorite", "favourite", "favorites", "favourites", "help", "actually", "honestly", "really", "just"]
)
NOT_A_SUBJECT = FILLER | ABOUT_FILLER | FRAME_WORDS  # "hey, what's a good thriller?" is about nothing

# the words that rule out what follows them ("no horror", "I can't stand musicals", "a comedy that isn't a romance"):
# the parser's exclusions start with one, and the text embedded as the request leaves what they rule out
EXCLUDING = (
    r"(?:not|(?:is|am|are|was|were)n['’]?t)\s+(?:a\s+|really\s+a\s+|much\s+of\s+a\s+|the\s+biggest\s+|a\s+(?:big|huge)\s+)?fan\s+of"
    # reworded rejections: "I'm not really into Fargo", "not in the mood for horror", "I'd rather not watch X", "let's not do X"
    r"|not\s+(?:really\s+|that\s+|so\s+|too\s+|very\s+)?(?:into|keen\s+on|big\s+on|interested\s+in|in\s+the\s+mood\s+for|feeling)"
    r"|not\s+(?:(?:watch|see|do|have)(?:ing)?|go(?:ing)?\s+(?:for|with))|no\s+thanks?\s+(?:to|on)|pass(?:ing)?\s+on"
    r"|less|not|no|without|except|excluding|avoid|skip|anything but|nothing|never|(?:is|are|was|were)n['’]?t|hate[sd]?|dislike[sd]?"
    r"|can['’]?t stand|cannot stand|(?:tired|sick) of|had enough of|don['’]?t\s+(?:want|like|need|show me)"
    r"|did(?:n['’]?t|\s+not)\s+(?:really\s+)?(?:like|enjoy|love|care\s+for)|do\s+not\s+(?:want|like|need)"
)

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)  # a word or a number ("80s", "pre-1970"): what coverage counts


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with ``spans`` turned to spaces: what a rule read is set aside, and later spans still fit."""
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Whether ``span`` shares a character with any of ``spans``."""
    return any(s < span[1] and span[0] < e for s, e in spans)


def clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting a person's words in a note."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
