"""Pure: the Job of one TenantRestore attempt (`tenant-backup restore`).

The artifact is copied to a work volume first (an emptyDir sized from the artifact); the
destination is reached as a prune reaches it (`core.access`, the claim read-only); the
target's connection comes from its Secret as libpq variables; the checks' SQL reaches the
runner as a file of the pod's own annotation (a downwardAPI volume), and an age identity as a
file of its Secret (`core.keys`): never argv or env.
"""

import json
import math
from datetime import timedelta
from typing import Any

from tenant_backup.api.durations import Duration
from tenant_backup.api.pod_config import JobPodSpec
from tenant_backup.api.restore import (
    DEFAULT_KEEP_PREVIOUS_FOR,
    Mode,
    ResolvedSource,
    TenantRestore,
)
from tenant_backup.core import jobs, naming
from tenant_backup.core.access import plan_access
from tenant_backup.core.database_access import plan_database
from tenant_backup.core.keys import identity_plan
from tenant_backup.settings import Settings

CONTAINER_NAME = naming.RESTORE
WORK_VOLUME = "work"
WORK_PATH = "/work"
CHECKS_VOLUME = "checks"
CHECKS_PATH = "/etc/tenant-backup/checks"
CHECKS_FILE = "checks.json"
ANNOTATION_CHECKS = f"{naming.LABEL_RESTORE}-checks"
WORK_HEADROOM_BYTES = 64 << 20
"""Beyond the artifact itself on the work volume (the runner's own small files)."""
RESTORE_ID_MAX = 253


def labels(restore: TenantRestore) -> dict[str, str]:
    """Labels on every object made for a restore, to find them again."""
    return {
        naming.LABEL_MANAGED_BY: naming.MANAGER,
        naming.LABEL_RESTORE: restore.metadata.name,
        naming.LABEL_RESTORE_UID: restore.metadata.uid,
        naming.LABEL_COMMAND: naming.RESTORE,
    } | ({naming.LABEL_TENANT: restore.target_tenant} if restore.target_tenant else {})


def restore_id(restore: TenantRestore) -> str:
    """Stable for the restore, distinct from every other: `<namespace>.<name>.<uid>`. The
    runner derives its temporary schema's name from it, and marks what it swapped in."""
    meta = restore.metadata
    head = f"{meta.namespace}.{meta.name}"[: RESTORE_ID_MAX - len(meta.uid) - 1]
    return f"{head}.{meta.uid}"


def keep_previous_seconds(restore: TenantRestore) -> int:
    """How long a Replace keeps the previous schema, in seconds."""
    text = restore.spec.keep_previous_for or DEFAULT_KEEP_PREVIOUS_FOR
    if text == "0s":
        return 0
    fixed = Duration.parse(text).fixed() or timedelta(0)
    return int(fixed.total_seconds())


def restore_command(restore: TenantRestore, source: ResolvedSource) -> list[str]:
    """The runner's argv: only non-secret, validated values."""
    spec = restore.spec
    command = [
        "tenant-backup",
        "restore",
        f"--artifact-url={source.url}",
        f"--expected-sha256={source.sha256}",
        f"--format={source.format.value}",
        f"--compression={source.compression.value}",
        f"--source-tenant={source.tenant}",
        f"--target-tenant={spec.target.tenant or source.tenant}",
        f"--mode={spec.mode.runner.value}",
        f"--restore-id={restore_id(restore)}",
        f"--privileges={spec.privileges.runner.value}",
        f"--work-dir={WORK_PATH}",
    ]
    if spec.owner:
        command.append(f"--owner={spec.owner}")
    if spec.mode is Mode.REPLACE:
        command.append(f"--keep-previous-seconds={keep_previous_seconds(restore)}")
    if spec.verify_database:
        command.append(f"--verify-database={spec.verify_database}")
    if spec.checks:
        command.append(f"--checks-file={CHECKS_PATH}/{CHECKS_FILE}")
    return command


def restore_env(restore: TenantRestore) -> list[dict[str, Any]]:
    """libpq environment: connection and credentials straight from the target's Secret, the
    paths of the TLS files."""
    return [
        *plan_database(restore.spec.target.database).env,
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {"name": "PGAPPNAME", "value": "tenant-backup-restore"},
    ]


def work_volume(source: ResolvedSource, decrypting: bool = False) -> dict[str, Any]:
    """The emptyDir the artifact is copied to: its size plus headroom, when known; twice its
    size if it may be decrypted (the ciphertext and the plaintext, for a while)."""
    empty_dir: dict[str, Any] = {}
    if source.size_bytes is not None:
        copies = 2 if decrypting else 1
        mebibytes = math.ceil((copies * source.size_bytes + WORK_HEADROOM_BYTES) / (1 << 20))
        empty_dir["sizeLimit"] = f"{mebibytes}Mi"
    return {"name": WORK_VOLUME, "emptyDir": empty_dir}


def checks_json(restore: TenantRestore) -> str:
    """The checks as the runner's `--checks-file` holds them."""
    return json.dumps(
        [check.model_dump(mode="json") for check in restore.spec.checks], ensure_ascii=False
    )


def build_job(
    restore: TenantRestore,
    source: ResolvedSource,
    attempt: int,
    settings: Settings,
    pod: JobPodSpec | None = None,
) -> dict[str, Any]:
    """The Job of one attempt, owned by the restore; `pod`: the namespace's
    TenantBackupPodConfig, if any."""
    access = plan_access(source.destination, read_only=True)
    keys = identity_plan(restore.spec.decryption)
    database = plan_database(restore.spec.target.database)
    volumes = [
        *access.volumes,
        *keys.volumes,
        *database.volumes,
        work_volume(source, bool(keys.args)),
    ]
    mounts = [
        *access.volume_mounts,
        *keys.volume_mounts,
        *database.volume_mounts,
        {"name": WORK_VOLUME, "mountPath": WORK_PATH},
    ]
    annotations: dict[str, str] = {}
    if restore.spec.checks:
        annotations[ANNOTATION_CHECKS] = checks_json(restore)
        field_path = f"metadata.annotations['{ANNOTATION_CHECKS}']"
        volumes.append(
            {
                "name": CHECKS_VOLUME,
                "downwardAPI": {
                    "items": [{"path": CHECKS_FILE, "fieldRef": {"fieldPath": field_path}}]
                },
            }
        )
        mounts.append({"name": CHECKS_VOLUME, "mountPath": CHECKS_PATH, "readOnly": True})
    request = jobs.JobRequest(
        name=naming.restore_job_name(restore.metadata.name, attempt),
        namespace=restore.metadata.namespace,
        labels=labels(restore) | {naming.LABEL_ATTEMPT: str(attempt)},
        owner_reference=restore.owner_reference(),
        container=CONTAINER_NAME,
        command=[*restore_command(restore, source), *access.args, *keys.args],
        active_deadline_seconds=restore.spec.timeouts.active_deadline_seconds,
        env=restore_env(restore) + access.env,
        volumes=volumes,
        volume_mounts=mounts,
        pod_annotations=annotations,
        pod=pod,
    )
    return jobs.build_job(request, settings)
