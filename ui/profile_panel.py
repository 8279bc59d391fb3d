"""The profile panel: the interest summary, drift, and two plots (category mix, and its evolution over time)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
import pandas as pd

from whyrec.ui.plots import Evolution, colors_for, distribution_frame, evolution, legend_html

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.ui.api import RecommenderAPI

PLOT_HEIGHT = 240


@dataclass
class ProfileView:
    """Everything the panel draws for one user, computed in the handler (the render only draws)."""

    markdown: str
    distribution: pd.DataFrame
    evolution: Evolution


@dataclass
class ProfilePanel:
    view: gr.State  # ProfileView | None
    summary: gr.Markdown


def profile_markdown(profile: dict | None, short_term_window: int) -> str:
    """Summary lines; drift only once the history is longer than the recent window (before that, recent = all)."""
    if not profile:
        return "*Pick a user to see their interests.*"
    summary = profile.get("summary", {})
    n = int(profile.get("interactions", 0))
    lines = [
        f"**All history** ({n} interactions) — {html.escape(summary.get('long_term', ''))}",
        f"**Recently** — {html.escape(summary.get('short_term', ''))}",
    ]
    if summary.get("note"):  # a model's wording says so (tools.recommend.profile_summary.MODEL_NOTE)
        lines.append(f"*({html.escape(summary['note'])})*")
    if n > short_term_window:
        drift = f"**Drift** {max(0.0, float(profile.get('drift', 0.0))):.2f} (0 = same as ever, 1 = all new)"
        if profile.get("rising"):
            drift += f" · rising: {', '.join(profile['rising'])}"
        if profile.get("fading"):
            drift += f" · fading: {', '.join(profile['fading'])}"
        lines.append(drift)
    elif n:
        lines.append(f"**Drift** — not measured yet: it compares the last {short_term_window} interactions with the whole history, so it needs more than {short_term_window}.")
    return "\n\n".join(lines)


def profile_view(api: RecommenderAPI, recommender: Recommender, user_id: str, profile: dict | None = None) -> ProfileView:
    """The profile (fetched unless given) and its plots' data; evolution uses the feedback-folded history's timestamps."""
    profile = profile if profile is not None else api.profile(user_id)
    store = recommender.store
    history, _ = recommender.profiler.effective_history(store.db.history(user_id), store.db.feedback(user_id))
    history = [x for x in history if x.item_id in recommender.items]
    return ProfileView(
        profile_markdown(profile, recommender.settings.short_term_window),
        distribution_frame(profile),
        evolution(profile, history, recommender.items),
    )


def build_profile_panel(colors: dict[str, str], short_term_window: int) -> ProfilePanel:
    """Markdown summary, then the plots, re-created for every profile (see ``ui.plots`` for why)."""
    view = gr.State(None)
    gr.Markdown("### Profile")
    summary = gr.Markdown(profile_markdown(None, short_term_window), elem_id="profile-summary")

    @gr.render(inputs=[view])
    def draw_plots(current: ProfileView | None):
        if current is None or current.distribution.empty:
            gr.Markdown("*The plots appear once the user has some history.*", elem_id="plots-empty")
            return
        gr.BarPlot(
            value=current.distribution,
            x="term",
            y="share",
            color="category",
            color_map=colors_for(current.distribution, colors),
            colors_in_legend=[],  # the legend is HTML below, which wraps on a phone
            title="Interest mix: all history vs recent",
            x_title=" ",  # an empty title would show the column name
            y_title="share of ratings",
            y_axis_format=".0%",
            y_lim=[0, 1],
            tooltip="all",
            height=PLOT_HEIGHT,
            show_label=False,
            elem_id="distribution-plot",
            elem_classes=["profile-plot"],
        )
        gr.HTML(legend_html(list(colors_for(current.distribution, colors)), colors), elem_id="distribution-legend")
        frame = current.evolution.frame
        if not current.evolution.drawable:
            gr.Markdown(current.evolution.note, elem_id="evolution-note")
            return
        gr.LinePlot(
            value=frame,
            x=current.evolution.x,
            y="share",
            color="category",
            color_map=colors_for(frame, colors),
            colors_in_legend=[],
            title=current.evolution.title,
            x_title=current.evolution.x_title,
            y_title=current.evolution.y_title,
            y_axis_format=".0%",
            x_label_angle=-40 if current.evolution.x == "when" else 0,
            tooltip=["period", "category", "share"] + (["ratings"] if "ratings" in frame else []),
            height=PLOT_HEIGHT + 60,
            show_label=False,
            elem_id="evolution-plot",
            elem_classes=["profile-plot"],
        )
        gr.HTML(legend_html(list(colors_for(frame, colors)), colors), elem_id="evolution-legend")
        if current.evolution.caption:
            gr.Markdown(f"<span class='card-meta'>{html.escape(current.evolution.caption)}</span>", elem_id="evolution-caption")

    return ProfilePanel(view, summary)
