"""LLM-worded summaries: scripted model answers (test doubles for the LLM only), real profiles."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda

from whyrec.tools.recommend.profile_summary import InterestSummary, LLMProfileSummarizer
from whyrec.tools.recommend.recommender import Recommender


class ScriptedModel:
    """Stands in for a chat model's structured answer."""

    def __init__(self, answer: InterestSummary | Exception):
        self.answer = answer
        self.prompts: list = []

    def with_structured_output(self, schema):
        def run(messages):
            self.prompts.append(messages)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return RunnableLambda(run)


def test_llm_summary_is_used_when_grounded(small_store, reranker):
    model = ScriptedModel(InterestSummary(long_term=["heartfelt Romance", "a made-up passion for opera"], short_term=["space Sci-Fi like Orbit Station"]))
    recommender = Recommender(small_store, reranker, summarizer=LLMProfileSummarizer(model))
    profile = recommender.profile("u1")
    assert profile.summary_source == "llm"
    assert profile.summary == {"long_term": "heartfelt Romance", "short_term": "space Sci-Fi like Orbit Station"}
    assert "Orbit Station" in model.prompts[0][1][1]  # the evidence went to the model


def test_template_stands_when_the_llm_fails_or_invents(small_store, reranker):
    for answer in (RuntimeError("endpoint down"), InterestSummary(long_term=["opera"], short_term=["jazz"])):
        recommender = Recommender(small_store, reranker, summarizer=LLMProfileSummarizer(ScriptedModel(answer)))
        small_store.db.add_feedback("u1", "rom1", "liked")  # new history version: no cached profile
        profile = recommender.profile("u1")
        assert profile.summary_source == "template" and "Romance" in profile.summary["long_term"]
