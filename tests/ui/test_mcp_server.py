"""The MCP tools as an MCP client meets them: the real ``mcp`` client over streamable HTTP against the running app.

A client reads a tool's result as JSON text and as ``structuredContent`` that matches the tool's ``outputSchema``;
``mcp.ClientSession.call_tool`` itself checks the match and raises when it fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from whyrec.store.ports import free_port
from whyrec.store.records import Dataset, Item
from whyrec.ui.app import build_app
from whyrec.ui.server import serve

pytest.importorskip("mcp")

SHINING = Item("shining", "Shining, The", "A writer and his family winter alone in an empty mountain hotel.", ("Horror",), 1980)


@pytest.fixture
def mcp_url(empty_store, reranker):
    """The app with ``--mcp`` on a catalog whose titles include one stored the MovieLens way ("Shining, The")."""
    from whyrec.tools.recommend.recommender import Recommender

    empty_store.ingest(Dataset("small", [*SMALL_CATALOG, SHINING], list(SMALL_INTERACTIONS)), progress=False)
    demo = build_app(Recommender(empty_store, reranker), chat_agent_factory=None)
    url = serve(demo, port=free_port(), block=False, quiet=True, mcp=True)
    yield url + "gradio_api/mcp/"
    demo.close()


def session_run(url: str, calls: list[tuple[str, dict[str, Any]]]):
    """List the tools, then make ``calls`` in one session; returns (tools by name, results in order)."""
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def run():
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            return tools, [await session.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(run)


def test_every_tool_answers_json_with_structured_content_that_matches_its_output_schema(mcp_url):
    calls = [
        ("recommend", {"user_id": "u1", "k": 3}),
        ("explain", {"user_id": "u1", "item_id": "shining"}),
        ("profile", {"user_id": "u2"}),
        ("feedback", {"user_id": "u3", "item_id": "shining", "kind": "liked"}),
        ("search", {"text": "a family alone in a hotel in the mountains", "k": len(SMALL_CATALOG) + 1}),
    ]
    tools, results = session_run(mcp_url, calls)  # call_tool raises if structured content breaks the outputSchema

    for (name, _), result in zip(calls, results, strict=True):
        schema = tools[name].outputSchema
        assert schema and schema["type"] == "object" and schema["properties"], f"{name} lists no outputSchema"
        assert not result.isError, result.content
        text = result.content[0].text
        assert json.loads(text) is not None, f"{name} answered {text[:60]!r}, not JSON"  # before: "{'items': [{'rank': 1, ..."
        structured = result.structuredContent
        assert structured == (json.loads(text) if name != "search" else {"result": json.loads(text)}), name

    recommend, explain, profile, feedback, search = (r.structuredContent for r in results)
    assert len(recommend["items"]) == 3 and recommend["known_user"] is True and recommend["note"] is None
    assert explain["item"]["title"] == "The Shining" and explain["known_user"] is True, "a title as people say it, not 'Shining, The'"
    assert profile["user_id"] == "u2" and profile["interactions"] == 4
    assert feedback["recorded"] == {"user_id": "u3", "item_id": "shining", "title": "The Shining", "kind": "liked"}
    assert "The Shining" in {i["title"] for i in search["result"]} and not any(i["title"].endswith(", The") for i in search["result"])
    assert set(tools["search"].outputSchema["required"]) == {"result"}, "structured content is an object: a list is wrapped"


def test_an_unknown_user_is_flagged_and_a_refusal_stays_an_error(mcp_url, empty_store):
    tools, (typo, profile, refused) = session_run(mcp_url, [
        ("recommend", {"user_id": "u11", "k": 2}),  # meant u1
        ("profile", {"user_id": "u11"}),
        ("explain", {"user_id": "u1", "item_id": "no-such-item"}),
    ])

    assert typo.structuredContent["known_user"] is False and len(typo.structuredContent["items"]) == 2
    assert "'u11' was not in the store" in typo.structuredContent["note"] and "typo" in typo.structuredContent["note"]
    assert profile.structuredContent["known_user"] is False and profile.structuredContent["interactions"] == 0
    assert refused.isError and refused.structuredContent is None
    assert "no-such-item" in refused.content[0].text and "\n" not in refused.content[0].text.strip()
    assert "u11" not in empty_store.db.users(), "asking about an unknown user stores nothing"
