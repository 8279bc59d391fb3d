"""The JSON surface other programs use: named Gradio API endpoints and MCP tools.

Each public method of :class:`RecommenderAPI` is a thin, fully typed wrapper over
:class:`~tools.recommend.recommender.Recommender` that takes and returns plain JSON values.
Gradio derives the endpoint's parameters from the type hints and the MCP tool
description from the docstring (its ``Args:`` section describes each parameter),
so the docstrings are written for a model deciding which tool to call.

Bad input raises :class:`gradio.Error` carrying the one-line
:class:`~store.errors.InputError` message, which ``gradio_client`` and MCP clients
receive as the error text (never a traceback).

When API keys are configured (:mod:`ui.api_keys`), every call that arrives over HTTP or MCP
(Gradio passes its ``gr.Request``) must carry ``Authorization: Bearer <key>``, and a key scoped
to one user may only act for that user. The app's own UI events call these methods in-process,
without a request, and are not checked here (``--auth`` guards the browser app).

Each endpoint's return type is a ``TypedDict`` below: Gradio documents the API from it, and
:func:`serve_mcp_results_as_json` declares it to MCP clients as the tool's ``outputSchema``. Every
result that serves a user says whether the store knows that user (``known_user``, with a ``note``
when it does not), so a mistyped id is never silently served popular items.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, get_type_hints

import gradio as gr
from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

from whyrec.store.errors import InputError, WhyrecError
from whyrec.store.records import FeedbackKind, Interaction
from whyrec.tools.recommend.explanation import item_card
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.tool_answers import unknown_user_note
from whyrec.ui.api_keys import ANYONE, AccessDenied, ApiKeys, Caller

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender

MAX_ITEMS = 50
ENDPOINTS = ("recommend", "explain", "profile", "feedback", "search")


# --- what the endpoints return ---------------------------------------------------------------

class ItemCard(TypedDict):
    """An item as a person or a client names it; the title as people say it ("The Shining", not "Shining, The")."""

    item_id: str
    title: str
    year: int | None
    categories: list[str]


class RecommendedItem(ItemCard):
    rank: int
    scores: dict[str, float]
    interest: dict[str, Any] | None
    because: list[dict[str, Any]]
    liked_together: list[dict[str, Any]]
    trend: dict[str, Any] | None
    story: str | None
    keywords: list[str]


class UserFlag(TypedDict):
    """Whether the store knew the user the answer serves; for an unknown id, a note saying it was served as a new user."""

    known_user: bool
    note: str | None


class Recommendations(UserFlag):
    items: list[RecommendedItem]


class Explanation(UserFlag):
    text: str
    status: str
    rank: int | None
    scores: dict[str, float]
    similar_past_items: list[dict[str, Any]]
    interest: dict[str, Any] | None
    matched_categories: dict[str, float]
    item: ItemCard


class ProfileData(TypedDict):
    user_id: str
    interactions: int
    summary: dict[str, Any]
    long_term: list[dict[str, Any]]
    short_term: list[dict[str, Any]]
    distribution: dict[str, float]
    short_term_distribution: dict[str, float]
    evolution: list[dict[str, Any]]
    drift: float
    rising: list[str]
    fading: list[str]


class Profile(ProfileData, UserFlag):
    """A user's profile, and whether the store knew the user (an unknown id has an empty one)."""


class Recorded(TypedDict):
    user_id: str
    item_id: str
    title: str
    kind: str


class FeedbackResult(UserFlag):
    recorded: Recorded
    profile: ProfileData


@contextmanager
def readable_errors() -> Iterator[None]:
    """Turn a whyrec error (bad input or a missing part) into a ``gr.Error`` with the same one-line message."""
    try:
        yield
    except (WhyrecError, AccessDenied) as e:
        raise gr.Error(str(e), print_exception=False) from None


def _user(user_id: str | int | None) -> str:
    user = str(user_id if user_id is not None else "").strip()
    if not user:
        raise InputError("user_id is empty — give the id of a user (the profile endpoint accepts any id; a new id starts with no history)")
    return user


def _k(k: int | float | None, default: int = 10) -> int:
    if k is None:
        return default
    if int(k) != k or not 1 <= int(k) <= MAX_ITEMS:
        raise InputError(f"k={k} — ask for a whole number of items from 1 to {MAX_ITEMS}")
    return int(k)


def _year(name: str, value: int | float | None) -> int | None:
    if value is None or value == "":
        return None
    if int(value) != value:
        raise InputError(f"{name}={value} — give a whole year such as 1995, or leave it empty")
    return int(value)


class RecommenderAPI:
    """recommend / explain / profile / feedback / search as JSON-in, JSON-out functions.

    The recommender is shared by every session and every API caller; it keeps no
    per-request state, and its SQLite store opens one connection per call.
    """

    def __init__(self, recommender: Recommender, keys: ApiKeys | None = None, reader: Callable[[str], str] | None = None):
        """``reader`` turns a request the rules cannot read alone into one they can (``ChatAgent.read_request``:
        one model call for "una película de terror"); without it the rules read every request."""
        self.recommender = recommender
        self.keys = keys if keys is not None else ApiKeys.parse(recommender.settings.api_keys)
        self.reader = reader

    def _caller(self, http: gr.Request | None) -> Caller:
        """Who an HTTP/MCP call comes from (raises ``AccessDenied``); in-process calls pass no request."""
        if http is None:
            return ANYONE
        return self.keys.authenticate(http.headers.get("authorization"))

    def _acting_user(self, user_id: str | int | None, http: gr.Request | None) -> str:
        """The user a call may act for: ``user_id`` checked against the caller's key."""
        return _user(self._caller(http).act_for(_user(user_id)))

    def _flag(self, user_id: str) -> UserFlag:
        note = unknown_user_note(self.recommender, user_id)
        return {"known_user": note is None, "note": note}

    def _options(
        self,
        categories: list[str] | None,
        year_min: int | None,
        year_max: int | None,
        diversity: float | None,
        exclude_seen: bool,
        like_item_id: str | None,
        k: int | float | None,
    ) -> RecommendOptions:
        """The endpoint's arguments checked and made into the options every front end builds (the request is read after)."""
        names, unknown = self.recommender.vocabulary.read_categories(categories or [])  # "crimes" is Crime, as to the tools
        if unknown:
            raise InputError(f"category {unknown[0]!r} is not in the catalog — use one of: {', '.join(self.categories())}")
        y0, y1 = _year("year_min", year_min), _year("year_max", year_max)
        if y0 is not None and y1 is not None and y0 > y1:
            raise InputError(f"year_min={y0} is after year_max={y1} — swap them")
        like = str(like_item_id).strip() if like_item_id not in (None, "") else None
        if like is not None:
            self.recommender.item(like)  # a clear error for an unknown id
        return RecommendOptions(
            None, _k(k), names, y0, y1, None if diversity is None else float(diversity), bool(exclude_seen), like
        )

    # --- the endpoints ---------------------------------------------------------

    def recommend(
        self,
        user_id: str,
        request: str = "",
        k: int = 10,
        categories: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        diversity: float | None = None,
        exclude_seen: bool = True,
        like_item_id: str | None = None,
        http: gr.Request | None = None,
    ) -> Recommendations:
        """Recommend catalog items to a user, best first, each with its scores and the evidence behind it.

        Uses the user's long- and short-term interests, an optional free-text request, filters and
        a diversity setting. Items the user already rated or disliked are left out unless
        exclude_seen is false. A user id the store does not know gets popular items, and the
        answer says so (known_user false, with a note): check the id before showing them as theirs.

        Args:
            user_id: The user's id, e.g. "42".
            request: Optional free text describing what the user wants now, e.g. "a funny space adventure". Empty for none.
            k: How many items to return, 1 to 50.
            categories: Optional list of categories (genres); only items in at least one of them are returned.
            year_min: Optional earliest release year to include.
            year_max: Optional latest release year to include.
            diversity: Optional 0 (most relevant) to 1 (most varied); empty uses the server default.
            exclude_seen: If true, leave out items the user has already interacted with.
            like_item_id: Optional item id; recommend items like this one ("more like this").

        Returns:
            items (each with rank, item_id, title, year, categories, scores, the interest it serves and the user's most similar past items), known_user and note (why an unknown user got popular items).
        """
        with readable_errors():
            user = self._acting_user(user_id, http)
            options = self._options(categories, year_min, year_max, diversity, exclude_seen, like_item_id, k)
            if request and self.reader is not None:
                request = self.reader(request)
            flag = self._flag(user)
            recs = self.recommender.recommend_with(user, replace(options, request=request or None))
            return {"items": [r.to_dict() for r in recs], **flag}

    def explain(
        self,
        user_id: str,
        item_id: str,
        request: str = "",
        k: int = 10,
        categories: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        diversity: float | None = None,
        exclude_seen: bool = True,
        http: gr.Request | None = None,
    ) -> Explanation:
        """Explain why an item is, or is not, recommended to a user, with evidence taken from the user's own history.

        Works for any catalog item. The status says where the item stands (recommended, candidate,
        seen, disliked, filtered, not_retrieved or cold_start); the evidence is the user's past
        items most similar to it, the interest it serves, matched categories and its scores. Pass
        the same options as the recommend call being explained.

        Args:
            user_id: The user's id, e.g. "42".
            item_id: The catalog id of the item to explain.
            request: Optional free text the recommendations were asked with. Empty for none.
            k: The list length the explanation refers to, 1 to 50.
            categories: Optional category filter used for the recommendations.
            year_min: Optional earliest release year used for the recommendations.
            year_max: Optional latest release year used for the recommendations.
            diversity: Optional 0 to 1 diversity used for the recommendations.
            exclude_seen: Whether the recommendations left out items already seen.

        Returns:
            text (the explanation in plain sentences), status, rank, scores, similar_past_items (item_id, title, similarity, rating), interest, matched_categories, the item, known_user and note.
        """
        with readable_errors():
            user = self._acting_user(user_id, http)
            item = self.recommender.item(str(item_id).strip())
            options = self._options(categories, year_min, year_max, diversity, exclude_seen, None, k)
            explanation = self.recommender.explain_with(user, item.item_id, replace(options, request=request or None))
            return {**explanation.to_dict(), **self._flag(user)}

    def profile(self, user_id: str, http: gr.Request | None = None) -> Profile:
        """Describe a user's interests: long-term and recent summaries, category distribution, evolution and drift.

        Args:
            user_id: The user's id, e.g. "42".

        Returns:
            summary (long_term and short_term sentences), interactions, long_term and short_term interests (label, weight, categories, example titles), distribution and short_term_distribution (category shares), evolution (category shares per slice of the history, oldest first), drift (0 = stable, 1 = completely changed), rising and fading categories, known_user and note (an id the store does not know has an empty profile).
        """
        with readable_errors():
            user = self._acting_user(user_id, http)
            return {**self.recommender.profile(user).to_dict(self.recommender.items), **self._flag(user)}

    def feedback(self, user_id: str, item_id: str, kind: FeedbackKind, http: gr.Request | None = None) -> FeedbackResult:
        """Record a user's feedback on an item; the next profile and recommendations reflect it at once.

        "disliked" and "not_interested" remove the item (and near-duplicates) from future
        recommendations; "liked" counts as a top rating in the profile.

        Args:
            user_id: The user's id, e.g. "42".
            item_id: The catalog id of the item.
            kind: One of "liked", "disliked", "not_interested".

        Returns:
            recorded (user_id, item_id, kind, title), the user's updated profile, known_user (false when this feedback started a user the store did not know) and note.
        """
        with readable_errors():
            user, item = self._acting_user(user_id, http), self.recommender.item(str(item_id).strip())
            flag = self._flag(user)  # before the feedback, which makes the user known
            profile = self.recommender.feedback(user, item.item_id, str(kind).strip())
            return {
                "recorded": {"user_id": user, "item_id": item.item_id, "title": item.display_title, "kind": kind},
                "profile": profile.to_dict(self.recommender.items),
                **flag,
            }

    def search(self, text: str, k: int = 10, http: gr.Request | None = None) -> list[ItemCard]:
        """Find catalog items by meaning, to get the item ids the other tools need.

        Args:
            text: What to look for: a title, a topic or a description, e.g. "toy story" or "heist movie".
            k: How many items to return, 1 to 50.

        Returns:
            A list of items with item_id, title, year and categories, closest first.
        """
        with readable_errors():
            self._caller(http)  # no user to scope, but a key is still needed when keys are configured
            return [item_card(i) for i in self.recommender.search(str(text or ""), _k(k))]

    # --- helpers for the UI (not endpoints) -------------------------------------

    def endpoints(self) -> dict[str, Callable]:
        """The functions to expose, by endpoint name."""
        return {name: getattr(self, name) for name in ENDPOINTS}

    def categories(self) -> list[str]:
        """Every category in the catalog, most common first (the catalog vocabulary's, which the filters read by)."""
        return list(self.recommender.vocabulary.categories)

    def year_range(self) -> tuple[int, int]:
        years = [i.year for i in self.recommender.items.values() if i.year]
        return (min(years), max(years)) if years else (1900, 2100)

    def users(self) -> list[str]:
        return self.recommender.store.db.users()

    def rate(self, user_id: str, ratings: dict[str, float]) -> int:
        """Add a (new) user's ratings, 1-5, of catalog items: the cold-start path. Returns how many were added."""
        with readable_errors():
            user = _user(user_id)
            if not ratings:
                raise InputError("no items chosen — search the catalog and pick at least one item to rate")
            now = time.time()
            rows = []
            for n, (item_id, rating) in enumerate(ratings.items()):
                if not 1 <= float(rating) <= 5:
                    raise InputError(f"rating {rating} for item {item_id!r} — use a rating from 1 to 5")
                rows.append(Interaction(user, self.recommender.item(item_id).item_id, now + n * 1e-3, float(rating), "rating"))
            self.recommender.store.db.add_interactions(rows)
            return len(rows)


# --- MCP: JSON results with an outputSchema ----------------------------------------------------

def output_schema(endpoint: Callable) -> dict[str, Any]:
    """The JSON schema of what ``endpoint`` returns, as an MCP ``outputSchema``: an object, so a list is wrapped as ``result``."""
    schema = TypeAdapter(get_type_hints(endpoint)["return"]).json_schema()
    if schema.get("type") == "object":
        return schema
    definitions = schema.pop("$defs", None)  # "#/$defs/..." resolves from the document's root, so they stay there
    return {"type": "object", "properties": {"result": schema}, "required": ["result"], **({"$defs": definitions} if definitions else {})}


def serve_mcp_results_as_json(demo: gr.Blocks) -> None:
    """Make the app's MCP tools answer the way MCP clients read results: JSON text, the same value as
    ``structuredContent``, and each tool's ``outputSchema`` (from its endpoint's return type) in ``tools/list``.

    Gradio's MCP server (6.x) sends an endpoint's result as its Python literal (``str(dict)``: single quotes, ``None``,
    ``True``), with no structured content and no outputSchema. This wraps the two handlers of this app's own server
    (nothing global changes). A list result is structured as ``{"result": [...]}``: structured content is an object,
    and FastMCP and Gradio's own ``structured_output`` wrap a list the same way. Call it after the MCP server is built
    and before it takes requests: :func:`mcp_results_as_json` does, from the app's lifespan.
    """
    from mcp import types

    server = demo.mcp_server_obj
    if server is None:
        return
    schemas = {
        tool: output_schema(getattr(RecommenderAPI, endpoint.lstrip("/")))
        for tool, endpoint in server.tool_to_endpoint.items()
        if endpoint.lstrip("/") in ENDPOINTS
    }
    handlers = server.mcp_server.request_handlers
    list_tools, call_tool = handlers[types.ListToolsRequest], handlers[types.CallToolRequest]
    # the endpoints return JSON values (every public endpoint of the app is one of ENDPOINTS): their text is JSON
    server.postprocess_output_data = lambda data, root_url: [types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False)) for value in data]

    async def listed(request: types.ListToolsRequest) -> types.ServerResult:
        listing = (await list_tools(request)).root
        tools = [t.model_copy(update={"outputSchema": schemas[t.name]}) if t.name in schemas else t for t in listing.tools]
        return types.ServerResult(listing.model_copy(update={"tools": tools}))

    async def called(request: types.CallToolRequest) -> types.ServerResult:
        result = await call_tool(request)
        answer = result.root
        if not isinstance(answer, types.CallToolResult) or answer.isError or request.params.name not in schemas:
            return result
        value = json.loads(answer.content[0].text)  # the JSON written just above: Gradio hands back only the content
        return types.ServerResult(answer.model_copy(update={"structuredContent": value if isinstance(value, dict) else {"result": value}}))

    handlers[types.ListToolsRequest], handlers[types.CallToolRequest] = listed, called


def mcp_results_as_json(demo: gr.Blocks) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan for ``demo.launch(app_kwargs={"lifespan": ...})`` that runs :func:`serve_mcp_results_as_json`.

    Gradio builds its MCP server while it creates the app and enters this lifespan after it; uvicorn enters the
    lifespan before it listens, so no MCP client ever sees the Python-literal results (a call after ``launch``
    returns would leave a moment in which one could). Without ``mcp_server`` it does nothing."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        serve_mcp_results_as_json(demo)
        yield

    return lifespan
