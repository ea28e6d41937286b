"""What the pages' handlers share to answer: a refusal or not-found page, a JSON twin, and
status values read leniently as text."""

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tenant_backup.api.kinds import Kind
from tenant_backup.ui.context import Caller, caller, render
from tenant_backup.ui.kubeapi import ApiRefusedError


def refused_page(
    request: web.Request, who: Caller, title: str, reason: str, status: int
) -> web.Response:
    """An error page: `title`, and `reason` as text."""
    return render(
        request, "error.html", {"user": who, "title": title, "reason": reason}, status=status
    )


def not_found(request: web.Request, who: Caller, reason: str) -> web.Response:
    """The 404 page."""
    return refused_page(request, who, "Not found", reason, 404)


def status_of(refused: ApiRefusedError) -> int:
    """The HTTP status to answer a refusal with (502: the API server was not reached)."""
    return refused.status if refused.status >= 400 else 502


async def requested_status(
    request: web.Request, kind: Kind
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object of `kind` the path names (`namespace`, `name`), read with the user's token,
    and its status; a JSON twin answers 404 when there is none."""
    who = await caller(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    body = await who.api.get(kind, namespace, name)
    if body is None:
        raise web.HTTPNotFound()
    return body, mapping(body.get("status"))


def json_document(document: object) -> web.Response:
    """A JSON twin's answer, never cached."""
    return web.json_response(document, headers={"Cache-Control": "no-store"})


def mapping(value: object) -> dict[str, Any]:
    """`value` if it is an object, else empty."""
    return value if isinstance(value, dict) else {}


def dicts(value: object) -> list[dict[str, Any]]:
    """The objects of a list (anything else dropped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def cell(value: object) -> str:
    """A status value as text: scalars as written, anything else empty."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if isinstance(value, str | int | float) else ""


def condition_cells(status: Mapping[str, Any]) -> list[dict[str, str]]:
    """The conditions of a status as rows of text."""
    return [
        {key: cell(condition.get(key)) for key in ("type", "status", "reason", "message")}
        for condition in dicts(status.get("conditions"))
    ]
