"""TenantBackup spec: what to back up, from where, to where, and how hard to try."""

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.naming import SLUG_MAX_LENGTH, SLUG_PATTERN

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Relative path segments that cannot start with a dot: no "..", no "/", no hidden names.
RELATIVE_PATH = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*)(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$"

ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


class SecretReference(ApiModel):
    """A Secret in the TenantBackup's own namespace."""

    name: ResourceName
    """Name of the Secret."""


class SslMode(StrEnum):
    """libpq sslmode."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class DatabaseSource(ApiModel):
    """Where the tenant's schema lives. Credentials only ever come from the Secret."""

    secret_ref: SecretReference
    """Secret with keys `host`, `dbname`, `username`, `password` and optionally `port`
    (the layout of CloudNativePG application Secrets). The role needs read access to the
    tenant schema and must own its tables or have BYPASSRLS."""
    ssl_mode: SslMode = SslMode.PREFER
    """libpq sslmode for the dump and for the operator's checks."""


class PvcDestination(ApiModel):
    """A PersistentVolumeClaim in the TenantBackup's namespace, mounted by the dump Job."""

    claim_name: ResourceName
    """Name of the PersistentVolumeClaim."""
    path: Annotated[str, Field(max_length=255, pattern=RELATIVE_PATH)] | None = None
    """Directory inside the claim, relative, no `.` or `..` segments; default: the claim's
    root."""


class Destination(ApiModel):
    """Where the artifact goes: exactly one of the destinations below."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "[has(self.pvc)].filter(d, d).size() == 1",
                "exactly one destination must be set: pvc",
            )
        )
    )

    pvc: PvcDestination | None = None
    """Write the artifact to a PersistentVolumeClaim."""


class DumpFormat(StrEnum):
    """pg_dump archive format."""

    CUSTOM = "custom"
    PLAIN = "plain"


class Compression(StrEnum):
    """How the artifact is compressed."""

    ZSTD = "zstd"
    GZIP = "gzip"
    NONE = "none"


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


class RetryPolicy(ApiModel):
    """Attempts after retryable failures, with exponential backoff."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.maxBackoffSeconds >= self.backoffSeconds",
                "maxBackoffSeconds must not be less than backoffSeconds",
                field_path=".maxBackoffSeconds",
            )
        )
    )

    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Attempts in total, the first included."""
    backoff_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    """Wait before the second attempt; doubles for each attempt after it."""
    max_backoff_seconds: Annotated[int, Field(ge=0, le=86400)] = 600
    """Upper bound of the wait between attempts."""


class Timeouts(ApiModel):
    """Bounds on how long one attempt may take."""

    active_deadline_seconds: Annotated[int, Field(ge=10, le=604800)] = 3600
    """Deadline of each attempt's Job, from its start."""
    lock_wait_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """How long pg_dump waits for its table locks before giving up (retryable)."""


class DeletionPolicy(StrEnum):
    """What happens to the artifact when the TenantBackup is deleted."""

    RETAIN = "Retain"


class TenantBackupSpec(ApiModel):
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
    database: DatabaseSource
    destination: Destination
    dump: DumpOptions = Field(default_factory=DumpOptions)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """`Retain` keeps the artifact when the TenantBackup is deleted."""
