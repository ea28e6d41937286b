"""Metric state from watch bodies: gauges over what exists, transitions counted once."""

from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from tenant_backup.api.attempts import Condition, ConditionType
from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup.metrics import BackupMetrics, job_state
from tenant_backup.schedule.metrics import ScheduleMetrics
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


def test_the_newest_success_of_a_tenant_says_whether_it_shrank() -> None:
    finished = SUCCEEDED.status.completion_time
    assert finished is not None
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    metrics.backup_seen(SUCCEEDED)
    labels = {"namespace": "team-a", "tenant": "acme"}
    assert value(registry, "tenant_backup_size_anomaly", **labels) == 0
    flagged = SUCCEEDED.model_copy(
        update={
            "status": SUCCEEDED.status.model_copy(
                update={
                    "completion_time": finished + timedelta(days=1),
                    "conditions": [
                        Condition(
                            type=ConditionType.SIZE_ANOMALY,
                            status="True",
                            reason="SizeAnomaly",
                            last_transition_time=finished,
                        )
                    ],
                }
            ),
            "metadata": SUCCEEDED.metadata.model_copy(update={"name": "next"}),
        }
    )
    metrics.backup_seen(flagged)
    assert value(registry, "tenant_backup_size_anomaly", **labels) == 1


def test_a_failing_artifact_deletion_is_gauged_while_the_backup_stays() -> None:
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    body = backup_body(namespace="team-a")
    body["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    body["status"] = {
        "phase": "Succeeded",
        "deletion": {
            "attempts": 1,
            "attemptHistory": [
                {
                    "attempt": 1,
                    "jobName": "nightly-1-prune",
                    "outcome": "Failed",
                    "reason": "PermissionDenied",
                    "completionTime": "2026-11-26T00:01:00Z",
                }
            ],
        },
    }
    metrics.backup_seen(TenantBackup.from_body(body))
    labels = {"namespace": "team-a", "tenant": "acme"}
    assert value(registry, "tenant_backup_artifact_deletions_failing", **labels) == 1
    metrics.backup_gone("team-a", "nightly")
    assert value(registry, "tenant_backup_artifact_deletions_failing", **labels) is None


def test_schedule_metrics_come_from_the_status() -> None:
    registry = CollectorRegistry()
    metrics = ScheduleMetrics(registry)
    metrics.seen(
        "team-a",
        "nightly",
        {
            "spec": {"schedule": "0 2 * * *", "timeZone": "Europe/Berlin", "tenants": ["acme"]},
            "status": {
                "nextScheduleTime": "2026-12-04T01:00:00Z",
                "missed": 2,
                "tenants": [
                    {
                        "tenant": "acme",
                        "lastSuccess": {"name": "x", "time": "2026-12-03T01:05:00Z"},
                        "skipped": 1,
                        "pruned": 3,
                    }
                ],
            },
        },
    )
    key = {"namespace": "team-a", "schedule": "nightly"}
    tenant = key | {"tenant": "acme"}
    prefix = "tenant_backup_schedule"
    assert value(registry, f"{prefix}_last_success_timestamp_seconds", **tenant) == 1796259900.0
    assert value(registry, f"{prefix}_next_run_timestamp_seconds", **key) == 1796346000.0
    assert value(registry, f"{prefix}_interval_seconds", **key) == 23 * 3600  # a DST day
    assert value(registry, f"{prefix}_missed_slots_total", **key) == 2
    assert value(registry, f"{prefix}_skipped_runs_total", **tenant) == 1
    assert value(registry, f"{prefix}_pruned_runs_total", **tenant) == 3
    assert value(registry, f"{prefix}_suspended", **key) == 0
    metrics.gone("team-a", "nightly")
    assert value(registry, f"{prefix}_missed_slots_total", **key) is None


def test_a_tenant_the_database_dropped_is_no_longer_gauged() -> None:
    registry = CollectorRegistry()
    metrics = ScheduleMetrics(registry)
    states = [
        {"tenant": tenant, "lastSuccess": {"name": tenant, "time": "2026-12-03T01:05:00Z"}}
        for tenant in ("acme", "initech")
    ]
    status = {"slot": {"time": "2026-12-03T01:00:00Z", "tenants": ["acme"]}, "tenants": states}
    metrics.seen(
        "team-a", "nightly", {"spec": {"schedule": "@daily", "tenants": ["*"]}, "status": status}
    )
    stamp = "tenant_backup_schedule_last_success_timestamp_seconds"
    key = {"namespace": "team-a", "schedule": "nightly"}
    assert value(registry, stamp, **key, tenant="acme") is not None
    assert value(registry, stamp, **key, tenant="initech") is None


def test_the_last_verified_time_is_the_newest_true_restore_verified_per_tenant() -> None:
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    name = "tenant_backup_last_verified_timestamp_seconds"

    def verified(status: str, at: str) -> dict[str, Any]:
        return {
            "type": "RestoreVerified",
            "status": status,
            "reason": "RestoreVerified" if status == "True" else "ChecksMismatch",
            "lastTransitionTime": at,
        }

    metrics.backup_seen(SUCCEEDED)
    assert value(registry, name, namespace="team-a", tenant="acme") is None
    older = SUCCEEDED.status.model_dump(mode="json", by_alias=True) | {
        "conditions": [verified("True", "2026-11-26T00:00:00Z")]
    }
    metrics.backup_seen(backup(**older))
    body = backup_body(name="later", namespace="team-a")
    body["status"] = older | {"conditions": [verified("False", "2026-11-27T00:00:00Z")]}
    metrics.backup_seen(TenantBackup.from_body(body))
    assert value(registry, name, namespace="team-a", tenant="acme") == 1795651200.0  # Nov 26
