"""Prometheus metrics of TenantBackupSchedules, computed at scrape time from the schedules'
status as last watched (so they are right after a restart): per schedule and tenant the last
success, per schedule the next slot and the time between slots, and the missed, skipped and
pruned counts."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tenant_backup.api.schedule import EVERY_TENANT
from tenant_backup.core.observe import parse_time
from tenant_backup.schedule.cron import CronError, parse_cron

PREFIX = "tenant_backup_schedule"
Key = tuple[str, str]


@dataclass(frozen=True)
class TenantView:
    """One tenant's counts and last success under a schedule."""

    tenant: str
    last_success: datetime | None
    skipped: int
    pruned: int


@dataclass(frozen=True)
class ScheduleView:
    """What the metrics need from one schedule."""

    next_slot: datetime | None
    interval_seconds: float | None
    suspended: bool
    missed: int
    tenants: tuple[TenantView, ...]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> "ScheduleView":
        """The view of a schedule's watch body (read directly: no model is built)."""
        spec, status = body.get("spec") or {}, body.get("status") or {}
        current = _current_tenants(spec, status)
        tenants = tuple(
            TenantView(
                tenant=state.get("tenant", ""),
                last_success=parse_time((state.get("lastSuccess") or {}).get("time")),
                skipped=int(state.get("skipped") or 0),
                pruned=int(state.get("pruned") or 0),
            )
            for state in status.get("tenants") or []
            if current is None or state.get("tenant") in current
        )
        return cls(
            next_slot=parse_time(status.get("nextScheduleTime")),
            interval_seconds=_interval(spec),
            suspended=bool(spec.get("suspend")),
            missed=int(status.get("missed") or 0),
            tenants=tenants,
        )


def _current_tenants(spec: Mapping[str, Any], status: Mapping[str, Any]) -> set[str] | None:
    """The tenants the schedule backs up now (a tenant dropped from the database keeps its
    runs, and its place in status, but is no longer due: no alert for it); None: unknown."""
    listed = spec.get("tenants") or []
    if listed and listed != [EVERY_TENANT]:
        return set(listed)
    slot = status.get("slot")
    return set(slot.get("tenants") or []) if slot else None


def _interval(spec: Mapping[str, Any]) -> float | None:
    try:
        cron = parse_cron(str(spec.get("schedule", "")), str(spec.get("timeZone") or "UTC"))
    except CronError:
        return None
    return cron.interval().total_seconds()


class ScheduleMetrics(Collector):
    """Thread-safe schedule views and their collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = Lock()
        self._schedules: dict[Key, ScheduleView] = {}
        registry.register(self)

    def seen(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """A schedule was listed, added or modified."""
        view = ScheduleView.of(body)
        with self._lock:
            self._schedules[namespace, name] = view

    def gone(self, namespace: str, name: str) -> None:
        """A schedule was deleted."""
        with self._lock:
            self._schedules.pop((namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        """The gauges and counters over the schedules known now."""
        with self._lock:
            schedules = sorted(self._schedules.items())
        labels = ["namespace", "schedule"]
        tenant_labels = [*labels, "tenant"]
        last_success = GaugeMetricFamily(
            f"{PREFIX}_last_success_timestamp_seconds",
            "Completion time of the tenant's newest Succeeded run under the schedule.",
            labels=tenant_labels,
        )
        next_run = GaugeMetricFamily(
            f"{PREFIX}_next_run_timestamp_seconds",
            "Time of the schedule's next slot (absent while suspended).",
            labels=labels,
        )
        interval = GaugeMetricFamily(
            f"{PREFIX}_interval_seconds",
            "Shortest time between two slots of the schedule (alerts compare ages with it).",
            labels=labels,
        )
        suspended = GaugeMetricFamily(
            f"{PREFIX}_suspended", "1 while the schedule is suspended.", labels=labels
        )
        missed = CounterMetricFamily(
            f"{PREFIX}_missed_slots",
            "Slots the schedule never ran (operator down, or past startingDeadlineSeconds).",
            labels=labels,
        )
        skipped = CounterMetricFamily(
            f"{PREFIX}_skipped_runs",
            "Runs of a tenant skipped (previous run unfinished under Forbid, or name taken).",
            labels=tenant_labels,
        )
        pruned = CounterMetricFamily(
            f"{PREFIX}_pruned_runs",
            "Runs of a tenant deleted by retention, artifact first.",
            labels=tenant_labels,
        )
        for (namespace, name), view in schedules:
            key = [namespace, name]
            if view.next_slot is not None and not view.suspended:
                next_run.add_metric(key, view.next_slot.timestamp())
            if view.interval_seconds is not None:
                interval.add_metric(key, view.interval_seconds)
            suspended.add_metric(key, 1.0 if view.suspended else 0.0)
            missed.add_metric(key, view.missed)
            for tenant in view.tenants:
                tenant_key = [*key, tenant.tenant]
                if tenant.last_success is not None:
                    last_success.add_metric(tenant_key, tenant.last_success.timestamp())
                skipped.add_metric(tenant_key, tenant.skipped)
                pruned.add_metric(tenant_key, tenant.pruned)
        yield from (last_success, next_run, interval, suspended, missed, skipped, pruned)
