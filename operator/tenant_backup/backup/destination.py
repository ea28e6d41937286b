"""Pure: where a backup's artifact goes and how its Jobs reach it (the dump to write it, a
prune to delete it)."""

import dataclasses
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import (
    S3_SECRET,
    TELEGRAM_SECRET,
    Compression,
    DumpFormat,
    PvcLocation,
    S3Location,
    SecretLayout,
    missing_keys,
)
from tenant_backup.api.destinations import PvcDestination, S3Destination, TelegramDestination

MOUNT_PATH = "/backup"
VOLUME_NAME = "destination"
CA_MOUNT_PATH = "/etc/tenant-backup/s3-ca"
CA_VOLUME_NAME = "s3-ca"
CA_FILE = "ca.crt"

_EXTENSIONS = {
    (DumpFormat.CUSTOM, Compression.ZSTD): "pgdump.zst",
    (DumpFormat.CUSTOM, Compression.GZIP): "pgdump",
    (DumpFormat.CUSTOM, Compression.NONE): "pgdump",
    (DumpFormat.PLAIN, Compression.ZSTD): "sql.zst",
    (DumpFormat.PLAIN, Compression.GZIP): "sql.gz",
    (DumpFormat.PLAIN, Compression.NONE): "sql",
}


@dataclass(frozen=True)
class DestinationPlan:
    """What the dump Job needs for one destination: runner arguments (never a credential),
    environment from Secrets, and volumes. `url` is None where only the runner can name the
    artifact (Telegram: its manifest message)."""

    args: list[str]
    url: str | None
    env: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)


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
        volumes=[_claim_volume(pvc)],
        volume_mounts=[{"name": VOLUME_NAME, "mountPath": MOUNT_PATH}],
    )


def _claim_volume(pvc: PvcDestination) -> dict[str, Any]:
    return {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": pvc.claim_name}}


def s3_key(backup: TenantBackup, s3: S3Destination) -> str:
    """`<keyPrefix><tenant>/<file>`."""
    return s3.key_prefix + relative_path(backup, None)


def _plan_s3(backup: TenantBackup, s3: S3Destination) -> DestinationPlan:
    key = s3_key(backup, s3)
    connection = _s3_connection(s3)
    args = [f"--s3-bucket={s3.bucket}", f"--s3-key={key}", *connection.args]
    if s3.download_link is not None:
        args.append(f"--s3-download-link-seconds={s3.download_link.expires_in_seconds}")
    return dataclasses.replace(connection, args=args, url=S3Location(s3.bucket, key).url)


def _s3_connection(s3: S3Destination) -> DestinationPlan:
    """How a Job reaches the service (no object named): settings, credentials, the CA."""
    args = [f"--s3-region={s3.region}", f"--s3-checksum={s3.checksum_calculation.value}"]
    args += [f"--s3-endpoint={s3.endpoint}"] if s3.endpoint else []
    args += ["--s3-force-path-style"] if s3.force_path_style else []
    env = secret_env(s3.credentials_secret_ref.name, S3_SECRET)
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    ca = s3.ca_secret_ref or s3.ca_config_map_ref
    if ca is not None:
        items = [{"key": ca.key, "path": CA_FILE}]
        source = (
            {"secret": {"secretName": ca.name, "items": items}}
            if s3.ca_secret_ref is not None
            else {"configMap": {"name": ca.name, "items": items}}
        )
        volumes.append({"name": CA_VOLUME_NAME, **source})
        mounts.append({"name": CA_VOLUME_NAME, "mountPath": CA_MOUNT_PATH, "readOnly": True})
        args.append(f"--s3-ca-file={posixpath.join(CA_MOUNT_PATH, CA_FILE)}")
    return DestinationPlan(args=args, url=None, env=env, volumes=volumes, volume_mounts=mounts)


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
    """What a Job needs to reach the backup's committed artifacts by their URLs (a prune):
    the claim mounted (`--pvc-root`), or the service's settings and credentials."""
    destination = backup.spec.destination
    if destination.pvc is not None:
        return DestinationPlan(
            args=[f"--pvc-root={MOUNT_PATH}"],
            url=None,
            volumes=[_claim_volume(destination.pvc)],
            volume_mounts=[{"name": VOLUME_NAME, "mountPath": MOUNT_PATH}],
        )
    if destination.s3 is not None:
        return _s3_connection(destination.s3)
    if destination.telegram is not None:
        telegram = destination.telegram
        return DestinationPlan(
            args=[f"--telegram-api-url={telegram.api_url}"],
            url=None,
            env=secret_env(telegram.secret_ref.name, TELEGRAM_SECRET),
        )
    raise ValueError("the spec names no destination this operator supports")


def secret_env(secret: str, layout: SecretLayout) -> list[dict[str, Any]]:
    """Container environment variables filled from keys of one Secret."""
    return [
        {
            "name": entry.variable,
            "valueFrom": {
                "secretKeyRef": {"name": secret, "key": entry.key, "optional": entry.optional}
            },
        }
        for entry in layout
    ]


def _destination_secret(backup: TenantBackup) -> tuple[str, SecretLayout] | None:
    """The destination's credentials Secret and its keys, if it has one."""
    destination = backup.spec.destination
    if destination.s3 is not None:
        return destination.s3.credentials_secret_ref.name, S3_SECRET
    if destination.telegram is not None:
        return destination.telegram.secret_ref.name, TELEGRAM_SECRET
    return None


def destination_secret_problem(
    backup: TenantBackup, read_secret: Callable[[str], Mapping[str, str] | None]
) -> str | None:
    """What is wrong with the destination's credentials Secret, if the destination has one."""
    wanted = _destination_secret(backup)
    if wanted is None:
        return None
    name, layout = wanted
    secret = read_secret(name)
    if secret is None:
        return f"Secret {name} not found in namespace {backup.metadata.namespace}"
    missing = missing_keys(layout, secret)
    return f"Secret {name} lacks the keys: {', '.join(missing)}" if missing else None
