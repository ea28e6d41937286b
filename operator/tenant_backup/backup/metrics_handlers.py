"""Registrations feeding the metrics (Kopf's for our Jobs, coroutines: quick, never queued
behind the drives in Kopf's thread pool; the informer's for every TenantBackup), and the
/metrics HTTP server (imported by `tenant-backup operator --metrics-port`)."""

from functools import partial
from typing import Any

import kopf
import prometheus_client

from tenant_backup import runtime
from tenant_backup.adapters.history import store
from tenant_backup.adapters.informer import Change
from tenant_backup.api import kinds
from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup.history_metrics import HistoryMetrics
from tenant_backup.backup.metrics import BackupMetrics
from tenant_backup.core import naming

SETTINGS = runtime.SETTINGS
METRICS = BackupMetrics(prometheus_client.REGISTRY)


def backup_changed(change: Change) -> None:
    """Track every TenantBackup's phase, attempts and times (settled ones too: from the
    informer, not Kopf's watch)."""
    if change.type == "DELETED" or change.body is None:
        METRICS.backup_gone(change.namespace, change.name)
    else:
        METRICS.backup_seen(TenantBackup.from_body(change.body))


runtime.follow(kinds.TENANT_BACKUP, backup_changed)


@kopf.on.event(
    "batch", "v1", "jobs", labels={naming.LABEL_MANAGED_BY: naming.MANAGER}, id="metrics-jobs"
)
async def job_event(type: str, namespace: str | None, name: str, body: kopf.Body, **_: Any) -> None:
    """Track our unfinished Jobs."""
    if namespace is None:
        return
    if type == "DELETED":
        METRICS.job_gone(namespace, name)
    else:
        METRICS.job_seen(namespace, name, body)


def serve(port: int) -> None:
    """Serve /metrics on all interfaces at `port`, in a daemon thread (with the history
    table's metrics when there is a history database)."""
    if SETTINGS.history_enabled:
        HistoryMetrics(prometheus_client.REGISTRY, partial(store.tenant_records, SETTINGS))
    prometheus_client.start_http_server(port, addr="0.0.0.0")  # noqa: S104  (in a pod)
