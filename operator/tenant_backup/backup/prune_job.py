"""Pure: the Job of one attempt to delete a TenantBackup's artifact (`tenant-backup prune`)."""

from typing import Any

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.pod_config import JobPodSpec
from tenant_backup.backup.destination import plan_access
from tenant_backup.backup.job import labels
from tenant_backup.core import jobs, naming
from tenant_backup.settings import Settings

CONTAINER_NAME = naming.PRUNE
ACTIVE_DEADLINE_SECONDS = 1800
"""A delete is a few calls (Telegram: one per 100 messages); Telegram's rate-limit waits
may take up to 900 s of it."""


def prune_labels(backup: TenantBackup, attempt: int) -> dict[str, str]:
    """The backup's labels, the attempt, and the command that tells them from dump Jobs."""
    return labels(backup) | {
        naming.LABEL_ATTEMPT: str(attempt),
        naming.LABEL_COMMAND: naming.PRUNE,
    }


def build_prune_job(
    backup: TenantBackup,
    artifact_url: str,
    attempt: int,
    settings: Settings,
    pod: JobPodSpec | None = None,
) -> dict[str, Any]:
    """The Job of prune attempt `attempt`, deleting `artifact_url` (a URL the operator
    recorded: never a credential), owned by the backup; `pod`: the namespace's
    TenantBackupPodConfig, if any."""
    access = plan_access(backup)
    request = jobs.JobRequest(
        name=naming.prune_job_name(backup.metadata.name, attempt),
        namespace=backup.metadata.namespace,
        labels=prune_labels(backup, attempt),
        owner_reference=backup.owner_reference(),
        container=CONTAINER_NAME,
        command=["tenant-backup", "prune", f"--artifact-url={artifact_url}", *access.args],
        active_deadline_seconds=ACTIVE_DEADLINE_SECONDS,
        env=access.env,
        volumes=access.volumes,
        volume_mounts=access.volume_mounts,
        pod=pod,
    )
    return jobs.build_job(request, settings)
