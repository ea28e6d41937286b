"""A TenantRestore's page and its JSON twin: status, step, schema, tables and rows,
conditions and checks, as the user may read them."""

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tenant_backup.api.kinds import TENANT_RESTORE
from tenant_backup.ui import details
from tenant_backup.ui.context import caller, render
from tenant_backup.ui.kubeapi import ApiRefusedError
from tenant_backup.ui.responses import (
    cell,
    condition_cells,
    dicts,
    json_document,
    mapping,
    not_found,
    requested_status,
)


async def restore_page(request: web.Request) -> web.StreamResponse:
    """One restore: status, conditions, checks, Events."""
    who = await caller(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    body = await who.api.get(TENANT_RESTORE, namespace, name)
    if body is None:
        return not_found(request, who, f"No TenantRestore {namespace}/{name}.")
    try:
        events = await who.api.events_of(namespace, TENANT_RESTORE, name)
    except ApiRefusedError:
        events = []
    status = mapping(body.get("status"))
    return render(
        request,
        "restore.html",
        {
            "user": who,
            "row": details.restore_row(body),
            "fields": _restore_fields(status),
            "conditions": dicts(status.get("conditions")),
            "checks": dicts(status.get("checks")),
            "events": events,
        },
    )


async def restore_json(request: web.Request) -> web.StreamResponse:
    """One restore's fields, conditions and checks."""
    _, status = await requested_status(request, TENANT_RESTORE)
    return json_document(
        {
            **_restore_fields(status),
            "conditions": condition_cells(status),
            "checks": [
                {
                    key: cell(check.get(key))
                    for key in ("name", "passed", "value", "expected", "error")
                }
                for check in dicts(status.get("checks"))
            ],
        }
    )


RESTORE_FIELDS = (
    ("phase", "phase"),
    ("reason", "reason"),
    ("message", "message"),
    ("step", "step"),
    ("targetSchema", "target_schema"),
    ("database", "database"),
    ("previousSchema", "previous_schema"),
    ("previousKeptUntil", "previous_kept_until"),
    ("tables", "tables"),
    ("rows", "rows"),
    ("duration", "duration"),
    ("attempts", "attempts"),
    ("completionTime", "finished"),
)


def _restore_fields(status: Mapping[str, Any]) -> dict[str, str]:
    """A restore's status fields the page shows, as text."""
    return {field: cell(status.get(key)) for key, field in RESTORE_FIELDS}
