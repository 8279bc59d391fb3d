"""One browser page's parts and the steps every panel's events share (rank the cards, draw the profile).

:class:`Page` holds the panels, the per-session ``gr.State`` values and the shared services;
``ui.picker_events``, ``ui.card_events`` and ``ui.chat_events`` wire each panel's events from it. Every helper returns ``{component: value}``.

The request in force is one text, the "In the mood for…" box; the chips under it, the year sliders and the
category filter are drawn from how the recommender reads it (:meth:`Page.follow_request`), whoever changed it:
the chat, a removed chip, the person typing, the 🗑 of a new chat. The chips also say which constraints the chat's
model read into the person's words (``model_read``, :meth:`Page.read_by_model`). The browser keeps the request, the
filters (``saved``), that mark and the cards as shown (``shown_list``: a chat's "more" page is not the plain list),
so a reload shows the same cards, filters and chips as before.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from whyrec.store.errors import InputError
from whyrec.tools.understanding.structured import ModelRequest, english_request
from whyrec.ui.api import MAX_ITEMS
from whyrec.ui.cards_panel import (
    MODEL_CHIPS_INFO,
    CardsPanel,
    check_years,
    mirrored_filters,
    model_read_names,
    request_chips,
    request_constraints,
    undo_text,
    with_relevance_rank,
    with_seen_marks,
    without_chips,
    year_filter,
)
from whyrec.ui.notices import hidden, in_user_words, shown
from whyrec.ui.profile_panel import ProfilePanel, profile_view

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.tools.understanding.request import ParsedRequest
    from whyrec.ui.api import RecommenderAPI
    from whyrec.ui.chat import SharedAgent
    from whyrec.ui.chat_panel import ChatPanel
    from whyrec.ui.user_picker import UserPicker

RERANKER_TRAINING_THREAD = "whyrec-train-reranker"  # the name ui.server gives the background training thread


def ranking_status_text(recommender: Recommender) -> str:
    """What ranks the cards right now, in a viewer's words: the fine-tuned reranker, or that it is still training.
    Nothing when no reranker is part of the setup: how it is configured is for the server's log (:func:`ranking_setup`),
    not for the people using the page."""
    if recommender.settings.rerank_top == 0:
        return ""
    if recommender.reranker is not None:
        return "Ranking with the fine-tuned reranker."
    if any(t.name == RERANKER_TRAINING_THREAD and t.is_alive() for t in threading.enumerate()):
        return "⏳ Ranking without the reranker for now: it is training in the background and is used as soon as it is saved."
    return ""


def ranking_setup(recommender: Recommender) -> str:
    """How ranking is set up, for whoever runs the server (the app logs it once when it starts)."""
    if recommender.settings.rerank_top == 0:
        return "ranking without the cross-encoder: WHYREC_RERANK_TOP=0 (the default; on MovieLens it did not beat ranking without it)"
    if recommender.reranker is not None:
        return f"ranking with the fine-tuned reranker on the top {recommender.settings.rerank_top} candidates"
    return "ranking without the reranker: none is trained yet — run `whyrec train-reranker` to add it"


def empty_session() -> dict:
    """What the browser keeps across a reload: the user, the conversation id, the chat as shown and the request
    that conversation has in force (as its last list used it; "" for none)."""
    return {"user": "", "conversation": "", "chat": [], "request": ""}


FILTER_KEYS = ("k", "diversity", "categories", "year_min", "year_max", "exclude_seen", "request")  # CardsPanel.controls' order


def with_card_feedback(given: list[dict] | None, item_id: str, kind: str | None, title: str = "") -> list[dict]:
    """The feedback given on the cards in this conversation after one more (``kind`` None: taken back by Undo). The
    chat reads it (``ConversationState.with_feedback``): each entry is ``fresh`` until the chat's next turn has seen it."""
    kept = [entry for entry in given or [] if isinstance(entry, dict) and entry.get("item_id") != item_id]
    return kept if kind is None else [*kept, {"item_id": item_id, "kind": kind, "title": title, "fresh": True}]


def seen_by_the_chat(given: list[dict] | None) -> list[dict]:
    """The card feedback once a chat turn has read it: no longer what "that one" means, still what was said."""
    return [{**entry, "fresh": False} for entry in given or [] if isinstance(entry, dict)]


def saved_filters(control_values: tuple | list) -> dict:
    """The filters and the request box as the browser keeps them across a reload."""
    return dict(zip(FILTER_KEYS, control_values, strict=True))


@dataclass
class Page:
    api: RecommenderAPI
    recommender: Recommender
    agent: SharedAgent
    picker: UserPicker
    chat: ChatPanel
    profile: ProfilePanel
    cards: CardsPanel
    years: tuple[int, int]
    # per-session values
    user: gr.State
    conversation: gr.State
    recs: gr.State
    explanations: gr.State
    like: gr.State
    session: gr.BrowserState
    timer: gr.Timer
    request_shown: gr.State  # the request the chips and the mirrored filters show ("" for none)
    chat_request: gr.State  # the request the chat's conversation has in force, as its last list used it ("" for none)
    saved: gr.BrowserState  # the filters and the request box, kept across a reload (:func:`saved_filters`)
    model_read: gr.BrowserState  # {"request", "names"}: the constraints of that request the model read (:meth:`read_by_model`)
    shown_list: gr.BrowserState  # the cards as last shown, with whose they were and what they answered (:meth:`kept_cards`)
    card_feedback: gr.State  # 👍/👎 given on the cards in this conversation, for the chat (:func:`with_card_feedback`)

    def recommend(self, user_id, k, diversity, cats, y0, y1, exclude_seen, request, like_value) -> list[dict]:
        year_lo, year_hi = self.years
        check_years(y0, y1)
        items = self.api.recommend(
            user_id, request=request or "", k=int(k), categories=cats or None, year_min=year_filter(y0, year_lo),
            year_max=year_filter(y1, year_hi), diversity=float(diversity), exclude_seen=bool(exclude_seen),
            like_item_id=(like_value or {}).get("item_id"),
        )["items"]
        return self.with_marks(user_id, items)

    def with_marks(self, user_id: str, items: list[dict]) -> list[dict]:
        """The cards as drawn: each with its place by relevance, and a "seen" mark on items in the user's history."""
        rated = {x.item_id: x.rating for x in self.recommender.store.db.history(user_id)}
        return with_seen_marks(with_relevance_rank(items), rated)

    @staticmethod
    def status_line(user_id: str, items: list[dict], source: str = "") -> str:
        if not items:
            return "No items match — loosen the filters."
        return f"{len(items)} items for user **{html.escape(user_id)}**{source}"

    def undo_update(self, last: dict | None) -> dict:
        """The line and the Undo button for the feedback just given, on a card or in the chat (hidden for none):
        "You marked 'X' as not for you — it is hidden from your recommendations. [Undo]"."""
        cards = self.cards
        if not last:
            return {cards.last_feedback: None, cards.undo_text: gr.update(value="", visible=False), cards.undo: gr.update(visible=False)}
        return {cards.last_feedback: last, cards.undo_text: gr.update(value=undo_text(last["kind"], last["title"]), visible=True),
                cards.undo: gr.update(visible=True)}

    def like_banner(self, like_value: dict | None) -> dict:
        cards = self.cards
        if not like_value:
            return {cards.like_text: gr.update(value="", visible=False), cards.clear_like: gr.update(visible=False)}
        return {
            cards.like_text: gr.update(value=f"Showing items like **{html.escape(like_value['title'])}**", visible=True),
            cards.clear_like: gr.update(visible=True),
        }

    def understood(self, request: str | None) -> str:
        """How the recommender read the "In the mood for…" text (filters, titles), for the status line; "" when nothing to say."""
        parsed = self.parse(request)
        notes = list(parsed.notes) if parsed is not None else []
        return f" · {html.escape(' '.join(notes))}" if notes else ""  # the notes say "Understood: …" themselves

    # --- the request in force ----------------------------------------------------------------

    def parse(self, request: str | None) -> ParsedRequest | None:
        """How the recommender reads ``request`` (None for no request, or when it reads none)."""
        understand = getattr(self.recommender, "understand", None)
        if not (request or "").strip() or understand is None or not getattr(self.recommender, "request_parsing", False):
            return None
        try:
            return understand(request)
        except InputError:
            return None

    def chips_update(self, request: str, read_by_model: list[str] | tuple = ()) -> dict:
        """The chips of ``request``, those named in ``read_by_model`` marked as the model's reading, and that mark kept."""
        parsed = self.parse(request)
        chips = request_chips(parsed, read_by_model)
        marked = [name for name, _ in request_constraints(parsed) if name in read_by_model]
        return {
            self.cards.chips: gr.update(choices=chips, value=[key for _, key in chips], visible=bool(chips), info=MODEL_CHIPS_INFO if marked else ""),
            self.model_read: {"request": request, "names": marked},
        }

    @staticmethod
    def model_names(kept: dict | None, request: str) -> list[str]:
        """The constraints of ``request`` the model read, as the page keeps them (none when it keeps another request's)."""
        kept = kept if isinstance(kept, dict) else {}
        return [str(name) for name in kept.get("names") or []] if kept.get("request") == request else []

    def read_by_model(self, new: str, old: str, kept: dict | None, message: str | None = None) -> list[str]:
        """The constraints of ``new`` the model read, when it replaces ``old`` (``kept``: :attr:`model_read` as it was).

        ``message``: the person's words the model just read; what the rules read for sure in them (the same
        :func:`english_request` the chat merges with) is the person's own, anything else new is the model's.
        Without it (a dropped chip, a turn the rules read) only the model's constraints of ``old`` that still hold are."""
        now = self.parse(new)
        if message is None:
            yours = now
        else:
            read = self.parse(message)
            yours = self.parse(english_request(ModelRequest(), read, self.recommender.vocabulary)) if read is not None else None
        return model_read_names(now, yours, self.parse(old), self.model_names(kept, old))

    def request_without(self, request: str, removed: list[str]) -> str:
        """``request`` written again without the constraints of the removed chips ("" when nothing is left)."""
        parsed = self.parse(request)
        if parsed is None:
            return ""
        return english_request(ModelRequest(), without_chips(parsed, removed), self.recommender.vocabulary)

    def follow_request(
        self, new: str, old: str, control_values: tuple, asked: dict | None = None, read_by_model: list[str] | tuple = ()
    ) -> tuple[dict, tuple]:
        """Put ``new`` in force instead of ``old``: the box, the chips (``read_by_model`` marked), and the filters to rank with.

        A year slider or the category filter that ``old`` set (:func:`mirrored_filters`) goes back to no limit, and one
        the person set stays: the request itself filters, and :meth:`mirror` then shows on the filters what the list
        it gave really meets. ``asked``: the chat's explicit ``year_min``/``year_max``/``categories``, which are kept.
        Returns the updates and the control values to rank with.
        """
        k, diversity, cats, y0, y1, exclude_seen, _ = control_values
        known = self.api.categories()
        lo, hi = self.years
        old_years, old_cats = mirrored_filters(self.parse(old), self.years, known)
        years = (int(y0 if y0 is not None else lo), int(y1 if y1 is not None else hi))
        years = (lo, hi) if years == old_years else years
        cats = [] if sorted(cats or []) == sorted(old_cats) else list(cats or [])
        asked = asked or {}
        if asked.get("year_min") is not None:
            years = (min(max(int(asked["year_min"]), lo), hi), years[1])
        if asked.get("year_max") is not None:
            years = (years[0], min(max(int(asked["year_max"]), lo), hi))
        if asked.get("categories"):
            cats = [c for c in asked["categories"] if c in set(known)] or cats
        values = (k, diversity, cats, years[0], years[1], exclude_seen, new)
        cards = self.cards
        out = {cards.request: new, cards.categories: cats, cards.year_min: years[0], cards.year_max: years[1],
               self.request_shown: new, self.saved: saved_filters(values), **self.chips_update(new, read_by_model)}
        return out, values

    def mirror(self, items: list[dict], values: tuple) -> tuple[dict, tuple]:
        """The year sliders and the category filter set to what the request in force asks (its years; the categories
        of a single ask), where every item of the list it gave meets it. The recommender relaxes a request that
        nothing meets ("a comedy" when every comedy is seen): then the filter stays open, so Recommend with the
        filters as shown gives the same list, and the chip still says what was asked."""
        k, diversity, cats, y0, y1, exclude_seen, request = values
        parsed = self.parse(request)
        years, wanted = mirrored_filters(parsed, self.years, self.api.categories())
        if items and parsed is not None and parsed.years and all(years[0] <= int(r.get("year") or 0) <= years[1] for r in items):
            y0, y1 = years
        if items and wanted and all(set(wanted) & set(r.get("categories") or []) for r in items):
            cats = wanted
        values = (k, diversity, cats, y0, y1, exclude_seen, request)
        cards = self.cards
        return {cards.categories: cats, cards.year_min: y0, cards.year_max: y1, self.saved: saved_filters(values)}, values

    def cards_in_force(self, user_id: str, like_value: Any, followed: dict, values: tuple) -> dict:
        """The cards for a request just put in force (``followed, values = follow_request(...)``), and the filters
        mirroring what they meet (:meth:`mirror`)."""
        ranked = self.cards_for(user_id, like_value, values)
        return {**followed, **ranked, **self.mirror(ranked.get(self.recs) or [], values)[0]}

    def restored(self, saved: dict | None, kept: dict | None = None) -> tuple[dict, tuple] | None:
        """The filters and the request as the browser kept them, checked against this catalog (a re-ingest may have
        changed it), with the chips the model read (``kept``: :attr:`model_read`); None when nothing was kept."""
        if not saved or not isinstance(saved, dict) or set(saved) != set(FILTER_KEYS):
            return None
        lo, hi = self.years
        known = set(self.api.categories())
        try:
            y0, y1 = min(max(int(saved["year_min"]), lo), hi), min(max(int(saved["year_max"]), lo), hi)
            values = (
                min(max(int(saved["k"]), 1), MAX_ITEMS), min(max(float(saved["diversity"]), 0.0), 1.0),
                [c for c in saved["categories"] or [] if c in known], y0, y1, bool(saved["exclude_seen"]), str(saved["request"] or ""),
            )
        except (TypeError, ValueError):
            return None
        out = dict(zip(self.cards.controls, values, strict=True))
        request = values[-1]
        out.update({self.request_shown: request, self.saved: saved_filters(values), **self.chips_update(request, self.model_names(kept, request))})
        return out, values

    def cards_for(self, user_id: str, like_value: Any, control_values: tuple, source: str = "") -> dict:
        """New cards, or (for a bad filter) no cards and the notice: stale cards must not stay on screen."""
        cards = self.cards
        try:
            items = self.recommend(user_id, *control_values, like_value)
        except InputError as e:
            return {self.recs: [], self.explanations: {}, cards.status: "", cards.notice: shown(in_user_words(e, "recommend"))}
        request = control_values[-1] if control_values else ""
        return {
            self.recs: items, self.explanations: {}, cards.status: self.status_line(user_id, items, source) + self.understood(request),
            cards.notice: hidden(), cards.ranking_status: ranking_status_text(self.recommender),
            self.shown_list: self.list_kept(user_id, str(request or ""), like_value, items),
        }

    @staticmethod
    def list_kept(user_id: str, request: str, like_value: dict | None, items: list[dict], from_chat: bool = False) -> dict:
        """The cards as the browser keeps them (:attr:`shown_list`): the items as shown, whose they were and what they answered."""
        return {"user": user_id, "request": request, "like": like_value or None, "from_chat": from_chat, "items": items}

    def kept_cards(self, user_id: str, request: str, kept: dict | None) -> dict | None:
        """The cards as last shown, when the browser kept them for this user and this request in force: a reload shows
        them again as they were (after "more", the next page, not the plain list a new ranking would give); None else."""
        if not isinstance(kept, dict) or kept.get("user") != user_id or kept.get("request") != request:
            return None
        items = [r for r in kept.get("items") or [] if isinstance(r, dict) and r.get("item_id") in self.recommender.items]
        if not items:
            return None
        like_value = kept.get("like") if isinstance(kept.get("like"), dict) else None
        source = " — from the chat" if kept.get("from_chat") else ""
        cards = self.cards
        return {
            self.recs: self.with_marks(user_id, items), self.explanations: {}, self.like: like_value, **self.like_banner(like_value),
            cards.status: self.status_line(user_id, items, source) + ("" if source else self.understood(request)),
            cards.notice: hidden(), cards.ranking_status: ranking_status_text(self.recommender), self.shown_list: kept,
        }

    def profile_outputs(self, user_id: str, profile_dict: dict | None = None) -> dict:
        view = profile_view(self.api, self.recommender, user_id, profile_dict) if user_id else None
        return {self.profile.view: view, self.profile.summary: view.markdown if view else "*Pick a user to see their interests.*"}

    @property
    def request_outputs(self) -> list:
        """What putting a request in force changes (:meth:`follow_request`)."""
        cards = self.cards
        return [cards.request, cards.categories, cards.year_min, cards.year_max, self.request_shown, self.saved, cards.chips, self.model_read]

    @property
    def card_outputs(self) -> list:
        return [self.recs, self.explanations, self.cards.status, self.cards.notice, self.cards.ranking_status, self.shown_list]

    @property
    def profile_views(self) -> list:
        return [self.profile.view, self.profile.summary]
