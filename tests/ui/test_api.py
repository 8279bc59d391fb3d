"""The named API endpoints, called through gradio_client against the real app on a real (tiny) store."""

from __future__ import annotations

import json
import re
import threading

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

from whyrec.store.ports import free_port
from whyrec.ui.api import RecommenderAPI
from whyrec.ui.app import build_app
from whyrec.ui.server import parse_auth, serve

U1_HISTORY = {"rom1", "rom2", "rom3", "crime1", "rom4", "space1", "space2"}


@pytest.fixture
def app_url(recommender):
    demo = build_app(recommender, chat_agent_factory=None)
    url = serve(demo, port=free_port(), block=False, quiet=True)
    yield url
    demo.close()


@pytest.fixture
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def test_only_the_named_endpoints_are_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/recommend", "/explain", "/profile", "/feedback", "/search"}
    params = [p["parameter_name"] for p in endpoints["/recommend"]["parameters"]]
    assert params[:3] == ["user_id", "request", "k"] and "exclude_seen" in params and "like_item_id" in params


def test_recommend_returns_unseen_catalog_items_with_scores(client, recommender):
    recs = client.predict(user_id="u1", k=4, api_name="/recommend")["items"]
    ids = [r["item_id"] for r in recs]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert not set(ids) & U1_HISTORY, "items the user already rated came back"
    assert set(ids) <= set(recommender.items)
    assert [r["rank"] for r in recs] == [1, 2, 3, 4]
    assert all(0.0 <= r["scores"]["final"] <= 1.0 and r["title"] for r in recs)


def test_recommend_respects_filters(client, recommender):
    recs = client.predict(user_id="u1", k=5, categories=["Crime"], exclude_seen=False, api_name="/recommend")["items"]
    assert recs and all("Crime" in r["categories"] for r in recs)
    recs = client.predict(user_id="u1", k=5, year_min=2000, year_max=2005, api_name="/recommend")["items"]
    assert recs and all(2000 <= r["year"] <= 2005 for r in recs)
    # "more like this" reaches the recommender (its ranking is tested in tests/tools)
    plain = [r["item_id"] for r in client.predict(user_id="u2", k=4, api_name="/recommend")["items"]]
    liked = [r["item_id"] for r in client.predict(user_id="u2", k=4, like_item_id="rom1", api_name="/recommend")["items"]]
    assert liked == [r.item.item_id for r in recommender.recommend("u2", k=4, like_item_id="rom1")]
    assert liked != plain


def test_explain_cites_only_the_users_history(client):
    top = client.predict(user_id="u1", k=3, api_name="/recommend")["items"][0]
    explanation = client.predict(user_id="u1", item_id=top["item_id"], k=3, api_name="/explain")
    assert explanation["status"] == "recommended" and explanation["rank"] == 1
    past = explanation["similar_past_items"]
    assert past and {p["item_id"] for p in past} <= U1_HISTORY
    assert any(p["title"] in explanation["text"] for p in past), "the text should name the evidence"
    # an item the user has seen is explained as such, not recommended
    seen = client.predict(user_id="u1", item_id="rom1", api_name="/explain")
    assert seen["status"] == "seen"


def test_feedback_changes_the_next_recommendations(client, recommender):
    before = [r["item_id"] for r in client.predict(user_id="u1", k=3, api_name="/recommend")["items"]]
    result = client.predict(user_id="u1", item_id=before[0], kind="disliked", api_name="/feedback")
    assert result["recorded"] == {"user_id": "u1", "item_id": before[0], "title": recommender.items[before[0]].display_title, "kind": "disliked"}
    after = [r["item_id"] for r in client.predict(user_id="u1", k=3, api_name="/recommend")["items"]]
    assert before[0] not in after
    assert client.predict(user_id="u1", item_id=before[0], api_name="/explain")["status"] == "disliked"


def test_profile_reads_the_history(client):
    profile = client.predict(user_id="u1", api_name="/profile")
    assert profile["interactions"] == len(U1_HISTORY)
    assert "Romance" in profile["distribution"] and profile["summary"]["long_term"]
    assert profile["evolution"] and all(w["distribution"] for w in profile["evolution"])
    assert profile["known_user"] is True and profile["note"] is None
    new = client.predict(user_id="somebody-new", api_name="/profile")
    assert new["interactions"] == 0 and "No history" in new["summary"]["long_term"]
    assert new["known_user"] is False and "'somebody-new' was not in the store" in new["note"]


def test_a_mistyped_user_id_is_served_but_flagged_in_every_answer(client, recommender):
    """A typo ("u11" for "u1") gets popular items like any new user; each answer says the id was unknown."""
    typo = client.predict(user_id="u11", k=3, api_name="/recommend")
    assert len(typo["items"]) == 3 and typo["known_user"] is False
    assert "'u11' was not in the store" in typo["note"] and "typo" in typo["note"] and "\n" not in typo["note"]
    assert client.predict(user_id="u1", k=3, api_name="/recommend")["known_user"] is True

    explained = client.predict(user_id="u11", item_id="space1", api_name="/explain")
    assert explained["known_user"] is False and explained["note"] == typo["note"]
    assert "u11" not in recommender.store.db.users(), "asking stores nothing"

    first = client.predict(user_id="u11", item_id="space1", kind="liked", api_name="/feedback")
    assert first["known_user"] is False and first["note"], "this feedback started a user the store did not know"
    assert client.predict(user_id="u11", k=1, api_name="/recommend")["known_user"] is True, "known from its first feedback on"


def test_titles_read_as_people_say_them(empty_store, reranker):
    """A catalog title stored the MovieLens way ("Shining, The") reads "The Shining" in every result; the store keeps its own form."""
    from whyrec.store.records import Dataset, Item
    from whyrec.tools.recommend.recommender import Recommender

    from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS

    shining = Item("shining", "Shining, The", "A writer's family winters alone in a mountain hotel.", ("Horror",), 1980)
    empty_store.ingest(Dataset("small", [*SMALL_CATALOG, shining], list(SMALL_INTERACTIONS)), progress=False)
    api = RecommenderAPI(Recommender(empty_store, reranker))

    assert [r["title"] for r in api.recommend("u1", k=3, categories=["Horror"])["items"]] == ["The Shining"]
    assert api.explain("u1", "shining")["item"]["title"] == "The Shining"
    assert "The Shining" in {i["title"] for i in api.search("hotel", k=len(SMALL_CATALOG) + 1)}
    assert api.feedback("u2", "shining", "liked")["recorded"]["title"] == "The Shining"
    assert empty_store.db.items()["shining"].title == "Shining, The"



def test_a_category_is_read_as_the_tools_read_it(recommender):
    """'crimes' and 'sci fi' are the catalog's Crime and Sci-Fi to the API as to the tools (CatalogVocabulary.category)."""
    api = RecommenderAPI(recommender)
    for written, name in (("crimes", "Crime"), ("sci fi", "Sci-Fi")):
        items = api.recommend("u1", k=3, categories=[written], exclude_seen=False)["items"]
        assert items and all(name in r["categories"] for r in items), written


def test_the_category_list_is_what_the_filters_read(empty_store, reranker):
    """The API lists the categories its filter accepts: a catalog's placeholder name ("unknown") is none, the
    API refuses it and the recommend tool ignores it, one rule (CatalogVocabulary.read_categories) for both."""
    from whyrec.store.records import Dataset, Item
    from whyrec.tools.recommend.recommender import Recommender
    from whyrec.tools.tool_answers import ToolAnswers

    from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS

    reel = Item("reel", "Harbour Reel", "Found footage of a harbour at dawn.", ("unknown",), 1950)
    empty_store.ingest(Dataset("small", [*SMALL_CATALOG, reel], list(SMALL_INTERACTIONS)), progress=False)
    recommender = Recommender(empty_store, reranker)
    api = RecommenderAPI(recommender)
    listed = api.categories()
    assert "unknown" not in listed and {"Crime", "Sci-Fi", "Romance"} <= set(listed)
    with pytest.raises(gr.Error, match=re.escape("category 'unknown' is not in the catalog — use one of: " + ", ".join(listed))):
        api.recommend("u1", categories=["unknown"])
    _, answer = ToolAnswers(recommender).recommend("u1", categories=["unknown", "crimes"], k=2)
    assert any("ignored: unknown" in note for note in answer["notes"])
    assert answer["items"] and all("Crime" in r["categories"] for r in answer["recommendations"])


@pytest.mark.parametrize(
    ("endpoint", "kwargs", "message"),
    [
        ("/explain", {"user_id": "u1", "item_id": "no-such-item"}, "'no-such-item' is not in the catalog"),
        ("/feedback", {"user_id": "u1", "item_id": "no-such-item", "kind": "disliked"}, "'no-such-item' is not in the catalog"),
        ("/feedback", {"user_id": "u1", "item_id": "rom1", "kind": "meh"}, "feedback 'meh' is not known"),
        ("/recommend", {"user_id": "u1", "k": 0}, "k=0"),
        ("/recommend", {"user_id": " "}, "user_id is empty"),
        ("/recommend", {"user_id": "u1", "categories": ["Westerns"]}, "category 'Westerns' is not in the catalog"),
        ("/recommend", {"user_id": "u1", "year_min": 2005, "year_max": 1990}, "year_min=2005 is after year_max=1990"),
        ("/recommend", {"user_id": "u1", "diversity": 3}, "diversity=3"),
        ("/recommend", {"user_id": "u1", "like_item_id": "no-such-item"}, "'no-such-item' is not in the catalog"),
        ("/search", {"text": "  "}, "the search text is empty"),
    ],
)
def test_bad_input_gives_a_one_line_error_and_stores_nothing(client, recommender, endpoint, kwargs, message):
    with pytest.raises(Exception) as caught:
        client.predict(**kwargs, api_name=endpoint)
    text = str(caught.value)
    assert message in text and "Traceback" not in text and "\n" not in text.strip()
    assert recommender.store.db.feedback("u1") == []


def test_sessions_run_concurrently_without_mixing_users(client, app_url):
    expected = {u: [r["item_id"] for r in client.predict(user_id=u, k=3, api_name="/recommend")["items"]] for u in ("u1", "u2", "u3")}
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def ask(user: str) -> None:
        try:
            got[user] = [r["item_id"] for r in Client(app_url, verbose=False).predict(user_id=user, k=3, api_name="/recommend")["items"]]
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(u,)) for u in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and got == expected


def test_search_finds_items_for_the_other_tools(client):
    hits = client.predict(text="starship smugglers in a nebula", k=3, api_name="/search")
    assert hits[0]["item_id"] in {"space4", "space5"}
    assert set(hits[0]) == {"item_id", "title", "year", "categories"}


def test_cold_start_ratings_make_a_new_user(recommender):
    api = RecommenderAPI(recommender)
    assert "alice" not in api.users()
    assert api.rate("alice", {"space1": 5, "space3": 4}) == 2
    assert "alice" in api.users()
    recs = [r["item_id"] for r in api.recommend("alice", k=3)["items"]]
    assert "space1" not in recs and "space3" not in recs
    assert api.profile("alice")["interactions"] == 2
    with pytest.raises(Exception, match="rating 9"):
        api.rate("alice", {"space2": 9})
    with pytest.raises(Exception, match="not in the catalog"):
        api.rate("alice", {"nope": 5})
    assert api.profile("alice")["interactions"] == 2, "a refused batch must store nothing"


def test_auth_is_parsed_from_user_colon_password():
    assert parse_auth("ann:s3cr:et") == ("ann", "s3cr:et")
    assert parse_auth(None) is None
    with pytest.raises(Exception, match="user:password"):
        parse_auth("ann")


def test_login_is_required_when_auth_is_set(recommender):
    import httpx

    demo = build_app(recommender)
    url = serve(demo, port=free_port(), block=False, quiet=True, auth="ann:secret")
    try:
        assert httpx.get(url + "config", follow_redirects=False).status_code in (401, 403)
        with pytest.raises(Exception):
            Client(url, verbose=False)
        logged_in = Client(url, auth=("ann", "secret"), verbose=False)
        assert logged_in.predict(user_id="u1", k=1, api_name="/recommend")["items"][0]["item_id"] not in U1_HISTORY
    finally:
        demo.close()


def test_mcp_server_lists_and_calls_the_tools(recommender):
    pytest.importorskip("mcp")
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    demo = build_app(recommender)
    url = serve(demo, port=free_port(), block=False, quiet=True, mcp=True)

    async def session_calls():
        async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                result = await session.call_tool("explain", {"user_id": "u1", "item_id": "space3"})
                return tools, result

    try:
        tools, result = anyio.run(session_calls)
    finally:
        demo.close()
    assert {"recommend", "explain", "profile", "feedback", "search"} <= set(tools)
    assert "evidence" in tools["explain"].description
    assert tools["feedback"].inputSchema["properties"]["kind"].get("enum") == ["liked", "disliked", "not_interested"]
    assert not result.isError
    payload = json.loads(result.content[0].text)  # JSON (tests/ui/test_mcp_server.py covers the structured content)
    assert payload["item"]["item_id"] == "space3" and payload["text"]


def test_no_background_training_when_a_reranker_is_saved(small_store):
    from whyrec.tools.recommend.reranker import CARD_NAME
    from whyrec.ui.server import train_reranker_in_background

    path = small_store.settings.trained_reranker_path
    path.mkdir(parents=True)
    (path / CARD_NAME).write_text("{}")
    (path / "config.json").write_text("{}")
    assert train_reranker_in_background(small_store) is None


# --- API keys: who may call, and for which user ---------------------------------------------

OPEN_KEY, U1_KEY = "sk-open-0123", "sk-u1-4567"


def test_api_keys_are_parsed_and_checked():
    from whyrec.ui.api_keys import AccessDenied, ApiKeys

    keys = ApiKeys.parse([OPEN_KEY, f"{U1_KEY}:u1"])
    assert keys.authenticate(f"Bearer {OPEN_KEY}").act_for("u2") == "u2"
    assert keys.authenticate(f"bearer {U1_KEY}").act_for(None) == "u1"
    with pytest.raises(AccessDenied, match="may only act for user 'u1', not 'u2'") as caught:
        keys.authenticate(f"Bearer {U1_KEY}").act_for("u2")
    assert caught.value.status == 403
    for header in (None, "", OPEN_KEY, "Bearer", f"Basic {OPEN_KEY}", "Bearer sk-open-012"):
        with pytest.raises(AccessDenied) as caught:
            keys.authenticate(header)
        assert caught.value.status == 401
    assert ApiKeys.parse([]).authenticate(None).act_for("u2") == "u2", "no keys configured: anyone (127.0.0.1 only)"
    for bad in ("", ":u1", "sk-x:", "sk x"):
        with pytest.raises(Exception, match="KEY or KEY:USER"):
            ApiKeys.parse([bad])


def test_serving_beyond_this_machine_without_a_key_refuses_to_start(tmp_path, capsys):
    from whyrec.ui.cli import main

    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "serve", "--host", "0.0.0.0", "--openai"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--api-key" in err and "0.0.0.0" in err and "\n" not in err
    assert not (data / "whyrec.sqlite3").exists(), "it should refuse before ingesting anything"


@pytest.fixture
def keyed_url(small_store, settings):
    from whyrec.ui.server import launch_app

    demo, url = launch_app(settings, port=free_port(), block=False, mcp=True, api_keys=[OPEN_KEY, f"{U1_KEY}:u1"])
    yield url
    demo.close()


def test_a_scoped_key_only_reaches_its_own_user_over_the_gradio_api(keyed_url, recommender):
    scoped = Client(keyed_url, headers={"Authorization": f"Bearer {U1_KEY}"}, verbose=False)
    params = [p["parameter_name"] for p in scoped.view_api(print_info=False, return_format="dict")["named_endpoints"]["/feedback"]["parameters"]]
    assert params == ["user_id", "item_id", "kind"], "the request is Gradio's, not a parameter callers see"

    assert scoped.predict(user_id="u1", api_name="/profile")["interactions"] == len(U1_HISTORY)
    for endpoint, kwargs in (
        ("/profile", {"user_id": "u2"}),
        ("/recommend", {"user_id": "u2", "k": 2}),
        ("/explain", {"user_id": "u2", "item_id": "space1"}),
        ("/feedback", {"user_id": "u2", "item_id": "rom1", "kind": "disliked"}),
    ):
        with pytest.raises(Exception) as caught:
            scoped.predict(**kwargs, api_name=endpoint)
        text = str(caught.value)
        assert "may only act for user 'u1', not 'u2'" in text and "\n" not in text.strip(), endpoint
    assert recommender.store.db.feedback("u2") == [], "a refused call must store nothing"

    assert Client(keyed_url, headers={"Authorization": f"Bearer {OPEN_KEY}"}, verbose=False).predict(user_id="u2", api_name="/profile")["interactions"] == 4
    for headers in ({}, {"Authorization": "Bearer sk-guess"}):  # the route gate refuses before the client can connect
        with pytest.raises(AuthenticationError):
            Client(keyed_url, headers=headers, verbose=False).predict(text="nebula", k=1, api_name="/search")


def test_a_scoped_key_only_reaches_its_own_user_over_mcp(keyed_url):
    pytest.importorskip("mcp")
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def profiles(key: str):
        url, headers = keyed_url + "gradio_api/mcp/", {"Authorization": f"Bearer {key}"}
        async with streamablehttp_client(url, headers=headers) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            return tools, [await session.call_tool("profile", {"user_id": u}) for u in ("u1", "u2")]

    tools, (own, other) = anyio.run(profiles, U1_KEY)
    assert set(tools["profile"].inputSchema["properties"]) == {"user_id"}
    assert not own.isError and own.structuredContent["interactions"] == len(U1_HISTORY)
    assert other.isError and "may only act for user 'u1'" in other.content[0].text
    _, (_, other) = anyio.run(profiles, OPEN_KEY)
    assert not other.isError
