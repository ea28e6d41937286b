"""Pure: where a backup's artifact goes and how its Jobs reach it (the dump to write it, a
prune to delete it)."""

import dataclasses
import posixpath
from collections.abc import Callable, Mapping

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import (
    TELEGRAM_SECRET,
    Compression,
    DumpFormat,
    PvcLocation,
    S3Location,
)
from tenant_backup.api.destinations import PvcDestination, S3Destination, TelegramDestination
from tenant_backup.core import access
from tenant_backup.core.access import (
    MOUNT_PATH,
    DestinationPlan,
    claim_mount,
    claim_volume,
    s3_connection,
    secret_env,
)

_EXTENSIONS = {
    (DumpFormat.CUSTOM, Compression.ZSTD): "pgdump.zst",
    (DumpFormat.CUSTOM, Compression.GZIP): "pgdump",
    (DumpFormat.CUSTOM, Compression.NONE): "pgdump",
    (DumpFormat.PLAIN, Compression.ZSTD): "sql.zst",
    (DumpFormat.PLAIN, Compression.GZIP): "sql.gz",
    (DumpFormat.PLAIN, Compression.NONE): "sql",
}


def file_name(backup: TenantBackup) -> str:
    """`<tenant>-<created UTC>-<uid prefix>.<ext>`: the same for every attempt, distinct
    for every TenantBackup, sortable by time."""
    spec, meta = backup.spec, backup.metadata
    created = meta.creation_timestamp.strftime("%Y%m%dT%H%M%SZ")
    extension = _EXTENSIONS[(spec.dump.format, spec.dump.compression)]
    return f"{spec.tenant}-{created}-{meta.uid[:8]}.{extension}"


def relative_path(backup: TenantBackup, base: str | None) -> str:
    """Path of the artifact below a destination's root: `<base>/<tenant>/<file>`."""
    return posixpath.join(base or "", backup.spec.tenant, file_name(backup))


def plan_destination(backup: TenantBackup) -> DestinationPlan:
    """The destination plan for the spec's one-of."""
    destination = backup.spec.destination
    if destination.pvc is not None:
        return _plan_pvc(backup, destination.pvc)
    if destination.s3 is not None:
        return _plan_s3(backup, destination.s3)
    if destination.telegram is not None:
        return _plan_telegram(backup, destination.telegram)
    raise ValueError("the spec names no destination this operator supports")


def _plan_pvc(backup: TenantBackup, pvc: PvcDestination) -> DestinationPlan:
    relative = relative_path(backup, pvc.path)
    return DestinationPlan(
        args=[f"--output={posixpath.join(MOUNT_PATH, relative)}"],
        url=PvcLocation(pvc.claim_name, relative).url,
        volumes=[claim_volume(pvc)],
        volume_mounts=[claim_mount()],
    )


def s3_key(backup: TenantBackup, s3: S3Destination) -> str:
    """`<keyPrefix><tenant>/<file>`."""
    return s3.key_prefix + relative_path(backup, None)


def _plan_s3(backup: TenantBackup, s3: S3Destination) -> DestinationPlan:
    key = s3_key(backup, s3)
    connection = s3_connection(s3)
    args = [f"--s3-bucket={s3.bucket}", f"--s3-key={key}", *connection.args]
    if s3.download_link is not None:
        args.append(f"--s3-download-link-seconds={s3.download_link.expires_in_seconds}")
    return dataclasses.replace(connection, args=args, url=S3Location(s3.bucket, key).url)


def _plan_telegram(backup: TenantBackup, telegram: TelegramDestination) -> DestinationPlan:
    return DestinationPlan(
        args=[
            f"--telegram-chat-id={telegram.chat_id}",
            f"--telegram-file-name={file_name(backup)}",
            f"--telegram-api-url={telegram.api_url}",
            f"--telegram-part-size={telegram.part_size_bytes}",
            f"--telegram-max-rate-limit-wait-seconds={telegram.max_rate_limit_wait_seconds}",
        ],
        url=None,
        env=secret_env(telegram.secret_ref.name, TELEGRAM_SECRET),
    )


def plan_access(backup: TenantBackup) -> DestinationPlan:
    """What a Job needs to reach the backup's committed artifacts by their URLs (a prune)."""
    return access.plan_access(backup.spec.destination)


def destination_secret_problem(
    backup: TenantBackup, read_secret: Callable[[str], Mapping[str, str] | None]
) -> str | None:
    """What is wrong with the destination's credentials Secret, if the destination has one."""
    return access.destination_secret_problem(
        backup.spec.destination, backup.metadata.namespace, read_secret
    )
