"""The whyrec web app: pick a user, chat, see the profile, get recommendation cards that explain themselves.

``build_app(recommender, chat_agent_factory)`` returns the ``gr.Blocks``;
``launch_app(settings, ...)`` opens the store and serves it (what ``whyrec demo`` /
``whyrec serve`` call). The page is four panels, each in its own module: the user picker
(``ui.user_picker``), the chat (``ui.chat_panel``), the profile (``ui.profile_panel``) and
the cards (``ui.cards_panel``); ``ui.page`` holds the page's parts and the steps they share, and
this module wires each panel's events (``wire_user_picker``, ``wire_cards``, ``wire_chat``).

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

import contextlib
import functools
import html
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from whyrec.store.errors import InputError, SetupError
from whyrec.tools.tool_answers import LIST_LENGTH
from whyrec.tools.understanding.titles import display_title
from whyrec.ui.api import RecommenderAPI, mcp_results_as_json
from whyrec.ui.api_keys import ApiKeys
from whyrec.ui.cards_panel import build_cards_panel, check_years, draw_card_body, request_chips, year_filter
from whyrec.ui.chat import AgentFactory, SharedAgent, ToolResults, default_agent_factory, read_by_the_model, turns_at_once, watch_tools
from whyrec.ui.chat_panel import THINKING, THINKING_JS, as_typed, build_chat_panel, waiting_text
from whyrec.ui.notices import Problem, guarded, hidden, in_user_words, need_user, shown
from whyrec.ui.page import (
    RERANKER_TRAINING_THREAD,
    Page,
    empty_session,
    ranking_setup,
    ranking_status_text,
    saved_filters,
    seen_by_the_chat,
    with_card_feedback,
)
from whyrec.ui.plots import category_colors
from whyrec.ui.profile_panel import build_profile_panel
from whyrec.ui.route_gate import let_mcp_through, route_gate, scope_events_to_key_user
from whyrec.ui.user_picker import build_user_picker, check_new_user_id, existing_user_text, unknown_user_text
from whyrec.ui.user_picker import user_choices as build_user_choices

if TYPE_CHECKING:
    from whyrec.store.settings import Settings
    from whyrec.tools.recommend.recommender import Recommender

log = logging.getLogger(__name__)

CONCURRENCY = 2  # one worker per core on the reference machine: ranking and the LLM are CPU-bound
# Gradio's limit is per event listener; one shared concurrency_id makes it a limit for all ranking work
# (cards, Why?, feedback, the API endpoints) together. The chat has its own group: its turns mostly wait
# for the model, and SharedAgent keeps their order and says who waits.
PRIVATE = {"api_visibility": "private", "concurrency_id": "ranking"}
CHAT = {"api_visibility": "private", "concurrency_id": "chat", "concurrency_limit": 8}
INSTANT = {"api_visibility": "private", "queue": False}  # small UI-only steps that must show at once
STORAGE_KEY = "whyrec-session"
FILTERS_KEY = "whyrec-filters"
MODEL_READ_KEY = "whyrec-model-read"
SHOWN_LIST_KEY = "whyrec-shown-list"
CHAT_READY = "Ask for something — e.g. *a feel-good comedy from the 90s* or *why this one?*"  # the empty chat, once a user is picked

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
    recommender: Recommender, chat_agent_factory: AgentFactory | None = None, *, title: str = "whyrec", chat_turns: int | None = None
) -> gr.Blocks:
    """The Blocks app over one shared ``Recommender``; ``chat_agent_factory()`` builds the chat agent on first use.

    ``chat_turns``: how many chat turns run at once (default: one for the embedded local model).
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
        wire_chat(page)

        for name, fn in api.endpoints().items():
            gr.api(fn, api_name=name, concurrency_id="ranking")
        # what names a user on this page, so a key scoped to one user acts and shows only for that user
        scope_events_to_key_user(demo, api.keys, {user: None, picker.box: None, picker.new_user: None, session: "user"}, (picker.box,))

    return demo


def wire_user_picker(demo: gr.Blocks, page: Page) -> None:
    """Choosing whose page this is: the picker, the unknown-id question, the new-user form, and a reload."""
    api, picker, chat, cards = page.api, page.picker, page.chat, page.cards
    user, conversation, recs, like, session = page.user, page.conversation, page.recs, page.like, page.session
    controls, card_outputs, profile_outputs_list = cards.controls, page.card_outputs, page.profile_views
    cards_for, profile_outputs, like_banner = page.cards_for, page.profile_outputs, page.like_banner
    chat_request = page.chat_request


    choices_for: dict = {}  # the picker's labels, rebuilt when the store's users or interactions change

    def user_choices() -> list[tuple[str, str]]:
        stats = api.recommender.store.db.stats()
        key = (stats.users, stats.interactions)
        if key not in choices_for:
            choices_for.clear()
            choices_for[key] = build_user_choices(api.users(), api.recommender.store.db.all_interactions(), api.recommender.items)
        return choices_for[key]

    threading.Thread(target=user_choices, name="whyrec-user-labels", daemon=True).start()  # ready before the first page asks

    def with_new(user_id: str) -> list[tuple[str, str]]:
        known = user_choices()
        return known if any(value == user_id for _, value in known) else [*known, (f"{user_id} · new user", user_id)]

    @guarded(picker.notice)
    def load_page(stored: dict | None, stored_filters: dict | None, kept_model_read: dict | None):
        """Fill the picker with every user; after a reload, bring back the user, the conversation, the chat, the request
        in force and the filters (the picker's change event then ranks the cards with them, as they were)."""
        stored = stored or empty_session()
        previous = str(stored.get("user") or "")
        out = {picker.box: gr.update(choices=with_new(previous) if previous else user_choices(), value=previous or None)}
        if previous:
            out.update({user: previous, conversation: stored.get("conversation") or uuid.uuid4().hex[:12],
                        chat.chatbot: gr.update(value=stored.get("chat") or [], placeholder=CHAT_READY),
                        chat_request: str(stored.get("request") or "")})
            if (restored := page.restored(stored_filters, kept_model_read)) is not None:
                out.update(restored[0])
        return out

    def select_user(value, current_user, current_conversation, chat_history, current_recs, current_chat_request, kept_list, *control_values):
        """A user was picked or typed: a known one loads (keeping the chat when it is the same user); an unknown id asks first.
        After a reload (the same user, no cards yet) the cards come back as they were shown (``kept_list``)."""
        value = str(value or "").strip()
        out: dict = {picker.unknown_row: gr.update(visible=False), cards.notice: hidden()}
        if not value or (value == current_user and current_recs):
            return out  # the picker was set to the user already shown (after new ratings, a restore)
        if value != current_user and value not in set(api.users()):
            try:
                check_new_user_id(value)
            except Problem as problem:  # no offer to start a user under an id that breaks the rule
                out[picker.unknown] = str(problem)
                out[picker.start_new] = gr.update(visible=False)
            else:
                out[picker.unknown] = unknown_user_text(html.escape(value))
                out[picker.start_new] = gr.update(visible=True)
            out[picker.unknown_row] = gr.update(visible=True)
            return out
        kept_list = kept_list if value == current_user else None
        return {**out, **use_user(value, current_user, current_conversation, chat_history, control_values, current_chat_request, kept_list)}

    def use_user(value, current_user, current_conversation, chat_history, control_values, current_chat_request="", kept_list=None) -> dict:
        same = value == current_user and current_conversation
        conversation_id = current_conversation if same else uuid.uuid4().hex[:12]
        history = list(chat_history or []) if same else []
        in_force = str(current_chat_request or "") if same else ""  # a new conversation has no request of its own yet
        out = {user: value, conversation: conversation_id, chat.chatbot: gr.update(value=history, placeholder=CHAT_READY), like: None,
               **like_banner(None), picker.notice: hidden(), chat_request: in_force,
               session: {"user": value, "conversation": conversation_id, "chat": history, "request": in_force},
               **page.undo_update(None)}
        if not same:
            out[page.card_feedback] = []
        try:
            out.update(page.kept_cards(value, str(control_values[-1] or ""), kept_list) or cards_for(value, None, control_values))
            out.update(profile_outputs(value))
        except Exception as e:
            out[cards.notice] = shown(in_user_words(e, "select_user"))
        return out

    def start_new_user(value, current_user, current_conversation, chat_history, started, *control_values):
        out = {picker.unknown_row: gr.update(visible=False)}
        try:
            value = check_new_user_id(value)
        except Problem as problem:
            return {picker.unknown: str(problem), picker.unknown_row: gr.update(visible=True), picker.start_new: gr.update(visible=False)}
        if value in set(api.users()):
            return {picker.unknown: existing_user_text(value), picker.unknown_row: gr.update(visible=True), picker.start_new: gr.update(visible=False)}
        out.update(use_user(value, current_user, current_conversation, chat_history, control_values))
        out.update({picker.box: gr.update(choices=with_new(value), value=value), picker.accordion: gr.Accordion(open=True),
                    picker.new_user: value, picker.started: [*(started or []), value]})
        return out

    def cancel_new_user(current_user):
        return {picker.unknown_row: gr.update(visible=False), picker.box: gr.update(value=current_user or None)}

    @guarded(picker.notice)
    def search_catalog(text):
        if not str(text or "").strip():
            raise Problem("Type a title or a topic to search for, e.g. space adventure.")
        hits = api.search(text, k=12)
        return {picker.found: gr.update(choices=[(f"{h['title']} ({h['year']})" if h.get("year") else h["title"], h["item_id"]) for h in hits], value=[])}

    @guarded(picker.notice)
    def add_ratings(new_id, picked, stars, current_user, current_conversation, chat_history, started, *control_values):
        if not str(new_id or "").strip():
            raise Problem("Type an id for the new user first (e.g. alice), then add the ratings.")
        new_id = check_new_user_id(new_id)
        if new_id in set(api.users()) and new_id not in (started or []):  # ratings are never added to someone else's history
            raise Problem(existing_user_text(new_id))
        if not picked:
            raise Problem("Pick at least one item to rate — search the catalog above first.")
        n = api.rate(new_id, {item_id: float(stars) for item_id in picked})
        gr.Info(f"Added {n} rating{'s' if n != 1 else ''} for user {new_id}")
        out = use_user(new_id, current_user, current_conversation, chat_history, control_values)
        out.update({picker.box: gr.update(choices=with_new(new_id), value=new_id), picker.found: gr.update(value=[]),
                    picker.started: list(dict.fromkeys([*(started or []), new_id]))})
        return out

    # --- wiring
    user_outputs = [user, conversation, chat.chatbot, like, cards.like_text, cards.clear_like, session, picker.notice, *card_outputs, *profile_outputs_list,
                    cards.last_feedback, cards.undo_text, cards.undo, chat_request, page.card_feedback]
    demo.load(
        load_page, [session, page.saved, page.model_read],
        [picker.box, picker.notice, user, conversation, chat.chatbot, chat_request, *controls, page.request_shown, page.saved, cards.chips, page.model_read],
        **PRIVATE,
    )
    picker.box.change(
        select_user, [picker.box, user, conversation, chat.chatbot, recs, chat_request, page.shown_list, *controls],
        [*user_outputs, picker.unknown, picker.unknown_row, picker.start_new], **PRIVATE,
    )
    picker.start_new.click(
        start_new_user, [picker.box, user, conversation, chat.chatbot, picker.started, *controls],
        [*user_outputs, picker.unknown, picker.unknown_row, picker.start_new, picker.box, picker.accordion, picker.new_user, picker.started], **PRIVATE,
    )
    picker.cancel_new.click(cancel_new_user, [user], [picker.unknown_row, picker.box], **INSTANT)
    picker.search_button.click(search_catalog, [picker.search_text], [picker.found, picker.notice], **PRIVATE)
    picker.search_text.submit(search_catalog, [picker.search_text], [picker.found, picker.notice], **PRIVATE)
    picker.rate_button.click(
        add_ratings, [picker.new_user, picker.found, picker.rating, user, conversation, chat.chatbot, picker.started, *controls],
        [*user_outputs, picker.box, picker.found, picker.started], **PRIVATE,
    )


def wire_cards(page: Page) -> Callable[[dict, dict | None], None]:
    """The filters and the cards' buttons; returns ``draw(rec, explanation)`` for the cards' ``gr.render``."""
    api, recommender, cards = page.api, page.recommender, page.cards
    user, recs, explanations, like = page.user, page.recs, page.explanations, page.like
    controls, card_outputs, profile_outputs_list = cards.controls, page.card_outputs, page.profile_views
    cards_for, profile_outputs, like_banner = page.cards_for, page.profile_outputs, page.like_banner
    year_lo, year_hi = page.years
    timer = page.timer
    undo_outputs = [cards.last_feedback, cards.undo_text, cards.undo]
    request_outputs = page.request_outputs


    @guarded(cards.notice)
    def refresh_cards(user_value, like_value, shown_request, *control_values):
        """Recommend, Enter in the box, or a filter moved: a request typed in the box is put in force first (its
        chips, and the filters it speaks about), so the list is the one the request and the filters ask for."""
        out: dict = {page.saved: saved_filters(control_values)}
        request = str(control_values[-1] or "").strip()
        changed = request != str(shown_request or "")
        if changed:
            followed, control_values = page.follow_request(request, str(shown_request or ""), control_values)
            out.update(followed)
        if not user_value:
            check_years(control_values[3], control_values[4])  # a filter's own problem first, user or not
            return {**out, cards.notice: shown("Pick a user first — choose one in the User box at the top, or start a new user.")}
        if changed:
            return page.cards_in_force(user_value, like_value, out, control_values)
        return {**out, **cards_for(user_value, like_value, control_values)}

    @guarded(cards.notice)
    def drop_chips(kept, model_read, user_value, like_value, shown_request, *control_values):
        """A chip was clicked: the request without that constraint goes into the box, the filters follow, the list is ranked
        again; the chat's next turn reads the request from the box. The chips the model read stay marked."""
        shown_request = str(shown_request or "")
        removed = [key for _, key in request_chips(page.parse(shown_request)) if key not in set(kept or [])]
        if not removed:
            return page.chips_update(shown_request, page.model_names(model_read, shown_request))
        new = page.request_without(shown_request, removed)
        out, control_values = page.follow_request(new, shown_request, control_values, read_by_model=page.read_by_model(new, shown_request, model_read))
        return page.cards_in_force(user_value, like_value, out, control_values) if user_value else out

    @guarded(cards.notice)
    def toggle_why(item_id, user_value, open_explanations, k_value, diversity_value, cats, y0, y1, exclude, request_value):
        user_value = need_user(user_value)
        check_years(y0, y1)
        shown_now = dict(open_explanations or {})
        if item_id in shown_now:
            shown_now.pop(item_id)
        else:
            shown_now[item_id] = api.explain(
                user_value, item_id, request=request_value or "", k=int(k_value), categories=cats or None,
                year_min=year_filter(y0, year_lo), year_max=year_filter(y1, year_hi), diversity=float(diversity_value), exclude_seen=bool(exclude),
            )
        return {explanations: shown_now}

    @guarded(cards.notice)
    def more_like(item_id, user_value, *control_values):
        user_value = need_user(user_value)
        liked = {"item_id": item_id, "title": display_title(recommender.item(item_id).title)}
        return {**cards_for(user_value, liked, control_values), like: liked, **like_banner(liked)}

    @guarded(cards.notice)
    def give_feedback(item_id, kind, user_value, like_value, given, *control_values):
        """A card's 👍/👎: stored, the cards and the profile follow, and the chat hears of it ("more like that" next)."""
        user_value = need_user(user_value)
        result = api.feedback(user_value, item_id, kind)
        title = result["recorded"]["title"]
        gr.Info(f"Recorded: {kind.replace('_', ' ')} — '{title}'")
        last = {"user_id": user_value, "item_id": item_id, "kind": kind, "title": title}
        return {**cards_for(user_value, like_value, control_values), **profile_outputs(user_value, result["profile"]), **page.undo_update(last),
                page.card_feedback: with_card_feedback(given, item_id, kind, title)}

    @guarded(cards.notice)
    def undo_feedback(last, user_value, like_value, given, *control_values):
        """Take back the feedback just given (the row goes from the store): the item and the profile are as before it."""
        user_value = need_user(user_value)
        if not last or last.get("user_id") != user_value:
            return page.undo_update(None)
        removed = recommender.store.db.remove_feedback(user_value, last["item_id"], last["kind"])
        if removed is not None:
            gr.Info(f"Undone: {last['kind'].replace('_', ' ')} — '{last['title']}'")
        return {**cards_for(user_value, like_value, control_values), **profile_outputs(user_value), **page.undo_update(None),
                page.card_feedback: with_card_feedback(given, last["item_id"], None)}

    @guarded(cards.notice)
    def clear_more_like(user_value, *control_values):
        out = cards_for(user_value, None, control_values) if user_value else {recs: [], explanations: {}}
        return {**out, like: None, **like_banner(None)}

    def tick_ranking_status():
        text = ranking_status_text(recommender)
        return {cards.ranking_status: text, timer: gr.Timer(active=recommender.reranker is None)}

    def draw(rec: dict, explanation: dict | None) -> None:
        item_id = rec["item_id"]
        why, more, feedback = draw_card_body(rec, explanation is not None)
        why.click(functools.partial(toggle_why, item_id), [user, explanations, *controls], [explanations, cards.notice], **PRIVATE)
        more.click(functools.partial(more_like, item_id), [user, *controls], [*card_outputs, like, cards.like_text, cards.clear_like], **PRIVATE)
        for button, kind in feedback:
            button.click(
                functools.partial(give_feedback, item_id, kind), [user, like, page.card_feedback, *controls],
                [*card_outputs, *profile_outputs_list, *undo_outputs, page.card_feedback], **PRIVATE,
            )

    # --- wiring
    # the categories re-rank on .input (a person's choice), not .change: a chat list or a reload sets them with its own cards
    for trigger in (cards.refresh.click, cards.request.submit, cards.categories.input, cards.exclude_seen.input, cards.k.release,
                    cards.diversity.release, cards.year_min.release, cards.year_max.release):
        trigger(refresh_cards, [user, like, page.request_shown, *controls], [*card_outputs, *request_outputs], **PRIVATE)
    cards.chips.input(drop_chips, [cards.chips, page.model_read, user, like, page.request_shown, *controls], [*card_outputs, *request_outputs], **PRIVATE)
    cards.clear_like.click(clear_more_like, [user, *controls], [*card_outputs, like, cards.like_text, cards.clear_like], **PRIVATE)
    cards.undo.click(
        undo_feedback, [cards.last_feedback, user, like, page.card_feedback, *controls],
        [*card_outputs, *profile_outputs_list, *undo_outputs, page.card_feedback], **PRIVATE,
    )
    timer.tick(tick_ranking_status, None, [cards.ranking_status, timer], **PRIVATE)
    return draw


def wire_chat(page: Page) -> None:
    """A chat turn: shown at once, then its place in line, the streamed answer, and the tool's cards when they exist."""
    chat, cards = page.chat, page.cards
    user, conversation, recs, explanations, like, session = page.user, page.conversation, page.recs, page.explanations, page.like, page.session
    controls, profile_outputs_list = cards.controls, page.profile_views
    cards_for, profile_outputs = page.cards_for, page.profile_outputs
    agent = page.agent
    chat_request = page.chat_request


    def start_turn(message, history, user_value):
        """Instant: show the message as typed and a thinking bubble; with no user, keep the text and say what to do."""
        message = (message or "").strip()
        if not message:
            return {chat.pending: None, chat.status: ""}
        if not user_value:
            notice = shown("Pick a user first (the User box at the top) — your message is kept, press Send again after.")
            return {chat.pending: None, chat.status: "", chat.notice: notice}
        history = [*(history or []), {"role": "user", "content": as_typed(message)}, {"role": "assistant", "content": THINKING}]
        return {chat.pending: message, chat.text: "", chat.chatbot: history, chat.notice: hidden(), chat.status: ""}

    def chat_cards(user_id: str, items: list[dict], arguments: dict, shown_request: str, model_read: dict | None, control_values: tuple) -> dict:
        """The chat's recommend result as the cards, with its request in the box and its chips, and the filters set to
        what that request was understood to ask for (years; the categories of a single ask) where the list meets it,
        so the page stays consistent: Why?, feedback and Recommend then rank with the same request and filters.
        The chips the model read before keep their mark; those it read this turn get it when the turn ends (:func:`read_by_the_model`)."""
        k_value, diversity_value, *_ = control_values
        request = str(arguments.get("request") or "")
        carried = page.read_by_model(request, shown_request, model_read)
        out, values = page.follow_request(request, shown_request, control_values, asked=arguments, read_by_model=carried)
        out.update(page.mirror(items, values)[0])
        out.update({
            recs: page.with_marks(user_id, items), explanations: {}, cards.status: page.status_line(user_id, items, " — from the chat"),
            chat_request: request, page.shown_list: page.list_kept(user_id, request, None, items, from_chat=True),
        })
        asked_k = int(arguments.get("k") or LIST_LENGTH)  # what the chat asked for: fewer may have matched, and a dropped chip finds more
        if items and int(k_value) != asked_k:
            out[cards.k] = asked_k
        if arguments.get("diversity") is not None and float(arguments["diversity"]) != float(diversity_value):
            out[cards.diversity] = float(arguments["diversity"])
        values = (out.get(cards.k, k_value), out.get(cards.diversity, diversity_value), out[cards.categories], out[cards.year_min],
                  out[cards.year_max], control_values[5], request)
        out[page.saved] = saved_filters(values)
        return out

    def needs_line(user_value: str, conversation_id: str, message: str, on_screen: list[dict]) -> bool:
        """Whether this turn may call the model, and so waits in the line for it; a turn the rules decide runs at once."""
        chat_agent = agent.get()
        if chat_agent is None:
            return False  # no agent: the turn only says so
        if not hasattr(chat_agent, "needs_model"):
            return True
        try:
            return bool(chat_agent.needs_model(user_value, conversation_id, message, on_screen))
        except Exception:  # the turn itself says what went wrong, in its place in line
            log.exception("needs_model failed; the turn waits for the model")
            return True

    def run_turn(message, history, user_value, conversation_id, like_value, cards_value, in_force, shown_request, model_read, given,
                 *control_values):
        """Wait for the model when the turn may need it (saying how many are ahead), stream the answer, show the tool's
        cards the moment they exist. The cards on screen are what "the second one" points into; the request in the box,
        when the person changed it (a dropped chip, typed text), is the request in force for this turn."""
        if not message or not user_value:
            yield {chat.chatbot: gr.skip()}  # a generator that yields nothing would blank every output
            return
        history = list(history or [])
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        in_force, shown_request = str(in_force or ""), str(shown_request or "")
        box = str(control_values[-1] or "").strip()
        edited = box if box != in_force else None  # None: the conversation's own request (and its "more" list) stands

        def bubble(text: str) -> None:
            history[-1] = {"role": "assistant", "content": text}

        def saved_session(request: str) -> dict:
            return {"user": user_value, "conversation": conversation_id, "chat": history, "request": request}

        on_screen = [{"item_id": str(r["item_id"]), "title": r.get("title", "")} for r in cards_value or [] if isinstance(r, dict) and "item_id" in r]
        key = (user_value, conversation_id)
        agent.enter_conversation(key)  # this conversation's previous turn first, model or not
        try:
            waits = needs_line(user_value, conversation_id, message, on_screen)
            if waits:
                for ahead in agent.wait_turn():
                    bubble(waiting_text(ahead))
                    yield {chat.chatbot: history}
            try:
                yield from answer_turn(message, history, user_value, conversation_id, like_value, on_screen, edited, in_force, shown_request,
                                       model_read, given, control_values, bubble, saved_session)
            finally:
                if waits:
                    agent.end_turn()
        finally:
            agent.leave_conversation(key)

    def answer_turn(message, history, user_value, conversation_id, like_value, on_screen, edited, in_force, shown_request, model_read,
                    given, control_values, bubble, saved_session):
        """The turn once it may run: the streamed answer, and the tool's cards the moment they exist. Feedback given on
        the cards goes to the chat (``given``), and feedback given in the chat shows on the cards, with its Undo."""
        try:
            bubble(THINKING)
            yield {chat.chatbot: history, conversation: conversation_id}
            results = ToolResults()
            # "why the second one?" means the cards, "more like that" after a card's 👎 that card
            stream = agent.stream(user_value, conversation_id, message, on_screen, request=edited, feedback=given or None)
            answer, cards_shown, request_now = "", False, in_force
            for chunk in watch_tools(stream, results):
                answer += str(chunk)
                bubble(answer or THINKING)
                # saved with every chunk, so a reload right after the answer shows keeps it
                update = {chat.chatbot: history}
                call = results.recommend_call() if not cards_shown else None
                if call is not None:
                    cards_shown, request_now = True, str(call[1].get("request") or "")
                    update.update(chat_cards(user_value, *call, shown_request, model_read, control_values))
                update[session] = saved_session(request_now)
                yield update
            call = results.recommend_call() if not cards_shown else None
            end: dict = {chat.chatbot: history}
            if call is not None:
                cards_shown, request_now = True, str(call[1].get("request") or "")
                end.update(chat_cards(user_value, *call, shown_request, model_read, control_values))
            end[session] = saved_session(request_now)
            end[page.card_feedback] = seen_by_the_chat(given)
            if (recorded := results.feedback_recorded()) is not None:  # "I didn't like X": X's card says so, with Undo
                end.update(page.undo_update({"user_id": user_value, **recorded}))
            reply = getattr(stream, "reply", None)
            if cards_shown and read_by_the_model(reply):  # the chips the model read into this message get their mark
                end.update(page.chips_update(request_now, page.read_by_model(request_now, shown_request, model_read, message)))
            if "record_feedback" in (getattr(reply, "tools_called", None) or []):
                end.update(profile_outputs(user_value))
                if not cards_shown:
                    end.update(cards_for(user_value, like_value, control_values))
            yield end
        except Exception as e:
            bubble(f"_Sorry — I could not answer that: {html.escape(in_user_words(e, 'chat'))}_")
            yield {chat.chatbot: history, session: saved_session(in_force)}

    def clear_chat(user_value):
        """🗑 starts a new conversation: no request, list or feedback of the old one carries into the next message."""
        return {conversation: "", chat_request: "", session: {"user": user_value, "conversation": "", "chat": [], "request": ""},
                page.card_feedback: []}

    @guarded(cards.notice)
    def drop_request(user_value, like_value, shown_request, *control_values):
        """After 🗑: the old conversation's request leaves the box, the chips and the filters it set, and the cards."""
        out, control_values = page.follow_request("", str(shown_request or ""), control_values)
        if not user_value or not str(shown_request or ""):
            return out
        return page.cards_in_force(user_value, like_value, out, control_values)

    # --- wiring
    request_outputs = page.request_outputs
    chat.chatbot.clear(clear_chat, [user], [conversation, chat_request, session, page.card_feedback], **INSTANT).then(
        drop_request, [user, like, page.request_shown, *controls], [*page.card_outputs, *request_outputs], **PRIVATE,
    )
    for trigger in (chat.text.submit, chat.send.click):
        trigger(None, [chat.text], [chat.status], js=THINKING_JS, api_visibility="private").then(
            start_turn, [chat.text, chat.chatbot, user], [chat.pending, chat.text, chat.chatbot, chat.notice, chat.status], **INSTANT
        ).then(
            run_turn,
            [chat.pending, chat.chatbot, user, conversation, like, recs, chat_request, page.request_shown, page.model_read, page.card_feedback, *controls],
            [chat.chatbot, conversation, session, recs, explanations, cards.status, cards.notice, cards.ranking_status, page.shown_list,
             *profile_outputs_list, cards.k, cards.diversity, chat_request, *request_outputs, page.card_feedback,
             cards.last_feedback, cards.undo_text, cards.undo],
            show_progress="hidden", **CHAT,
        )


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
    from whyrec.ui.recommender_setup import open_recommender

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
    recommender = open_recommender(settings, store)
    # models load while the page opens; not a daemon thread, for the reason in ui/terminal_chat.py
    threading.Thread(target=recommender.warm_up, name="whyrec-warm-up").start()
    if train_if_needed and settings.rerank_top > 0:  # off by default: no 15 CPU minutes for a model that is not used
        train_reranker_in_background(store)
    factory = chat_agent_factory or default_agent_factory(recommender, settings, fallback_only=fallback_chat)
    if openai:  # the app and /v1 share one agent (one local model, one chat memory)
        make_agent, lock = functools.cache(factory), threading.Lock()

        def one_agent():
            with lock:
                return make_agent()

        factory = one_agent

    demo = build_app(recommender, factory)
    endpoint = None
    if openai:
        from whyrec.ui.openai_endpoint import OpenAIEndpoint
        from whyrec.ui.request_limits import TurnLimiter

        endpoint = OpenAIEndpoint(SharedAgent(factory), keys, limiter=TurnLimiter.from_settings(settings))
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
