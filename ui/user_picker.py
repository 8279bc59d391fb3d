"""The user picker: a searchable list of every user, a notice for an unknown id, and the new-user ratings form."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass

import gradio as gr

from whyrec.store.records import Interaction, Item
from whyrec.tools.recommend.profile import category_distribution, interaction_weight
from whyrec.ui.notices import Problem, notice_box

USER_ID_RULE = "letters, digits, - and _, up to 40 characters, starting with a letter or a digit"
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


@dataclass
class UserPicker:
    box: gr.Dropdown
    unknown: gr.Markdown  # "no user X yet — start as a new user?"
    unknown_row: gr.Row
    start_new: gr.Button
    cancel_new: gr.Button
    accordion: gr.Accordion
    new_user: gr.Textbox
    search_text: gr.Textbox
    search_button: gr.Button
    found: gr.CheckboxGroup
    rating: gr.Slider
    rate_button: gr.Button
    notice: gr.Markdown  # next to the ratings form
    started: gr.State  # the ids this browser session started as new users (they may add more ratings)



def check_new_user_id(value: str) -> str:
    """A new user's id as typed (trimmed), or a ``Problem`` saying the rule."""
    user_id = str(value or "").strip()
    if not _USER_ID.fullmatch(user_id):
        shown = html.escape(user_id if len(user_id) <= 40 else user_id[:40] + "…")
        raise Problem(f"“{shown}” cannot be a user id — use {USER_ID_RULE}.")
    return user_id


def existing_user_text(user_id: str) -> str:
    return f"User {html.escape(user_id)} already exists — pick them in the User box above, or choose another id for a new user."


def _amount(n: int) -> str:
    """How many ratings, in words without digits: the picker's search matches typed ids inside the labels."""
    if n == 0:
        return "no ratings yet"
    if n == 1:
        return "one rating"
    return "a few ratings" if n < 10 else "dozens of ratings" if n < 100 else "hundreds of ratings" if n < 1000 else "thousands of ratings"


def user_choices(users: list[str], interactions: list[Interaction], items: dict[str, Item]) -> list[tuple[str, str]]:
    """(label, id) for the picker: each user with something to recognise them by, e.g. "650 · hundreds of ratings ·
    mostly Drama · more Horror than most": the genre they like most, by the profile's own weights, and the one
    whose share most exceeds everyone's (when it is at least 5 % of theirs)."""
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for x in interactions:
        by_user[x.user_id].append(x)
    everyone = category_distribution([x.item_id for x in interactions], [interaction_weight(x) for x in interactions], items)
    choices = []
    for user_id in users:
        history = by_user.get(user_id, [])
        shares = category_distribution([x.item_id for x in history], [interaction_weight(x) for x in history], items)
        words = [f"{user_id}", _amount(len(history))]
        if shares:
            top = next(iter(shares))
            words.append(f"mostly {top}")
            lift = {c: share / everyone[c] for c, share in shares.items() if share >= 0.05 and everyone.get(c)}
            special = max(lift, key=lift.get, default=None)
            if special and special != top and lift[special] > 1.2:
                words.append(f"more {special} than most")
        choices.append((" · ".join(words), user_id))
    return choices


def unknown_user_text(user_id: str) -> str:
    return (
        f"There is no user **{user_id}** yet. Start **{user_id}** as a new user? "
        "You will get popular items at first; rate a few items below to make them yours."
    )


def build_user_picker() -> UserPicker:
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            box = gr.Dropdown(
                label="User",
                info=f"Type to search every user, or type a new id ({USER_ID_RULE}) and press Enter",
                choices=[],
                value=None,
                allow_custom_value=True,
                filterable=True,
                num_choices_shown=None,  # the default shows only the first 100 of 943
                elem_id="user-picker",
            )
            with gr.Row(visible=False, elem_id="unknown-user") as unknown_row:
                with gr.Column():
                    unknown = gr.Markdown("", elem_id="unknown-user-text")
                    with gr.Row():
                        start_new = gr.Button("Start as a new user", size="sm", variant="primary", elem_id="start-new-user")
                        cancel_new = gr.Button("Cancel", size="sm", elem_id="cancel-new-user")
        with gr.Column(scale=2), gr.Accordion("New user? Rate a few items to start", open=False, elem_id="new-user") as accordion:
            with gr.Row():
                new_user = gr.Textbox(label="New user id", placeholder="e.g. alice", scale=1, elem_id="new-user-id")
                search_text = gr.Textbox(label="Search the catalog", placeholder="a title or a topic, e.g. space adventure", scale=2)
                search_button = gr.Button("Search", scale=0)
            found = gr.CheckboxGroup(label="Pick the items to rate", choices=[])
            with gr.Row():
                rating = gr.Slider(1, 5, value=5, step=1, label="Rating for the picked items")
                with gr.Column():
                    rate_button = gr.Button("Add ratings and use this user", variant="primary", elem_id="rate-button")
                    notice = notice_box("new-user-notice")
    return UserPicker(
        box, unknown, unknown_row, start_new, cancel_new, accordion, new_user, search_text, search_button, found, rating, rate_button, notice,
        gr.State([]),
    )
