"""The whyrec tools as LangChain tools: the one thin place where ``tools`` meets LangChain.

Each tool wraps one :class:`~whyrec.tools.tool_answers.ToolAnswers` method and returns its
answer as ``content_and_artifact``: the content a model reads (delimited, neutralised JSON)
and the same result as plain dicts in ``ToolMessage.artifact`` for code. This module adds
only what LangChain needs: argument schemas, tool objects, and whose data a tool reads.

The user is never a tool argument, so a model cannot choose it. It comes from one of two places:

* **bound when the tools are built**, for plain use by any framework::

      tools = get_tools(recommender, user_id="42")      # or WhyrecToolkit(recommender, user_id="42")
      tools[1].invoke({"request": "space adventure"})

* **the run's context**, so one set of tools serves every chat of an agent::

      agent = create_agent(model, get_tools(recommender), context_schema=WhyrecContext)
      agent.invoke({"messages": [...]}, context=WhyrecContext(user_id="42"))

Tools bound to a user refuse a run whose context names another user: tools built for user
A never read or write user B's data. ``search_catalog`` reads no user's data and needs neither.

A refusal (no user, another user, an unknown item, an empty search) is LangChain's tool error: the
tool raises :class:`ToolRefusal`, a ``ToolException``, and ``handle_tool_error`` turns it into a
``ToolMessage`` with ``status="error"`` whose content is the one-line error (with the items the
caller may have meant) and whose artifact keeps the same as dicts. A plain ``invoke`` returns the
error's content, as LangChain does for any handled tool error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from langchain.tools import ToolRuntime
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, BaseToolkit, InjectedToolArg, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from whyrec.store.errors import InputError
from whyrec.store.records import FEEDBACK_KINDS, FeedbackKind
from whyrec.tools.tool_answers import LIST_LENGTH, Refusal, ToolAnswer, ToolAnswers, failure
from whyrec.tools.tool_text import TOOL_NAMES

if TYPE_CHECKING:
    from whyrec.tools.recommend.recommender import Recommender

__all__ = ["TOOL_NAMES", "ToolRefusal", "WhyrecContext", "WhyrecToolkit", "get_tools", "user_for"]


@dataclass(frozen=True)
class WhyrecContext:
    """What a run knows that the model must not choose: whose data the tools read and write."""

    user_id: str


Runtime = Annotated[ToolRuntime[WhyrecContext] | None, InjectedToolArg]
"""Injected by an agent's ToolNode (the parameter is named ``runtime``); None when a tool is invoked plainly."""


def user_for(runtime: ToolRuntime | None, bound_user: str | None = None) -> str:
    """Whose data a call may touch: the bound user, else the run context's; a one-line error otherwise."""
    context = getattr(runtime, "context", None)
    asked = context.get("user_id") if isinstance(context, dict) else getattr(context, "user_id", None)
    asked = None if asked is None or str(asked).strip() == "" else str(asked)
    if bound_user is not None:
        if asked is not None and asked != bound_user:
            raise InputError(
                "these tools are bound to another user than the run's context names — "
                "build them for that user (get_tools(recommender, user_id=...)) or unbound"
            )
        return bound_user
    if asked is None:
        raise InputError(
            "no user for this tool — bind one (get_tools(recommender, user_id=...)) "
            "or invoke the agent with context=WhyrecContext(user_id=...)"
        )
    return asked


class ToolRefusal(ToolException):
    """A tool refused its input: LangChain reports it as an error, and :func:`refusal_message` keeps its artifact."""

    def __init__(self, tool: str, refusal: Refusal, tool_call_id: str | None):
        super().__init__(refusal.content)
        self.tool, self.refusal, self.tool_call_id = tool, refusal, tool_call_id


def refusal_message(err: ToolException) -> str | ToolMessage:
    """``handle_tool_error`` for the whyrec tools: a refusal inside a tool call becomes the error ``ToolMessage`` itself.

    LangChain's own handling keeps only the error's text and drops the artifact, which carries what code reads: the
    one-line error and the items the caller may have meant (the agent answers "Did you mean …?" from them). A tool
    returning a ToolMessage is passed through as is, so building it here keeps both. Without a tool call id (a plain
    ``invoke``) the content is the answer, as for any handled tool error.
    """
    if isinstance(err, ToolRefusal) and err.tool_call_id:
        return ToolMessage(err.refusal.content, artifact=err.refusal.artifact, tool_call_id=err.tool_call_id, name=err.tool, status="error")
    return str(err)


def _answered(tool: str, runtime: ToolRuntime | None, answer: ToolAnswer) -> ToolAnswer:
    """``answer``, or its refusal raised as the tool error LangChain expects."""
    if isinstance(answer, Refusal):
        raise ToolRefusal(tool, answer, getattr(runtime, "tool_call_id", None))
    return answer


# --- tool arguments: what the model sees ------------------------------------------------------

class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore")  # small models add stray keys; user_id among them is ignored


class RecommendArgs(_Args):
    # ``X | SkipJsonSchema[None]``: the model sees a plain type (short schema, clearer to a small model), null still validates
    request: str | SkipJsonSchema[None] = Field(None, description="The user's words when they ask for something specific, e.g. 'funny space adventure'.")
    categories: list[str] | SkipJsonSchema[None] = Field(None, description="Only these categories, e.g. ['Comedy'].")
    year_min: int | SkipJsonSchema[None] = Field(None, description="Earliest year.")
    year_max: int | SkipJsonSchema[None] = Field(None, description="Latest year.")
    diversity: float | SkipJsonSchema[None] = Field(None, ge=0, le=1, description="0 = most relevant, 1 = most varied.")
    like_item: str | SkipJsonSchema[None] = Field(None, description="Id or exact title of an item the user wants more like.")
    k: int = Field(LIST_LENGTH, ge=1, le=20, description="How many items.")
    exclude: list[str] | SkipJsonSchema[None] = Field(None, description="Ids or exact titles already shown, when the user asks for more.")

    @field_validator("categories", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [c.strip() for c in value.split(",") if c.strip()] or None
        return value


class ItemArgs(_Args):
    item_id: str = Field(description="The item's id (or exact title).")

    @field_validator("item_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class ExplainArgs(ItemArgs):
    request: str | SkipJsonSchema[None] = Field(None, description="The request the list being explained answered, if any.")
    exclude: list[str] | SkipJsonSchema[None] = Field(None, description="The items that list left out as already shown, if any.")
    like_item: str | SkipJsonSchema[None] = Field(None, description="Id or exact title of the item that list was asked to be like, if any.")
    k: int = Field(LIST_LENGTH, ge=1, le=20, description="How many items that list showed.")


class SearchArgs(_Args):
    text: str = Field(description="What to look for in the catalog: a title or a description.")


class FeedbackArgs(ItemArgs):
    kind: FeedbackKind = Field(description=", ".join(FEEDBACK_KINDS[:-1]) + f" or {FEEDBACK_KINDS[-1]}.")


# --- the tools -------------------------------------------------------------------------------

def get_tools(recommender: Recommender, user_id: str | int | None = None) -> list[BaseTool]:
    """The five whyrec tools over ``recommender``, for ``user_id`` or for the user each run's context names."""
    if user_id is not None and str(user_id).strip() == "":
        raise InputError("user_id is empty — bind the tools to a user's id, or pass None to read it from each run's context")
    bound = None if user_id is None else str(user_id)
    answers = ToolAnswers(recommender)

    def as_user(tool: str, runtime: ToolRuntime | None, answer: Callable[[str], ToolAnswer]) -> ToolAnswer:
        try:
            user = user_for(runtime, bound)
        except InputError as err:
            return _answered(tool, runtime, failure(tool, err))
        return _answered(tool, runtime, answer(user))

    def get_interest_profile(runtime: Runtime = None) -> ToolAnswer:
        """The user's long-term and recent (short-term) interests, with example titles. Use when asked what the user likes."""
        return as_user("get_interest_profile", runtime, answers.get_interest_profile)

    def recommend(runtime: Runtime = None, **args: Any) -> ToolAnswer:
        """Recommend items for the user, best first, each with the interest it serves and similar past items."""
        # ``args``: those of RecommendArgs the call gave, validated; ToolAnswers.recommend maps them to RecommendOptions
        return as_user("recommend", runtime, lambda user: answers.recommend(user, **args))

    def explain_recommendation(item_id: str, runtime: Runtime = None, **args: Any) -> ToolAnswer:
        """Evidence for why an item is, or is not, recommended to the user ("why X?" and "why not X?")."""
        return as_user("explain_recommendation", runtime, lambda user: answers.explain_recommendation(user, item_id, **args))

    def search_catalog(text: str, runtime: Runtime = None) -> ToolAnswer:
        """Find catalog items by title or description, to get an item's id."""
        return _answered("search_catalog", runtime, answers.search_catalog(text))  # the runtime only names the call

    def record_feedback(item_id: str, kind: FeedbackKind, runtime: Runtime = None) -> ToolAnswer:
        """Record that the user liked, disliked or is not interested in an item; later recommendations change at once."""
        return as_user("record_feedback", runtime, lambda user: answers.record_feedback(user, item_id, kind))

    specs = [
        (get_interest_profile, None),  # no arguments: LangChain skips injection for an empty args_schema
        (recommend, RecommendArgs),
        (explain_recommendation, ExplainArgs),
        (search_catalog, SearchArgs),
        (record_feedback, FeedbackArgs),
    ]
    tools = [
        StructuredTool.from_function(
            function,
            name=function.__name__,
            description=(function.__doc__ or "").strip(),
            args_schema=schema,
            response_format="content_and_artifact",
            handle_tool_error=refusal_message,
        )
        for function, schema in specs
    ]
    assert tuple(t.name for t in tools) == TOOL_NAMES, "tool_text.TOOL_NAMES must list the tools the adapter builds"
    return tools


class WhyrecToolkit(BaseToolkit):
    """The whyrec tools as a LangChain toolkit.

    ``WhyrecToolkit(recommender, user_id="42").get_tools()`` for one user's tools that any
    framework can invoke; without ``user_id``, each run passes ``context=WhyrecContext(...)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    recommender: Any
    user_id: str | None = None

    def __init__(self, recommender: Recommender, user_id: str | int | None = None, **kwargs: Any):
        super().__init__(recommender=recommender, user_id=None if user_id is None else str(user_id), **kwargs)

    def get_tools(self) -> list[BaseTool]:
        return get_tools(self.recommender, user_id=self.user_id)

