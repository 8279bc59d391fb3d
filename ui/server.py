"""Serving the web app: open the store, build the page, and launch it with its queue, keys, MCP and ``/v1``.

``launch_app(settings, ...)`` is what ``whyrec demo`` / ``whyrec serve`` call; ``serve(demo, ...)`` launches an already
built app (the tests build theirs over a small store); ``train_reranker_in_background`` trains the reranker while
the page serves. The page itself is built in :mod:`ui.app`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from whyrec.store.errors import InputError, SetupError
from whyrec.ui.api import mcp_results_as_json
from whyrec.ui.api_keys import ApiKeys
from whyrec.ui.app import CSS, build_app
from whyrec.ui.chat import AgentFactory, SharedAgent, default_agent_factory
from whyrec.ui.event_queues import CONCURRENCY
from whyrec.ui.page import RERANKER_TRAINING_THREAD
from whyrec.ui.request_limits import TurnLimiter
from whyrec.ui.route_gate import let_mcp_through, route_gate

if TYPE_CHECKING:
    from whyrec.store.settings import Settings

log = logging.getLogger(__name__)

def parse_auth(auth: str | tuple[str, str] | list[tuple[str, str]] | None):
    """``"user:pass"`` (the CLI's ``--auth``) or a (user, pass) pair or a list of pairs, for ``launch(auth=...)``."""
    if auth is None or isinstance(auth, (tuple, list)):
        return auth
    name, sep, password = str(auth).partition(":")
    if not sep or not name or not password:
        raise InputError(f"--auth {auth!r} — write it as user:password")
    return (name, password)


def launch_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth: str | tuple[str, str] | None = None,
    mcp: bool = False,
    open_browser: bool = False,
    block: bool = True,
    chat_agent_factory: AgentFactory | None = None,
    fallback_chat: bool = False,
    train_if_needed: bool = False,
    openai: bool = False,
    api_keys: list[str] | tuple[str, ...] | None = None,
    insecure: bool = False,
):
    """Open the store in ``settings`` and serve the app; blocks until stopped unless ``block=False``.

    Returns ``(demo, local_url)``. ``mcp=True`` also serves the endpoints as MCP tools at
    ``<url>/gradio_api/mcp/``. The chat uses ``agent.chat.ChatAgent`` (the local model starts on the
    first message) unless ``chat_agent_factory`` is given; ``fallback_chat=True`` answers from
    templates only, never starting a model. ``train_if_needed=True`` trains the reranker in a
    background thread when none is saved yet (the recommender picks it up once saved; until then
    rankings leave it out, and serving is slower while it trains). Raises ``InputError`` for an empty store, bad ``auth`` or a missing ``mcp`` package.

    ``openai=True`` also serves ``/v1/chat/completions`` and ``/v1/models`` on the same port, over the
    same chat agent as the app (:mod:`ui.openai_endpoint`). ``api_keys`` (``KEY`` or ``KEY:USER``, added
    to ``settings.api_keys``) are then required by every route: the page (a person logs in once at
    ``/whyrec/login``), its events, the API endpoints, MCP and ``/v1`` (:mod:`ui.route_gate`). Without
    any key, serving beyond 127.0.0.1 raises ``InputError`` unless ``insecure=True`` (:mod:`ui.api_keys`).
    """
    from whyrec.store.catalog import Store
    from whyrec.ui.api_keys import require_keys_off_localhost
    from whyrec.ui.recommender_setup import open_recommender, shared_local_model

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    credentials = parse_auth(auth)
    keys = ApiKeys.parse([*settings.api_keys, *(api_keys or [])])
    if (exposure := require_keys_off_localhost(host, keys, share, insecure)) is not None:
        log.warning("%s", exposure)
    if api_keys:  # the API endpoints read the keys from the recommender's settings
        settings = settings.model_copy(update={"api_keys": [*settings.api_keys, *api_keys]})
    if mcp:
        try:
            import mcp as _mcp  # noqa: F401
        except ImportError:
            raise SetupError("--mcp needs the mcp package — pip install mcp==1.30.0 (gradio's [mcp] extra)") from None
    store = Store.open(settings)
    if store.db.stats().items == 0:
        raise InputError(f"{settings.data_dir}: the catalog is empty — run `whyrec ingest` first")
    local_model = shared_local_model(settings, fallback_only=fallback_chat or chat_agent_factory is not None)
    recommender = open_recommender(settings, store, local_model)
    # models load while the page opens; not a daemon thread, for the reason in ui/terminal_chat.py
    threading.Thread(target=recommender.warm_up, name="whyrec-warm-up").start()
    if train_if_needed and settings.rerank_top > 0:  # off by default: no 15 CPU minutes for a model that is not used
        train_reranker_in_background(store)
    factory = chat_agent_factory or default_agent_factory(recommender, settings, fallback_only=fallback_chat, server=local_model)
    if openai:  # the app and /v1 share one agent (one local model, one chat memory)
        make_agent, lock = functools.cache(factory), threading.Lock()

        def one_agent():
            with lock:
                return make_agent()

        factory = one_agent

    limiter = TurnLimiter.from_settings(settings)  # one for the page and /v1: a caller's turns count once
    demo = build_app(recommender, factory, limiter=limiter)
    endpoint = None
    if openai:
        from whyrec.ui.openai_endpoint import OpenAIEndpoint

        endpoint = OpenAIEndpoint(SharedAgent(factory), keys, limiter=limiter)
    local_url = serve(
        demo, host=host, port=port, share=share, auth=credentials, mcp=mcp, open_browser=open_browser, block=False, keys=keys,
        on_start=endpoint.mount if endpoint is not None else None,
    )
    if endpoint is not None:
        log.warning("OpenAI-compatible endpoint at %sv1 (model 'whyrec')", local_url)
    if block:
        demo.block_thread()
    return demo, local_url


def train_reranker_in_background(store) -> threading.Thread | None:
    """Start training the reranker in a daemon thread unless a trained one is saved; None when none was needed."""
    from whyrec.tools.recommend.reranker import is_trained

    if is_trained(store.settings.trained_reranker_path):
        return None

    def train() -> None:
        from whyrec.tools.training.reranker_training import train_reranker

        try:
            log.warning("no trained reranker yet: training one in the background (rankings use it once saved)")
            report = train_reranker(store, progress=False)
            log.warning("reranker trained in %.0f s and saved to %s", report.total_seconds, store.settings.trained_reranker_path)
        except Exception:
            log.exception("background reranker training failed; rankings go on without a reranker")

    thread = threading.Thread(target=train, name=RERANKER_TRAINING_THREAD, daemon=True)
    thread.start()
    return thread


def serve(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth=None,
    mcp: bool = False,
    open_browser: bool = False,
    block: bool = True,
    quiet: bool = False,
    keys: ApiKeys | None = None,
    on_start: Callable[[Any], None] | None = None,
) -> str:
    """Queue (sized for a small CPU machine) and launch a built app with the page style; returns the local URL.

    With ``keys``, :class:`ui.route_gate.RouteGate` guards every route from the first request on (MCP's own
    loopback client included, :func:`ui.route_gate.let_mcp_through`). ``on_start(app)`` runs on the server's app
    before it listens, e.g. to mount ``/v1``: mounted after ``launch`` returned, ``/v1`` answered 404 for a moment.
    """
    gate, loopback = route_gate(keys) if keys else (None, "")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    mcp_json = mcp_results_as_json(demo)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if on_start is not None:
            on_start(app)
        async with mcp_json(app):
            yield

    _, local_url, _ = demo.launch(
        app_kwargs={"lifespan": lifespan, **({"middleware": [gate]} if gate else {})},
        server_name=host,
        server_port=port,
        share=share,
        auth=parse_auth(auth),
        mcp_server=mcp,
        inbrowser=open_browser,
        prevent_thread_lock=not block,
        css=CSS,
        theme=gr.themes.Soft(),
        footer_links=["api"],
        quiet=quiet,
    )
    if gate and mcp:
        let_mcp_through(demo, loopback)
    return local_url
