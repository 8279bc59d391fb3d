"""The one chat model the agent talks to: any OpenAI-compatible endpoint, or the embedded one.

Both cases go through ``ChatOpenAI`` so the agent loop, streaming and tool calling
behave the same whether the model is hosted or runs in this process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI

if TYPE_CHECKING:
    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text, used where the model's own tokenizer is not at hand


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` by OpenAI's rule of thumb (one per four characters, rounded up): a documented estimate for
    counting usage when the model's own tokenizer cannot be asked (a hosted endpoint, or no model running)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class BudgetedChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` whose every call ends within ``seconds_per_call``: the HTTP timeout bounds the wait for a
    whole (non-streamed) answer or for each streamed piece, and a streamed answer is cut when its total time runs
    past the budget (closing the response, so llama.cpp stops writing it). The agent then answers as it does when
    the model fails: the rules' plan, or the template answer."""

    seconds_per_call: float | None = None

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        if self.seconds_per_call is None:
            yield from super()._stream(*args, **kwargs)
            return
        deadline = time.monotonic() + self.seconds_per_call
        for chunk in super()._stream(*args, **kwargs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the chat model took more than {self.seconds_per_call:g} s (WHYREC_MODEL_SECONDS_PER_TURN)")
            yield chunk


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


def make_chat_model(settings: Settings, server: LocalModelServer | None = None, **kw: Any) -> BudgetedChatOpenAI:
    """A streaming ``ChatOpenAI`` for ``settings.llm_base_url``, or for the running local ``server``.

    ``settings.llm_base_url`` wins when set (the key defaults to a placeholder, since
    self-hosted servers such as vLLM or Ollama ignore it; the local server always gets
    the placeholder, so an ``OPENAI_API_KEY`` from the environment never goes there). Otherwise ``server`` must be a
    started :class:`~agent.local_model.LocalModelServer`; starting it is the caller's
    job because it owns the model's memory and lifetime. Extra keywords go to
    ``ChatOpenAI`` (``temperature``, ``max_tokens``, ``timeout``...).

    Every call is held to ``settings.model_seconds_per_turn`` (a ``timeout`` keyword may only shorten it). The local
    server gets no retries: a retry after a timeout would spend the budget again on the same prompt.
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
    budget = settings.model_seconds_per_turn
    options: dict[str, Any] = {"streaming": True, **kw, "timeout": min(kw.get("timeout") or budget, budget)}
    if not settings.llm_base_url:
        options["max_retries"] = 0
    return BudgetedChatOpenAI(
        base_url=base_url,
        api_key=api_key,
        model=settings.llm_model,
        seconds_per_call=budget,
        **options,
    )


def profile_summarizer(settings: Settings, server: LocalModelServer | None = None):
    """The model that words interest summaries (in the background, checked claim by claim), or None (the template):
    on with an endpoint, and with the embedded local model when ``settings.model_summaries`` is on and ``server`` is
    the one the chat uses (a second llama.cpp process on the same cores would slow both; a one-shot command that
    exits at once has no chat and no use for a summary written after it)."""
    from whyrec.agent.interest_writer import InterestWriter

    if settings.llm_base_url:
        return InterestWriter(settings=settings)
    return InterestWriter(settings=settings, server=server) if settings.model_summaries and server is not None else None
