"""Plan-mode turns: the rules plan the turn where they are sure, one constrained model call reads it where not.

:class:`PlanTurns` runs :mod:`agent.planning` for one message: the rules' plan (:meth:`PlanTurns.rules_plan`), the
model's reading when the rules did not account for every word, the follow-up rules that shape the plan by the
conversation before it, and then the plan's tool answered with its template (:class:`agent.template_turns.TemplateTurns`).
It also reads a request for a caller outside a chat (:meth:`PlanTurns.read_request`, the API).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from whyrec.agent import router
from whyrec.agent.events import TurnEvent
from whyrec.agent.planning import (
    GREETING,
    OFF_TOPIC,
    Plan,
    asks_my_taste,
    explain_named,
    explain_the_list_in_force,
    follow_up_recommend,
    model_plan,
    not_understood_reply,
    off_topic,
    only_asks_for_more,
    rule_plan,
    taste_question_reply,
    understood_note,
    wants_more,
    why_reference,
)
from whyrec.agent.references import last_focus, last_list, spell_out_pointers, unresolved_pointer
from whyrec.agent.turn import Turn, emit
from whyrec.tools.understanding.phrasebook import in_english
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.tools.understanding.structured import english_request, nothing_read

if TYPE_CHECKING:
    from whyrec.agent.chat_memory import ChatMemory
    from whyrec.agent.conversation_state import ConversationState
    from whyrec.agent.model_runtime import ModelRuntime
    from whyrec.agent.template_turns import TemplateTurns
    from whyrec.tools.recommend.recommender import Recommender

logger = logging.getLogger(__name__)


class PlanTurns:
    """Rules first; one constrained model call only when they are unsure (see :mod:`agent.planning`).

    ``reading``: ``hybrid`` lets the rules read a request alone when they account for all its words and asks the
    model otherwise; ``model`` has the model read every recommend request (to measure it against the rules).
    """

    def __init__(
        self, recommender: Recommender, runtime: ModelRuntime, templates: TemplateTurns, memory: ChatMemory,
        reading: Literal["hybrid", "model"] = "hybrid",
    ) -> None:
        self.recommender = recommender
        self.runtime = runtime
        self.templates = templates
        self.memory = memory
        self.reading = reading
        self.readings: dict[tuple[tuple[str, str], ...], str] = {}  # the model's answers by prompt (model_plan)

    def rules_plan(
        self, text: str, shown: list[dict[str, Any]], focus: dict[str, Any] | None
    ) -> tuple[Plan | None, Callable[[], ParsedRequest], str]:
        """What the rules make of a message before any model: their plan (None when unsure), the message's parse
        (made once, when first asked for) and the message with its pointers written out. ``text`` is the message
        as the rules read it, in the phrasebook's English (:func:`in_english`: "¿Qué tipo de películas me gustan?"
        asks for the profile)."""
        titles = self.recommender.vocabulary.titles
        plan = rule_plan(text, titles, shown, focus)
        spelled = spell_out_pointers(text, titles, shown, focus)  # "not the second one" → "not 'Unforgiven'"
        read = functools.cache(lambda: self.recommender.understand(spelled))
        if plan is not None and plan.tool == "recommend" and shown and (vague := unresolved_pointer(text, titles, shown, focus)):
            # "not that one" with several items on screen and none explained: ask, rather than leave nothing out
            plan = Plan("chit_chat", "", reply=f"Which one do you mean by '{vague}'? Name it, or say 'not the second one'.")
        if plan is not None and plan.intent == "recommend" and asks_my_taste(text) and not (asked := read()).categories and not asked.years:
            # "Do you like movies? I just watched The Truman Show (1998), have you seen it?": talk, not a request
            liked = next((asked.titles[i] for i in asked.like_item_ids if i in asked.titles), None)
            plan = Plan("chit_chat", "", reply=taste_question_reply(liked))
        if plan is None and (understood := read()).has_hard:
            # "a romantic comedy with a happy ending": no recommend keyword, but the catalog's own words say what it asks;
            # words the rules left unread go to the model to read, but the turn stays a request ("Hello. I like mind
            # benders and documentaries." was called small talk by the model, and answered with the greeting)
            plan = Plan("recommend", "recommend", {"request": text})
        elif plan is None and (understood.problem == "gibberish" or not re.search(r"[^\W_]", text)):
            # "asdkjh qwe zxcv", "?", "🎬🍿": nothing to plan, no model to wait for, nothing to add to the request
            plan = Plan("chit_chat", "", reply=not_understood_reply(understood.quoted(40)))
        elif plan is None and off_topic(text, understood):
            plan = Plan("chit_chat", "", reply=OFF_TOPIC)  # "How is the weather?": not a list about the weather
        return plan, read, spelled

    def needs_model(self, state: ConversationState, text: str) -> bool:
        """Whether a plan turn on ``text``, after the conversation's ``state``, may call the model."""
        shown, focus = last_list(state.artifacts), last_focus(state.artifacts)
        words = in_english(text.strip()).english
        plan, read, _ = self.rules_plan(words, shown, focus)
        return self.needs_reading(plan, words, read)

    def run(self, graph: Any, turn: Turn) -> Iterator[str | TurnEvent]:
        """One plan turn: the plan, shaped by the conversation, then its tool's template answer."""
        shown, focus = last_list(turn.state.artifacts), last_focus(turn.state.artifacts)
        words = in_english(turn.text).english  # what the rules read; the model reads the message as written
        plan, read, spelled = self.rules_plan(words, shown, focus)
        if not self.runtime.fallback_only and self.needs_reading(plan, words, read) and (model := self.runtime.chat_model()) is not None:
            # the list on screen helps only to tell what a message is about ("tell me more about that"); for a turn the
            # rules know is a request it is ~60-100 prompt tokens (2 s on 2 cores) that change nothing: a title the
            # model reads must be written in the message (checked_request)
            listed = shown if plan is None else []
            try:
                modelled = model_plan(
                    model, turn.text, self.recommender.vocabulary, listed, {"callbacks": [turn.counter]}, focus, self.rules(read), self.readings
                )
            except Exception as err:  # the model is down or returned garbage: the rules' plan or the default answers
                logger.warning("the planning call failed: %s", err)
            else:
                if plan is None:
                    plan = modelled
                elif plan.tool == "recommend":  # the rules knew the intent, not the words: the model reads them
                    plan.read, plan.decided_by = modelled.read, "model"
        if plan is None:
            route = router.route(words, self.recommender.vocabulary.titles)
            plan = Plan("recommend", "recommend", route.args if route.tool == "recommend" else {}, "default")
        if plan.tool == "recommend":
            request_words = spelled
            if plan.read is not None:  # what the model read, in words the rules read for sure
                request_words = english_request(plan.read, self.rules(read), self.recommender.vocabulary)
            note = plan.note
            follow_up_recommend(plan, turn.state, words, request_words, shown, read, self.recommender.items)
            if plan.read is not None and plan.note == note:  # the follow-up rules' own note stands; else say what was read,
                # and whether what was asked before still holds (a reading that adds nothing is not "your history" then)
                plan.note = understood_note(turn.text, request_words, plan.args.get("request"))
        elif plan.intent in ("explain", "why_not") and not plan.tool and (reference := why_reference(words)):
            found = self.recommender.request_parser.resolve_title(reference, nearest=0)
            plan = explain_named(plan, reference, found, self.recommender.vocabulary.titles)
        if plan.tool == "explain_recommendation":
            explain_the_list_in_force(plan, turn.state)
        turn.plan = plan
        if plan.intent == "chit_chat":
            answer = plan.reply or GREETING
            yield from emit(turn, answer, check=False)
            self.memory.remember(graph, turn, answer)
            return
        # "I didn't like X, show me others": the dislike is recorded, and a new list for what was asked comes with it;
        # "I love Heat and Ronin" with nothing on screen states a taste to start from: it is recorded, and films like it follow
        then = None
        if plan.intent == "feedback" and plan.args.get("kind") != "liked" and wants_more(words):
            then = Plan("recommend", "recommend", {"request": turn.state.request} if turn.state.request else {})
        elif plan.intent == "feedback" and plan.args.get("kind") == "liked" and not shown and "item_id" in plan.args:
            then = Plan("recommend", "recommend", {"request": words, "like_item": plan.args["item_id"]})
        yield from self.templates.answer(graph, turn, plan.tool, plan.args, separator=False, then=then)

    def read_request(self, text: str) -> str:
        """A request as the recommender should read it, for callers outside a chat (the API): the words themselves
        when the rules account for all of them, else the model's checked reading in English the rules read for sure
        (:func:`english_request`). Without a model, or when its call fails, the words go as they are."""
        rules = self.recommender.understand(text)
        if not text.strip() or (rules.rules_sure and self.reading == "hybrid"):
            return text
        model = None if self.runtime.fallback_only else self.runtime.chat_model()
        if model is None:
            return text
        try:
            plan = model_plan(model, text, self.recommender.vocabulary, [], {}, None, self.rules(lambda: rules), self.readings)
        except Exception as err:
            logger.warning("the reading call failed, the rules read the request: %s", err)
            return text
        if plan.read is None or plan.intent != "recommend":
            return text
        return english_request(plan.read, self.rules(lambda: rules), self.recommender.vocabulary)

    def rules(self, read: Callable[[], ParsedRequest]) -> ParsedRequest:
        """What the rules read, as the model's reading is checked and merged against it: their reading in
        ``hybrid``, nothing at all when the model reads alone (``reading="model"``)."""
        return read() if self.reading == "hybrid" else nothing_read(read().text)

    def needs_reading(self, plan: Plan | None, text: str, read: Callable[[], ParsedRequest]) -> bool:
        """Whether the model reads this message: when the rules found no plan, or found a recommend plan whose
        words they did not all account for (``ParsedRequest.rules_sure``). "More", "more like the first one" and
        "what's good?" carry no words to read; with ``reading="model"`` (an evaluation setting) the model reads
        every other recommend request, whatever the rules made of it."""
        if plan is None:
            return True
        if plan.tool != "recommend" or plan.args.get("like_item") or only_asks_for_more(text) or not plan.args.get("request"):
            return False
        return self.reading == "model" or not read().rules_sure
