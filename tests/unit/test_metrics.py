"""Metric state from watch bodies: gauges over what exists, transitions counted once."""

from typing import Any

from prometheus_client import CollectorRegistry

from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup.metrics import BackupMetrics, job_state
from tests.support.factories import backup_body


def backup(phase: str | None = None, attempts: int = 0, **status: Any) -> TenantBackup:
    body = backup_body(namespace="team-a")
    body["status"] = {"phase": phase, "attempts": attempts, **status} if phase else {}
    return TenantBackup.from_body(body)


SUCCEEDED = backup(
    "Succeeded",
    1,
    reason="Succeeded",
    startTime="2026-11-25T12:00:00Z",
    completionTime="2026-11-25T12:00:30Z",
    artifact={
        "url": "pvc://backups/acme/a.pgdump.zst",
        "sizeBytes": 2048,
        "size": "2.0KiB",
        "sha256": "0" * 64,
        "format": "custom",
        "compression": "zstd",
    },
)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_watched_success_is_counted_once() -> None:
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    metrics.backup_seen(backup())
    metrics.backup_seen(backup("Running", 1, reason="JobCreated"))
    metrics.backup_seen(SUCCEEDED)
    metrics.backup_seen(SUCCEEDED)
    assert value(registry, "tenant_backup_attempts_total", namespace="team-a", tenant="acme") == 1
    durations = {"namespace": "team-a", "phase": "Succeeded"}
    assert value(registry, "tenant_backup_duration_seconds_sum", **durations) == 30
    assert value(registry, "tenant_backup_duration_seconds_count", **durations) == 1
    assert value(registry, "tenant_backup_artifact_size_bytes_sum", namespace="team-a") == 2048
    by_phase = {"namespace": "team-a", "phase": "Succeeded", "reason": "Succeeded"}
    assert value(registry, "tenant_backup_backups", **by_phase) == 1
    stamp = value(
        registry, "tenant_backup_last_success_timestamp_seconds", namespace="team-a", tenant="acme"
    )
    assert stamp == 1795608030.0


def test_backups_first_seen_finished_are_gauged_not_counted() -> None:
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    metrics.backup_seen(SUCCEEDED)  # e.g. listed at operator start
    assert (
        value(registry, "tenant_backup_attempts_total", namespace="team-a", tenant="acme") is None
    )
    assert value(
        registry, "tenant_backup_last_success_timestamp_seconds", namespace="team-a", tenant="acme"
    )
    metrics.backup_gone("team-a", "nightly")
    by_phase = {"namespace": "team-a", "phase": "Succeeded", "reason": "Succeeded"}
    assert value(registry, "tenant_backup_backups", **by_phase) is None


def test_jobs_by_state() -> None:
    assert job_state({"status": {}}) == "starting"
    assert job_state({"status": {"active": 1, "ready": 1}}) == "running"
    finished = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert job_state(finished) is None
    pod_done = {"status": {"succeeded": 1, "ready": 0}}  # before the Complete condition
    assert job_state(pod_done) is None
    assert job_state({"status": {"failed": 1}}) is None
    criteria = {"status": {"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}}
    assert job_state(criteria) is None
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    metrics.job_seen("team-a", "nightly-1", {"status": {"active": 1, "ready": 1}})
    metrics.job_seen("team-a", "other-1", {"status": {}})
    assert value(registry, "tenant_backup_jobs", namespace="team-a", state="running") == 1
    assert value(registry, "tenant_backup_jobs", namespace="team-a", state="starting") == 1
    metrics.job_seen("team-a", "nightly-1", finished)
    metrics.job_gone("team-a", "other-1")
    assert value(registry, "tenant_backup_jobs", namespace="team-a", state="running") is None
