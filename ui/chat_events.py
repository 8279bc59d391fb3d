"""The chat panel's events on the page: a turn shown at once, its place in line, the streamed answer, the tool's cards.

:func:`wire_chat` binds them on a built :class:`ui.page.Page`; ``ui.app.build_app`` calls it.
"""

from __future__ import annotations

import html
import logging
import uuid
from typing import TYPE_CHECKING

import gradio as gr

from whyrec.agent.events import FeedbackRecorded, ItemsShown
from whyrec.tools.tool_answers import LIST_LENGTH
from whyrec.ui.chat import read_by_the_model
from whyrec.ui.chat_panel import THINKING, THINKING_JS, as_typed, waiting_text
from whyrec.ui.event_queues import CHAT, INSTANT, PRIVATE
from whyrec.ui.notices import guarded, hidden, in_user_words, shown
from whyrec.ui.page import saved_filters, seen_by_the_chat
from whyrec.ui.request_limits import LimitExceeded, caller_of_request

if TYPE_CHECKING:
    from whyrec.ui.page import Page
    from whyrec.ui.request_limits import TurnLimiter

log = logging.getLogger(__name__)

def wire_chat(page: Page, limiter: TurnLimiter) -> None:
    """A chat turn: shown at once, then its place in line, the streamed answer, and the tool's cards when they exist.

    ``limiter`` admits each turn before it starts (:mod:`ui.request_limits`): a message over the length limit, or a
    caller's turn past its share this minute, is refused in one line under the chat and stays in the box.
    """
    chat, cards = page.chat, page.cards
    user, conversation, recs, explanations, like, session = page.user, page.conversation, page.recs, page.explanations, page.like, page.session
    controls, profile_outputs_list = cards.controls, page.profile_views
    cards_for, profile_outputs = page.cards_for, page.profile_outputs
    agent = page.agent
    chat_request = page.chat_request


    def start_turn(message, history, user_value, request: gr.Request):
        """Instant: show the message as typed and a thinking bubble; with no user or past a limit, keep the text and say
        what to do."""
        message = (message or "").strip()
        if not message:
            return {chat.pending: None, chat.status: ""}
        if not user_value:
            notice = shown("Pick a user first (the User box at the top) — your message is kept, press Send again after.")
            return {chat.pending: None, chat.status: "", chat.notice: notice}
        try:
            limiter.check_turn(caller_of_request(request), message)
        except LimitExceeded as refused:
            return {chat.pending: None, chat.status: "", chat.notice: shown(str(refused))}
        history = [*(history or []), {"role": "user", "content": as_typed(message)}, {"role": "assistant", "content": THINKING}]
        return {chat.pending: message, chat.text: "", chat.chatbot: history, chat.notice: hidden(), chat.status: ""}

    def chat_cards(user_id: str, items: list[dict], arguments: dict, shown_request: str, model_read: dict | None, control_values: tuple) -> dict:
        """The chat's recommend result as the cards, with its request in the box and its chips, and the filters set to
        what that request was understood to ask for (years; the categories of a single ask) where the list meets it,
        so the page stays consistent: Why?, feedback and Recommend then rank with the same request and filters.
        The chips the model read before keep their mark; those it read this turn get it when the turn ends (:func:`read_by_the_model`)."""
        k_value, diversity_value, *_ = control_values
        request = str(arguments.get("request") or "")
        carried = page.read_by_model(request, shown_request, model_read)
        out, values = page.follow_request(request, shown_request, control_values, asked=arguments, read_by_model=carried)
        out.update(page.mirror(items, values)[0])
        out.update({
            recs: page.with_marks(user_id, items), explanations: {}, cards.status: page.status_line(user_id, items, " — from the chat"),
            chat_request: request, page.shown_list: page.list_kept(user_id, request, None, items, from_chat=True),
        })
        asked_k = int(arguments.get("k") or LIST_LENGTH)  # what the chat asked for: fewer may have matched, and a dropped chip finds more
        if items and int(k_value) != asked_k:
            out[cards.k] = asked_k
        if arguments.get("diversity") is not None and float(arguments["diversity"]) != float(diversity_value):
            out[cards.diversity] = float(arguments["diversity"])
        values = (out.get(cards.k, k_value), out.get(cards.diversity, diversity_value), out[cards.categories], out[cards.year_min],
                  out[cards.year_max], control_values[5], request)
        out[page.saved] = saved_filters(values)
        return out

    def needs_line(user_value: str, conversation_id: str, message: str, on_screen: list[dict]) -> bool:
        """Whether this turn may call the model, and so waits in the line for it; a turn the rules decide runs at once."""
        chat_agent = agent.get()
        if chat_agent is None:
            return False  # no agent: the turn only says so
        if not hasattr(chat_agent, "needs_model"):
            return True
        try:
            return bool(chat_agent.needs_model(user_value, conversation_id, message, on_screen))
        except Exception:  # the turn itself says what went wrong, in its place in line
            log.exception("needs_model failed; the turn waits for the model")
            return True

    def run_turn(message, history, user_value, conversation_id, like_value, cards_value, in_force, shown_request, model_read, given,
                 *control_values):
        """Wait for the model when the turn may need it (saying how many are ahead), stream the answer, show the tool's
        cards the moment they exist. The cards on screen are what "the second one" points into; the request in the box,
        when the person changed it (a dropped chip, typed text), is the request in force for this turn."""
        if not message or not user_value:
            yield {chat.chatbot: gr.skip()}  # a generator that yields nothing would blank every output
            return
        yield {chat.pending: None}  # the turn start_turn admitted runs once: this event sent again finds nothing to answer
        history = list(history or [])
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        in_force, shown_request = str(in_force or ""), str(shown_request or "")
        box = str(control_values[-1] or "").strip()
        edited = box if box != in_force else None  # None: the conversation's own request (and its "more" list) stands

        def bubble(text: str) -> None:
            history[-1] = {"role": "assistant", "content": text}

        def saved_session(request: str) -> dict:
            return {"user": user_value, "conversation": conversation_id, "chat": history, "request": request}

        on_screen = [{"item_id": str(r["item_id"]), "title": r.get("title", "")} for r in cards_value or [] if isinstance(r, dict) and "item_id" in r]
        key = (user_value, conversation_id)
        agent.enter_conversation(key)  # this conversation's previous turn first, model or not
        try:
            waits = needs_line(user_value, conversation_id, message, on_screen)
            if waits:
                for ahead in agent.wait_turn():
                    bubble(waiting_text(ahead))
                    yield {chat.chatbot: history}
            try:
                yield from answer_turn(message, history, user_value, conversation_id, like_value, on_screen, edited, in_force, shown_request,
                                       model_read, given, control_values, bubble, saved_session)
            finally:
                if waits:
                    agent.end_turn()
        finally:
            agent.leave_conversation(key)

    def answer_turn(message, history, user_value, conversation_id, like_value, on_screen, edited, in_force, shown_request, model_read,
                    given, control_values, bubble, saved_session):
        """The turn once it may run: the streamed answer, and the tool's cards the moment they exist. Feedback given on
        the cards goes to the chat (``given``), and feedback given in the chat shows on the cards, with its Undo."""
        try:
            bubble(THINKING)
            yield {chat.chatbot: history, conversation: conversation_id}
            # "why the second one?" means the cards, "more like that" after a card's 👎 that card
            stream = agent.stream(user_value, conversation_id, message, on_screen, request=edited, feedback=given or None)
            answer, cards_shown, request_now, recorded = "", False, in_force, None
            for chunk in stream:
                if isinstance(chunk, FeedbackRecorded):  # "I didn't like X": X's card says so, with Undo, when the turn ends
                    recorded = chunk
                    continue
                update = {chat.chatbot: history}
                if isinstance(chunk, ItemsShown):
                    if chunk.answered or cards_shown:
                        continue  # the cards are the tool's list, drawn once, the moment it exists
                    cards_shown, request_now = True, str(chunk.request.get("request") or "")
                    update.update(chat_cards(user_value, list(chunk.items), chunk.request, shown_request, model_read, control_values))
                else:
                    answer += chunk
                    bubble(answer or THINKING)
                # saved with every chunk, so a reload right after the answer shows keeps it
                update[session] = saved_session(request_now)
                yield update
            end: dict = {chat.chatbot: history, session: saved_session(request_now), page.card_feedback: seen_by_the_chat(given)}
            if recorded is not None:
                end.update(page.undo_update({"user_id": user_value, "item_id": recorded.item_id, "kind": recorded.kind, "title": recorded.title}))
            reply = getattr(stream, "reply", None)
            if cards_shown and read_by_the_model(reply):  # the chips the model read into this message get their mark
                end.update(page.chips_update(request_now, page.read_by_model(request_now, shown_request, model_read, message)))
            if "record_feedback" in (getattr(reply, "tools_called", None) or []):
                end.update(profile_outputs(user_value))
                if not cards_shown:
                    end.update(cards_for(user_value, like_value, control_values))
            yield end
        except Exception as e:
            bubble(f"_Sorry — I could not answer that: {html.escape(in_user_words(e, 'chat'))}_")
            yield {chat.chatbot: history, session: saved_session(in_force)}

    def clear_chat(user_value):
        """🗑 starts a new conversation: no request, list or feedback of the old one carries into the next message."""
        return {conversation: "", chat_request: "", session: {"user": user_value, "conversation": "", "chat": [], "request": ""},
                page.card_feedback: []}

    @guarded(cards.notice)
    def drop_request(user_value, like_value, shown_request, *control_values):
        """After 🗑: the old conversation's request leaves the box, the chips and the filters it set, and the cards."""
        out, control_values = page.follow_request("", str(shown_request or ""), control_values)
        if not user_value or not str(shown_request or ""):
            return out
        return page.cards_in_force(user_value, like_value, out, control_values)

    # --- wiring
    request_outputs = page.request_outputs
    chat.chatbot.clear(clear_chat, [user], [conversation, chat_request, session, page.card_feedback], **INSTANT).then(
        drop_request, [user, like, page.request_shown, *controls], [*page.card_outputs, *request_outputs], **PRIVATE,
    )
    for trigger in (chat.text.submit, chat.send.click):
        trigger(None, [chat.text], [chat.status], js=THINKING_JS, api_visibility="private").then(
            start_turn, [chat.text, chat.chatbot, user], [chat.pending, chat.text, chat.chatbot, chat.notice, chat.status], **INSTANT
        ).then(
            run_turn,
            [chat.pending, chat.chatbot, user, conversation, like, recs, chat_request, page.request_shown, page.model_read, page.card_feedback, *controls],
            [chat.chatbot, conversation, session, recs, explanations, cards.status, cards.notice, cards.ranking_status, page.shown_list,
             *profile_outputs_list, cards.k, cards.diversity, chat_request, *request_outputs, page.card_feedback,
             cards.last_feedback, cards.undo_text, cards.undo, chat.pending],
            show_progress="hidden", **CHAT,
        )
