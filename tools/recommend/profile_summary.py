"""Interest summaries a model writes: the facts it is given, the sentences kept after their check, and the
background job that words a profile once per history version.

The template (:func:`tools.recommend.profile.template_summary`) reads a profile's numbers out in fixed
phrases. A model can word each interest better from its films' own text, but a small model also invents,
and catalog text may carry planted orders. So:

- the model gets one section of facts per part of the profile (:func:`summary_facts`: each long-term
  interest the template words, the recent interest, the drift), written compactly by
  :meth:`SummaryFacts.prompt_data`, and answers one sentence per section through a JSON schema
  (:func:`summary_schema`), whose grammar lets each sentence use only the words its section's data supports
  (:meth:`tools.recommend.summary_claims.ClaimChecker.supported_words`);
- each sentence is checked claim by claim against its own section's data
  (:class:`tools.recommend.summary_claims.ClaimChecker`); a sentence with one unsupported claim is dropped
  and that part keeps the template's words (:func:`worded_summary`);
- the profile shows the template until the worded summary is ready (:class:`BackgroundSummaries`), and then
  says who wrote it (:data:`MODEL_NOTE`).

The model call itself lives in ``agent/interest_writer.py``; nothing here needs an LLM.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from whyrec.store.database import Database
from whyrec.store.records import Item
from whyrec.tools.recommend.profile import (
    TEMPLATE_INTERESTS,
    Interest,
    InterestProfile,
    example_titles,
    share_of_history,
    template_drift,
    template_interest,
    template_overview,
    template_recent,
)
from whyrec.tools.recommend.summary_claims import JOINING_WORDS, CheckedSentence, ClaimChecker, SectionFacts, clean_story
from whyrec.tools.understanding.vocabulary import CatalogVocabulary

log = logging.getLogger(__name__)

MODEL_NOTE = "written by the local model, checked against your history"
"""What a worded summary says about itself, wherever it shows (the app, the chat, the API's ``summary.note``)."""
MAX_SENTENCE_WORDS = 14  # the grammar's bound after the opening, so one sentence cannot run on into max_tokens
ALLOWED_WORDS = 150  # data words a section's grammar offers, most shared first: more slows every sampled token
OPENING = "You like"  # how a long-term interest's sentence starts
RECENT_OPENING = "Lately you"  # how the recent interest's sentence starts
STORIES = 2  # overviews the model reads the start of, per interest
OVERVIEW_WORDS = 10  # words of the first film's overview the model reads: a taste of the story, not the whole of it
Summarizer = Callable[[InterestProfile, CatalogVocabulary], "WordedSummary | None"]  # the vocabulary: its items and one title index


def _share(p: float) -> float:
    return float(round(p * 100))


@dataclass
class SummarySection:
    """One sentence to write: its key in the answer, the facts the model reads, what the checker holds it to."""

    key: str
    data: str  # the line the model reads
    facts: SectionFacts
    template: str  # the template's words for this part, shown when the sentence fails
    cited: str = ""  # what the shown sentence ends with, from the profile: its share and example titles
    opening: str = OPENING  # the words its sentence starts with


@dataclass
class SummaryFacts:
    """Everything one profile's summary may say, by section."""

    sections: list[SummarySection]

    def prompt_data(self) -> str:
        """The person's data for the prompt, after the fixed instructions (so llama.cpp reuses their cache)."""
        return "\n".join(f"{s.key}: {s.data}" for s in self.sections)


def _stories(interest: Interest, items: dict[str, Item]) -> str:
    """The start of its best examples' overviews, without their titles: a small model shown titles named films of
    other lines; the shown sentence cites the examples itself (:func:`tools.recommend.profile.example_titles`)."""
    shown = [items[i] for i in interest.item_ids[:STORIES] if i in items]
    return "; ".join(" ".join(clean_story(item.description).split()[:OVERVIEW_WORDS]) + "…" for item in shown if item.description)


def _interest_numbers(profile: InterestProfile, interest: Interest, share: float) -> set[float]:
    return {float(profile.interactions), float(len(interest.item_ids)), _share(share)} | {_share(p) for p in interest.categories.values()}


def summary_facts(profile: InterestProfile, items: dict[str, Item]) -> SummaryFacts:
    """The sections of ``profile`` a model words, each with its data; the profile must not be empty.

    One sentence per long-term interest the template words, and one for the recent films and how they differ
    from the whole history (the drift): every token a small model reads or writes costs time on a CPU. The model
    words what the films share; the numbers and the example titles are added to its sentence from the profile."""
    sections = []
    for n, interest in enumerate(profile.long_term[:TEMPLATE_INTERESTS], 1):
        members = [items[i] for i in interest.item_ids if i in items]
        themes = f"; themes: {', '.join(interest.themes)}" if interest.themes else ""
        stories = _stories(interest, items)
        data = f"{', '.join(interest.categories)}{themes}{'; stories: ' + stories if stories else ''}"
        facts = SectionFacts(members, {c for item in members for c in item.categories}, _interest_numbers(profile, interest, interest.weight))
        cited = f" ({share_of_history(interest.weight)}, e.g. {example_titles(interest, items)})"
        sections.append(SummarySection(f"interest_{n}", data, facts, template_interest(interest, items) + ".", cited))
    recent = profile.short_term[0]
    members = [items[i] for i in recent.item_ids if i in items]
    shares = ", ".join(f"{c} {p:.0%}" for c, p in list(profile.short_term_distribution.items())[:3])
    moved = "; ".join(f"{word} {', '.join(names)}" for word, names in (("more", profile.rising), ("less", profile.fading)) if names)
    data = f"{shares}; against all history: {moved or 'no change'}"
    numbers = _interest_numbers(profile, recent, 1.0) | {_share(p) for p in profile.short_term_distribution.values()}
    categories = set(profile.short_term_distribution) | set(profile.rising) | set(profile.fading)
    template = " ".join(p for p in (template_recent(profile, items), template_drift(profile)) if p)
    cited = f" (your last {len(members)}, e.g. {example_titles(recent, items)})"
    sections.append(SummarySection("recent", data, SectionFacts(members, categories, numbers), template, cited, RECENT_OPENING))
    return SummaryFacts(sections)


def summary_schema(facts: SummaryFacts, checker: ClaimChecker | None = None, *, words: int = ALLOWED_WORDS) -> dict:
    """The JSON schema of the answer (llama.cpp turns it into a grammar): one short sentence per section.

    With the ``checker``, each sentence is held to a pattern: its opening, then at most :data:`MAX_SENTENCE_WORDS`
    words the checker accepts for that section (:meth:`ClaimChecker.supported_words`, ``words`` data words at most),
    joined by spaces or commas, the last one not a joining word (a sentence the bound cut short ended "about the."),
    and a full stop. A small model left free writes words none of its films' data holds ("jedi", "friendship"), and
    the checker then drops the sentence; held to the data's own words it cannot. Without a checker, any string (how
    the words the model picks freely are measured)."""
    properties = {}
    for section in facts.sections:
        if checker is None:
            properties[section.key] = {"type": "string"}
            continue
        allowed = checker.supported_words(section.facts, first=section.data, limit=words)
        last = [w for w in allowed if w not in JOINING_WORDS] or allowed
        pattern = f"^{section.opening} (({'|'.join(allowed)})( |, )){{0,{MAX_SENTENCE_WORDS - 1}}}({'|'.join(last)})\\.$"
        properties[section.key] = {"type": "string", "pattern": pattern}
    keys = [s.key for s in facts.sections]
    return {"type": "object", "properties": properties, "required": keys, "additionalProperties": False}


@dataclass
class WordedSummary:
    """A model's summary after its check: what shows, and the verdict on every sentence."""

    summary: dict[str, str] | None  # long_term, short_term and note, as InterestProfile.summary holds them; None: the template
    checked: dict[str, CheckedSentence] = field(default_factory=dict)

    @property
    def kept_whole(self) -> bool:
        """Every section's sentence passed: nothing of the template had to stand in."""
        return bool(self.checked) and all(c.kept for c in self.checked.values())

    @property
    def claims(self) -> int:
        return sum(c.claims for c in self.checked.values())

    @property
    def dropped(self) -> int:
        return sum(len(c.unsupported) for c in self.checked.values())


def worded_summary(answer: dict, facts: SummaryFacts, profile: InterestProfile, checker: ClaimChecker) -> WordedSummary:
    """The summary to show from a model's ``answer``: each section's sentence if every claim of it holds, else
    that section's template words. No summary when no sentence held (the plain template then stands, unmarked)."""
    checked = {s.key: checker.check(answer.get(s.key) if isinstance(answer.get(s.key), str) else "", s.facts) for s in facts.sections}
    if not any(c.kept for c in checked.values()):
        return WordedSummary(None, checked)

    def shown(section: SummarySection) -> str:
        sentence = checked[section.key]
        return sentence.text.rstrip(" .") + section.cited + "." if sentence.kept else section.template

    long_term = " ".join([template_overview(profile)] + [shown(s) for s in facts.sections if s.key != "recent"])
    short_term = shown(next(s for s in facts.sections if s.key == "recent"))
    return WordedSummary({"long_term": long_term, "short_term": short_term, "note": MODEL_NOTE}, checked)


class BackgroundSummaries:
    """Words profiles one at a time on a worker thread and saves each into the profile cache under the key
    (the history version) it was built for. Each key is tried once: a failed or stale attempt leaves the template."""

    def __init__(self, db: Database, summarizer: Summarizer):
        self.db = db
        self.summarizer = summarizer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="interest-summary")
        self._tried: set[tuple[str, str]] = set()
        self._pending: list[Future] = []
        self._lock = threading.Lock()

    def submit(self, user_id: str, key: str, profile: InterestProfile, vocabulary: CatalogVocabulary) -> None:
        """Queue ``profile`` (cached under ``key``) for wording, unless that version was already tried."""
        with self._lock:
            if (user_id, key) in self._tried or profile.is_empty:
                return
            self._tried.add((user_id, key))
            self._pending = [f for f in self._pending if not f.done()] + [self._executor.submit(self._word, user_id, key, profile, vocabulary)]

    def _word(self, user_id: str, key: str, profile: InterestProfile, vocabulary: CatalogVocabulary) -> None:
        if self.db.cached_profile(user_id, key) is None:
            return  # the history changed while this waited: a newer version is queued
        try:
            worded = self.summarizer(profile, vocabulary)
        except Exception as err:  # any model failure: the template stands
            log.warning("interest summary for user %s failed (%s); the template stands", user_id, err)
            return
        data = self.db.cached_profile(user_id, key)
        if worded is None or worded.summary is None or data is None:
            return
        data["summary"], data["summary_source"] = worded.summary, "llm"
        self.db.save_profile(user_id, key, data)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every queued summary is written (tests, benchmarks, a CLI that exits)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)
