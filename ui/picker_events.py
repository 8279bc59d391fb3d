"""The user picker's events: choosing whose page this is, the unknown-id question, the new-user form, and a reload.

:func:`wire_user_picker` binds them on a built :class:`ui.page.Page`; ``ui.app.build_app`` calls it.
"""

from __future__ import annotations

import html
import threading
import uuid
from typing import TYPE_CHECKING

import gradio as gr

from whyrec.ui.event_queues import INSTANT, PRIVATE
from whyrec.ui.notices import Problem, guarded, hidden, in_user_words, shown
from whyrec.ui.page import empty_session
from whyrec.ui.user_picker import check_new_user_id, existing_user_text, unknown_user_text
from whyrec.ui.user_picker import user_choices as build_user_choices

if TYPE_CHECKING:
    from whyrec.ui.page import Page

CHAT_READY = "Ask for something — e.g. *a feel-good comedy from the 90s* or *why this one?*"  # the empty chat, once a user is picked


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
