"""The rule parser: a free-text request read into a :class:`~whyrec.tools.understanding.request.ParsedRequest`.

"something scary from the 80s, not Nebula Run" means *years 1980–1989*, *Horror or Thriller* and *not that title*;
the request's embedding alone cannot see any of it. :class:`RequestParser` reads, in this order, exclusions, "like
<title>" and titles named outright, years (:mod:`.years`), categories by name, everyday word or typo
(:mod:`.categories`), then what is left: other languages and gibberish (:mod:`.languages`), mood words by embedding
(:mod:`.moods`) and the subject (:mod:`.subjects`). Everything is computed against the catalog's own vocabulary
(:class:`~whyrec.tools.understanding.vocabulary.CatalogVocabulary`); titles are looked up in its
:class:`~whyrec.tools.understanding.titles.TitleIndex`, which also resolves the titles a chat names. The readers write
into a :class:`~whyrec.tools.understanding.draft.RequestDraft` (a title or category both asked for and ruled out keeps
the request's last words: :mod:`.refinements`), and ``parse`` returns the frozen request made from it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from whyrec.store.records import Item
from whyrec.tools.understanding.categories import CategoryWords, add_ask, join_alternatives, lexicon_key
from whyrec.tools.understanding.draft import RequestDraft
from whyrec.tools.understanding.languages import KnownWords
from whyrec.tools.understanding.moods import MoodMatcher
from whyrec.tools.understanding.phrasebook import in_english
from whyrec.tools.understanding.refinements import settle_asked_and_left_out, settle_like_and_not
from whyrec.tools.understanding.request import CategoryAsk, ParsedRequest
from whyrec.tools.understanding.subjects import about_text, query_text, unaccounted
from whyrec.tools.understanding.titles import TitleReference, display_title
from whyrec.tools.understanding.vocabulary import CatalogVocabulary
from whyrec.tools.understanding.words import EXCLUDING, FILLER, LEANING_WORDS, NOT_A_SUBJECT, WORD, blank, clip
from whyrec.tools.understanding.years import NEGATED_BOUND, YearReader

if TYPE_CHECKING:
    from whyrec.store.embeddings import ItemEmbedder

# "take the horror ones out (of that list)", "leave out the comedies", "drop Fargo from the list": a category or film left out
_TAKE_OUT = re.compile(
    r"\b(?:take|leave|cut|drop|remove|throw)\s+(?:the\s+|all\s+|any\s+)?(?P<what>[\w'’-]+(?:\s+[\w'’-]+)?)\s+"
    r"(?:ones?\s+|films?\s+|movies?\s+)?out\b(?:\s+of\s+(?:that|this|the)\s+(?:list|lot|bunch))?"
    r"|\b(?:take|leave|cut)\s+out\s+(?:the\s+|all\s+|any\s+)?(?P<what2>[\w'’-]+)"
    r"|\b(?:drop|remove|ditch|scrap|lose|cross)\s+(?P<what3>[\w'’:&-]+(?:\s+[\w'’:&-]+){0,5}?)\s+(?:off|from)\s+(?:the|this|that|my|your)\s+list\b",
    re.IGNORECASE,
)

# a genre or a film ruled out after it is named: "horror isn't my thing", "musicals are not for me", "Twister was boring",
# "Fargo wasn't for me", "Fargo doesn't appeal", "Fargo is not what I'm after", "Fargo? No thanks." (read as "not horror",
# "not Twister"); what is named starts a clause and runs up to six words
_RULED_OUT_AFTER = re.compile(
    r"(?:^|(?<=[.!?,;] )|(?<=\bbut )|(?<=\band )|(?<=\bthough ))(?P<what>(?!(?:i|it|that|this|they|he|she|can|could|would|will|do|does|any|what|which|recommend|suggest|show|give|find)\b)[\w'’:&-]+(?:\s+[\w'’:&-]+){0,5}?)"
    r"(?:\s+(?:(?:is|are|was|were)(?:n['’]t|\s+not)\s+(?:really\s+|quite\s+|exactly\s+|that\s+|very\s+|so\s+)?"
    r"(?:my\s+(?:thing|cup\s+of\s+tea|style|genre|jam|bag|kind\s+of\s+(?:thing|movie|film))|for\s+me|any\s+good|good|great"
    r"|what\s+i['’]?(?:m|\s+am)\s+(?:after|looking\s+for|in\s+the\s+mood\s+for))"
    r"|(?:was|were)\s+(?:(?:really|so|too|pretty|kind\s+of|a\s+bit|way\s+too|just|honestly)\s+)?"
    r"(?:boring|awful|terrible|bad|dull|overrated|stupid|lame|meh|horrible|a\s+(?:bore|letdown|disappointment))"
    r"|(?:does|do|did)(?:n['’]t|\s+not)\s+(?:really\s+)?(?:appeal(?:\s+to\s+me)?|interest\s+me|grab\s+me|(?:do\s+(?:it|much|anything)\s+)?for\s+me))"
    r"|\s*[?,!]\s*no,?\s+thank(?:s|\s+you)\b(?!\s+(?:to|for)\b))\b",
    re.IGNORECASE,
)

# what follows a genre word that is the subject of a documentary: "war (time) documentary", "a crime documentaries"
_DOCUMENTARY_OF = re.compile(r"(?:[\s-]+[\w'’]+)?[\s-]+documentar(?:y|ies)\b", re.IGNORECASE)

MAX_REQUEST_CHARS = 500  # what is read of a request; the embedding model reads ~256 tokens anyway
MAX_MOOD_WORDS = 12  # words matched against the category names by embedding, per request
# a colon before a capital continues a title ("Not Mission: Impossible"), and so does the dot of an initial or a
# title's abbreviation ("G.I. Jane", "Mr. Holland's Opus"); elsewhere they end the phrase
_TITLE_COLON = r":(?=\s*(?-i:[A-Z0-9]))"
_TITLE_DOT = r"(?:(?<=\b(?-i:[A-Z]))|(?<=\b(?-i:Mr|Dr|St|Jr|Ms))|(?<=\b(?-i:Mrs)))\."
_PHRASE = rf"(?P<phrase>(?:[^,.;:!?()]|{_TITLE_COLON}|{_TITLE_DOT})+?)"
_BREAK = rf"(?=\s*(?:[,;!?()]|(?!{_TITLE_DOT})\.|:(?!\s*(?-i:[A-Z0-9]))|$|\s(?:but|and not|or not|from|in the|with|that|which|except|please|made|set|released|before|after|since|for (?:my|our|the|a|his|her|their))\b))"

# a run of capitalised words, small joining words allowed inside ("Return of the Jedi"), whole words only ("Como a" is
# not a run in "Como agua"); "I" alone is a pronoun
_NAMED = re.compile(r"\b(?!I\b)[A-Z][\w'’:-]*(?:\s+(?:(?:of|the|and|in|a|an|on|to|&)(?![\w'’])|[A-Z][\w'’:-]*))*(?<![\s,])")
# a film written with its year, as people write them ("I like The Rocky Horror Picture Show (1975)", "B*A*P*S (1997)")
_TITLED_WORD = r"[A-Z0-9][\w'’:*!&.-]*"
_TITLE_WITH_YEAR = re.compile(
    rf"\b(?P<title>(?!I\b){_TITLED_WORD}(?:\s+(?:(?:of|the|and|in|a|an|on|to|at|for|with|from|&)(?![\w'’])|{_TITLED_WORD}))*)\s*\((?P<year>(?:19|20)\d\d)\)"
)
# words that lead into a film's name without being part of it ("Loved Heat (1995)", "Also The Birds (1963)")
_LEAD_IN = frozenset({"loved", "liked", "enjoyed", "watched", "saw", "seen", "also", "and", "but", "or", "maybe", "recently", "then"})


def _starts_sentence(text: str, start: int) -> bool:
    """Whether ``start`` is the first word of a sentence (where a capital letter says nothing)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\"'“"


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
        self.category_words = CategoryWords(self.catalog)
        self.years = YearReader(self.catalog)
        self.known_words = KnownWords(embedder)
        self.moods = MoodMatcher(embedder, self.catalog.categories)

    def coverage(self) -> str:
        """The catalog's span in words, from its own years ("the catalog covers 1922–1998")."""
        return self.catalog.coverage()

    # --- reading a request --------------------------------------------------------------

    def parse(self, request: str | None) -> ParsedRequest:
        """Constraints, notes and the request's vector (one model call for the request and its mood words)."""
        raw = unicodedata.normalize("NFKC", request or "").replace("\x00", " ")
        raw = re.sub(r"\s+", " ", raw).strip()
        draft = RequestDraft(text=raw)
        if not raw:
            return draft.freeze()
        if len(raw) > MAX_REQUEST_CHARS:
            cut = raw[:MAX_REQUEST_CHARS].rsplit(" ", 1)[0] or raw[:MAX_REQUEST_CHARS]
            draft.notes.append(f"Your request is {len(raw):,} characters long; I read the first {len(cut):,}.")
            raw = draft.text = cut
        if (phrased := in_english(raw)).language:  # "una comedia de los 80" is read as "comedy from the 80s"
            raw, draft.text, draft.language = phrased.english, phrased.english, phrased.language
        raw = _TAKE_OUT.sub(lambda m: f"without {m['what'] or m['what2'] or m['what3']}", raw)  # "take the horror ones out": no Horror
        raw = _RULED_OUT_AFTER.sub(lambda m: f"not {m['what']}", raw)  # "horror isn't my thing": no Horror
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
        for m in re.finditer(r"\b(?P<how>" + EXCLUDING + r")\s+(?:to\s+(?:watch|see)\s+)?(?:an?\s+|the\s+|any\s+|more\s+|too\s+|so\s+|anything\s+)?" + _PHRASE + _BREAK, text, re.IGNORECASE):
            phrase = m["phrase"].strip(" '\"“”‘’")
            if not phrase or not free(m.start(), m.end()) or NEGATED_BOUND.match(text, m.start()):
                continue  # "nothing from before 1990" is a year bound, read with the years
            if m["how"].lower() == "less" and not self.category_words.named_in(phrase):
                continue  # "less than two hours": only "less scary" (as "not too scary") asks to leave a category out
            end = self._list_end(text, m.end())  # "no romance, comedy or drama": the list goes on past the comma
            end = max(end, self.titles.end_of_title(text, m.start("phrase")))  # "not Murder in the First": a title past a break word
            if self._hedges(text, m, end):
                take(m.start(), end)  # "a horror film, not too gory": gentle horror, nothing to leave out
                continue
            before, before_categories = len(draft.exclude_item_ids), len(draft.exclude_categories)
            take(m.start(), end, sure=self._read_exclusion(draft, text[m.start("phrase") : end].strip(" '\"“”‘’"), m["how"].lower()))
            for i in draft.exclude_item_ids[before:]:
                said_at[("not", i)] = m.start()
            for ask in draft.exclude_categories[before_categories:]:
                said_at.update({("not", c): m.start() for c in ask.categories})

        # 1b. films written with their year: the whole name is the title, so "Horror" in "The Rocky Horror Picture
        # Show (1975)" asks for no category and its year for no years; a film outside the catalog lends its words
        for m in _TITLE_WITH_YEAR.finditer(text):
            if free(m.start(), m.end()):
                known, title_at = self._read_dated_title(draft, m["title"], int(m["year"]), said_at, m.start())
                take(m.start() + title_at, m.end(), sure=known)  # only the title: "FAMILY MOVIES. … ENJOYED A Little Princess"

        # 2. "like <title>": more like this; a title outside the catalog lends its words
        for m in re.finditer(r"(?P<lead>\b\w+\s+)?\b(?:like|similar to|in the vein of|in the style of|reminds? me of|such as|along the lines of)\s+" + _PHRASE + _BREAK, text, re.IGNORECASE):
            lead = (m["lead"] or "").strip().lower()
            if lead in {"i", "we", "you", "they", "would", "d", "'d", "’d", "to", "really", "also", "don't", "dont", "do", "not", "i'd", "we'd"}:
                continue  # "I'd like a funny movie", "I like horror": the verb, not a comparison
            if not free(m.start("phrase"), m.end()):
                continue
            raw = m["phrase"]
            phrase = raw.strip(" '\"“”‘’")
            before, unknown_before = len(draft.like_item_ids), len(draft.unknown_titles)
            read = self._read_like(draft, phrase, quoted=_is_quoted(text, m.start("phrase")), comparison=lead not in _NOT_A_COMPARISON)
            for i in draft.like_item_ids[before:]:
                said_at[("like", i)] = m.start()
            if read:  # only the title's words: "like The Terminator and an action movie" still asks for Action
                start = m.start("phrase") + len(raw) - len(raw.lstrip(" '\"“”‘’"))
                take(m.start("phrase"), m.end() if read == len(phrase) else start + read, sure=len(draft.unknown_titles) == unknown_before)

        # 2b. titles named outright ("Recommend me Inception and The Dark Knight"): capitalised runs that are
        # not the sentence's first word, a category or a pronoun; a catalog title is "more like it", others lend their words
        for m in _NAMED.finditer(text):
            phrase = m[0].strip()
            if not free(m.start(), m.end()) or _starts_sentence(text, m.start()) and " " not in phrase or self.category_words.named_in(phrase):
                continue
            exact = self.titles.find(phrase, fuzzy=False)
            if not exact and all(w.lower() in NOT_A_SUBJECT for w in WORD.findall(phrase)):
                continue  # "Hello Can you recommend…", "Hi I like…": capitalised talk, neither a title nor a subject
            # "Inception and The Dark Knight" is two titles unless the whole run is one ("Romeo and Juliet")
            parts = [phrase] if exact else re.split(r"\s+(?:and|&)\s+", phrase)
            before, unknown_before = len(draft.like_item_ids), len(draft.unknown_titles)
            if any([self._read_like(draft, part, quoted=False) for part in parts if part]):
                take(m.start(), m.end(), sure=len(draft.unknown_titles) == unknown_before)
            named += draft.unknown_titles[unknown_before:]  # "a Christmas movie", "set in Paris": a name, maybe the subject
            for i in draft.like_item_ids[before:]:
                said_at[("like", i)] = m.start()
        settle_like_and_not(draft, said_at)
        # "I love Nolan", "we enjoyed": verbs about the person, not a mood ("love" is not a wish for Romance)
        for m in re.finditer(r"\b(?:i|we)\s+(?:really\s+|just\s+|absolutely\s+)?(?:love|loved|adore|enjoy|enjoyed|like|liked)\b", text, re.IGNORECASE):
            take(m.start(), m.end())

        # 3. years: ranges, decades, before/after, single years, "recent", "old"
        self.years.settle(draft, self.years.read(text, take, free))

        # 4. categories by name or everyday word (words already claimed by titles and exclusions are skipped)
        covered: list[tuple[int, int]] = []
        for category, pattern in self.category_words.patterns:
            for m in pattern.finditer(text):
                if _DOCUMENTARY_OF.match(text, m.end()) and category.lower() != "documentary":
                    continue  # "a war documentary" is a documentary about war: "war" is its subject, not a second genre
                if free(m.start(), m.end()) and all(e <= m.start() or s >= m.end() for s, e in covered):
                    covered.append((m.start(), m.end()))
                    add_ask(draft.categories, CategoryAsk((category,), m[0], "name"))
                    said_at.setdefault(("ask", category), m.start())
        if self.category_words.lexicon_pattern:
            for m in self.category_words.lexicon_pattern.finditer(text):
                if free(m.start(), m.end()) and all(e <= m.start() or s >= m.end() for s, e in covered):
                    covered.append((m.start(), m.end()))
                    key = lexicon_key(m[0])
                    target = draft.boost_categories if key in LEANING_WORDS else draft.categories
                    if target is draft.boost_categories and any(set(self.category_words.lexicon[key]) <= set(a.categories) for a in draft.categories):
                        continue  # "funny … lighter": already filtered to Comedy, "leaning to Comedy" would only repeat it
                    add_ask(target, CategoryAsk(self.category_words.lexicon[key], m[0], "lexicon"))
                    said_at.update({("ask", c): m.start() for c in self.category_words.lexicon[key] if ("ask", c) not in said_at})
        # 4b. a category word misspelt ("scray", "comdy", "horor"): the closest one, and a note that says so
        for m in WORD.finditer(text):
            if not free(m.start(), m.end()) or any(s < m.end() and m.start() < e for s, e in covered):
                continue
            if (meant := self.category_words.misspelt(m[0].lower(), self.known_words.vocabulary)) is None:
                continue
            covered.append((m.start(), m.end()))
            categories = self.category_words.one_word[meant]
            add_ask(draft.boost_categories if meant in LEANING_WORDS else draft.categories, CategoryAsk(categories, m[0], "typo"))
            said_at.update({("ask", c): m.start() for c in categories if ("ask", c) not in said_at})
            draft.notes.append(f"Taking '{m[0]}' to mean '{meant}'.")
        draft.categories = join_alternatives(text, covered, draft.categories)  # "action or comedy": either will do
        settle_asked_and_left_out(draft, said_at)

        # 5. the rest of the words: gibberish/language check, then mood words by embedding
        self.known_words.check_language(draft, text, removed + covered)
        unread = [] if draft.problem else self.known_words.unread_spans(text, removed + covered)  # "something funny, très drôle"
        for start, end in unread:
            draft.unread.append(text[start:end])
            take(start, end, sure=False)  # neither embedded nor matched to a category: the note says they were not read
        rest = blank(text, removed + covered)
        words = WORD.findall(rest)
        candidates = [] if draft.problem else [w for w in dict.fromkeys(w.lower() for w in words) if w not in FILLER and len(w) > 2][:MAX_MOOD_WORDS]
        draft.query_text = "" if draft.problem in ("gibberish", "language") else query_text(blank(text, unread), removed)
        draft.about = "" if draft.problem else about_text(text, removed, covered, named)
        self.moods.embed(draft, candidates)
        draft.unaccounted = unaccounted(draft, text, certain + covered, self.known_words.readable, self.category_words.patterns)
        self._notes(draft)
        return draft.freeze()

    def _hedges(self, text: str, m: re.Match, end: int) -> bool:
        """Whether "not too <mood>" only tempers a genre its own sentence asks for ("a scary movie that isn't too
        gory", "una de miedo pero no demasiado sangrienta"): then it leaves nothing out. Said in a sentence of its own
        ("Something scary. Not too scary") it still does: a chat's refinement takes the genre back."""
        if not re.fullmatch(r"\s+too\s+", text[m.end("how") : m.start("phrase")], re.IGNORECASE):
            return False
        toned = {c for ask in self.category_words.named_in(text[m.start("phrase") : end]) for c in ask.categories}
        start = max(text.rfind(mark, 0, m.start()) for mark in ".!?;") + 1
        stop = min((i for i in (text.find(mark, end) for mark in ".!?;") if i >= 0), default=len(text))
        sentence = blank(text[start:stop], [(m.start() - start, end - start)])
        return bool(toned & {c for ask in self.category_words.named_in(sentence) for c in ask.categories})

    def _list_end(self, text: str, end: int) -> int:
        """Where a list of categories after 'no' ends: "X, Y or Z" runs on to Z; "X, something else" stops at X."""
        m = re.match(r",\s*([^.;!?]*)", text[end:])
        if not m or not re.search(r"\b(?:or|nor)\b", m[1], re.IGNORECASE):
            return end
        words = [w for w in re.split(r"[\s,]+", m[1].strip()) if w and w.lower() not in FILLER and w.lower() != "nor"]
        named = sum(len(a.source.split()) for a in self.category_words.named_in(m[1]))
        return end + m.end() if words and named >= len(words) else end

    def _read_exclusion(self, draft: RequestDraft, phrase: str, how: str = "not") -> bool:
        """A title first ("not Star Wars" is not "not War"), then a category, then a misspelt title. False when the
        phrase names none ("not too violent"): the words were dropped, not read."""
        exact = self.titles.find(phrase, prefix=True, fuzzy=False)
        asks = [] if exact else self.category_words.named_in(phrase)
        if asks:  # "no romance, comedy or drama": every category named
            for ask in asks:
                add_ask(draft.exclude_categories, ask)
            return True
        items = exact or self.titles.find(phrase, prefix=True)
        if not items and phrase[:1].isupper():  # "did not enjoy Scream at all": the title the phrase starts with
            items = self.titles.leading(phrase, fuzzy=False)[1]
        if items:
            for item in items:
                if item.item_id not in draft.exclude_item_ids:
                    draft.exclude_item_ids.append(item.item_id)
                    draft.titles[item.item_id] = display_title(item.title)
            return True
        if phrase[:1].isupper() or phrase[:1] in "'\"“‘":
            # the word the person wrote: "but no Meg Ryan" is not "(after 'not')"
            draft.notes.append(f"'{clip(phrase)}' (after '{how}') is not a title or category of this catalog, so nothing was left out for it.")
        return False

    def _read_dated_title(self, draft: RequestDraft, name: str, year: int, said_at: dict[tuple[str, str], int], at: int) -> tuple[bool, int]:
        """Read a film written with its year: the longest tail of the capitalised run ``name`` that is a catalog title
        of that year (a year apart at most: release dates differ by country) is "more like it"; otherwise the name,
        without its lead-in and shouted words ("I REALLY ENJOYED The BFG"), is a film outside the catalog (a remake
        of a catalog title is one), said in a note. Returns whether it was a catalog item, and where in ``name`` the
        title starts (the words before it are read as the rest of the request)."""
        words = list(re.finditer(r"\S+", name))
        for first in words:
            found = [i for i in self.titles.find(name[first.start() :], fuzzy=False) if i.year is None or abs(i.year - year) <= 1]
            if found:
                if found[0].item_id not in draft.like_item_ids:
                    draft.like_item_ids.append(found[0].item_id)
                    draft.titles[found[0].item_id] = display_title(found[0].title)
                said_at[("like", found[0].item_id)] = at
                return True, first.start()
        while len(words) > 1 and (words[0][0].lower() in _LEAD_IN or (words[0][0].isupper() and len(words[0][0]) > 1)):
            words = words[1:]
        title = clip(f"{name[words[0].start() :]} ({year})", 80)
        if title not in draft.unknown_titles:
            draft.unknown_titles.append(title)
            draft.notes.append(f"'{title}' is not in the catalog ({self.coverage()}); I used its words to find similar items.")
        return False, words[0].start()

    def _read_like(self, draft: RequestDraft, phrase: str, quoted: bool, comparison: bool = False) -> int:
        """Read "like <phrase>"; returns how many leading characters of ``phrase`` it used (0: none).

        A catalog title uses only its own words, so what follows it ("and an action movie") is read
        on its own; a category or a title outside the catalog uses the whole phrase."""
        length, found = self.titles.leading(phrase)
        if found:
            item = found[0]
            if item.item_id not in draft.like_item_ids:
                draft.like_item_ids.append(item.item_id)
                draft.titles[item.item_id] = display_title(item.title)
            return length
        ask = self.category_words.first_named_in(phrase)
        if ask is not None:
            add_ask(draft.boost_categories, CategoryAsk(ask.categories, ask.source, ask.how))
            return len(phrase)
        if quoted or phrase[:1].isupper():
            title = clip(phrase.strip(" '\"“”‘’"), 80)
            draft.unknown_titles.append(title)
            draft.notes.append(f"'{title}' is not in the catalog ({self.coverage()}); I used its words to find similar items.")
            return len(phrase)
        if comparison and _names_something(phrase):
            # "something like the matrix", written in lower case: it was read as nothing at all, without a word
            draft.unknown_titles.append(phrase)
            draft.notes.append(f"I found no title '{clip(phrase, 80)}' in the catalog ({self.coverage()}); I used its words to find similar items.")
            return len(phrase)
        return 0

    def _notes(self, draft: RequestDraft) -> None:
        if draft.unread:
            words = ", ".join(f"'{clip(w, 40)}'" for w in draft.unread)
            draft.notes.append(f"I did not understand {words}, so these follow the rest of your request.")
        understood = []
        if draft.years:
            understood.append(f"years {draft.years.label} (from '{draft.years.source}')")
        understood += [f"{c.label} (from '{c.source}')" for c in draft.categories]
        understood += [f"not {c.label}" for c in draft.exclude_categories]
        understood += [f"not '{draft.titles.get(i, i)}'" for i in draft.exclude_item_ids]
        understood += [f"leaning to {c.label} (from '{c.source}')" for c in draft.boost_categories]
        understood += [f"leaning to {y.label} (from '{y.source}')" for y in draft.boost_years if draft.problem != "contradiction"]
        understood += [f"more like '{draft.titles.get(i, i)}'" for i in draft.like_item_ids]
        if draft.about:
            understood.append(f"about '{draft.about}' (searched in the items' stories)")
        if understood:
            draft.notes.insert(0, "Understood: " + "; ".join(understood) + ".")

    # --- naming one item (chat: "why X?", "why not the second one?") ------------------------

    def resolve_title(self, reference: str, shown: list[str] | None = None, nearest: int = 3) -> TitleReference:
        """The item ``reference`` names (an id, a title, a misspelling, a position in ``shown``), by the catalog's
        :meth:`~whyrec.tools.understanding.titles.TitleIndex.reference`, with this parser's search for the nearest."""
        return self.titles.reference(reference, shown, nearest, search=self.search, coverage=self.coverage())


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
