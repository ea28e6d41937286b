"""Pure: Kubernetes objects built from a TenantBackup and the operator's settings."""

from typing import Any

from tenant_backup.api.contract import DATABASE_SECRET
from tenant_backup.api.resource import TenantBackup
from tenant_backup.backup.destination import DestinationPlan, plan_destination, secret_env
from tenant_backup.core import naming
from tenant_backup.settings import Settings

CONTAINER_NAME = "dump"
# The root filesystem is read-only; pg_restore's output during verification is spooled here.
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 (in the pod: the emptyDir)


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
    """The Job of one attempt: one pod, no retries of its own, locked down."""
    destination = plan_destination(backup)
    job_labels = labels(backup) | {naming.LABEL_ATTEMPT: str(attempt)}
    uid = settings.run_as_user
    container = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": dump_command(backup, destination),
        "env": dump_env(backup) + destination.env,
        "volumeMounts": [*destination.volume_mounts, TMP_MOUNT],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "resources": {
            "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
            "limits": {"memory": settings.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": naming.job_name(backup.metadata.name, attempt),
            "namespace": backup.metadata.namespace,
            "labels": job_labels,
            "ownerReferences": [backup.owner_reference()],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": backup.spec.timeouts.active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": uid,
                        "runAsGroup": uid,
                        "fsGroup": uid,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [*destination.volumes, TMP_VOLUME],
                },
            },
        },
    }
