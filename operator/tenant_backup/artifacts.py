"""Pure: where a backup's artifact goes and how the dump Job reaches it."""

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.resource import TenantBackup
from tenant_backup.api.spec import Compression, DumpFormat, PvcDestination, S3Destination

MOUNT_PATH = "/backup"
VOLUME_NAME = "destination"
CA_MOUNT_PATH = "/etc/tenant-backup/s3-ca"
CA_VOLUME_NAME = "s3-ca"
CA_FILE = "ca.crt"
# The S3 credentials Secret's keys, as the runner's environment (AWS SDK names).
S3_SECRET_ENV = (
    ("AWS_ACCESS_KEY_ID", "accessKeyId", False),
    ("AWS_SECRET_ACCESS_KEY", "secretAccessKey", False),
    ("AWS_SESSION_TOKEN", "sessionToken", True),
)

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
    environment from Secrets, and volumes."""

    args: list[str]
    url: str
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
    raise ValueError("the spec names no destination this operator supports")


def _plan_pvc(backup: TenantBackup, pvc: PvcDestination) -> DestinationPlan:
    relative = relative_path(backup, pvc.path)
    return DestinationPlan(
        args=[f"--output={posixpath.join(MOUNT_PATH, relative)}"],
        url=f"pvc://{pvc.claim_name}/{relative}",
        volumes=[{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": pvc.claim_name}}],
        volume_mounts=[{"name": VOLUME_NAME, "mountPath": MOUNT_PATH}],
    )


def s3_key(backup: TenantBackup, s3: S3Destination) -> str:
    """`<keyPrefix><tenant>/<file>`."""
    return s3.key_prefix + relative_path(backup, None)


def _plan_s3(backup: TenantBackup, s3: S3Destination) -> DestinationPlan:
    key = s3_key(backup, s3)
    args = [
        f"--s3-bucket={s3.bucket}",
        f"--s3-key={key}",
        f"--s3-region={s3.region}",
        f"--s3-checksum={s3.checksum_calculation.value}",
    ]
    args += [f"--s3-endpoint={s3.endpoint}"] if s3.endpoint else []
    args += ["--s3-force-path-style"] if s3.force_path_style else []
    if s3.download_link is not None:
        args.append(f"--s3-download-link-seconds={s3.download_link.expires_in_seconds}")
    secret = s3.credentials_secret_ref.name
    env = [
        {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key_name, "optional": optional}},
        }
        for variable, key_name, optional in S3_SECRET_ENV
    ]
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
    return DestinationPlan(
        args=args,
        url=f"s3://{s3.bucket}/{key}",
        env=env,
        volumes=volumes,
        volume_mounts=mounts,
    )


def destination_secret_problem(
    backup: TenantBackup, read_secret: Callable[[str], Mapping[str, str] | None]
) -> str | None:
    """What is wrong with the destination's credentials Secret, if the destination has one."""
    s3 = backup.spec.destination.s3
    if s3 is None:
        return None
    name = s3.credentials_secret_ref.name
    secret = read_secret(name)
    if secret is None:
        return f"Secret {name} not found in namespace {backup.metadata.namespace}"
    missing = [key for _, key, optional in S3_SECRET_ENV if not optional and not secret.get(key)]
    return f"Secret {name} lacks the keys: {', '.join(missing)}" if missing else None
