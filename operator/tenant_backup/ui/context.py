"""What every request handler shares: the UI's state, who is calling, and how pages render."""

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from time import monotonic
from typing import Any
from urllib.parse import quote

import aiohttp
import jinja2
from aiohttp import web

from tenant_backup.ui.csrf import csrf_token, token_key
from tenant_backup.ui.history import HistoryConfig
from tenant_backup.ui.kubeapi import ApiServer, UserApi
from tenant_backup.ui.ratelimit import RateLimiter
from tenant_backup.ui.sessions import SessionStore

SESSION_COOKIE = "tbui_session"
TEMPLATES = Path(__file__).parent / "templates"
PROXY_IDENTITY_SECONDS = 60.0
"""How long proxy mode trusts a token's SelfSubjectReview before asking again."""


class AuthMode(StrEnum):
    """How users sign in."""

    TOKEN_LOGIN = "token"  # noqa: S105 (the name of a sign-in mode, not a secret)
    """They paste a bearer token once; the UI keeps it in a server-side session."""
    PROXY = "proxy"
    """An authenticating proxy in front sends each request's `Authorization: Bearer`."""


@dataclass(frozen=True)
class UiConfig:
    """How the UI runs."""

    server: ApiServer
    namespaces: tuple[str, ...] = ()
    """Namespaces to look in when the user may not list TenantBackups cluster-wide nor
    list namespaces; empty: only those the user may list."""
    auth: AuthMode = AuthMode.TOKEN_LOGIN
    secure_cookies: bool = False
    """Mark cookies Secure (set when users reach the UI over TLS)."""
    session_max_age: float = 8 * 3600
    session_idle: float = 3600
    creations_per_minute: int = 10
    history: HistoryConfig | None = None
    """The history table the tenant page reads rows from; None: not shown."""


@dataclass
class UiState:
    """The process's state: sessions, limits, the CSRF secret and the HTTP client."""

    config: UiConfig
    sessions: SessionStore
    limiter: RateLimiter
    templates: jinja2.Environment
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    http: aiohttp.ClientSession | None = None
    proxy_identities: dict[str, tuple[str, float]] = field(default_factory=dict)


STATE: web.AppKey[UiState] = web.AppKey("state", UiState)


def new_state(config: UiConfig) -> UiState:
    """Fresh state for `config`: no sessions, an empty limiter, a new random secret."""
    return UiState(
        config=config,
        sessions=SessionStore(config.session_max_age, config.session_idle),
        limiter=RateLimiter(config.creations_per_minute, 60.0),
        templates=templates(),
    )


def templates() -> jinja2.Environment:
    """The page templates, every value escaped unless a template says otherwise (none do);
    a field the cluster left out renders empty."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
    )
    environment.filters["seg"] = lambda value: quote(str(value), safe="")
    return environment


@dataclass(frozen=True)
class Caller:
    """The user behind a request: their API, name, and the CSRF token their forms carry."""

    api: UserApi
    username: str
    csrf: str
    csrf_key: str
    session_id: str | None


class SignInRequiredError(Exception):
    """No valid session (or proxy token): the user must sign in (again)."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign-in required")
        self.expired = expired


def state_of(request: web.Request) -> UiState:
    """The app's state."""
    return request.app[STATE]


async def caller(request: web.Request) -> Caller:
    """Who calls: the session's user, or in proxy mode the proxy's token's user. Raises
    SignInRequiredError when there is none."""
    state = state_of(request)
    assert state.http is not None  # set on startup
    if state.config.auth is AuthMode.PROXY:
        return await _proxy_caller(request, state)
    session_id = request.cookies.get(SESSION_COOKIE)
    session = state.sessions.get(session_id)
    if session is None or session_id is None:
        raise SignInRequiredError(expired=bool(session_id))
    api = UserApi(state.http, state.config.server, session.token)
    return Caller(
        api, session.username, csrf_token(state.secret, session_id), session_id, session_id
    )


async def _proxy_caller(request: web.Request, state: UiState) -> Caller:
    assert state.http is not None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SignInRequiredError()
    key = token_key(token)
    api = UserApi(state.http, state.config.server, token)
    known = state.proxy_identities.get(key)
    now = monotonic()
    if known is None or now - known[1] >= PROXY_IDENTITY_SECONDS:
        if len(state.proxy_identities) > 10_000:
            state.proxy_identities.clear()
        known = (await api.whoami(), now)
        state.proxy_identities[key] = known
    return Caller(api, known[0], csrf_token(state.secret, key), key, None)


def forget(request: web.Request, session_id: str | None) -> None:
    """Drop a session whose token the API server refused."""
    state_of(request).sessions.drop(session_id)


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A page from `template`, escaped."""
    html = state_of(request).templates.get_template(template).render(**context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(headers or {})
    return response


async def gather_allowed(checks: Mapping[str, Any]) -> dict[str, bool]:
    """Await a name -> awaitable[bool] mapping together."""
    names = list(checks)
    results = await asyncio.gather(*(checks[name] for name in names))
    return dict(zip(names, results, strict=True))
