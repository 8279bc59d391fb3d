"""One gate in front of every route of the served app when API keys are set: the page, its events, the API, MCP and ``/v1``.

Gradio guards only the routes it knows with its own ``auth=``, and the page's events (``/gradio_api/queue/join``,
``/gradio_api/run/...``) answered anyone who posted to them. So the key is checked once, as ASGI middleware
on Gradio's FastAPI app (:class:`RouteGate`), before any route runs — including routes added later, such as the
OpenAI endpoint, and the mounted MCP server. A caller passes with either

- ``Authorization: Bearer KEY`` (API, ``gradio_client``, ``mcp`` and ``openai`` clients), or
- the ``whyrec_key`` cookie, which the login form at ``/whyrec/login`` sets once a person types a key
  (HttpOnly, SameSite=Lax, so another site cannot send it with a form post).

A browser opening the page without a key is sent to the login form; everything else gets a 401 in OpenAI's
error shape. Two callers inside the server pass without a key: Gradio's own ``/gradio_api/startup-events``
call while ``launch`` starts the server (it runs the start-up events once; afterwards it is gated like the
rest), and the ``gradio_client`` Gradio's MCP server calls queued tools through, which carries a random
per-server secret (:func:`let_mcp_through`). That secret passes the gate but names no one: each tool call it
forwards carries the MCP caller's own ``Authorization``, which the endpoint checks (:class:`ui.api.RecommenderAPI`).

A key scoped to one user (``KEY:USER``) is held to that user on the page too: :func:`scope_events_to_key_user`
checks, before each event runs, every input that names a user (the picker, the user kept in the session,
a new user's id) and keeps only that user in the picker's list. The API endpoints check their ``user_id``
themselves (:class:`ui.api.RecommenderAPI`), as does ``/v1`` (:mod:`ui.openai_endpoint`).
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import gradio as gr
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from whyrec.ui.api_keys import ANYONE, LOGIN_PATH, AccessDenied, ApiKeys, Caller

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

KEY_COOKIE = "whyrec_key"
LOGOUT_PATH = "/whyrec/logout"
STARTUP_PATH = "/gradio_api/startup-events"
COOKIE_DAYS = 30
LOOPBACK_HEADER = "x-whyrec-loopback"

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>whyrec — enter your key</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.4rem 0 .8rem;box-sizing:border-box}}button{{padding:.5rem 1.2rem}}
.problem{{color:#b91c1c}}</style></head>
<body><h2>whyrec</h2><p>This server needs a key. Enter the API key you were given (the one passed to
<code>whyrec serve --api-key</code>); it is kept in this browser until you <a href="{logout}">log out</a>.</p>
{problem}<form method="post" action="{login}"><input type="hidden" name="next" value="{next}">
<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Open the app</button></form></body></html>
"""


def authorization_of(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The key a request carries, as an ``Authorization`` value: the header when there is one, else the page's key cookie."""
    authorization = headers.get("authorization")
    if not authorization and cookies.get(KEY_COOKIE):
        authorization = f"Bearer {cookies[KEY_COOKIE]}"
    return authorization


def caller_of(keys: ApiKeys, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Caller:
    """Who sends a request (:func:`authorization_of`).

    Raises :class:`AccessDenied` (401) for no key or an unknown one; anyone when no keys are configured.
    """
    return keys.authenticate(authorization_of(headers, cookies))


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (never ``//other.host`` or a full URL)."""
    target = (target or "/").strip()
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def login_page(next_path: str = "/", problem: str = "", status: int = 200) -> HTMLResponse:
    """The form a person types their key into."""
    shown = f'<p class="problem">{html.escape(problem)}</p>' if problem else ""
    body = LOGIN_PAGE.format(login=LOGIN_PATH, logout=LOGOUT_PATH, next=html.escape(_safe_next(next_path)), problem=shown)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def refusal(err: AccessDenied) -> JSONResponse:
    """A refused request in OpenAI's error shape, which the ``openai`` client shows as its message."""
    body = {"error": {"message": str(err), "type": "invalid_request_error" if err.status == 401 else "permission_error", "param": None, "code": err.code}}
    return JSONResponse(body, status_code=err.status, headers={"WWW-Authenticate": 'Bearer realm="whyrec"'})


class RouteGate:
    """ASGI middleware: every HTTP and websocket request needs a key (header or cookie) before any route runs.

    Give it to Gradio as ``app_kwargs={"middleware": [Middleware(RouteGate, keys=keys)]}`` so it wraps the app
    from its first request (Starlette refuses middleware added after the server started).
    """

    def __init__(self, app: ASGIApp, keys: ApiKeys, loopback: str | None = None) -> None:
        self.app = app
        self.keys = keys
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.keys:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        if scope["type"] == "http" and path == LOGIN_PATH:
            await self._login(Request(scope, receive))(scope, receive, send)
            return
        if scope["type"] == "http" and path == LOGOUT_PATH:
            response = RedirectResponse(LOGIN_PATH, status_code=303)
            response.delete_cookie(KEY_COOKIE, path="/")
            await response(scope, receive, send)
            return
        if path == STARTUP_PATH and not getattr(scope.get("app"), "startup_events_triggered", True):
            await self.app(scope, receive, send)  # Gradio's own call from launch(), once, before anyone can connect
            return
        if self.loopback and hmac.compare_digest(connection.headers.get(LOOPBACK_HEADER, "").encode(), self.loopback.encode()):
            await self.app(scope, receive, send)  # Gradio's MCP client inside this server (let_mcp_through)
            return
        try:
            caller_of(self.keys, connection.headers, connection.cookies)
        except AccessDenied as err:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": str(err)[:120]})
                return
            await self._refuse(connection, path, err)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refuse(self, connection: HTTPConnection, path: str, err: AccessDenied) -> Response:
        """A browser opening a page goes to the login form; any other caller gets the 401 it can read."""
        navigating = connection.scope.get("method") in ("GET", "HEAD") and "text/html" in connection.headers.get("accept", "")
        if navigating:
            query = connection.scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
        return refusal(err)

    def _login(self, request: Request) -> Any:
        """GET shows the form; POST checks the key and keeps it in an HttpOnly cookie, then goes back to the page."""

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            if request.method != "POST":
                response: Response = login_page(request.query_params.get("next", "/"))
            else:
                form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
                key, target = (form.get("key") or [""])[0].strip(), _safe_next((form.get("next") or ["/"])[0])
                try:
                    self.keys.authenticate(f"Bearer {key}")
                except AccessDenied:
                    response = login_page(target, "That key is not accepted — check it with whoever runs this server.", status=401)
                else:
                    response = RedirectResponse(target, status_code=303)
                    response.set_cookie(
                        KEY_COOKIE, key, max_age=COOKIE_DAYS * 86400, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
                    )
            await response(scope, receive, send)

        return respond


def route_gate(keys: ApiKeys) -> tuple[Middleware, str]:
    """The gate as Starlette middleware for ``launch(app_kwargs={"middleware": [...]})``, and its loopback secret."""
    loopback = secrets.token_urlsafe(32)
    return Middleware(RouteGate, keys=keys, loopback=loopback), loopback


def let_mcp_through(demo: gr.Blocks, loopback: str) -> None:
    """Give Gradio's MCP server a ``gradio_client`` that carries the gate's loopback secret.

    Gradio builds that client on the first queued tool call, with fixed headers and no way to add one, and it
    fetches ``/config`` before any caller's key is forwarded; so it is built here, after ``launch``, the way
    Gradio builds it (``gradio/mcp.py``, ``_get_or_create_client``) plus the secret.
    """
    from gradio_client import Client

    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return
    server._client_instance = Client(
        server.local_url or demo.local_url, download_files=False, verbose=False, analytics_enabled=False, ssl_verify=False,
        _skip_components=False, headers={"x-gradio-user": "mcp", LOOPBACK_HEADER: loopback},
    )


def _user_named(value: Any, field: str | None) -> str:
    """The user id an input holds: the value itself, or ``value[field]`` for a dict such as the kept session."""
    if field is not None:
        value = value.get(field) if isinstance(value, Mapping) else None
    return str(value if value is not None else "").strip()


def _only_user(update: Any, user: str) -> Any:
    """A picker update that lists and selects only ``user``."""
    if not isinstance(update, dict) or "choices" not in update:
        return update
    kept = [c for c in update["choices"] or [] if str(c[1] if isinstance(c, (tuple, list)) else c) == user]
    return {**update, "choices": kept, "value": user}


def scope_events_to_key_user(demo: gr.Blocks, keys: ApiKeys, user_inputs: Mapping[Any, str | None], user_lists: tuple = ()) -> None:
    """Hold a scoped key to its user in every event of ``demo``, including events drawn later by ``gr.render``.

    ``user_inputs`` maps each component whose value names a user to ``None`` (the value is the id) or to the
    key of the id in a dict value. Before an event runs, each of those inputs must be empty or the key's user,
    else the event is refused with the one-line 403 message. ``user_lists`` are pickers whose choices are users:
    their updates keep only the key's user, selected. Gradio has no hook before every event, so this wraps
    ``demo.call_function``, the one step every event (queued, direct or rendered) goes through. No keys: no change.
    """
    if not keys:
        return
    fields = {component._id: field for component, field in user_inputs.items()}
    lists = {component._id for component in user_lists}
    call = demo.call_function

    async def call_function(block_fn, processed_input, iterator=None, requests=None, *args, **kwargs):
        fn = demo.fns[block_fn] if isinstance(block_fn, int) else block_fn
        request = requests[0] if isinstance(requests, list) else requests
        try:
            caller = ANYONE if request is None else caller_of(keys, request.headers, request.cookies)
            if caller.user is not None and iterator is None and not fn.batch:
                for component, value in zip(fn.inputs, processed_input, strict=False):
                    if component._id in fields:
                        caller.act_for(_user_named(value, fields[component._id]) or None)
        except AccessDenied as err:
            raise gr.Error(str(err), print_exception=False) from None
        result = await call(block_fn, processed_input, iterator, requests, *args, **kwargs)
        if caller.user is not None and lists:
            result["prediction"] = _scoped_outputs(fn, result.get("prediction"), lists, caller.user)
        return result

    demo.call_function = call_function  # type: ignore[method-assign]


def _scoped_outputs(fn: Any, prediction: Any, lists: set[int], user: str) -> Any:
    if isinstance(prediction, dict) and not prediction.get("__type__"):
        return {c: (_only_user(v, user) if getattr(c, "_id", None) in lists else v) for c, v in prediction.items()}
    if len(fn.outputs) > 1 and isinstance(prediction, (list, tuple)):
        return type(prediction)(_only_user(v, user) if c._id in lists else v for c, v in zip(fn.outputs, prediction, strict=False))
    if len(fn.outputs) == 1 and fn.outputs[0]._id in lists:
        return _only_user(prediction, user)
    return prediction
