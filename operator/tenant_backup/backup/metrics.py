"""Prometheus metrics derived from what the operator watches: TenantBackups and our Jobs.

`BackupMetrics` is fed raw watch bodies. Gauges are computed at scrape time from the objects
currently known, so they are right after a restart; counters and histograms count transitions
seen by this process (a backup first seen already finished is not counted again).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tenant_backup.api.attempts import AttemptOutcome, ConditionType, Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup.size_check import flagged
from tenant_backup.core import naming

PREFIX = "tenant_backup"
FINISHED_CONDITIONS = ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
SIZE_BUCKETS = tuple(float(4**n) for n in range(5, 21))  # 1 KiB .. 1 TiB

Key = tuple[str, str]


@dataclass(frozen=True)
class BackupView:
    """What the metrics need from one TenantBackup."""

    namespace: str
    tenant: str
    phase: Phase
    reason: str
    attempts: int
    start: datetime | None
    completion: datetime | None
    size_bytes: int | None
    size_anomaly: bool
    deletion_failing: bool
    """Being deleted, and the latest attempt to delete its artifact failed."""
    verified: datetime | None = None
    """When a Verify restore last proved it restorable (`RestoreVerified` True)."""

    @classmethod
    def of(cls, backup: TenantBackup) -> "BackupView":
        """The view of a TenantBackup (a new one has no status yet: Pending)."""
        status = backup.status
        return cls(
            namespace=backup.metadata.namespace,
            tenant=backup.spec.tenant,
            phase=status.phase or Phase.PENDING,
            reason=status.reason or "",
            attempts=status.attempts,
            start=status.start_time,
            completion=status.completion_time,
            size_bytes=status.artifact.size_bytes if status.artifact else None,
            size_anomaly=flagged(status.conditions),
            deletion_failing=_deletion_failing(backup),
            verified=next(
                (
                    c.last_transition_time
                    for c in status.conditions
                    if c.type is ConditionType.RESTORE_VERIFIED and c.status == "True"
                ),
                None,
            ),
        )


def _deletion_failing(backup: TenantBackup) -> bool:
    deletion = backup.status.deletion
    return (
        backup.metadata.deletion_timestamp is not None
        and deletion is not None
        and bool(deletion.attempt_history)
        and deletion.attempt_history[-1].outcome is AttemptOutcome.FAILED
    )


def job_state(body: Mapping[str, Any]) -> str | None:
    """`running` (a ready pod), `starting` (created, no ready pod yet), or None (finished)."""
    status = body.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in FINISHED_CONDITIONS and condition.get("status") == "True":
            return None
    if (status.get("succeeded") or 0) + (status.get("failed") or 0) > 0:
        return None  # one pod, no retries (backoffLimit 0): its end is the Job's end
    return "running" if (status.get("ready") or 0) > 0 else "starting"


class BackupMetrics(Collector):
    """Thread-safe metric state (Kopf runs sync handlers in threads) and its collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = Lock()
        self._backups: dict[Key, BackupView] = {}
        self._jobs: dict[Key, str] = {}
        self.attempts = Counter(
            f"{PREFIX}_attempts",
            "Dump Jobs started (attempts), by namespace and tenant.",
            ["namespace", "tenant"],
            registry=registry,
        )
        self.duration = Histogram(
            f"{PREFIX}_duration_seconds",
            "Time from start to a terminal phase, by namespace and phase.",
            ["namespace", "phase"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.size = Histogram(
            f"{PREFIX}_artifact_size_bytes",
            "Size of verified artifacts of succeeded backups, by namespace.",
            ["namespace"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        registry.register(self)

    def backup_seen(self, backup: TenantBackup) -> None:
        """A TenantBackup was listed, added or modified."""
        new = BackupView.of(backup)
        name = backup.metadata.name
        with self._lock:
            old = self._backups.get((new.namespace, name))
            self._backups[new.namespace, name] = new
        if old is None:
            return
        if new.attempts > old.attempts:
            self.attempts.labels(new.namespace, new.tenant).inc(new.attempts - old.attempts)
        if new.phase.terminal and not old.phase.terminal:
            if new.start and new.completion:
                duration = (new.completion - new.start).total_seconds()
                self.duration.labels(new.namespace, new.phase).observe(duration)
            if new.phase is Phase.SUCCEEDED and new.size_bytes is not None:
                self.size.labels(new.namespace).observe(new.size_bytes)

    def backup_gone(self, namespace: str, name: str) -> None:
        """A TenantBackup was deleted."""
        with self._lock:
            self._backups.pop((namespace, name), None)

    def job_seen(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """One of our Jobs was listed, added or modified."""
        state = job_state(body)
        with self._lock:
            if state is None:
                self._jobs.pop((namespace, name), None)
            else:
                self._jobs[namespace, name] = state

    def job_gone(self, namespace: str, name: str) -> None:
        """One of our Jobs was deleted."""
        with self._lock:
            self._jobs.pop((namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        """Gauges over the objects known now."""
        with self._lock:
            backups = list(self._backups.values())
            jobs = list(self._jobs.items())
        by_phase = GaugeMetricFamily(
            f"{PREFIX}_backups",
            "TenantBackups that exist now, by namespace, phase and reason.",
            labels=["namespace", "phase", "reason"],
        )
        counts: dict[tuple[str, str, str], int] = {}
        last_success: dict[Key, float] = {}
        newest_flag: dict[Key, bool] = {}
        failing: dict[Key, int] = {}
        verified: dict[Key, float] = {}
        for view in backups:
            if view.verified is not None:
                tenant_key = (view.namespace, view.tenant)
                verified[tenant_key] = max(verified.get(tenant_key, 0.0), view.verified.timestamp())
            if view.deletion_failing:
                failing[view.namespace, view.tenant] = (
                    failing.get((view.namespace, view.tenant), 0) + 1
                )
            phase_key = (view.namespace, view.phase, view.reason)
            counts[phase_key] = counts.get(phase_key, 0) + 1
            if view.phase is Phase.SUCCEEDED and view.completion is not None:
                tenant_key = (view.namespace, view.tenant)
                stamp = view.completion.timestamp()
                if stamp >= last_success.get(tenant_key, 0.0):
                    last_success[tenant_key] = stamp
                    newest_flag[tenant_key] = view.size_anomaly
        for labels, count in sorted(counts.items()):
            by_phase.add_metric(list(labels), count)
        yield by_phase
        success = GaugeMetricFamily(
            f"{PREFIX}_last_success_timestamp_seconds",
            "Completion time of the newest succeeded TenantBackup, by namespace and tenant.",
            labels=["namespace", "tenant"],
        )
        for tenant_key, stamp in sorted(last_success.items()):
            success.add_metric(list(tenant_key), stamp)
        yield success
        last_verified = GaugeMetricFamily(
            f"{PREFIX}_last_verified_timestamp_seconds",
            "When a Verify TenantRestore last proved a TenantBackup of the tenant restorable "
            "(its RestoreVerified condition), by namespace and tenant.",
            labels=["namespace", "tenant"],
        )
        for tenant_key, stamp in sorted(verified.items()):
            last_verified.add_metric(list(tenant_key), stamp)
        yield last_verified
        anomaly = GaugeMetricFamily(
            f"{PREFIX}_size_anomaly",
            "1 when the newest succeeded TenantBackup of a tenant is flagged SizeAnomaly (its "
            "artifact shrank past spec.sizeCheck's threshold), else 0; by namespace and tenant.",
            labels=["namespace", "tenant"],
        )
        for tenant_key, flag in sorted(newest_flag.items()):
            anomaly.add_metric(list(tenant_key), 1.0 if flag else 0.0)
        yield anomaly
        deletions = GaugeMetricFamily(
            f"{PREFIX}_artifact_deletions_failing",
            "TenantBackups being deleted whose latest attempt to delete the artifact failed "
            "(they stay until it succeeds), by namespace and tenant.",
            labels=["namespace", "tenant"],
        )
        for tenant_key, count in sorted(failing.items()):
            deletions.add_metric(list(tenant_key), count)
        yield deletions
        job_gauge = GaugeMetricFamily(
            f"{PREFIX}_jobs",
            f"Unfinished dump Jobs ({naming.LABEL_MANAGED_BY}={naming.MANAGER}) by state.",
            labels=["namespace", "state"],
        )
        job_counts: dict[tuple[str, str], int] = {}
        for (namespace, _), state in jobs:
            job_counts[namespace, state] = job_counts.get((namespace, state), 0) + 1
        for labels2, count in sorted(job_counts.items()):
            job_gauge.add_metric(list(labels2), count)
        yield job_gauge
