"""The one place the front ends (CLI, app, terminal chat) build the recommender they serve."""

from __future__ import annotations

from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender


def open_recommender(settings: Settings, store: Store | None = None) -> Recommender:
    """The recommender over ``store`` (default: the one ``settings`` name), with profile summaries
    worded by the configured LLM endpoint when there is one (templates otherwise).

    The agent's chat model is imported only then: ``whyrec recommend/why/profile`` run on a core
    install, which has no LangChain (the ``[agent]`` extra).
    """
    summarizer = None
    if settings.llm_base_url:
        from whyrec.agent.chat_model import profile_summarizer

        summarizer = profile_summarizer(settings)
    return Recommender(store or Store.open(settings), summarizer=summarizer)
