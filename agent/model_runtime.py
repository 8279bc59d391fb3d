"""The chat's language model at run time: which one answers, starting it, its mode, its budgets, stopping it.

:class:`ModelRuntime` holds the model a :class:`agent.chat.ChatAgent` answers with: a given LangChain chat model, an
OpenAI-compatible endpoint (``settings.llm_base_url``) or the embedded llama.cpp model, started on first use (or by
:meth:`ModelRuntime.start_model`) and stopped by :meth:`ModelRuntime.close`. When none can run, ``unavailable``
says why and the turns answer from templates. It also settles ``auto`` mode (one probe of an endpoint), counts
tokens with the embedded model's tokenizer, and has that model read the prompt start every turn shares.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from whyrec.agent.planning import plan_messages
from whyrec.agent.prompts import SYSTEM_PROMPT

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from whyrec.agent.local_model import LocalModelServer
    from whyrec.store.settings import Settings

logger = logging.getLogger(__name__)

Mode = Literal["plan", "react", "probe"]


class NoModel(BaseChatModel):
    """Stands in when no model can run: the graph still owns the chat memory, the fallback answers."""

    @property
    def _llm_type(self) -> str:
        return "unavailable"

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no chat model is available")

    def bind_tools(self, tools: Any, **kwargs: Any) -> NoModel:  # type: ignore[override]
        return self


class ModelRuntime:
    """The one model of a chat agent, started once from any thread, with the budgets every call gets.

    ``mode`` is ``plan``, ``react`` or, for an endpoint under ``auto``, ``probe`` until :meth:`settle_mode` asks it.
    """

    def __init__(
        self,
        settings: Settings,
        model: BaseChatModel | None,
        server: LocalModelServer | None,
        mode: Literal["plan", "react", "auto"],
        *,
        max_tokens: int,
        temperature: float,
        request_timeout: float,
        fallback_only: bool,
        on_status: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.mode: Mode = ("react" if model is not None else "probe" if settings.llm_base_url else "plan") if mode == "auto" else mode
        self.model = model
        self.server = server
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.request_timeout = request_timeout
        self.fallback_only = fallback_only
        self.on_status = on_status
        self.unavailable: str | None = "fallback only" if fallback_only else None
        self._owns_server = False
        self._model_lock = threading.Lock()
        self._mode_lock = threading.Lock()

    @property
    def location(self) -> str:
        """Where answers come from, in words: for the terminal and the UI."""
        if self.model is not None and not isinstance(self.model, NoModel):
            base = getattr(self.model, "openai_api_base", None)
            if self.server is not None and self.server.running:
                return f"local model {self.settings.llm_model} (llama.cpp in this process, {self.server.base_url})"
            return f"model {getattr(self.model, 'model_name', type(self.model).__name__)} at {base}" if base else f"model {type(self.model).__name__}"
        if self.unavailable:
            return f"no language model ({self.unavailable}); answers come from templates"
        if self.settings.llm_base_url:
            return f"model {self.settings.llm_model} at {self.settings.llm_base_url}"
        return f"local model {self.settings.llm_model} (starts on the first message)"

    def chat_model(self) -> BaseChatModel | None:
        """The model, starting the local one when needed; None (and ``unavailable`` says why) if none can run."""
        with self._model_lock:  # a background start() and a first turn must not start two servers
            return self._start_model()

    def _start_model(self) -> BaseChatModel | None:
        if self.model is not None or self.unavailable:
            return self.model
        from whyrec.agent.chat_model import make_chat_model

        options = {"max_tokens": self.max_tokens, "temperature": self.temperature, "timeout": self.request_timeout, "max_retries": 1}
        try:
            if not self.settings.llm_base_url and self.server is None:
                from whyrec.agent.local_model import LocalModelServer

                self.on_status("Starting the local model (the first time this takes a minute)…")
                started = time.perf_counter()
                self.server = LocalModelServer.from_settings(self.settings, progress=False).start()
                self._owns_server = True
                self.on_status(f"Local model ready in {time.perf_counter() - started:.0f} s.")
            elif self.server is not None and not self.server.running:
                self.server.start()
            self.model = make_chat_model(self.settings, server=self.server, **options)
        except Exception as err:  # no package, no memory, port trouble...: answer without a model
            self.unavailable = f"{type(err).__name__}: {err}".split("\n")[0]
            logger.warning("no chat model can run, using the template fallback: %s", self.unavailable)
        return self.model

    def settle_mode(self) -> Mode:
        """For an endpoint under ``auto``: probe once whether it calls tools natively (react) or not (plan)."""
        if self.mode != "probe":
            return self.mode
        from whyrec.agent.chat_model import calls_tools_natively

        with self._mode_lock:
            if self.mode == "probe":
                model = self.chat_model()
                native = model is not None and calls_tools_natively(model)
                self.mode = "react" if native else "plan"
                self.on_status(f"The model {'calls tools natively' if native else 'does not call tools natively'}: {self.mode} mode.")
        return self.mode

    def serves_locally(self) -> bool:
        """Whether the model is the embedded llama.cpp server (``settings.llm_base_url`` wins over a server)."""
        return self.server is not None and self.server.running and not self.settings.llm_base_url

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``: by the embedded model's own tokenizer while it runs, else estimated (for ``usage``)."""
        from whyrec.agent.chat_model import estimate_tokens

        if self.serves_locally():
            try:
                return self.server.count_tokens(text)  # type: ignore[union-attr]
            except Exception as err:  # a count is worth an estimate, never a failed turn
                logger.info("could not count tokens with the local model: %s", err)
        return estimate_tokens(text)

    def prefill_prompt_cache(self, tools: Sequence[BaseTool]) -> None:
        """Send the embedded model this mode's fixed prompt start once (one token back): llama.cpp keeps it in its
        prompt cache, and every later prompt that starts the same way reads only what follows.

        The start is what a turn sends first: the plan prompt (plan mode), or the system prompt and the five tool
        schemas (react mode). benchmarks/llm_settings.py measured what it saves on 2 shared cores: the first react
        call on a fresh server read all 1,026 prompt tokens (28-48 s to its first token), one after a cached start
        read 9 (under 1 s); a plan call read 108 tokens against 14. A hosted endpoint is left alone: it caches on
        its own terms.
        """
        if self.model is None or not self.serves_locally():
            return
        try:
            if self.mode == "plan":
                self.model.bind(max_tokens=1).invoke(plan_messages("hi", []))
            else:
                self.model.bind_tools(tools, max_tokens=1).invoke([SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content="hi")])
        except Exception as err:  # a cold cache only costs time on the first turn
            logger.info("could not prefill the local model's prompt cache: %s", err)

    def close(self) -> None:
        """Stop the local model this runtime started."""
        if self._owns_server and self.server is not None:
            self.server.stop()
