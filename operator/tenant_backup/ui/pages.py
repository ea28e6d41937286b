"""The pages and their JSON twins (what the pages' script polls), "Back up now" and the
restore form.

Every read and write goes to the API server with the caller's token: a button is shown when
SelfSubjectAccessReview says the user may, but whether an action happens is for the API
server alone, and its refusal is shown as it gave it.
"""

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tenant_backup.api.kinds import TENANT_BACKUP, TENANT_BACKUP_SCHEDULE, TENANT_RESTORE
from tenant_backup.ui import actions, details, history, overview
from tenant_backup.ui.context import Caller, caller, render, state_of
from tenant_backup.ui.csrf import CSRF_FIELD, csrf_valid
from tenant_backup.ui.kubeapi import ApiRefusedError, UnauthorizedError, UserApi
from tenant_backup.ui.responses import (
    condition_cells,
    dicts,
    json_document,
    mapping,
    not_found,
    refused_page,
    requested_status,
    status_of,
)

Body = dict[str, Any]
EVERY_NAMESPACE = ""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the spec again: noise
RESTORE_MODES = ("Verify", "CreateNew", "Replace")


async def overview_page(request: web.Request) -> web.StreamResponse:
    """Every tenant the user can see."""
    who = await caller(request)
    tenants, namespaces = await _tenants(request, who)
    return render(request, "overview.html", overview_context(who, tenants, namespaces))


def overview_context(
    who: Caller | None, tenants: list[overview.TenantRow], namespaces: list[str]
) -> dict[str, Any]:
    """What overview.html renders."""
    return {
        "user": who,
        "tenants": tenants,
        "namespaces": namespaces,
        "trend_width": overview.TREND_WIDTH,
        "trend_height": overview.TREND_HEIGHT,
        "trend_points": overview.TREND_POINTS,
        "unscheduled": overview.human_age(overview.UNSCHEDULED_INTERVAL_SECONDS),
    }


async def overview_json(request: web.Request) -> web.StreamResponse:
    """The overview's rows."""
    who = await caller(request)
    tenants, _ = await _tenants(request, who)
    return json_document(tenant_json_rows(tenants))


async def tenant_page(request: web.Request) -> web.StreamResponse:
    """One tenant: its backups newest first, "Back up now" if the user may create a backup,
    and the restore form if they may create a restore."""
    return await _tenant_view(request, await caller(request), error=None, status=200)


async def tenant_json(request: web.Request) -> web.StreamResponse:
    """The tenant's backups, newest first."""
    who = await caller(request)
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    backups = await _tenant_backups(who.api, namespace, tenant)
    return json_document([dataclasses.asdict(row) for row in overview.newest_first(backups)])


async def backup_page(request: web.Request) -> web.StreamResponse:
    """One backup: status, conditions, attempts, Events."""
    who = await caller(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    body = await who.api.get(TENANT_BACKUP, namespace, name)
    if body is None:
        return not_found(request, who, f"No TenantBackup {namespace}/{name}.")
    try:
        events = await who.api.events_of(namespace, TENANT_BACKUP, name)
    except ApiRefusedError:
        events = []  # a user may read backups without reading Events
    status = mapping(body.get("status"))
    offer = details.download(body)
    may_sign = offer.kind is details.DownloadKind.SIGN and await who.api.may_core(
        "get", "secrets", namespace, offer.secret
    )
    return render(
        request,
        "backup.html",
        {
            "user": who,
            "row": overview.backup_row(body),
            "status": status,
            "conditions": dicts(status.get("conditions")),
            "attempt_history": dicts(status.get("attemptHistory")),
            "artifact": mapping(status.get("artifact")),
            "events": events,
            "download": offer,
            "may_sign": may_sign,
            "link_seconds": details.DOWNLOAD_LINK_SECONDS,
            "labels": _texts(mapping(body.get("metadata")).get("labels")),
            "annotations": _texts(mapping(body.get("metadata")).get("annotations")),
        },
    )


async def backup_json(request: web.Request) -> web.StreamResponse:
    """One backup's line and conditions."""
    body, status = await requested_status(request, TENANT_BACKUP)
    return json_document(
        {
            **dataclasses.asdict(overview.backup_row(body)),
            "conditions": condition_cells(status),
        }
    )


async def back_up_now(request: web.Request) -> web.StreamResponse:
    """Create a TenantBackup of the tenant as the user, from its schedule's template (or its
    latest backup's settings); the backup's page, or the tenant's page with the refusal."""
    who = await caller(request)
    form = await request.post()
    refusal = _refuse_creation(request, who, form)
    if refusal is not None:
        return refusal
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    try:
        schedules = await _readable(who.api.list_objects(TENANT_BACKUP_SCHEDULE, namespace))
        backups = overview.newest_first(await _tenant_backups(who.api, namespace, tenant))
        latest = await who.api.get(TENANT_BACKUP, namespace, backups[0].name) if backups else None
        body = actions.backup_now(
            namespace, tenant, overview.schedule_for(schedules, tenant), latest
        )
        created = await who.api.create(TENANT_BACKUP, namespace, body)
    except UnauthorizedError:
        raise
    except ApiRefusedError as refused:
        error = f"Refused by the API server: {refused.reason}"
        return await _tenant_view(request, who, error=error, status=status_of(refused))
    except actions.NoTemplateError as missing:
        return await _tenant_view(request, who, error=str(missing), status=400)
    name = str(created.get("metadata", {}).get("name", ""))
    raise web.HTTPSeeOther(f"/b/{namespace}/{name}")


async def start_restore(request: web.Request) -> web.StreamResponse:
    """Create a TenantRestore from the form, as the user: the chosen backup of the tenant into
    the database it came from; back to the tenant's page, naming it or with the refusal."""
    who = await caller(request)
    form = await request.post()
    refusal = _refuse_creation(request, who, form)
    if refusal is not None:
        return refusal
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    chosen = _field(form, "backup")
    try:
        backup = await who.api.get(TENANT_BACKUP, namespace, chosen) if chosen else None
        if backup is None or mapping(backup.get("spec")).get("tenant") != tenant:
            error = f"Choose a backup of tenant {tenant} to restore from."
            return await _tenant_view(request, who, error=error, status=400)
        body = actions.restore(
            namespace,
            backup,
            mode=_field(form, "mode"),
            target_tenant=_field(form, "target").strip(),
            confirm=_field(form, "confirm").strip(),
        )
        created = await who.api.create(TENANT_RESTORE, namespace, body)
    except UnauthorizedError:
        raise
    except ApiRefusedError as refused:
        error = f"Refused by the API server: {refused.reason}"
        return await _tenant_view(request, who, error=error, status=status_of(refused))
    name = str(created.get("metadata", {}).get("name", ""))
    raise web.HTTPSeeOther(f"/t/{namespace}/{tenant}?{urlencode({'restore': name})}")


async def suspend_schedule(request: web.Request) -> web.StreamResponse:
    """Suspend or resume a schedule (a merge patch of `spec.suspend`, as the user); back to
    the tenant's page saying so, or with the refusal."""
    who = await caller(request)
    form = await request.post()
    if not csrf_valid(state_of(request).secret, who.csrf_key, _field(form, CSRF_FIELD)):
        return _csrf_refused(request, who)
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    name, suspend = request.match_info["name"], _field(form, "suspend") == "true"
    try:
        await who.api.merge_patch(
            TENANT_BACKUP_SCHEDULE, namespace, name, {"spec": {"suspend": suspend}}
        )
    except UnauthorizedError:
        raise
    except ApiRefusedError as refused:
        error = f"Refused by the API server: {refused.reason}"
        return await _tenant_view(request, who, error=error, status=status_of(refused))
    done = f"Schedule {name} {'suspended' if suspend else 'resumed'}."
    raise web.HTTPSeeOther(f"/t/{namespace}/{tenant}?{urlencode({'notice': done})}")


async def tenant_schedules_json(request: web.Request) -> web.StreamResponse:
    """The tenant's schedules."""
    who = await caller(request)
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    schedules = await _readable(who.api.list_objects(TENANT_BACKUP_SCHEDULE, namespace))
    return json_document([dataclasses.asdict(row) for row in _schedules_of(schedules, tenant)])


async def tenant_restores_json(request: web.Request) -> web.StreamResponse:
    """The restores from or into the tenant, newest first."""
    who = await caller(request)
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    restores = await who.api.list_objects(TENANT_RESTORE, namespace)
    backups = await _tenant_backups(who.api, namespace, tenant)
    names = [str(mapping(body.get("metadata")).get("name", "")) for body in backups]
    return json_document(
        [dataclasses.asdict(row) for row in details.restores_of(restores, tenant, names)]
    )


def _refuse_creation(
    request: web.Request, who: Caller, form: Mapping[str, object]
) -> web.Response | None:
    """The page refusing a creation without the session's CSRF token, or over the user's
    rate; None when it may go to the API server."""
    state = state_of(request)
    if not csrf_valid(state.secret, who.csrf_key, _field(form, CSRF_FIELD)):
        return _csrf_refused(request, who)
    if not state.limiter.allow(who.username):
        wait = state.limiter.retry_after(who.username)
        return render(
            request,
            "error.html",
            {
                "user": who,
                "title": "Too many requests",
                "reason": f"At most {state.config.creations_per_minute} creations a minute: "
                f"try again in {wait} s.",
            },
            status=429,
            headers={"Retry-After": str(wait)},
        )
    return None


def _csrf_refused(request: web.Request, who: Caller) -> web.Response:
    return refused_page(request, who, "Refused", "Missing or wrong CSRF token.", 403)


async def _tenant_view(
    request: web.Request, who: Caller, error: str | None, status: int
) -> web.Response:
    namespace, tenant = request.match_info["namespace"], request.match_info["tenant"]
    backups, may_create, may_restore, may_patch, schedules, restores = await asyncio.gather(
        _tenant_backups(who.api, namespace, tenant),
        who.api.may("create", TENANT_BACKUP, namespace),
        who.api.may("create", TENANT_RESTORE, namespace),
        who.api.may("patch", TENANT_BACKUP_SCHEDULE, namespace),
        _readable(who.api.list_objects(TENANT_BACKUP_SCHEDULE, namespace)),
        _listed_or_none(who.api.list_objects(TENANT_RESTORE, namespace)),
    )
    schedule = overview.schedule_for(schedules, tenant)
    rows = overview.newest_first(backups)
    restore_rows = (
        None
        if restores is None
        else details.restores_of(restores, tenant, (row.name for row in rows))
    )
    history_rows, history_note = await _history(request, who, namespace, tenant)
    return render(
        request,
        "tenant.html",
        {
            "user": who,
            "namespace": namespace,
            "tenant": tenant,
            "backups": rows,
            "may_create": may_create,
            "may_restore": may_restore,
            "restorable": [row.name for row in rows if row.phase == "Succeeded"],
            "restore_modes": RESTORE_MODES,
            "restore_created": request.query.get("restore", "") if error is None else "",
            "schedule": str(schedule.get("metadata", {}).get("name", "")) if schedule else "",
            "schedules": _schedules_of(schedules, tenant),
            "may_patch_schedules": may_patch,
            "restores": restore_rows,
            "notice": request.query.get("notice", "") if error is None else "",
            "history": history_rows,
            "history_note": history_note,
            "error": error,
        },
        status=status,
    )


async def _tenants(request: web.Request, who: Caller) -> tuple[list[overview.TenantRow], list[str]]:
    """The overview's rows and the namespaces they were read from."""
    namespaces = await visible_namespaces(who.api, state_of(request).config.namespaces)
    scopes = [EVERY_NAMESPACE] if namespaces is None else namespaces
    listed = await asyncio.gather(
        *(who.api.list_objects(TENANT_BACKUP, scope) for scope in scopes),
        *(_readable(who.api.list_objects(TENANT_BACKUP_SCHEDULE, scope)) for scope in scopes),
    )
    backups = [item for items in listed[: len(scopes)] for item in items]
    schedules = [item for items in listed[len(scopes) :] for item in items]
    rows = overview.tenant_rows(backups, schedules, datetime.now(UTC))
    return rows, sorted({row.namespace for row in rows} if namespaces is None else namespaces)


async def visible_namespaces(api: UserApi, configured: tuple[str, ...]) -> list[str] | None:
    """The namespaces where the user may list TenantBackups; None: all of them (a
    cluster-wide list is allowed). Candidates: `configured`, else every namespace if the user
    may list namespaces, else none."""
    if await api.may("list", TENANT_BACKUP):
        return None
    candidates = list(configured)
    if not candidates and await api.may_list_namespaces():
        candidates = await api.namespaces()
    allowed = await asyncio.gather(*(api.may("list", TENANT_BACKUP, ns) for ns in candidates))
    return [ns for ns, ok in zip(candidates, allowed, strict=True) if ok]


async def _tenant_backups(api: UserApi, namespace: str, tenant: str) -> list[Body]:
    backups = await api.list_objects(TENANT_BACKUP, namespace)
    return [body for body in backups if body.get("spec", {}).get("tenant") == tenant]


async def _readable(listing: Any) -> list[Body]:
    """What a list returned, or nothing when the user may not list it."""
    try:
        items: list[Body] = await listing
    except ApiRefusedError as refused:
        if refused.status != 403:
            raise
        return []
    return items


def tenant_json_rows(rows: list[overview.TenantRow]) -> list[dict[str, Any]]:
    """The overview's rows as its JSON twin sends them."""
    return [
        {**dataclasses.asdict(row), "failed": row.failed, "schedules": list(row.schedules)}
        for row in rows
    ]


async def _history(
    request: web.Request, who: Caller, namespace: str, tenant: str
) -> tuple[list[history.HistoryRow], str]:
    """The tenant's history rows and a note: read only where the API server says the user
    may list TenantBackups (the rows are not guarded by it)."""
    config = state_of(request).config.history
    if config is None:
        return [], "No history database is configured for the UI."
    if not await who.api.may("list", TENANT_BACKUP, namespace):
        return [], f"You may not list TenantBackups in {namespace}, so no history is shown."
    try:
        return await history.recent(config, namespace, tenant), ""
    except history.HistoryUnavailableError as unavailable:
        return [], str(unavailable)


def _schedules_of(schedules: list[Body], tenant: str) -> list[details.ScheduleRow]:
    """The schedules that back `tenant` up, by name."""
    rows = overview.tenant_rows([], schedules, datetime.now(UTC))
    names = {name for row in rows if row.tenant == tenant for name in row.schedules}
    found = [
        details.schedule_row(body)
        for body in schedules
        if mapping(body.get("metadata")).get("name") in names
    ]
    return sorted(found, key=lambda row: row.name)


async def _listed_or_none(listing: Any) -> list[Body] | None:
    """What a list returned, or None when the user may not list it."""
    try:
        items: list[Body] = await listing
    except ApiRefusedError as refused:
        if refused.status != 403:
            raise
        return None
    return items


def _texts(value: object) -> list[tuple[str, str]]:
    """A labels or annotations map as sorted (key, value) pairs of text."""
    shown = mapping(value).items()
    return sorted((str(k), str(v)) for k, v in shown if k != LAST_APPLIED)


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
