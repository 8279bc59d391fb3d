"""The one place the front ends (CLI, app, terminal chat) build the recommender they serve."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.recommender import Recommender

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer


def open_recommender(settings: Settings, store: Store | None = None, server: LocalModelServer | None = None) -> Recommender:
    """The recommender over ``store`` (default: the one ``settings`` name), with profile summaries worded in the
    background by the configured LLM endpoint, or by the embedded model on ``server`` (the chat's own, from
    :func:`shared_local_model`); templates otherwise.

    The agent's chat model is imported only then: ``whyrec recommend/why/profile`` run on a core
    install, which has no LangChain (the ``[agent]`` extra).
    """
    summarizer = None
    if settings.llm_base_url or server is not None:
        from whyrec.agent.chat_model import profile_summarizer

        summarizer = profile_summarizer(settings, server)
    return Recommender(store or Store.open(settings), summarizer=summarizer)


def shared_local_model(settings: Settings, fallback_only: bool = False) -> LocalModelServer | None:
    """One embedded model server (not started: the chat starts it when a turn needs the model) for a chat and the
    interest summaries it words in the background (``settings.model_summaries``), so they queue on one llama.cpp
    rather than fight over the cores in two. The summaries never start it themselves: they wait for the chat's.
    None where there is nothing to share: an endpoint is set, the chat is templates only, the summaries are off, or
    the ``[local]`` extra is not installed."""
    if settings.llm_base_url or fallback_only or not settings.model_summaries or importlib.util.find_spec("xllamacpp") is None:
        return None
    from whyrec.agent.local_model import LocalModelServer

    return LocalModelServer.from_settings(settings, progress=False)
