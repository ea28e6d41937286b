"""What the pages show, decided from the objects the user's token could read: pure, and
tolerant of whatever the cluster holds (a missing or odd field shows as empty, never fails
the page). Objects are the API server's JSON; nothing here parses them strictly."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tenant_backup.api.cron import CRON_MACROS

Body = Mapping[str, Any]
UNSCHEDULED_INTERVAL_SECONDS = 26 * 3600
"""The interval a tenant no schedule names is judged against (a daily backup plus slack)."""
ACTIVE_PHASES = frozenset({"", "Pending", "Running"})
TREND_POINTS = 12
"""How many of the newest successes a trend shows."""
TREND_WIDTH, TREND_HEIGHT = 80, 18


class Freshness(StrEnum):
    """How old a tenant's last success is, against its schedule's interval."""

    FRESH = "fresh"
    """Within one interval."""
    LATE = "late"
    """Within two: one run missed or failed."""
    STALE = "stale"
    """Older, or never."""


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
    size_bytes: int | None = None
    duration_seconds: int | None = None

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
    freshness: Freshness
    interval: str
    """The interval freshness is judged against, for people ("1d", "5m")."""
    last_size: str
    running: int
    latest_phase: str
    latest_reason: str
    backups: int
    schedules: tuple[str, ...]
    next_run: str
    """The soonest next run of its schedules that are not suspended; empty if none."""
    size_trend: str = ""
    """SVG polyline points of its newest successes' sizes, oldest first."""
    duration_trend: str = ""
    """SVG polyline points of their durations."""
    trend_note: str = field(default="")
    """What the trends span, for a tooltip."""

    @property
    def failed(self) -> bool:
        """Its newest backup failed."""
        return self.latest_phase == "Failed"


def backup_row(body: Body) -> BackupRow:
    """A TenantBackup's line."""
    metadata, spec, status = _part(body, "metadata"), _part(body, "spec"), _part(body, "status")
    artifact = _part(status, "artifact")
    attempts = status.get("attempts")
    size_bytes = artifact.get("sizeBytes")
    finished = _text(status.get("completionTime"))
    started, ended = _parse_time(_text(status.get("startTime"))), _parse_time(finished)
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
        finished=finished,
        size_bytes=size_bytes if isinstance(size_bytes, int) else None,
        duration_seconds=int((ended - started).total_seconds()) if started and ended else None,
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
    scheduled: dict[tuple[str, str], list[Body]] = {}
    for body in schedules:
        namespace = _text(_part(body, "metadata").get("namespace"))
        for tenant in _tenants_of(body):
            scheduled.setdefault((namespace, tenant), []).append(body)
            by_tenant.setdefault((namespace, tenant), [])
    return [
        _tenant_row(namespace, tenant, rows, scheduled.get((namespace, tenant), []), now)
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
    namespace: str, tenant: str, rows: list[BackupRow], schedules: list[Body], now: datetime
) -> TenantRow:
    successes = [row for row in rows if row.phase == "Succeeded"]
    success = successes[0] if successes else None
    finished = _parse_time(success.finished or success.created) if success else None
    age = int((now - finished).total_seconds()) if finished else None
    latest = rows[0] if rows else None
    intervals = [seconds for body in schedules if (seconds := schedule_interval(body))]
    interval = min(intervals) if intervals else UNSCHEDULED_INTERVAL_SECONDS
    trend = list(reversed(successes[:TREND_POINTS]))
    return TenantRow(
        namespace=namespace,
        tenant=tenant,
        last_success=success.finished or success.created if success else "",
        last_success_age=human_age(max(age, 0)) if age is not None else "never",
        freshness=freshness(age, interval),
        interval=human_age(interval),
        last_size=success.size if success else "",
        running=sum(1 for row in rows if row.active),
        latest_phase=latest.phase if latest else "",
        latest_reason=latest.reason if latest else "",
        backups=len(rows),
        schedules=tuple(sorted(_text(_part(body, "metadata").get("name")) for body in schedules)),
        next_run=next_run(schedules),
        size_trend=trend_points([row.size_bytes for row in trend]),
        duration_trend=trend_points([row.duration_seconds for row in trend]),
        trend_note=_trend_note(trend),
    )


def freshness(age_seconds: int | None, interval_seconds: int) -> Freshness:
    """Fresh within one interval, late within two, stale beyond (or never succeeded)."""
    if age_seconds is None or age_seconds >= 2 * interval_seconds:
        return Freshness.STALE
    return Freshness.FRESH if age_seconds < interval_seconds else Freshness.LATE


def schedule_interval(schedule: Body) -> int | None:
    """Seconds between a schedule's runs: from its status (next minus last run), else from
    its cron expression when that is regular (a macro, every N minutes or hours, hourly,
    daily); None when neither says."""
    status = _part(schedule, "status")
    last = _parse_time(_text(status.get("lastScheduleTime")))
    upcoming = _parse_time(_text(status.get("nextScheduleTime")))
    if last and upcoming and upcoming > last:
        return int((upcoming - last).total_seconds())
    return cron_interval(_text(_part(schedule, "spec").get("schedule")))


def cron_interval(expression: str) -> int | None:
    """The period of a regular cron expression in seconds, else None."""
    fields = CRON_MACROS.get(expression.strip(), expression).split()
    if len(fields) != 5:
        return None
    minute, hour, day, month, weekday = fields
    if (day, month) != ("*", "*"):
        return 31 * 86400 if weekday == "*" and month == "*" and day.isdigit() else None
    if weekday != "*":
        return 7 * 86400 if weekday.isdigit() and hour.isdigit() else None
    if hour == "*":
        return _every(minute, 60) if minute != "*" else 60
    if hour.startswith("*/") and minute.isdigit():
        return _every(hour, 3600)
    return 86400 if hour.isdigit() and minute.isdigit() else None


def next_run(schedules: Iterable[Body]) -> str:
    """The soonest `status.nextScheduleTime` of the schedules not suspended; empty if none."""
    times = [
        _text(_part(body, "status").get("nextScheduleTime"))
        for body in schedules
        if _part(body, "spec").get("suspend") is not True
    ]
    return min((time for time in times if time), default="")


def trend_points(values: Sequence[int | None]) -> str:
    """SVG polyline points drawing `values` left to right in a TREND_WIDTH x TREND_HEIGHT box,
    scaled from zero to the largest; empty with fewer than two known values."""
    known = [(index, value) for index, value in enumerate(values) if value is not None]
    if len(known) < 2:
        return ""
    top = max(value for _, value in known) or 1
    step = TREND_WIDTH / (len(values) - 1)
    return " ".join(
        f"{index * step:.1f},{TREND_HEIGHT - 1 - (TREND_HEIGHT - 2) * value / top:.1f}"
        for index, value in known
    )


def _trend_note(trend: Sequence[BackupRow]) -> str:
    sizes = [row.size for row in trend if row.size]
    durations = [row.duration_seconds for row in trend if row.duration_seconds is not None]
    if len(trend) < 2:
        return ""
    note = f"last {len(trend)} successes"
    if sizes:
        note += f": size {sizes[0]} -> {sizes[-1]}"
    if durations:
        note += f", duration {human_age(durations[0])} -> {human_age(durations[-1])}"
    return note


def _every(field: str, unit: int) -> int | None:
    if field.startswith("*/") and field[2:].isdigit() and int(field[2:]) > 0:
        return int(field[2:]) * unit
    return unit * 60 if field.isdigit() else None


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
