"""The one chat model the agent talks to: any OpenAI-compatible endpoint, or the embedded one.

Both cases go through ``ChatOpenAI`` so the agent loop, streaming and tool calling
behave the same whether the model is hosted or runs in this process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings

logger = logging.getLogger(__name__)

def calls_tools_natively(model: BaseChatModel) -> bool:
    """One short probe: does this endpoint answer with OpenAI ``tool_calls`` when a tool clearly fits?

    Capable hosted models do, and then drive whyrec's tools themselves (react mode); small or
    text-only models answer in prose or write the call as text, and do better in plan mode.
    """

    def current_time(city: str) -> str:
        """The current time in a city."""
        return "12:00"

    try:
        reply = model.bind_tools([current_time]).invoke("What time is it in Paris right now? Use the tool.")
    except Exception as err:  # an endpoint that rejects tools cannot drive them
        logger.info("the tool-call probe failed: %s", err)
        return False
    return bool(getattr(reply, "tool_calls", None))


def make_chat_model(settings: Settings, server: LocalModelServer | None = None, **kw: Any) -> ChatOpenAI:
    """A streaming ``ChatOpenAI`` for ``settings.llm_base_url``, or for the running local ``server``.

    ``settings.llm_base_url`` wins when set (the key defaults to a placeholder, since
    self-hosted servers such as vLLM or Ollama ignore it; the local server always gets
    the placeholder, so an ``OPENAI_API_KEY`` from the environment never goes there). Otherwise ``server`` must be a
    started :class:`~agent.local_model.LocalModelServer`; starting it is the caller's
    job because it owns the model's memory and lifetime. Extra keywords go to
    ``ChatOpenAI`` (``temperature``, ``max_tokens``, ``timeout``...).
    """
    if settings.llm_base_url:
        base_url, api_key = settings.llm_base_url, settings.llm_api_key or "not-needed"
    elif server is not None:
        base_url, api_key = server.base_url, "not-needed"  # never hand a real key to the local process
    else:
        raise ValueError(
            "no chat model configured — set WHYREC_LLM_BASE_URL to an OpenAI-compatible endpoint, "
            "or start a LocalModelServer and pass it as server="
        )
    options: dict[str, Any] = {"streaming": True, **kw}
    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,
        model=settings.llm_model,
        **options,
    )


def profile_summarizer(settings: Settings):
    """An LLM summarizer for profiles when an endpoint is configured, else None (the template).

    The embedded local model is not used here: on a CPU it would add a minute to every profile view.
    """
    from whyrec.tools.recommend.profile_summary import LLMProfileSummarizer

    return LLMProfileSummarizer(make_chat_model(settings, temperature=0)) if settings.llm_base_url else None
