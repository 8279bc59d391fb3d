"""The user picker: a searchable list of every user, a notice for an unknown id, and the new-user ratings form."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from whyrec.ui.notices import notice_box


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
                info="Type to search every user, or type a new id and press Enter",
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
    return UserPicker(box, unknown, unknown_row, start_new, cancel_new, accordion, new_user, search_text, search_button, found, rating, rate_button, notice)
