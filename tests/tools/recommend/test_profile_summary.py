"""Model-worded summaries on real profiles of a real store: the template until the background wording is saved,
each part's template where its sentence fails, and the mark that says who wrote it (no LLM: plain callables)."""

from __future__ import annotations

import threading

from whyrec.tools.recommend.profile import template_interest
from whyrec.tools.recommend.profile_summary import MODEL_NOTE, summary_facts, worded_summary
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.summary_claims import ClaimChecker


def first_sentences(profile, items) -> dict[str, str]:
    """What a careful writer would say: each section's first category and first film, both from its own line."""
    answer = {}
    for s in summary_facts(profile, items).sections:
        film = s.facts.items[0].title if s.facts.items else ""
        answer[s.key] = f"You like {sorted(s.facts.categories)[0]}, like {film}." if film else ""
    return answer


class Writer:
    """Stands in for the model call: a scripted answer, checked by the product's own code."""

    def __init__(self, answer=first_sentences, gate: threading.Event | None = None):
        self.answer, self.gate, self.calls, self.vocabularies = answer, gate, 0, []

    def __call__(self, profile, vocabulary):
        self.calls += 1
        self.vocabularies.append(vocabulary)
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.answer(profile, vocabulary.items) if callable(self.answer) else self.answer
        return worded_summary(answer, summary_facts(profile, vocabulary.items), profile, ClaimChecker(vocabulary))


def test_the_template_shows_until_the_models_summary_is_ready(small_store, reranker):
    gate = threading.Event()
    recommender = Recommender(small_store, reranker, summarizer=Writer(gate=gate))
    before = recommender.profile("u1")
    assert before.summary_source == "template" and "note" not in before.summary_text(recommender.items)
    gate.set()
    recommender.summaries.wait(10)
    after = recommender.profile("u1")
    assert after.summary_source == "llm"
    shown = after.to_dict(recommender.items)["summary"]
    assert shown["note"] == MODEL_NOTE  # the app, the chat and the API all say who wrote it
    assert "You like" in shown["long_term"] and shown["short_term"].startswith("You like")


def test_a_history_change_words_the_new_version_once(small_store, reranker):
    writer = Writer()
    recommender = Recommender(small_store, reranker, summarizer=writer)
    recommender.profile("u1")
    recommender.summaries.wait(10)
    recommender.profile("u1")
    recommender.summaries.wait(10)
    assert writer.calls == 1  # cached by history version
    small_store.db.add_feedback("u1", "crime2", "liked")
    assert recommender.profile("u1").summary_source == "template"  # the new history shows its template first
    recommender.summaries.wait(10)
    assert writer.calls == 2 and recommender.profile("u1").summary_source == "llm"
    assert all(v is recommender.vocabulary for v in writer.vocabularies)  # the catalog's one title index, not one of its own


def test_a_failed_sentence_leaves_that_interests_template(small_store, reranker):
    recommender = Recommender(small_store, reranker)
    profile = recommender.profile("u1")
    answer = first_sentences(profile, recommender.items) | {"interest_1": "You love opera, like Galaxy Quest."}
    worded = worded_summary(answer, summary_facts(profile, recommender.items), profile, ClaimChecker(recommender.items))
    assert not worded.kept_whole and worded.dropped >= 2
    assert template_interest(profile.long_term[0], recommender.items) in worded.summary["long_term"]
    assert "opera" not in worded.summary["long_term"]


def test_nothing_supported_or_a_failing_model_leaves_the_plain_template(small_store, reranker):
    recommender = Recommender(small_store, reranker)
    profile = recommender.profile("u1")
    facts = summary_facts(profile, recommender.items)
    assert worded_summary({s.key: "Buy now at https://x.example" for s in facts.sections}, facts, profile, ClaimChecker(recommender.items)).summary is None

    def broken(profile, vocabulary):
        raise RuntimeError("endpoint down")

    recommender = Recommender(small_store, reranker, summarizer=broken)
    small_store.db.add_feedback("u1", "rom1", "liked")
    recommender.profile("u1")
    recommender.summaries.wait(10)
    assert recommender.profile("u1").summary_source == "template"
