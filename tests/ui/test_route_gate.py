"""One gate for every route: with API keys set, nothing the running app serves answers without a key.

The slow tests start the real app (``launch_app`` with MCP and ``/v1``, on a real small store) and read what
to walk from it: the routes of ``demo.server_app``, the events in the page's Gradio config, and MCP's tool
list. Each is called with no key, a wrong key and the right key; the page's events that name a user are also
called with a key scoped to another user. The clients are the real ``gradio_client``, ``mcp``, ``openai`` and
LangChain ``ChatOpenAI``, with the key sent the way docs/clients.md shows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from whyrec.store.ports import free_port
from whyrec.store.errors import InputError
from whyrec.ui.api_keys import LOGIN_PATH, ApiKeys, require_keys_off_localhost
from whyrec.ui.app import STORAGE_KEY
from whyrec.ui.route_gate import KEY_COOKIE, LOGOUT_PATH

OPEN_KEY, U1_KEY, WRONG_KEY = "sk-open-0123", "sk-u1-4567", "sk-guess-999"
REFUSED_BY_GATE = 'Bearer realm="whyrec"'  # the gate's WWW-Authenticate: a refusal from the gate, not from a route


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- starting: who may serve beyond this machine ----------------------------------------------


def test_serving_beyond_this_machine_needs_a_key_or_insecure():
    keys = ApiKeys.parse([OPEN_KEY])
    assert require_keys_off_localhost("127.0.0.1", ApiKeys.parse([])) is None
    with pytest.raises(InputError) as caught:
        require_keys_off_localhost("0.0.0.0", ApiKeys.parse([]))
    message = str(caught.value)
    assert "--host 0.0.0.0" in message and "--api-key" in message and "--insecure" in message and "\n" not in message
    warning = require_keys_off_localhost("0.0.0.0", ApiKeys.parse([]), insecure=True)
    assert "no API key" in warning and "--insecure" in warning
    gated = require_keys_off_localhost("0.0.0.0", keys)
    assert "every route" in gated and "the page" in gated and LOGIN_PATH in gated
    with pytest.raises(InputError, match="share link"):
        require_keys_off_localhost("127.0.0.1", ApiKeys.parse([]), share=True)


def test_the_cli_refuses_before_ingesting_and_insecure_is_a_flag(tmp_path, capsys):
    from whyrec.ui.cli import build_parser, main

    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "demo", "--host", "0.0.0.0"]) == 2
    assert "--insecure" in capsys.readouterr().err
    assert not (data / "whyrec.sqlite3").exists(), "it should refuse before ingesting anything"
    for command in ("demo", "serve"):
        assert build_parser().parse_args([command, "--host", "0.0.0.0", "--insecure"]).insecure


# --- the gate alone, on a bare Starlette app ------------------------------------------------------


def test_the_gate_lets_in_a_header_or_the_cookie_and_nothing_else():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from whyrec.ui.route_gate import LOOPBACK_HEADER, route_gate

    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text("open")

    gate, loopback = route_gate(ApiKeys.parse([OPEN_KEY, f"{U1_KEY}:u1"]))
    app = Starlette(routes=[Route("/data", lambda request: PlainTextResponse("data")), WebSocketRoute("/ws", echo)], middleware=[gate])
    client = TestClient(app, follow_redirects=False)

    for headers in ({}, bearer(WRONG_KEY), {"Authorization": OPEN_KEY}, {LOOPBACK_HEADER: "guess"}):
        refusal = client.get("/data", headers=headers)
        assert refused(refusal) and refusal.json()["error"]["code"] in ("missing_api_key", "invalid_api_key"), headers
    for headers in (bearer(OPEN_KEY), bearer(U1_KEY), {LOOPBACK_HEADER: loopback}):
        assert client.get("/data", headers=headers).text == "data"
    assert client.get("/data", headers={"Accept": "text/html"}).headers["location"] == f"{LOGIN_PATH}?next=%2Fdata"
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws") as socket:
            socket.receive_text()
    with client.websocket_connect("/ws", headers=bearer(OPEN_KEY)) as socket:
        assert socket.receive_text() == "open"

    assert client.post(LOGIN_PATH, data={"key": WRONG_KEY, "next": "/data"}).status_code == 401
    login = client.post(LOGIN_PATH, data={"key": OPEN_KEY, "next": "/data"})
    assert login.status_code == 303 and login.headers["location"] == "/data"
    assert client.get("/data").text == "data", "the cookie the login set lets the browser in"
    client.cookies.clear()
    client.cookies.set(KEY_COOKIE, WRONG_KEY)
    assert refused(client.get("/data"))


# --- the running app ---------------------------------------------------------------------------


@pytest.fixture
def gated(small_store, settings) -> Iterator[tuple[object, str]]:
    from whyrec.ui.server import launch_app

    demo, url = launch_app(
        settings, port=free_port(), block=False, mcp=True, openai=True, fallback_chat=True, api_keys=[OPEN_KEY, f"{U1_KEY}:u1"]
    )
    try:
        yield demo, url
    finally:
        demo.close()


def served_routes(routes, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """(path, methods) for every route the app serves, read from the app: routers included, mounts as their root."""
    for route in routes:
        if hasattr(route, "original_router"):  # a router included with a prefix (FastAPI keeps it unflattened)
            yield from served_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods") and route.methods:
            yield prefix + route.path, sorted(set(route.methods) - {"HEAD", "OPTIONS"}) or ["HEAD"]
        elif hasattr(route, "app") and hasattr(route, "path"):  # a mounted app (MCP)
            yield prefix + route.path + "/", ["GET", "POST"]
        elif hasattr(route, "path"):
            yield prefix + route.path, ["GET"]


def concrete(path: str) -> str:
    """A route's path with a dummy value in each parameter (``{name}``, ``{name:path}``)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def call(url: str, method: str, path: str, headers: dict[str, str]) -> httpx.Response | None:
    """One request; None when the route itself kept the connection open (a stream: it ran, so it passed the gate)."""
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    try:
        with httpx.stream(method, url.rstrip("/") + concrete(path), headers=headers, timeout=8, **body) as response:
            return response
    except httpx.ReadTimeout:
        return None


def refused(response: httpx.Response | None) -> bool:
    return response is not None and response.status_code == 401 and response.headers.get("www-authenticate") == REFUSED_BY_GATE


@pytest.mark.slow
def test_every_route_the_app_serves_needs_a_key(gated):
    demo, url = gated
    routes = list(served_routes(demo.server_app.routes))
    walked = 0
    paths = {path for path, _ in routes}
    assert {"/", "/config", "/gradio_api/queue/join", "/gradio_api/upload", "/v1/chat/completions", "/gradio_api/mcp/"} <= paths
    for path, methods in routes:
        if path in (LOGIN_PATH, LOGOUT_PATH):
            continue
        for method in methods:
            for headers in ({}, bearer(WRONG_KEY), {"Cookie": f"{KEY_COOKIE}={WRONG_KEY}"}):
                assert refused(call(url, method, path, headers)), f"{method} {path} answered {headers or 'no key'}"
            for key in (OPEN_KEY, U1_KEY):
                assert not refused(call(url, method, path, bearer(key))), f"{method} {path} refused a right key"
            assert not refused(call(url, method, path, {"Cookie": f"{KEY_COOKIE}={OPEN_KEY}"})), f"{method} {path} refused the page's cookie"
            walked += 1
    print(f"\nroutes walked: {walked} (route × method), each with no key, a wrong key, a wrong cookie, two right keys and the cookie")
    assert walked > 30


def page_config(url: str) -> dict:
    return httpx.get(url + "config", headers=bearer(OPEN_KEY)).json()


def run_event(url: str, headers: dict[str, str], dependency: dict, data: list, session: str) -> tuple[int, dict | None]:
    """Send one page event as the browser does (queue/join, then read its result), or run/predict when unqueued."""
    payload = {"data": data, "fn_index": dependency["id"], "trigger_id": None, "event_data": None, "session_hash": session}
    if not dependency.get("queue", True):
        response = httpx.post(url + "gradio_api/run/predict", json=payload, headers=headers, timeout=120)
        return response.status_code, response.json() if response.status_code == 200 else None
    joined = httpx.post(url + "gradio_api/queue/join", json=payload, headers=headers, timeout=30)
    if joined.status_code != 200:
        return joined.status_code, None
    event_id = joined.json()["event_id"]
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, headers=headers, timeout=180) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    return 200, message
    return 200, None


@pytest.mark.slow
def test_every_page_event_needs_a_key_and_a_scoped_key_acts_only_for_its_user(gated, recommender):
    _, url = gated
    config = page_config(url)
    components = {c["id"]: c for c in config["components"]}
    events = [d for d in config["dependencies"] if d.get("backend_fn")]
    assert events, "the page has events"
    for dependency in events:
        data = [None] * len(dependency["inputs"])
        for headers in ({}, bearer(WRONG_KEY)):
            for route in ("gradio_api/queue/join", "gradio_api/run/predict"):
                answer = httpx.post(url + route, json={"data": data, "fn_index": dependency["id"], "session_hash": "s"}, headers=headers)
                assert refused(answer), f"event {dependency['api_name']} ran via {route} with {headers or 'no key'}"
    print(f"\npage events walked: {len(events)}, each via queue/join and run/predict with no key and a wrong key")

    # the inputs that name a user, read from the config: the picker, a new user's id, the session kept in the browser
    picker = next(i for i, c in components.items() if c["props"].get("elem_id") == "user-picker")
    new_id = next(i for i, c in components.items() if c["props"].get("elem_id") == "new-user-id")
    kept = next(i for i, c in components.items() if c["type"] == "browserstate" and c["props"].get("storage_key") == STORAGE_KEY)

    def naming(user: str) -> dict[int, object]:
        return {picker: user, new_id: user, kept: {"user": user, "conversation": "", "chat": [], "request": ""}}

    def inputs(dependency: dict, user: str) -> list:
        """The event's inputs as the page would send them: each component's own value, a user where one is named."""
        return [naming(user).get(i, components[i]["props"].get("value")) for i in dependency["inputs"]]

    user_events = [d for d in events if set(d["inputs"]) & {picker, new_id, kept}]
    assert {d["api_name"] for d in user_events} >= {"load_page", "select_user", "start_new_user", "add_ratings"}
    for dependency in user_events:
        status, message = run_event(url, bearer(U1_KEY), dependency, inputs(dependency, "u2"), uuid.uuid4().hex)
        assert status == 200 and message is not None and not message["success"], dependency["api_name"]
        assert "may only act for user 'u1', not 'u2'" in str(message["output"].get("error")), (dependency["api_name"], message["output"])
    assert len(recommender.store.db.history("u2")) == 4 and set(recommender.store.db.users()) == {"u1", "u2", "u3"}, "refused events store nothing"

    # a right key runs every event (each completes; what it answers is the page's business, not the gate's)
    session = uuid.uuid4().hex
    joined = {}
    for dependency in events:
        payload = {"data": inputs(dependency, "u1"), "fn_index": dependency["id"], "trigger_id": None, "event_data": None, "session_hash": session}
        route = "gradio_api/queue/join" if dependency.get("queue", True) else "gradio_api/run/predict"
        answer = httpx.post(url + route, json=payload, headers=bearer(OPEN_KEY), timeout=120)
        assert answer.status_code == 200, (dependency["api_name"], answer.text)
        if "event_id" in answer.json():
            joined[answer.json()["event_id"]] = dependency["api_name"]
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, headers=bearer(OPEN_KEY), timeout=300) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                assert "may only act" not in str(message.get("output")), joined.get(message.get("event_id"))
                joined.pop(message.get("event_id"), None)
            if not joined:
                break
    assert not joined, f"events that never completed: {sorted(joined.values())}"

    # the scoped key's own user works, and the page lists only that user
    load = next(d for d in events if d["api_name"] == "load_page")
    status, message = run_event(url, bearer(U1_KEY), load, inputs(load, ""), uuid.uuid4().hex)
    assert status == 200 and message["success"]
    box = message["output"]["data"][load["outputs"].index(picker)]
    assert [value for _, value in box["choices"]] == ["u1"] and box["value"] == "u1"
    status, message = run_event(url, bearer(OPEN_KEY), load, inputs(load, ""), uuid.uuid4().hex)
    assert {value for _, value in message["output"]["data"][load["outputs"].index(picker)]["choices"]} >= {"u1", "u2", "u3"}

    select = next(d for d in events if d["api_name"] == "select_user")
    for key in (U1_KEY, OPEN_KEY):
        status, message = run_event(url, bearer(key), select, inputs(select, "u1"), uuid.uuid4().hex)
        assert status == 200 and message["success"], message
    status, message = run_event(url, bearer(OPEN_KEY), select, inputs(select, "u2"), uuid.uuid4().hex)
    assert message["success"], "a key for any user may open any user"


@pytest.mark.slow
def test_a_person_logs_in_once_and_the_cookie_opens_the_page(gated):
    _, url = gated
    browser = {"Accept": "text/html"}
    first = httpx.get(url, headers=browser)
    assert first.status_code == 303 and first.headers["location"].startswith(LOGIN_PATH)
    form = httpx.get(url.rstrip("/") + first.headers["location"])
    assert form.status_code == 200 and 'type="password"' in form.text and 'name="next" value="/"' in form.text
    wrong = httpx.post(url.rstrip("/") + LOGIN_PATH, data={"key": WRONG_KEY, "next": "/"})
    assert wrong.status_code == 401 and "not accepted" in wrong.text and KEY_COOKIE not in wrong.headers.get("set-cookie", "")
    outside = httpx.post(url.rstrip("/") + LOGIN_PATH, data={"key": OPEN_KEY, "next": "//evil.example/"})
    assert outside.headers["location"] == "/", "login never sends a person to another site"

    with httpx.Client(base_url=url) as person:
        login = person.post(LOGIN_PATH, data={"key": U1_KEY, "next": "/"})
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        page = person.get("/", headers=browser)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert person.get("/config").status_code == 200
        assert person.get(LOGOUT_PATH).status_code == 303
        assert person.get("/", headers=browser).status_code == 303, "logged out: the login form again"


# --- the clients, as docs/clients.md shows them -------------------------------------------------


@pytest.mark.slow
def test_the_clients_send_the_key_as_documented(gated):
    pytest.importorskip("mcp")
    import anyio
    import openai
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    _, url = gated

    # gradio_client: Client(url, headers={"Authorization": "Bearer KEY"})
    for headers in ({}, bearer(WRONG_KEY)):
        with pytest.raises(AuthenticationError):
            Client(url, headers=headers, verbose=False)
    scoped = Client(url, headers=bearer(U1_KEY), verbose=False)
    assert scoped.predict(user_id="u1", api_name="/profile")["interactions"] == 7
    with pytest.raises(Exception, match="may only act for user 'u1'"):
        scoped.predict(user_id="u2", api_name="/profile")

    # mcp: streamablehttp_client(url + "gradio_api/mcp/", headers={"Authorization": "Bearer KEY"}); list_tools needs the key too
    async def tools(headers: dict[str, str]) -> list[str]:
        async with streamablehttp_client(url + "gradio_api/mcp/", headers=headers) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            return [tool.name for tool in (await session.list_tools()).tools]

    assert "recommend" in anyio.run(tools, bearer(U1_KEY))
    for headers in ({}, bearer(WRONG_KEY)):
        with pytest.raises(BaseException) as caught:
            anyio.run(tools, headers)
        assert "401" in repr(caught.value) or "Unauthorized" in repr(caught.value)

    # openai: OpenAI(base_url=url + "v1", api_key=KEY)
    assert [m.id for m in openai.OpenAI(base_url=url + "v1", api_key=U1_KEY, max_retries=0).models.list()] == ["whyrec"]
    with pytest.raises(openai.AuthenticationError, match="not accepted"):
        openai.OpenAI(base_url=url + "v1", api_key=WRONG_KEY, max_retries=0).models.list()

    # LangChain: ChatOpenAI(base_url=url + "v1", api_key=KEY, model="whyrec")
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    answer = ChatOpenAI(base_url=url + "v1", api_key=U1_KEY, model="whyrec", max_retries=0).invoke("something with spaceships")
    assert answer.content
    with pytest.raises(openai.AuthenticationError):
        ChatOpenAI(base_url=url + "v1", api_key=WRONG_KEY, model="whyrec", max_retries=0).invoke("hello")


@pytest.mark.slow
def test_a_person_logs_in_with_a_scoped_key_in_chromium_and_the_page_is_only_theirs(gated):
    from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, pick_user

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
    _, url = gated
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.wait_for_url(f"**{LOGIN_PATH}**")
            page.fill("#key", U1_KEY)
            page.click("button[type=submit]")
            page.locator(".rec-card").first.wait_for()  # the page opened on the key's user by itself
            assert page.locator("#user-picker input").input_value().startswith("u1")
            page.locator("#user-picker input").click()
            options = page.get_by_role("option")
            options.first.wait_for()
            assert [o.strip().splitlines()[-1].split(" · ")[0] for o in options.all_inner_texts()] == ["u1"], "the picker lists only the key's user"
            page.keyboard.press("Escape")
            pick_user(page, "u2")
            page.get_by_text("may only act for user 'u1', not 'u2'").first.wait_for()
        finally:
            browser.close()
