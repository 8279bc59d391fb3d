"""LangChain's own standard tool tests (``langchain-tests``) over each of the five whyrec tools.

These are the checks any LangChain integration is held to: a name and an input schema, and
``invoke``/``ainvoke`` with a plain dict or a tool call, the way another framework calls a
tool — no agent, no injected runtime. The tools run over a real recommender (real SQLite,
real Chroma, the packaged MiniLM) on the small test catalog, bound to user ``u1`` when the
toolkit is built; ``search_catalog`` needs no user, so it runs unbound.

The suites' async tests are plain ``async def``; ``asyncio_mode = "auto"`` in pyproject runs them.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.item_index import ItemIndex
from whyrec.store.records import Dataset
from whyrec.store.settings import Settings
from whyrec.tools.langchain_tools import get_tools

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS


@pytest.fixture(scope="module")
def shared_recommender(tmp_path_factory, embedder, reranker):
    """One real recommender for all 55 standard tests (building a store per test would dominate)."""
    from whyrec.tools.recommend.recommender import Recommender

    root = tmp_path_factory.mktemp("standard_suites")
    settings = Settings(data_dir=root / "data", cache_dir=root / "cache", short_term_window=3)
    store = Store(settings, Database(settings.sqlite_path), embedder, ItemIndex(settings, embedder))
    store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    return Recommender(store, reranker)


class _WhyrecTool:
    """Supplies one whyrec tool to a standard suite. A plain class on purpose: the suites'
    ``test_no_overrides`` check needs exactly one ``langchain_tests`` base class."""

    tool_name: str
    bound_user: str | None = "u1"
    example: dict[str, Any] = {}

    @pytest.fixture(autouse=True)
    def _build_tools(self, shared_recommender) -> None:
        # autouse fixtures run first, so ``tool_constructor`` (read by test_init too) has its tool
        tools = get_tools(shared_recommender, user_id=self.bound_user)
        self._tool = next(t for t in tools if t.name == self.tool_name)

    @property
    def tool_constructor(self) -> BaseTool:
        return self._tool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return dict(self.example)

    def test_plain_invoke_answers_with_data_not_an_error(self, tool: BaseTool) -> None:
        """Beyond the suites: their example call must produce a real answer, not a one-line error."""
        message = tool.invoke({"type": "tool_call", "name": tool.name, "id": "1", "args": self.tool_invoke_params_example})
        assert "error" not in message.artifact, message.artifact
        assert message.artifact.get("items") or message.artifact.get("profile"), "the answer names catalog items"


class _Profile(_WhyrecTool):
    tool_name = "get_interest_profile"


class _Recommend(_WhyrecTool):
    tool_name = "recommend"
    example = {"request": "space adventure", "categories": ["Sci-Fi"], "k": 3}


class _Explain(_WhyrecTool):
    tool_name = "explain_recommendation"
    example = {"item_id": "Alien Frontier"}


class _Search(_WhyrecTool):
    tool_name = "search_catalog"
    bound_user = None
    example = {"text": "starship"}


class _Feedback(_WhyrecTool):
    tool_name = "record_feedback"
    example = {"item_id": "space4", "kind": "liked"}


class TestProfileUnit(_Profile, ToolsUnitTests): ...


class TestProfileIntegration(_Profile, ToolsIntegrationTests): ...


class TestRecommendUnit(_Recommend, ToolsUnitTests): ...


class TestRecommendIntegration(_Recommend, ToolsIntegrationTests): ...


class TestExplainUnit(_Explain, ToolsUnitTests): ...


class TestExplainIntegration(_Explain, ToolsIntegrationTests): ...


class TestSearchUnit(_Search, ToolsUnitTests): ...


class TestSearchIntegration(_Search, ToolsIntegrationTests): ...


class TestFeedbackUnit(_Feedback, ToolsUnitTests): ...


class TestFeedbackIntegration(_Feedback, ToolsIntegrationTests): ...
