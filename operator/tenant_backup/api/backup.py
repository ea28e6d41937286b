"""TenantBackup: one backup of one tenant's schema; its spec, its status and the object."""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tenant_backup.api.attempts import AttemptStatus, RetryPolicy
from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import (
    DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS,
    MAX_LOCK_WAIT_TIMEOUT_SECONDS,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    Compression,
    DumpFormat,
    Verification,
)
from tenant_backup.api.destinations import Destination
from tenant_backup.api.encryption import ArtifactEncryption, EncryptionSpec
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.api.meta import ObjectMeta, owner_reference
from tenant_backup.api.notifications import FollowUpStatus, Notifications
from tenant_backup.api.references import DatabaseSource

DESCRIPTION = (
    "A TenantBackup takes one logical backup (pg_dump) of one tenant's PostgreSQL "
    "schema, tenant_<slug>, to one destination, and reports its artifact in status."
)
NAME_RULE = {
    "rule": "self.metadata.name.size() <= 63",
    "message": "metadata.name must be at most 63 characters: it labels the backup's Jobs",
}
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Tenant", "type": "string", "jsonPath": ".spec.tenant"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
    {"name": "Size", "type": "string", "jsonPath": ".status.artifact.size"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
    {"name": "Artifact", "type": "string", "jsonPath": ".status.artifact.url", "priority": 1},
]


class DumpOptions(ApiModel):
    """How pg_dump runs."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.compressionLevel) || self.compression == 'zstd' || "
                "(self.compression == 'gzip' && self.compressionLevel <= 9)",
                "compressionLevel must be 1-19 for zstd, 1-9 for gzip, and unset for none",
                field_path=".compressionLevel",
            )
        )
    )

    format: DumpFormat = DumpFormat.CUSTOM
    """`custom` (pg_restore, selective and parallel restore) or `plain` (SQL for psql)."""
    compression: Compression = Compression.ZSTD
    """`zstd` (multi-threaded, in the runner: fastest and smallest), `gzip` (pg_dump's own,
    single-threaded) or `none`."""
    compression_level: Annotated[int, Field(ge=1, le=19)] | None = None
    """Compression level: zstd 1-19, gzip 1-9; default: the runner's tuned default."""


class Timeouts(ApiModel):
    """Bounds on how long one attempt may take."""

    active_deadline_seconds: Annotated[int, Field(ge=10, le=604800)] = 3600
    """Deadline of each attempt's Job, from its start."""
    lock_wait_timeout_seconds: Annotated[int, Field(ge=1, le=MAX_LOCK_WAIT_TIMEOUT_SECONDS)] = (
        DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS
    )
    """How long pg_dump waits for its table locks before giving up (retryable)."""


class DeletionPolicy(StrEnum):
    """What happens to the artifact when the TenantBackup is deleted."""

    RETAIN = "Retain"
    """Keep it (unless the object carries `tenantbackup.dev/delete-artifact: "true"`)."""
    DELETE = "Delete"
    """Delete it first: the object goes once the artifact is gone (or only forgotten)."""


class SizeCheck(ApiModel):
    """Flag a Succeeded backup whose artifact is much smaller than the tenant's previous one: a
    mass deletion, a truncated table or a role that sees fewer rows shows up the next morning."""

    previous_backup: Annotated[str, Field(max_length=253)]
    """The tenant's previous Succeeded backup, for people."""
    previous_size_bytes: Annotated[int, Field(ge=0)]
    """The size of its artifact."""
    min_size_ratio: Annotated[float, Field(ge=0.01, le=1)] = 0.5
    """Condition `SizeAnomaly` when the new artifact is smaller than this share of it."""


class BackupTemplate(ApiModel):
    """What a backup does, whatever the tenant: a TenantBackup's spec without `tenant` (a
    schedule's `template`)."""

    database: DatabaseSource
    destination: Destination
    dump: DumpOptions = Field(default_factory=DumpOptions)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    verify: Verification = Verification.TOC
    """`toc`: pg_restore lists the archive (plain: the SQL is scanned); `full`: pg_restore also
    reads every data block. Reported in the `Verified` condition."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """`Retain` keeps the artifact when the TenantBackup is deleted; `Delete` deletes it
    first (a prune Job, retried until it succeeds), then the object goes."""
    notifications: Notifications = Field(default_factory=Notifications)
    """Email and webhook notifications of the outcome; none unless a channel is set."""
    encryption: EncryptionSpec | None = None
    """Encrypt the artifact with age in the dump container (its name gets `.age`); only a
    restore holding one of the recipients' identities can read it."""


class TenantBackupSpec(BackupTemplate):
    """One backup of one tenant's schema. Immutable: create another object for another run."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec is immutable: create a new TenantBackup to take another backup",
            )
        )
    )

    tenant: Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
    """Tenant slug; the schema dumped is `tenant_<slug>`. Lower-case letters, digits and `_`,
    not starting with `_`, at most 56 characters."""
    size_check: SizeCheck | None = None
    """Compare the artifact with the tenant's previous one (a schedule sets it on its runs)."""


class Artifact(ApiModel):
    """The verified backup file."""

    url: Annotated[str, Field(max_length=2048)]
    """Stable location, e.g. `pvc://<claim>/<path>`; never a credential."""
    size_bytes: int
    size: str
    """`sizeBytes` for people (e.g. `12.3MiB`)."""
    sha256: str
    format: str
    compression: str
    verification: str | None = None
    """How the artifact was read back before success: `toc` or `full` (custom format), `scan`
    (plain SQL read whole). An encrypted artifact's plaintext is verified before encryption."""
    encryption: ArtifactEncryption | None = None
    """Set when the artifact is encrypted: `sizeBytes` and `sha256` are of the ciphertext."""
    download_url: Annotated[str, Field(max_length=8192)] | None = None
    """Opt-in presigned download URL (`spec.destination.s3.downloadLink`): a bearer
    credential until `downloadUrlExpiresAt`; `tenant-backup link` makes fresh ones."""
    download_url_expires_at: datetime | None = None
    paced_seconds: int | None = None
    """Telegram: seconds the upload spaced its sends to stay within the chat's rate limits."""
    rate_limited_seconds: int | None = None
    """Telegram: seconds it waited out rate-limit refusals (HTTP 429), counted against
    `maxRateLimitWaitSeconds`."""


class Source(ApiModel):
    """Facts about what was dumped, and with what."""

    server_version: str | None = None
    pg_dump_version: str | None = None


class DeletionStatus(AttemptStatus):
    """Deleting the artifact of a TenantBackup being deleted: one prune Job per attempt."""

    artifact_url: Annotated[str, Field(max_length=2048)] | None = None
    """The artifact being deleted."""


class TenantBackupStatus(FollowUpStatus):
    """Observed state, written only by the operator."""

    artifact: Artifact | None = None
    source: Source | None = None
    database_server: str | None = None
    """`host:port` of the database server, the unit of the per-server concurrency limit."""
    deletion: DeletionStatus | None = None
    """Once the object is being deleted: how deleting its artifact goes."""


class TenantBackup(BaseModel):
    """A whole TenantBackup object."""

    model_config = ConfigDict(frozen=True)

    metadata: ObjectMeta
    spec: TenantBackupSpec
    status: TenantBackupStatus = Field(default_factory=TenantBackupStatus)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "TenantBackup":
        """Parse an object as the API server returns it."""
        return cls.model_validate(
            {
                "metadata": body["metadata"],
                "spec": body["spec"],
                "status": body.get("status") or {},
            }
        )

    def owner_reference(self) -> dict[str, Any]:
        """An owner reference making this backup the controller of a child object."""
        return owner_reference(TENANT_BACKUP, self.metadata)

    @property
    def notifications(self) -> Notifications:
        """Who hears about its outcome."""
        return self.spec.notifications
