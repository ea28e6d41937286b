"""What the pages show, decided from the objects the user's token could read: pure, and
tolerant of whatever the cluster holds (a missing or odd field shows as empty, never fails
the page). Objects are the API server's JSON; nothing here parses them strictly."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Body = Mapping[str, Any]
STALE_AFTER_SECONDS = 26 * 3600
"""A last success older than this is shown stale (a daily schedule plus slack)."""
ACTIVE_PHASES = frozenset({"", "Pending", "Running"})


@dataclass(frozen=True)
class BackupRow:
    """One TenantBackup as a line of a table."""

    namespace: str
    name: str
    tenant: str
    phase: str
    reason: str
    message: str
    attempts: int
    size: str
    created: str
    finished: str

    @property
    def active(self) -> bool:
        """Not finished yet."""
        return self.phase in ACTIVE_PHASES


@dataclass(frozen=True)
class TenantRow:
    """One tenant of one namespace, as the overview lists it."""

    namespace: str
    tenant: str
    last_success: str
    last_success_age: str
    stale: bool
    last_size: str
    running: int
    latest_phase: str
    latest_reason: str
    backups: int
    schedules: tuple[str, ...]

    @property
    def failed(self) -> bool:
        """Its newest backup failed."""
        return self.latest_phase == "Failed"


def backup_row(body: Body) -> BackupRow:
    """A TenantBackup's line."""
    metadata, spec, status = _part(body, "metadata"), _part(body, "spec"), _part(body, "status")
    artifact = _part(status, "artifact")
    attempts = status.get("attempts")
    return BackupRow(
        namespace=_text(metadata.get("namespace")),
        name=_text(metadata.get("name")),
        tenant=_text(spec.get("tenant")),
        phase=_text(status.get("phase")),
        reason=_text(status.get("reason")),
        message=_text(status.get("message")),
        attempts=attempts if isinstance(attempts, int) else 0,
        size=_text(artifact.get("size")),
        created=_text(metadata.get("creationTimestamp")),
        finished=_text(status.get("completionTime")),
    )


def newest_first(backups: Iterable[Body]) -> list[BackupRow]:
    """The backups' lines, newest created first (then by name, for a stable order)."""
    rows = [backup_row(body) for body in backups]
    rows.sort(key=lambda row: row.name, reverse=True)
    rows.sort(key=lambda row: row.created, reverse=True)  # RFC 3339 UTC sorts as text
    return rows


def tenant_rows(
    backups: Iterable[Body], schedules: Iterable[Body], now: datetime
) -> list[TenantRow]:
    """One row per (namespace, tenant) that has a backup or is named by a schedule, sorted by
    namespace then tenant."""
    by_tenant: dict[tuple[str, str], list[BackupRow]] = {}
    for row in newest_first(backups):
        if row.tenant:
            by_tenant.setdefault((row.namespace, row.tenant), []).append(row)
    scheduled: dict[tuple[str, str], list[str]] = {}
    for body in schedules:
        namespace = _text(_part(body, "metadata").get("namespace"))
        name = _text(_part(body, "metadata").get("name"))
        for tenant in _tenants_of(body):
            scheduled.setdefault((namespace, tenant), []).append(name)
            by_tenant.setdefault((namespace, tenant), [])
    return [
        _tenant_row(namespace, tenant, rows, tuple(scheduled.get((namespace, tenant), ())), now)
        for (namespace, tenant), rows in sorted(by_tenant.items())
    ]


def schedule_for(schedules: Iterable[Body], tenant: str) -> Body | None:
    """The first schedule (by name) whose tenants name `tenant`, else the first for every
    tenant (`*`), else None."""
    ordered = sorted(schedules, key=lambda body: _text(_part(body, "metadata").get("name")))
    named = [body for body in ordered if tenant in _listed_tenants(body)]
    every = [body for body in ordered if "*" in _listed_tenants(body)]
    found = named or every
    return found[0] if found else None


def _tenant_row(
    namespace: str, tenant: str, rows: list[BackupRow], schedules: tuple[str, ...], now: datetime
) -> TenantRow:
    success = next((row for row in rows if row.phase == "Succeeded"), None)
    finished = _parse_time(success.finished or success.created) if success else None
    age = int((now - finished).total_seconds()) if finished else None
    latest = rows[0] if rows else None
    return TenantRow(
        namespace=namespace,
        tenant=tenant,
        last_success=success.finished or success.created if success else "",
        last_success_age=human_age(max(age, 0)) if age is not None else "never",
        stale=age is None or age > STALE_AFTER_SECONDS,
        last_size=success.size if success else "",
        running=sum(1 for row in rows if row.active),
        latest_phase=latest.phase if latest else "",
        latest_reason=latest.reason if latest else "",
        backups=len(rows),
        schedules=schedules,
    )


def human_age(seconds: int) -> str:
    """`93784` -> `1d 2h`: the two largest units, for people scanning a table."""
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or (unit == "s" and not parts):
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def _tenants_of(schedule: Body) -> list[str]:
    """The tenants a schedule backs up: those it lists, or those its status found for `*`."""
    listed = _listed_tenants(schedule)
    if "*" not in listed:
        return listed
    states = _part(schedule, "status").get("tenants")
    return [
        _text(state.get("tenant"))
        for state in (states if isinstance(states, list) else [])
        if isinstance(state, dict) and state.get("tenant")
    ]


def _listed_tenants(schedule: Body) -> list[str]:
    tenants = _part(schedule, "spec").get("tenants")
    return (
        [tenant for tenant in tenants if isinstance(tenant, str)]
        if isinstance(tenants, list)
        else []
    )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _part(body: Body, key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
