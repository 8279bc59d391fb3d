"""One browser page's parts and the steps every panel's events share (rank the cards, draw the profile).

:class:`Page` holds the panels, the per-session ``gr.State`` values and the shared services;
``ui.app`` wires each panel's events from it. Every helper returns ``{component: value}``.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from whyrec.store.errors import InputError
from whyrec.ui.cards_panel import CardsPanel, check_years, with_relevance_rank, with_seen_marks, year_filter
from whyrec.ui.notices import hidden, in_user_words, shown
from whyrec.ui.profile_panel import ProfilePanel, profile_view

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.ui.api import RecommenderAPI
    from whyrec.ui.chat import SharedAgent
    from whyrec.ui.chat_panel import ChatPanel
    from whyrec.ui.user_picker import UserPicker

RERANKER_TRAINING_THREAD = "whyrec-train-reranker"  # the name ui.app gives the background training thread


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
    """What the browser keeps across a reload: the user, the conversation id and the chat as shown."""
    return {"user": "", "conversation": "", "chat": []}


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

    def recommend(self, user_id, k, diversity, cats, y0, y1, exclude_seen, request, like_value) -> list[dict]:
        year_lo, year_hi = self.years
        check_years(y0, y1)
        items = self.api.recommend(
            user_id, request=request or "", k=int(k), categories=cats or None, year_min=year_filter(y0, year_lo),
            year_max=year_filter(y1, year_hi), diversity=float(diversity), exclude_seen=bool(exclude_seen),
            like_item_id=(like_value or {}).get("item_id"),
        )
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
        understand = getattr(self.recommender, "understand", None)
        if not (request or "").strip() or understand is None or not getattr(self.recommender, "request_parsing", False):
            return ""
        try:
            notes = list(understand(request).notes)
        except InputError:
            return ""
        return f" · {html.escape(' '.join(notes))}" if notes else ""  # the notes say "Understood: …" themselves

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
        }

    def profile_outputs(self, user_id: str, profile_dict: dict | None = None) -> dict:
        view = profile_view(self.api, self.recommender, user_id, profile_dict) if user_id else None
        return {self.profile.view: view, self.profile.summary: view.markdown if view else "*Pick a user to see their interests.*"}

    @property
    def card_outputs(self) -> list:
        return [self.recs, self.explanations, self.cards.status, self.cards.notice, self.cards.ranking_status]

    @property
    def profile_views(self) -> list:
        return [self.profile.view, self.profile.summary]
