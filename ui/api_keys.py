"""Bearer keys for whyrec's HTTP surfaces (OpenAI endpoint, Gradio API, MCP), optionally scoped to one user.

A key is written ``KEY`` (acts for any user) or ``KEY:USER`` (acts only for ``USER``), on the
command line (``whyrec serve --api-key KEY[:USER]``, repeatable) or in ``Settings.api_keys``
(``WHYREC_API_KEYS="k1,k2:42"``). A scoped key is what a chatbot serving one person holds: it
cannot read or change another user's history, whatever ``user_id`` it sends.

With no key configured every caller is let in, which is only allowed on this machine
(:func:`require_keys_off_localhost`): the server refuses to start on any other address unless told
``--insecure``. With keys, :mod:`ui.route_gate` checks them in front of every route, the page included.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from whyrec.store.errors import InputError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOGIN_PATH = "/whyrec/login"  # where a person types a key into the page (ui.route_gate serves the form)
KEY_HINT = "send the header 'Authorization: Bearer <key>' with a key given to `whyrec serve --api-key`"


class AccessDenied(Exception):
    """A request the keys do not allow: ``status`` 401 (no or unknown key) or 403 (another user)."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Caller:
    """Who is calling: ``user`` is the one user the caller may act for, None for any user."""

    user: str | None = None

    def act_for(self, user_id: str | None) -> str | None:
        """The user this call acts for: the requested one, or the key's user when none is asked for.

        Raises :class:`AccessDenied` (403) when a scoped key asks for another user.
        """
        requested = str(user_id).strip() if user_id is not None else ""
        if self.user is None:
            return requested or None
        if requested and requested != self.user:
            raise AccessDenied(
                f"this API key may only act for user {self.user!r}, not {requested!r} — use that user's key, or a key without a user",
                403,
                "user_not_allowed",
            )
        return self.user


ANYONE = Caller()


class ApiKeys:
    """The configured keys; :meth:`authenticate` turns an ``Authorization`` header into a :class:`Caller`."""

    def __init__(self, scopes: dict[str, str | None] | None = None) -> None:
        self._scopes = dict(scopes or {})

    @classmethod
    def parse(cls, entries: Iterable[str] | None) -> ApiKeys:
        """Keys from ``KEY`` / ``KEY:USER`` strings; a malformed one raises a one-line ``InputError``."""
        scopes: dict[str, str | None] = {}
        for entry in entries or []:
            key, sep, user = str(entry).strip().partition(":")
            key, user = key.strip(), user.strip()
            if not key or (sep and not user) or any(c.isspace() for c in key):
                shown = (key[:4] + "…") if key else repr(entry)
                raise InputError(f"--api-key {shown}: write it as KEY or KEY:USER (a key without spaces, then optionally the one user it may act for)")
            if key in scopes and scopes[key] != (user or None):
                raise InputError(f"--api-key {key[:4]}… is given twice with different users — give each key once")
            scopes[key] = user or None
        return cls(scopes)

    def __bool__(self) -> bool:
        return bool(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer <key>`` header; anyone when no keys are configured.

        Raises :class:`AccessDenied` (401) for a missing, malformed or unknown key.
        """
        if not self._scopes:
            return ANYONE
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AccessDenied(f"no API key — {KEY_HINT}", 401, "missing_api_key")
        # compare against every key in constant time, so timing does not leak which prefix matched
        found: str | None = None
        for key in self._scopes:
            if hmac.compare_digest(key.encode(), token.encode()):
                found = key
        if found is None:
            return self._refuse()
        return Caller(self._scopes[found])

    @staticmethod
    def _refuse() -> Caller:
        raise AccessDenied(f"the API key is not accepted — {KEY_HINT}", 401, "invalid_api_key")


def is_local(host: str | None) -> bool:
    """Whether binding to ``host`` only serves this machine."""
    return (host or "127.0.0.1").strip().lower() in LOCAL_HOSTS


def require_keys_off_localhost(host: str | None, keys: ApiKeys, share: bool = False, insecure: bool = False) -> str | None:
    """Refuse (one-line ``InputError``) to serve beyond this machine without an API key, unless ``insecure``.

    Returns the line to log when serving beyond this machine (None on it): with keys, that every route is
    gated (:mod:`ui.route_gate`) and where a person logs in; with ``insecure`` (the CLI's ``--insecure``),
    that anyone can read and change every user's data.
    """
    where = "a share link" if share else f"--host {host}"
    if not share and is_local(host):
        return None
    if keys:
        return (
            f"{where} serves beyond this machine: every route (the page, its events, the API, MCP and /v1) needs one of the "
            f"{len(keys)} API key(s) — a person opens the page at {LOGIN_PATH}"
        )
    if insecure:
        return f"{where} serves beyond this machine with no API key (--insecure): anyone who reaches it can read and change every user's data"
    raise InputError(
        f"{where} serves beyond this machine — pass --api-key KEY (or KEY:USER to scope it to one user; or set WHYREC_API_KEYS), "
        "serve on 127.0.0.1, or pass --insecure to serve with no key"
    )
