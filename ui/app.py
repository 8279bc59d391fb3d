"""The whyrec web page: pick a user, chat, see the profile, get recommendation cards that explain themselves.

``build_app(recommender, chat_agent_factory)`` builds the ``gr.Blocks``: its per-session state, its four panels and
their events. Each panel is built in its own module (the user picker ``ui.user_picker``, the chat ``ui.chat_panel``,
the profile ``ui.profile_panel``, the cards ``ui.cards_panel``) and its events are wired in another
(``ui.picker_events``, ``ui.chat_events``, ``ui.card_events``); ``ui.page`` holds the page's parts and the steps
they share. Serving it (the store, the queue, keys, MCP, ``/v1``) is :mod:`ui.server`'s job.

Every per-person value (the user, the conversation id, the cards on screen, the open
explanations, the request in force) lives in ``gr.State``, so browser sessions never share anything but the
stores; the user, the conversation id, the chat, the request in force and the filters are also kept in the browser
(``gr.BrowserState``) so a reload picks up where it was, with the same cards. The chat and the filter panel
agree: a chat list puts its request in the "In the mood for…" box, its chips and the filters (``Page.follow_request``),
and the chat's next turn reads the request from the box when the person changed it there. Handlers never raise to Gradio: a
problem is a one-line notice next to its control (``ui.notices``) and every widget stays.
The named API endpoints / MCP tools are the functions of :class:`ui.api.RecommenderAPI`;
every UI event is private.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from whyrec.ui.api import RecommenderAPI
from whyrec.ui.card_events import wire_cards
from whyrec.ui.cards_panel import build_cards_panel
from whyrec.ui.chat import AgentFactory, SharedAgent, turns_at_once
from whyrec.ui.chat_events import wire_chat
from whyrec.ui.chat_panel import build_chat_panel
from whyrec.ui.page import Page, empty_session, ranking_setup, ranking_status_text
from whyrec.ui.picker_events import wire_user_picker
from whyrec.ui.plots import category_colors
from whyrec.ui.profile_panel import build_profile_panel
from whyrec.ui.request_limits import TurnLimiter
from whyrec.ui.route_gate import scope_events_to_key_user
from whyrec.ui.user_picker import build_user_picker

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender

log = logging.getLogger(__name__)

STORAGE_KEY = "whyrec-session"
FILTERS_KEY = "whyrec-filters"
MODEL_READ_KEY = "whyrec-model-read"
SHOWN_LIST_KEY = "whyrec-shown-list"

CSS = """
.rec-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px !important; }
.rec-card .card-head h4 { margin: 0 0 2px 0; }
.card-meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
.card-story { font-style: italic; font-size: 0.92em; display: block; margin: 0.2em 0; }
.why-box { background: var(--background-fill-secondary); border-radius: 8px; padding: 6px 12px !important; font-size: 0.92em; }
.rec-card button { min-width: 0 !important; }
.card-seen { font-size: 0.85em; font-weight: 600; color: var(--body-text-color); background: var(--background-fill-secondary);
  border-radius: 6px; padding: 0 6px; }
#request-chips .wrap { gap: 4px 6px; }
#request-chips label { border-radius: 999px; padding: 1px 10px; font-size: 0.88em; cursor: pointer; }
#request-chips input[type=checkbox] { display: none; }
.notice { color: var(--error-text-color, #b91c1c); font-size: 0.92em; }
.notice p { margin: 2px 0; }
#profile-summary p { margin: 4px 0; }
.plot-legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 0.85em; margin: -4px 0 6px 0; }
.legend-entry { display: inline-flex; align-items: center; gap: 4px; }
.legend-swatch { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
.profile-plot { min-width: 0 !important; }
#ranking-status p, #reordered-note p { margin: 0; color: var(--body-text-color-subdued); font-size: 0.9em; }
"""


# --- the app ----------------------------------------------------------------------


def build_app(
    recommender: Recommender,
    chat_agent_factory: AgentFactory | None = None,
    *,
    title: str = "whyrec",
    chat_turns: int | None = None,
    limiter: TurnLimiter | None = None,
) -> gr.Blocks:
    """The Blocks app over one shared ``Recommender``; ``chat_agent_factory()`` builds the chat agent on first use.

    ``chat_turns``: how many chat turns run at once (default: one for the embedded local model). ``limiter``: what a
    chat turn may cost (default: the recommender's settings); pass the one ``/v1`` uses so a caller's turns count once.
    """
    api = RecommenderAPI(recommender)
    agent = SharedAgent(chat_agent_factory, chat_turns or turns_at_once(recommender.settings))
    categories = api.categories()
    year_lo, year_hi = api.year_range()
    colors = category_colors(categories)
    window = recommender.settings.short_term_window
    log.info("%s", ranking_setup(recommender))  # for whoever runs the server; the page says only what a viewer can use

    with gr.Blocks(title=title, analytics_enabled=False, fill_width=True) as demo:
        user = gr.State("")
        conversation = gr.State("")
        recs = gr.State([])
        explanations = gr.State({})
        like = gr.State(None)
        session = gr.BrowserState(empty_session(), storage_key=STORAGE_KEY)
        request_shown = gr.State("")
        chat_request = gr.State("")
        saved = gr.BrowserState({}, storage_key=FILTERS_KEY)
        model_read = gr.BrowserState({}, storage_key=MODEL_READ_KEY)
        shown_list = gr.BrowserState({}, storage_key=SHOWN_LIST_KEY)
        card_feedback = gr.State([])

        gr.Markdown(f"## {title} — recommendations that explain themselves")
        picker = build_user_picker()
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chat = build_chat_panel()
            with gr.Column(scale=4):
                profile = build_profile_panel(colors, window)

        # the cards draw their buttons inside gr.render, so their handlers are wired below and looked up late
        card_drawer: list[Callable[[dict, dict | None], None]] = []
        cards = build_cards_panel(
            categories, (year_lo, year_hi), recommender.settings.diversity, recs, explanations,
            lambda rec, explanation: card_drawer[0](rec, explanation), ranking_status_text(recommender),
        )
        timer = gr.Timer(20, active=recommender.reranker is None)  # the reranker status line, while none is trained

        page = Page(api, recommender, agent, picker, chat, profile, cards, (year_lo, year_hi),
                    user, conversation, recs, explanations, like, session, timer, request_shown, chat_request, saved, model_read, shown_list, card_feedback)
        wire_user_picker(demo, page)
        card_drawer.append(wire_cards(page))
        wire_chat(page, limiter or TurnLimiter.from_settings(recommender.settings))

        for name, fn in api.endpoints().items():
            gr.api(fn, api_name=name, concurrency_id="ranking")
        # what names a user on this page, so a key scoped to one user acts and shows only for that user
        scope_events_to_key_user(demo, api.keys, {user: None, picker.box: None, picker.new_user: None, session: "user"}, (picker.box,))

    return demo
