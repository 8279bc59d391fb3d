"""The cards panel's events: the filters, Recommend, the request's chips, and each card's Why? / More like this / 👍👎 / Undo.

:func:`wire_cards` binds them on a built :class:`ui.page.Page` and returns the drawer the cards' ``gr.render`` calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from whyrec.tools.understanding.titles import display_title
from whyrec.ui.cards_panel import check_years, draw_card_body, request_chips, year_filter
from whyrec.ui.event_queues import PRIVATE
from whyrec.ui.notices import guarded, need_user, shown
from whyrec.ui.page import ranking_status_text, saved_filters, with_card_feedback

if TYPE_CHECKING:
    from whyrec.ui.page import Page

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
