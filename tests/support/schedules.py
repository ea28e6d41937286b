"""Test-side helpers for TenantBackupSchedules: manifests, status, runs and Events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devenv.kubectl import KubectlRunner
from tenant_backup.core import naming
from tests.integration.test_operator_s3 import s3_destination
from tests.support import backups as tb
from tests.support.s3_fixtures import Bucket


def schedule_manifest(
    name: str,
    cron: str,
    tenants: list[str],
    retention: dict[str, Any] | None = None,
    bucket: Bucket | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A TenantBackupSchedule to `apply`: runs to MinIO `bucket` if given, else to the claim
    `backups` under `scheduled/`; one attempt each; `spec` sets further top-level fields."""
    destination = (
        s3_destination(bucket)
        if bucket
        else {"pvc": {"claimName": tb.CLAIM_NAME, "path": "scheduled"}}
    )
    fields: dict[str, Any] = {
        "schedule": cron,
        "tenants": tenants,
        "template": {
            "database": {"secretRef": {"name": tb.SECRET_NAME}},
            "destination": destination,
            "retry": {"maxAttempts": 1},
        },
    }
    if retention is not None:
        fields["retention"] = retention
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackupSchedule",
        "metadata": {"name": name},
        "spec": fields | spec,
    }


def schedule_status(kubectl: KubectlRunner, namespace: str, name: str) -> dict[str, Any]:
    """A schedule's status (empty until the operator writes one)."""
    found: dict[str, Any] = tb.get(kubectl, namespace, "tenantbackupschedule", name).get(
        "status", {}
    )
    return found


def runs(kubectl: KubectlRunner, namespace: str, schedule: str) -> list[dict[str, Any]]:
    """The schedule's runs (TenantBackups labelled with it)."""
    return tb.items(kubectl, namespace, "tb", f"{naming.LABEL_SCHEDULE}={schedule}")


def runs_by_slot(
    kubectl: KubectlRunner, namespace: str, schedule: str
) -> dict[datetime, list[str]]:
    """The schedule's runs' tenants, by the slot they are for."""
    found: dict[datetime, list[str]] = {}
    for run in runs(kubectl, namespace, schedule):
        slot = datetime.fromisoformat(run["metadata"]["annotations"][naming.ANNOTATION_SLOT])
        found.setdefault(slot, []).append(run["spec"]["tenant"])
    return {slot: sorted(tenants) for slot, tenants in sorted(found.items())}


def schedule_events(kubectl: KubectlRunner, namespace: str) -> list[dict[str, Any]]:
    """The Events about TenantBackupSchedules in the namespace."""
    return [
        event
        for event in tb.items(kubectl, namespace, "events")
        if event["involvedObject"]["kind"] == "TenantBackupSchedule"
    ]
