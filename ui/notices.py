"""One-line notices next to the control they are about: how the page reports a problem.

A handler that raises ``gr.Error`` makes Gradio replace every output widget with a red
"Error" badge and show a toast, so the chat, the picker or the cards disappear and the
typed text is lost. Handlers here never raise: :func:`guarded` turns a failure into a
notice beside the control and leaves every other widget as it was.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import gradio as gr

from whyrec.store.errors import InputError, WhyrecError

log = logging.getLogger(__name__)

NO_USER = "Pick a user first — choose one in the User box at the top, or start a new user."


class Problem(InputError):
    """Something the person can fix, said in their words (shown as a notice, never logged as a failure)."""


def notice_box(elem_id: str) -> gr.Markdown:
    """A hidden one-line notice placed next to a control."""
    return gr.Markdown("", visible=False, elem_id=elem_id, elem_classes=["notice"])


def shown(text: str) -> dict:
    return gr.update(value=f"⚠️ {text}", visible=True)


def hidden() -> dict:
    return gr.update(value="", visible=False)


def in_user_words(error: Exception, where: str) -> str:
    """The one line to show for ``error``: a whyrec error (bad input, a missing part) as it is, anything else as a pointer to the log."""
    if isinstance(error, WhyrecError):  # bad input or a missing part: the message says what to do
        return str(error).splitlines()[0]
    log.exception("UI handler %s failed", where)
    first = (str(error).splitlines() or [""])[0][:160]
    return f"Something went wrong ({type(error).__name__}: {first}) — the server log has the details."


def guarded(notice: gr.Markdown) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Wrap a handler that returns ``{component: value}``: success also hides ``notice``; a failure only shows it."""

    def wrap(fn: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(fn)
        def handler(*args, **kwargs) -> dict:
            try:
                result = fn(*args, **kwargs)
            except Exception as e:
                return {notice: shown(in_user_words(e, fn.__name__))}
            return {notice: hidden(), **(result or {})}

        return handler

    return wrap


def need_user(user_id: str | None) -> str:
    if not user_id:
        raise Problem(NO_USER)
    return user_id
