"""Signing in with a bearer token, and out. The token is checked by the API server itself
(SelfSubjectReview) and kept server-side; the browser gets only a random session id.

Before sign-in there is no session to bind the form's CSRF token to, so the sign-in page sets
a random pre-sign-in cookie (SameSite=Strict) and binds the token to that.
"""

import secrets

from aiohttp import web

from tenant_backup.ui.context import (
    SESSION_COOKIE,
    AuthMode,
    UiState,
    caller,
    render,
    state_of,
)
from tenant_backup.ui.csrf import CSRF_FIELD, csrf_token, csrf_valid
from tenant_backup.ui.kubeapi import ApiRefusedError, UnauthorizedError, UserApi

PRE_COOKIE = "tbui_signin"
MAX_TOKEN_LENGTH = 16384


async def signin_page(request: web.Request) -> web.StreamResponse:
    """The token form (proxy mode has none: the proxy signs people in)."""
    state = state_of(request)
    if state.config.auth is AuthMode.PROXY:
        raise web.HTTPSeeOther("/")
    message = "Your session ended: sign in again." if request.query.get("expired") else ""
    return _form(request, state, message, 200)


async def signin(request: web.Request) -> web.StreamResponse:
    """Check the pasted token with the API server and start a session."""
    state = state_of(request)
    if state.config.auth is AuthMode.PROXY:
        raise web.HTTPNotFound()
    form = await request.post()
    pre = request.cookies.get(PRE_COOKIE, "")
    if not csrf_valid(state.secret, pre, _field(form, CSRF_FIELD)):
        return _form(request, state, "The form expired or did not come from this page.", 403)
    token = "".join(_field(form, "token").split())
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return _form(request, state, "Paste a bearer token.", 400)
    assert state.http is not None
    try:
        username = await UserApi(state.http, state.config.server, token).whoami()
    except UnauthorizedError:
        return _form(request, state, "The API server did not accept this token.", 401)
    except ApiRefusedError as refused:
        return _form(request, state, f"Could not check the token: {refused.reason}", 502)
    session_id = state.sessions.create(token, username)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=state.config.secure_cookies,
        path="/",
    )
    response.del_cookie(PRE_COOKIE, path="/signin")
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    """Forget the session (its token is no longer held anywhere by the UI)."""
    who = await caller(request)
    form = await request.post()
    state = state_of(request)
    if not csrf_valid(state.secret, who.csrf_key, _field(form, CSRF_FIELD)):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")
    state.sessions.drop(who.session_id)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _form(request: web.Request, state: UiState, message: str, status: int) -> web.Response:
    pre = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {"csrf": csrf_token(state.secret, pre), "message": message, "user": None},
        status=status,
    )
    response.set_cookie(
        PRE_COOKIE,
        pre,
        httponly=True,
        samesite="Strict",
        secure=state.config.secure_cookies,
        path="/signin",
        max_age=3600,
    )
    return response


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value if isinstance(value, str) else ""
