"""The UI's web application: routes, the security headers every response carries, and how
failures turn into pages (never a stack trace)."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from tenant_backup.ui import downloads, pages, restore_pages, signin
from tenant_backup.ui.context import (
    SESSION_COOKIE,
    STATE,
    AuthMode,
    SignInRequiredError,
    UiConfig,
    forget,
    new_state,
    render,
    state_of,
)
from tenant_backup.ui.kubeapi import ApiRefusedError, UnauthorizedError

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
NAMESPACE = r"{namespace:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?}"
TENANT = r"{tenant:[a-z0-9][a-z0-9_]{0,62}}"
NAME = r"{name:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(config: UiConfig) -> web.Application:
    """The application for `config`, its HTTP client opened on startup."""
    app = web.Application(middlewares=[_failures], client_max_size=64 * 1024)
    app[STATE] = new_state(config)
    app.cleanup_ctx.append(_http_client)
    app.on_response_prepare.append(_security_headers)
    app.add_routes(
        [
            web.get("/healthz", _healthz),
            web.get("/signin", signin.signin_page),
            web.post("/signin", signin.signin),
            web.post("/signout", signin.signout),
            web.get("/", pages.overview_page),
            web.get("/api/overview", pages.overview_json),
            web.get(f"/t/{NAMESPACE}/{TENANT}", pages.tenant_page),
            web.post(f"/t/{NAMESPACE}/{TENANT}/backup", pages.back_up_now),
            web.post(f"/t/{NAMESPACE}/{TENANT}/restore", pages.start_restore),
            web.post(f"/t/{NAMESPACE}/{TENANT}/schedules/{NAME}", pages.suspend_schedule),
            web.get(f"/api/t/{NAMESPACE}/{TENANT}", pages.tenant_json),
            web.get(f"/api/t/{NAMESPACE}/{TENANT}/schedules", pages.tenant_schedules_json),
            web.get(f"/api/t/{NAMESPACE}/{TENANT}/restores", pages.tenant_restores_json),
            web.get(f"/b/{NAMESPACE}/{NAME}", pages.backup_page),
            web.get(f"/b/{NAMESPACE}/{NAME}/download", downloads.download),
            web.get(f"/api/b/{NAMESPACE}/{NAME}", pages.backup_json),
            web.get(f"/r/{NAMESPACE}/{NAME}", restore_pages.restore_page),
            web.get(f"/api/r/{NAMESPACE}/{NAME}", restore_pages.restore_json),
            web.static("/static", STATIC),
        ]
    )
    return app


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), trust_env=False) as http:
        state.http = http
        yield
        state.http = None


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if state_of(request).config.secure_cookies:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


async def _healthz(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@web.middleware
async def _failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign-in needed or expired: back to sign-in; refused by the API server: its reason on
    a page; anything unexpected: logged, and a plain page."""
    try:
        return await handler(request)
    except SignInRequiredError as needed:
        return _to_signin(request, needed.expired)
    except UnauthorizedError:
        forget(request, request.cookies.get(SESSION_COOKIE))
        return _to_signin(request, expired=True)
    except ApiRefusedError as refused:
        if request.path.startswith("/api/"):
            return web.json_response({"error": refused.reason}, status=_status(refused))
        return render(
            request,
            "error.html",
            {"user": None, "title": "Refused by the API server", "reason": refused.reason},
            status=_status(refused),
        )
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return render(
            request,
            "error.html",
            {"user": None, "title": "Something went wrong", "reason": "See the UI's log."},
            status=500,
        )


def _to_signin(request: web.Request, expired: bool) -> web.StreamResponse:
    if state_of(request).config.auth is AuthMode.PROXY:
        return web.Response(status=401, text="the authenticating proxy sent no accepted token")
    if request.path.startswith("/api/"):
        return web.json_response({"signin": "/signin"}, status=401)
    response = web.HTTPSeeOther("/signin?expired=1" if expired else "/signin")
    if expired:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _status(refused: ApiRefusedError) -> int:
    return refused.status if refused.status >= 400 else 502
