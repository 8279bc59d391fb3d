"""The cards panel: filters on the left, recommendation cards in a grid, each with Why?, More like this and feedback.

The request in force (the "In the mood for…" box) is shown under the box as removable chips ("Horror ✕",
"1980–1989 ✕", "about: sharks ✕"), and the year sliders and the category filter mirror what it asks for
(:func:`mirrored_filters`), so the chat, the chips, the filters and the cards say the same thing. A chip says where
it came from: a constraint the chat's model read into the person's words ("una película de terror" → Horror) is
marked 🤖, one the person wrote or the rules read from their words is not.

A card says which score it shows (relevance, the final ranking score) and, when diversity
moved it, its place by relevance; a note above the grid says the list was reordered. An
open "Why?" is drawn as a full-width box under its row of cards, so one long explanation
never stretches one card and leaves a hole beside it.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

import gradio as gr

from whyrec.tools.recommend.explanation import TREND_WORTH_SAYING
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.ui.api import MAX_ITEMS
from whyrec.ui.notices import Problem, notice_box

CARDS_PER_ROW = 3
FEEDBACK_BUTTONS = (("👍", "liked", "I like this"), ("👎", "disliked", "Not for me"), ("Not interested", "not_interested", "Hide it"))


@dataclass
class CardsPanel:
    request: gr.Textbox
    k: gr.Slider
    diversity: gr.Slider
    categories: gr.Dropdown
    year_min: gr.Slider
    year_max: gr.Slider
    exclude_seen: gr.Checkbox
    refresh: gr.Button
    notice: gr.Markdown  # next to the filters
    ranking_status: gr.Markdown  # which ranker ranks (reranker or not yet)
    like_text: gr.Markdown
    clear_like: gr.Button
    status: gr.Markdown
    undo_text: gr.Markdown  # "You marked 'X' as not for you" after a feedback button
    undo: gr.Button
    last_feedback: gr.State  # {"user_id", "item_id", "kind", "title"} of the feedback Undo takes back, or None
    chips: gr.CheckboxGroup  # the request in force, one removable chip per constraint (unticking one removes it)

    @property
    def controls(self) -> list:
        """The filter inputs, in the order ``recommend_options`` takes them."""
        return [self.k, self.diversity, self.categories, self.year_min, self.year_max, self.exclude_seen, self.request]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def with_relevance_rank(recs: list[dict]) -> list[dict]:
    """Each card gets ``relevance_rank``: its place among the shown items by final score (diversity may reorder)."""
    order = sorted(range(len(recs)), key=lambda i: -float(recs[i].get("scores", {}).get("final", 0.0)))
    place = {i: n for n, i in enumerate(order, start=1)}
    return [{**r, "relevance_rank": place[i]} for i, r in enumerate(recs)]


def with_seen_marks(recs: list[dict], history: dict[str, float | None]) -> list[dict]:
    """Each card of an item in the user's history (``item_id`` → rating, None when unrated) gets ``seen``
    and ``your_rating``: with "Exclude what I've seen" off, a film already seen must say so."""
    return [{**r, "seen": True, "your_rating": history[r["item_id"]]} if r["item_id"] in history else r for r in recs]


FEEDBACK_DONE = {"liked": "as liked", "disliked": "as not for you", "not_interested": "as not interested"}


def undo_text(kind: str, title: str) -> str:
    """The line beside Undo after a feedback button."""
    hidden_now = " — it is hidden from your recommendations" if kind != "liked" else ""
    return f"You marked **{html.escape(title)}** {FEEDBACK_DONE.get(kind, kind)}{hidden_now}."


def reordered_note(recs: list[dict]) -> str:
    moved = [r for r in recs if r.get("relevance_rank") not in (None, r["rank"])]
    if not moved:
        return ""
    return (
        "*Diversity reordered this list for variety, so the relevance scores are not in rank order — "
        "a moved card says its place by relevance. Set Diversity to 0 for pure relevance order.*"
    )


def card_markdown(rec: dict) -> str:
    year = f" ({rec['year']})" if rec.get("year") else ""
    categories = " · ".join(rec.get("categories") or []) or "no category"
    head = f"#### {rec['rank']}. {html.escape(rec['title'])}{year}"
    lines = [f"<span class='card-meta'>{html.escape(categories)}</span>"]
    if rec.get("seen"):
        rated = f" — you rated it {rec['your_rating']:g}" if rec.get("your_rating") is not None else ""
        lines.insert(0, f"<span class='card-seen'>✓ seen{rated}</span>")
    score = rec.get("scores", {}).get("final")
    if score is not None:
        relevance = f"relevance score {score:.2f}"
        place = rec.get("relevance_rank")
        if place is not None and place != rec["rank"]:
            relevance += f" · {_ordinal(place)} by relevance"
        lines.append(f"<span class='card-meta card-score'>{relevance}</span>")
    if story := rec.get("story"):
        lines.append(f"<span class='card-story'>“{html.escape(story)}”</span>")
    if keywords := rec.get("keywords"):
        lines.append(f"<span class='card-meta'>about: {html.escape(', '.join(keywords))}</span>")
    because = rec.get("because") or []
    if because:
        lines.append(f"<span class='card-meta'>like '{html.escape(because[0]['title'])}'</span>")
    if (trend := rec.get("trend")) and trend["score"] >= TREND_WORTH_SAYING:
        lines.append(f"<span class='card-meta'>trending: {trend['recent_users']} people in the last {trend['window_days']:g} days</span>")
    return head + "\n" + "<br>".join(lines)


SCORE_NAMES = {
    # each name says which score it is, in the words the explanation's sentences use for the same number
    "final": "relevance score (final)",
    "reranker": "reranker score",
    "collaborative": "people like you",
    "retrieval": "content-search similarity",
    "short_term": "similarity to your recent taste",
    "request": "similarity to your request",
    "about": "about-score",
    "asked_for": "what you leaned to",
    "popularity": "popularity",
    "recent_popularity": "trending score",
}


def scores_line(scores: dict[str, float]) -> str:
    """The scores behind a card's rank, each named for what it is: the final (relevance) score first, then the
    signals mixed into it. Content search scores only the items it found; an item another route brought (people
    like you, popularity) says so instead of "0.00" beside a sentence that gives its similarity to an interest."""
    parts = [f"{SCORE_NAMES['final']} {scores['final']:.2f}"] if "final" in scores else []
    mixed = [f"{SCORE_NAMES.get(k, k)} {v:.2f}" for k, v in scores.items() if k != "final" and not (k == "retrieval" and v <= 0)]
    if mixed:
        parts.append("a weighted mix of " + ", ".join(mixed))
    if "retrieval" in scores and scores["retrieval"] <= 0:
        parts.append("content search did not find it (another route did)")
    return "Scores (0 to 1): " + "; ".join(parts)


def explanation_markdown(explanation: dict) -> str:
    """One presentation: the evidence, one sentence per bullet, then the scores in one labelled line."""
    title = explanation.get("item", {}).get("title", "")
    sentences = explanation.get("sentences") or [explanation.get("text", "")]
    lines = [f"**Why '{html.escape(title)}'?**", ""]
    lines += [f"- {html.escape(s)}" for s in sentences if s and not s.startswith("Reranker score")]
    scores = explanation.get("scores") or {}
    if scores:
        lines += ["", f"<span class='card-meta why-scores'>{html.escape(scores_line(scores))}</span>"]
    return "\n".join(lines)


# --- the request in force, as chips and as the filters ----------------------------------------

CHIP_MARK = " ✕"
MODEL_MARK = "🤖 "  # on a chip the model read, not the person's own words
MODEL_CHIPS_INFO = "🤖 = how the model read your words (not your own words): drop it if it is wrong."


def request_constraints(parsed: ParsedRequest | None) -> list[tuple[str, str]]:
    """The request's constraints, ``(name, key)`` each: "Horror", "1980–1989", "not Comedy", "not 'Jaws'",
    "like 'Alien'", "about: sharks" (the key names the constraint for :func:`without_chips`)."""
    if parsed is None:
        return []
    titles = parsed.titles
    named = [(ask.label, f"category:{n}") for n, ask in enumerate(parsed.categories)]
    if parsed.years:
        named.append((parsed.years.label, "years"))
    named += [(f"not {ask.label}", f"not-category:{n}") for n, ask in enumerate(parsed.exclude_categories)]
    named += [(f"not '{titles.get(i, i)}'", f"not-item:{i}") for i in parsed.exclude_item_ids]
    named += [(f"like '{titles.get(i, i)}'", f"like-item:{i}") for i in parsed.like_item_ids]
    if parsed.about:
        named.append((f"about: {parsed.about}", "about"))
    return named


def request_chips(parsed: ParsedRequest | None, read_by_model: Collection[str] = ()) -> list[tuple[str, str]]:
    """The request's constraints as removable chips, ``(label, key)`` each: "Horror ✕", "1980–1989 ✕", and
    "🤖 not Comedy ✕" for a constraint whose name is in ``read_by_model`` (see :func:`model_read_names`)."""
    return [(f"{MODEL_MARK if name in read_by_model else ''}{name}{CHIP_MARK}", key) for name, key in request_constraints(parsed)]


def model_read_names(now: ParsedRequest | None, yours: ParsedRequest | None, before: ParsedRequest | None, model_before: Collection[str]) -> list[str]:
    """The constraints of the request ``now`` in force that the model read, by name: those new this turn that are not
    in ``yours`` (what the rules read for sure in the person's message), and those the model had read before that
    still hold. Every other constraint is the person's own words."""
    yours_names = {name for name, _ in request_constraints(yours)}
    before_names = {name for name, _ in request_constraints(before)}
    return [
        name for name, _ in request_constraints(now)
        if (name in before_names and name in model_before) or (name not in before_names and name not in yours_names)
    ]


def without_chips(parsed: ParsedRequest, removed: Iterable[str]) -> ParsedRequest:
    """A copy of ``parsed`` without the constraints whose chip keys are in ``removed`` (the parse itself is left as it was)."""
    gone = set(removed)
    return replace(
        parsed,
        years=None if "years" in gone else parsed.years,
        about="" if "about" in gone else parsed.about,
        categories=[a for n, a in enumerate(parsed.categories) if f"category:{n}" not in gone],
        exclude_categories=[a for n, a in enumerate(parsed.exclude_categories) if f"not-category:{n}" not in gone],
        exclude_item_ids=[i for i in parsed.exclude_item_ids if f"not-item:{i}" not in gone],
        like_item_ids=[i for i in parsed.like_item_ids if f"like-item:{i}" not in gone],
    )


def mirrored_filters(parsed: ParsedRequest | None, year_range: tuple[int, int], categories: Iterable[str]) -> tuple[tuple[int, int], list[str]]:
    """The year sliders and the category filter as the request asks: its years (the catalog's range when it names
    none), and its categories when it makes exactly one category ask ("scary" → Horror, Thriller: any of them; two
    asks, "sci-fi" and "action", both must hold, which the any-of filter cannot say, so the request alone says it)."""
    lo, hi = year_range
    years = (lo, hi)
    if parsed is not None and parsed.years:
        start, end = parsed.years.start, parsed.years.end
        years = (min(max(int(lo if start is None else start), lo), hi), min(max(int(hi if end is None else end), lo), hi))
    known = set(categories)
    wanted = [c for c in parsed.categories[0].categories if c in known] if parsed is not None and len(parsed.categories) == 1 else []
    return years, wanted


def year_filter(value: float | None, bound: int) -> int | None:
    """A year slider at the catalog's edge means 'no limit' (so items without a year still show)."""
    return None if value is None or int(value) == bound else int(value)


def check_years(y0: float | None, y1: float | None) -> None:
    if y0 is not None and y1 is not None and int(y0) > int(y1):
        raise Problem(f"“From year” {int(y0)} is after “To year” {int(y1)} — move one of the two sliders.")


def build_filters(categories: list[str], year_range: tuple[int, int], diversity: float) -> dict:
    """The left column: what to recommend."""
    year_lo, year_hi = year_range
    with gr.Column(scale=1, min_width=240):
        request = gr.Textbox(label="In the mood for…", placeholder="optional, e.g. heist thriller", elem_id="request")
        chips = gr.CheckboxGroup(
            [], value=[], label="Asked for — click a chip to drop it", elem_id="request-chips", visible=False,
        )
        k = gr.Slider(1, MAX_ITEMS, value=6, step=1, label="Number of items")
        diversity_slider = gr.Slider(
            0, 1, value=float(diversity), step=0.05, label="Diversity", info="0 = most relevant, 1 = most varied: about half the list swapped for other kinds of film from the next-best matches"
        )
        category_box = gr.Dropdown(categories, value=[], multiselect=True, label="Categories", elem_id="category-filter")
        year_min = gr.Slider(year_lo, year_hi, value=year_lo, step=1, label="From year", elem_id="year-min")
        year_max = gr.Slider(year_lo, year_hi, value=year_hi, step=1, label="To year", elem_id="year-max")
        exclude_seen = gr.Checkbox(value=True, label="Exclude what I've seen")
        notice = notice_box("filters-notice")
        refresh = gr.Button("Recommend", variant="primary", elem_id="recommend-button")
    return {
        "request": request, "k": k, "diversity": diversity_slider, "categories": category_box,
        "year_min": year_min, "year_max": year_max, "exclude_seen": exclude_seen, "refresh": refresh, "notice": notice, "chips": chips,
    }


def build_cards_panel(
    categories: list[str],
    year_range: tuple[int, int],
    diversity: float,
    recs: gr.State,
    explanations: gr.State,
    draw_card: Callable[[dict, dict | None], None],
    ranking_status_text: str,
) -> CardsPanel:
    """Filters and the card grid; ``draw_card(rec, explanation)`` draws one card and wires its buttons."""
    gr.Markdown("### Recommendations")
    with gr.Row(equal_height=False):
        filters = build_filters(categories, year_range, diversity)
        with gr.Column(scale=4, elem_id="cards-column"):  # the status line and the cards; tests watch its redraws
            ranking_status = gr.Markdown(ranking_status_text, elem_id="ranking-status")
            with gr.Row():
                like_text = gr.Markdown(visible=False)
                clear_like = gr.Button("Back to my recommendations", visible=False, size="sm", scale=0)
            status = gr.Markdown("", elem_id="rec-status")
            with gr.Row(elem_id="undo-feedback"):
                undo_line = gr.Markdown("", visible=False, elem_id="undo-text")
                undo = gr.Button("Undo", visible=False, size="sm", scale=0, elem_id="undo-button")
            last_feedback = gr.State(None)

            @gr.render(inputs=[recs, explanations])
            def render_cards(recs_value: list[dict], open_explanations: dict):
                if not recs_value:
                    gr.Markdown("*No recommendations yet — pick a user (or loosen the filters).*", elem_id="no-cards")
                    return
                note = reordered_note(recs_value)
                if note:
                    gr.Markdown(note, elem_id="reordered-note")
                for start in range(0, len(recs_value), CARDS_PER_ROW):
                    row = recs_value[start : start + CARDS_PER_ROW]
                    with gr.Row(equal_height=True):
                        for rec in row:
                            draw_card(rec, open_explanations.get(rec["item_id"]))
                        for _ in range(CARDS_PER_ROW - len(row)):
                            gr.Column(min_width=220)  # keep card widths equal in the last row
                    for rec in row:
                        if rec["item_id"] in open_explanations:
                            gr.Markdown(explanation_markdown(open_explanations[rec["item_id"]]), elem_classes=["why-box"])

    return CardsPanel(
        filters["request"], filters["k"], filters["diversity"], filters["categories"], filters["year_min"], filters["year_max"],
        filters["exclude_seen"], filters["refresh"], filters["notice"], ranking_status, like_text, clear_like, status,
        undo_line, undo, last_feedback, filters["chips"],
    )


def draw_card_body(rec: dict, explanation_open: bool) -> tuple[gr.Button, gr.Button, list[tuple[gr.Button, str]]]:
    """One card's text and buttons (the caller wires them): Why?, More like this, and the feedback buttons."""
    with gr.Column(min_width=220, elem_classes=["rec-card"]):
        gr.Markdown(card_markdown(rec), elem_classes=["card-head"])
        with gr.Row():
            why = gr.Button("Hide why" if explanation_open else "Why?", size="sm", variant="secondary", elem_classes=["why-button"])
            more = gr.Button("More like this", size="sm", elem_classes=["more-button"])
        with gr.Row():
            feedback = [(gr.Button(label, size="sm", elem_classes=[f"fb-{kind}"]), kind) for label, kind, _ in FEEDBACK_BUTTONS]
    return why, more, feedback
