"""Pure: the dump Job of one TenantBackup attempt."""

from typing import Any

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import DATABASE_SECRET
from tenant_backup.backup.destination import plan_destination
from tenant_backup.core import jobs, naming
from tenant_backup.core.access import DestinationPlan, secret_env
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
    return command


def dump_env(backup: TenantBackup) -> list[dict[str, Any]]:
    """libpq environment: connection and credentials straight from the Secret."""
    env = secret_env(backup.spec.database.secret_ref.name, DATABASE_SECRET)
    env += [
        {"name": "PGSSLMODE", "value": backup.spec.database.ssl_mode.value},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {"name": "PGAPPNAME", "value": "tenant-backup"},
    ]
    return env


def build_job(backup: TenantBackup, attempt: int, settings: Settings) -> dict[str, Any]:
    """The Job of one attempt."""
    destination = plan_destination(backup)
    request = jobs.JobRequest(
        name=naming.job_name(backup.metadata.name, attempt),
        namespace=backup.metadata.namespace,
        labels=labels(backup) | {naming.LABEL_ATTEMPT: str(attempt)},
        owner_reference=backup.owner_reference(),
        container=CONTAINER_NAME,
        command=dump_command(backup, destination),
        active_deadline_seconds=backup.spec.timeouts.active_deadline_seconds,
        env=dump_env(backup) + destination.env,
        volumes=destination.volumes,
        volume_mounts=destination.volume_mounts,
    )
    return jobs.build_job(request, settings)
