"""Pure: the dump Job of one TenantBackup attempt."""

from typing import Any

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.pod_config import JobPodSpec
from tenant_backup.backup.destination import plan_destination
from tenant_backup.core import jobs, naming
from tenant_backup.core.access import DestinationPlan
from tenant_backup.core.database_access import plan_database
from tenant_backup.core.keys import recipients_plan
from tenant_backup.settings import Settings

CONTAINER_NAME = "dump"


def labels(backup: TenantBackup) -> dict[str, str]:
    """Labels on every object made for a backup, to find them again."""
    return {
        naming.LABEL_MANAGED_BY: naming.MANAGER,
        naming.LABEL_BACKUP: backup.metadata.name,
        naming.LABEL_BACKUP_UID: backup.metadata.uid,
        naming.LABEL_TENANT: backup.spec.tenant,
    }


def dump_command(backup: TenantBackup, destination: DestinationPlan) -> list[str]:
    """The runner's argv: only non-secret, validated values."""
    dump = backup.spec.dump
    command = [
        "tenant-backup",
        "dump",
        f"--tenant={backup.spec.tenant}",
        *destination.args,
        *([f"--artifact-url={destination.url}"] if destination.url else []),
        f"--format={dump.format.value}",
        f"--compression={dump.compression.value}",
        f"--lock-wait-timeout-seconds={backup.spec.timeouts.lock_wait_timeout_seconds}",
        f"--verify={backup.spec.verify.value}",
    ]
    if dump.compression_level is not None:
        command.append(f"--compression-level={dump.compression_level}")
    return command + recipients_plan(backup.spec.encryption).args


def dump_env(backup: TenantBackup) -> list[dict[str, Any]]:
    """libpq environment: connection and credentials straight from the Secret, the paths of
    the TLS files."""
    env = plan_database(backup.spec.database).env
    env += [
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {"name": "PGAPPNAME", "value": "tenant-backup"},
    ]
    return env


def build_job(
    backup: TenantBackup, attempt: int, settings: Settings, pod: JobPodSpec | None = None
) -> dict[str, Any]:
    """The Job of one attempt; `pod`: the namespace's TenantBackupPodConfig, if any."""
    destination = plan_destination(backup)
    keys = recipients_plan(backup.spec.encryption)
    database = plan_database(backup.spec.database)
    request = jobs.JobRequest(
        name=naming.job_name(backup.metadata.name, attempt),
        namespace=backup.metadata.namespace,
        labels=labels(backup) | {naming.LABEL_ATTEMPT: str(attempt)},
        owner_reference=backup.owner_reference(),
        container=CONTAINER_NAME,
        command=dump_command(backup, destination),
        active_deadline_seconds=backup.spec.timeouts.active_deadline_seconds,
        env=dump_env(backup) + destination.env,
        volumes=destination.volumes + keys.volumes + database.volumes,
        volume_mounts=destination.volume_mounts + keys.volume_mounts + database.volume_mounts,
        pod=pod,
    )
    return jobs.build_job(request, settings)
