"""Pure: where a backup's artifact goes and how the dump Job reaches it."""

import posixpath
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.resource import TenantBackup
from tenant_backup.api.spec import Compression, DumpFormat

MOUNT_PATH = "/backup"
VOLUME_NAME = "destination"

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
    """What the dump Job needs for one destination."""

    output_path: str
    url: str
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
    pvc = backup.spec.destination.pvc
    if pvc is None:
        raise ValueError("the spec names no destination this operator supports")
    relative = relative_path(backup, pvc.path)
    return DestinationPlan(
        output_path=posixpath.join(MOUNT_PATH, relative),
        url=f"pvc://{pvc.claim_name}/{relative}",
        volumes=[{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": pvc.claim_name}}],
        volume_mounts=[{"name": VOLUME_NAME, "mountPath": MOUNT_PATH}],
    )
