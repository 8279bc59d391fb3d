"""The five whyrec tools as plain Python: what each one answers, for a model and for code.

Each method calls one :class:`~whyrec.tools.recommend.recommender.Recommender` verb for a given user and
returns a :data:`ToolAnswer`: the text a model reads (neutralised catalog text as delimited
JSON, see :mod:`whyrec.tools.tool_text`) and the same result as plain dicts for code (the
agent's answer check, the UI's item cards). Bad input never raises: the answer is a
:class:`Refusal` carrying a one-line error and, where it helps, catalog items the caller may
have meant; an adapter reports it as its framework's error (LangChain: ``status="error"``).

An answer that serves a user the store has no record of says so (``"known_user": false`` and a
note, :func:`unknown_user_note`), so a mistyped id is never silently served popular items.

No LangChain here. :mod:`whyrec.tools.langchain_tools` wraps these methods as LangChain tools
and decides whose data they read; another framework can wrap them the same way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from whyrec.store.errors import InputError
from whyrec.store.records import FeedbackKind, Item
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.tool_text import card, neutralise, tool_data
from whyrec.tools.understanding.titles import TitleIndex

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.tools.recommend.scoring import Recommendation

ToolAnswer = tuple[str, dict[str, Any]]
"""(content for a model, artifact for code): LangChain's ``content_and_artifact`` shape."""


class Refusal(NamedTuple):
    """A tool's answer when its input was wrong. Still a (content, artifact) :data:`ToolAnswer`, so code that unpacks
    answers keeps working; its type tells an adapter to report an error rather than a result."""

    content: str
    artifact: dict[str, Any]


def failure(tool: str, err: InputError, suggestions: list[dict[str, Any]] | None = None) -> Refusal:
    """A tool's answer when its input was wrong: the one-line error, and items the caller may have meant."""
    payload: dict[str, Any] = {"error": str(err)}
    if suggestions:
        payload["did_you_mean"] = suggestions
    return Refusal(tool_data(tool, payload), {"error": str(err), "items": suggestions or []})


def unknown_user_note(recommender: Recommender, user_id: str) -> str | None:
    """None for a user the store has a record of; for any other id, the one-line note every answer serving it carries.

    An unknown id is served as a new user (popular items, an empty profile): right for someone new, wrong for a typo,
    and the answer alone cannot tell the two apart, so it says which it was given."""
    if user_id in recommender.store.db.users():
        return None
    return (
        f"user {neutralise(user_id, 60)!r} was not in the store (no history or feedback), so this is served as for a new "
        "user, not from anyone's own history — check the id for a typo; a new user is known once they rate or give feedback"
    )


def _interest(rec: Recommendation) -> tuple[str, str] | None:
    """("fits", "long-term interest in Comedy & Drama"), or ("nearest_interest", …) when the item shares no category
    with the interest nearest to it: a model told a horror film "fits" 'Children's & Drama' repeats it."""
    if rec.interest is None:
        return None
    key = "fits" if rec.interest.fits(rec.item.categories) else "nearest_interest"
    return key, f"{rec.interest.term} interest in {rec.interest.label}"


def _for_user(tool: str, shown: dict[str, Any], artifact: dict[str, Any], note: str | None) -> ToolAnswer:
    """An answer serving a user: the artifact always says whether the store knows them; for an unknown user the
    model's text carries the flag and the note too (a known user's text stays as short as before)."""
    if note:
        shown = {**shown, "known_user": False, "note": note}
    return tool_data(tool, shown), {**artifact, "known_user": note is None, "user_note": note}


LIST_LENGTH = 5
"""Items a recommend call shows unless asked otherwise. An explanation ranks the same length of list, so "#N in your
current recommendations" is the N the person saw, and an item below the list is never called recommended."""


class ToolAnswers:
    """The tools' bodies over one recommender. The caller says which user; nothing here picks one."""

    def __init__(self, recommender: Recommender):
        self.recommender = recommender

    @property
    def titles(self) -> TitleIndex:
        """The recommender's catalog titles (a re-ingest's new ones as soon as it has refreshed)."""
        return self.recommender.vocabulary.titles

    # --- naming items ------------------------------------------------------------------------

    def _resolve(self, reference: str) -> Item:
        item = self.titles.resolve(reference)
        if item is None:
            raise InputError(f"no catalog item has the id or exact title {neutralise(reference, 80)!r}")
        return item

    def _known_ids(self, references: list[str] | None) -> list[str]:
        """Ids of the references that name catalog items (ids or exact titles); unknown ones are skipped, not an error:
        they list items already shown, and a stale one must not cost the person their answer."""
        return [item.item_id for ref in references or [] if (item := self.titles.resolve(str(ref))) is not None]

    def _suggestions(self, reference: str | None, n: int = 3) -> list[dict[str, Any]]:
        if not reference:
            return []
        try:
            return [card(i) for i in self.recommender.search(reference, k=n)]
        except InputError:
            return []

    # --- the five tools ----------------------------------------------------------------------

    def get_interest_profile(self, user_id: str) -> ToolAnswer:
        """The user's long-term and recent interests, with example titles."""
        recommender = self.recommender
        try:
            profile = recommender.profile(user_id)
        except InputError as err:
            return failure("get_interest_profile", err)
        note = unknown_user_note(recommender, user_id)
        full = profile.to_dict(recommender.items)
        shown = {
            "summary": {k: neutralise(v, 600) for k, v in full["summary"].items()},
            "interests": [{"interest": neutralise(i["label"], 60), "share": f"{i['weight']:.0%}"} for i in full["long_term"]],
            "rising": full["rising"],
            "fading": full["fading"],
        }
        example_ids = [i for interest in profile.long_term + profile.short_term for i in interest.item_ids[:3]]
        items = [card(recommender.items[i]) for i in dict.fromkeys(example_ids) if i in recommender.items]
        return _for_user("get_interest_profile", shown, {"profile": full, "items": items}, note)

    def recommend(
        self,
        user_id: str,
        request: str | None = None,
        categories: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        diversity: float | None = None,
        like_item: str | None = None,
        k: int = LIST_LENGTH,
        exclude: list[str] | None = None,
    ) -> ToolAnswer:
        """Items for the user, best first, each with the interest it serves and similar past items.

        Small models fill every optional argument, so unknown categories are dropped and filters
        that leave nothing are lifted (the note says so) rather than answering with an empty list.
        """
        recommender = self.recommender
        wanted, unknown = recommender.vocabulary.read_categories(categories or [])  # a small model writes 'crimes' for 'Crime'
        notes = []
        if user_note := unknown_user_note(recommender, user_id):
            notes.append(user_note)
        if unknown:
            notes.append(f"not categories of this catalog, ignored: {', '.join(neutralise(c, 40) for c in unknown)}")
        try:
            options = RecommendOptions(
                request or None, k, wanted, year_min, year_max, diversity,
                exclude_item_ids=self._known_ids(exclude),  # items already shown, when the person asks for more
                like_item_id=self._resolve(like_item).item_id if like_item else None,
            )
            recs = recommender.recommend_with(user_id, options)
            if not recs and (options.categories or options.year_min is not None or options.year_max is not None):
                notes.append("nothing matched the category/year filters, so these items ignore them")
                options = replace(options, categories=(), year_min=None, year_max=None)
                recs = recommender.recommend_with(user_id, options)
        except InputError as err:
            return failure("recommend", err, self._suggestions(like_item))
        shown = []
        for r in recs:
            entry = card(r.item, item_id=False)  # explain and feedback take exact titles too
            if interest := _interest(r):
                entry[interest[0]] = neutralise(interest[1], 80)
            if r.because:
                entry["like_past"] = [neutralise(b.title, 80) for b in r.because[:2]]
            shown.append(entry)
        past = [card(recommender.items[b.item_id]) for r in recs for b in r.because[:2] if b.item_id in recommender.items]
        payload: dict[str, Any] = {"items": shown}
        # what the request was taken to mean: clipped for the model, whole for the person (a clipped note ends "(from 'old….")
        understood = [neutralise(n) for n in recs.notes]
        if (like := options.like_item_id) and like not in (recs.understood.like_item_ids if recs.understood else []):
            # "more like that" after "why the second one?" names no title in its words: say which item it was taken to mean
            understood.append(f"More like '{neutralise(recommender.items[like].display_title, 120)}', as you asked.")
        if understood:
            payload["understood"] = [neutralise(n, 160) for n in understood]
        if user_note:
            payload["known_user"] = False
        if notes or not shown:
            payload["note"] = "; ".join(notes) or "the catalog has nothing left to recommend"
        return tool_data("recommend", payload), {
            "recommendations": [r.to_dict() for r in recs],
            "items": [card(r.item) for r in recs],
            "mentioned": past,
            "understood": understood,
            "notes": notes,
            "known_user": user_note is None,
            "user_note": user_note,
        }

    def explain_recommendation(
        self, user_id: str, item_id: str, request: str | None = None, exclude: list[str] | None = None, like_item: str | None = None,
        k: int = LIST_LENGTH,
    ) -> ToolAnswer:
        """Evidence for why an item is, or is not, recommended to the user (in the list of ``k`` for ``request``, less the
        items in ``exclude``, more like ``like_item``, when given: the list on screen, so its ranks are the ones shown)."""
        recommender = self.recommender
        try:
            item = self._resolve(item_id)
            like = self.titles.resolve(str(like_item)) if like_item else None
            options = RecommendOptions(request or None, k, like_item_id=like.item_id if like else None, exclude_item_ids=self._known_ids(exclude))
            explanation = recommender.explain_with(user_id, item.item_id, options)
        except InputError as err:
            return failure("explain_recommendation", err, self._suggestions(item_id))
        note = unknown_user_note(recommender, user_id)
        shown = {
            "item": card(item),
            "status": explanation.status,
            "rank": explanation.rank,
            "evidence": [neutralise(s, 300) for s in explanation.sentences],
        }
        past = [card(recommender.items[p.item_id]) for p in explanation.similar_past_items if p.item_id in recommender.items]
        return _for_user("explain_recommendation", shown, {"explanation": explanation.to_dict(), "items": [card(item)], "mentioned": past}, note)

    def search_catalog(self, text: str) -> ToolAnswer:
        """Catalog items by title or description: exact title matches first. Reads no user's data."""
        try:
            found = self.recommender.search(text, k=5)
        except InputError as err:
            return failure("search_catalog", err)
        exact = self.titles.lookup(text)
        found = exact + [i for i in found if i not in exact]
        shown = [card(i, description=True) for i in found[:5]]
        return tool_data("search_catalog", {"items": shown}), {"items": [card(i) for i in found[:5]]}

    def record_feedback(self, user_id: str, item_id: str, kind: FeedbackKind) -> ToolAnswer:
        """Store the user's verdict on an item; the store rejects a kind it does not know."""
        note = unknown_user_note(self.recommender, user_id)  # before the feedback, which makes the user known
        try:
            item = self._resolve(item_id)
            profile = self.recommender.feedback(user_id, item.item_id, kind)
        except InputError as err:
            return failure("record_feedback", err, self._suggestions(item_id))
        shown = {"recorded": kind, "item": card(item), "profile_now": neutralise(profile.summary_text(self.recommender.items).get("long_term", ""), 300)}
        return _for_user("record_feedback", shown, {"recorded": kind, "item_id": item.item_id, "items": [card(item)]}, note)
