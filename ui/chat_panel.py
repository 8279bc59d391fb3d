"""The chat panel: the conversation, the input box, and what a person sees while a turn runs.

A turn is three steps: the browser itself shows "thinking…" under the input the moment Send is
pressed (:data:`THINKING_JS`, no server round trip, so a busy CPU cannot delay it); ``start`` runs
outside the queue and puts the message in the chat (as typed: shown as text, never as HTML or
Markdown) with a "thinking…" bubble; ``run`` then waits for its turn at the model (saying how many are ahead), streams the
answer, and puts the recommend tool's cards on the page as soon as that tool returns.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import gradio as gr

from whyrec.ui.notices import notice_box

THINKING = "_thinking…_"
# Runs in the browser on Send: the status line says "thinking…" at once (empty text: nothing to think about).
THINKING_JS = "(text) => (text && text.trim()) ? '_thinking…_' : ''"
PLACEHOLDER = "Pick a user, then ask for something — e.g. *a feel-good comedy from the 90s* or *why this one?*"
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


@dataclass
class ChatPanel:
    chatbot: gr.Chatbot
    text: gr.Textbox
    send: gr.Button
    notice: gr.Markdown
    status: gr.Markdown  # "thinking…" under the input, set in the browser on Send
    pending: gr.State  # the message being answered (set by start, read by run)


def as_typed(text: str) -> str:
    """``text`` for a Markdown chat bubble that shows exactly what was typed (HTML and Markdown inert)."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))
    return escaped.replace("\n", "  \n")


def waiting_text(ahead: int) -> str:
    others = "another conversation" if ahead == 1 else f"{ahead} other conversations"
    return f"_waiting for {others} to finish — the model answers one at a time…_"


def build_chat_panel() -> ChatPanel:
    chatbot = gr.Chatbot(label="Chat", height=420, placeholder=PLACEHOLDER, elem_id="chat")
    with gr.Row():
        text = gr.Textbox(show_label=False, placeholder="Ask for recommendations, or why…", scale=5, elem_id="chat-input")
        send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="chat-send")
    status = gr.Markdown("", elem_id="chat-status")
    notice = notice_box("chat-notice")
    return ChatPanel(chatbot, text, send, notice, status, gr.State(None))
