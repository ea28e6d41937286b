"""TenantRestore: one restore of one tenant schema from a backup; its spec, its status and the
object."""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tenant_backup.api.attempts import RetryPolicy
from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import (
    MAX_RESTORE_CHECKS,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    Compression,
    DumpFormat,
    Privileges,
    RestoreMode,
    RestoreStep,
)
from tenant_backup.api.destinations import Destination
from tenant_backup.api.encryption import ArtifactEncryption, Decryption
from tenant_backup.api.kinds import TENANT_RESTORE
from tenant_backup.api.meta import ObjectMeta, owner_reference
from tenant_backup.api.notifications import FollowUpStatus, Notifications
from tenant_backup.api.references import DatabaseSource, ResourceName

DESCRIPTION = (
    "A TenantRestore restores one tenant's schema from a TenantBackup's artifact: into a new "
    "tenant name, in place of the tenant (an atomic swap), or into a scratch database as a drill."
)
NAME_RULE = {
    "rule": "self.metadata.name.size() <= 63",
    "message": "metadata.name must be at most 63 characters: it labels the restore's Jobs",
}
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
    {"name": "Target", "type": "string", "jsonPath": ".status.targetSchema"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Step", "type": "string", "jsonPath": ".status.step"},
    {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
    {"name": "Backup", "type": "string", "jsonPath": ".status.source.backup", "priority": 1},
    {"name": "Previous", "type": "string", "jsonPath": ".status.previousSchema", "priority": 1},
]
DEFAULT_KEEP_PREVIOUS_FOR = "24h"
# Days, hours, minutes, seconds (each at most once, in that order), or 0s: drop it at once.
KEEP_PATTERN = (
    r"^(0s|([1-9][0-9]{0,5}d)?([1-9][0-9]{0,5}h)?([1-9][0-9]{0,5}m)?([1-9][0-9]{0,5}s)?)$"
)
ROLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$-]*$"
CHECK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
STORED_URL_PATTERN = r"^(pvc|s3|telegram)://\S+$"
MAX_LISTED = 8

TenantSlug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]


class Mode(StrEnum):
    """What the restore does with its target."""

    CREATE_NEW = "CreateNew"
    """The target schema must not exist; it is created complete or not at all."""
    REPLACE = "Replace"
    """The target schema is swapped for the restored one in one transaction; the previous
    one is kept (`keepPreviousFor`) under the name in `status.previousSchema`: the undo."""
    VERIFY = "Verify"
    """A drill: restored into a scratch database, checked, discarded; the target untouched."""

    @property
    def runner(self) -> RestoreMode:
        """The runner's `--mode`."""
        return {
            Mode.CREATE_NEW: RestoreMode.CREATE_NEW,
            Mode.REPLACE: RestoreMode.REPLACE,
            Mode.VERIFY: RestoreMode.VERIFY,
        }[self]


class PrivilegesPolicy(StrEnum):
    """Whether the archive's grants are restored."""

    KEEP = "Keep"
    DROP = "Drop"

    @property
    def runner(self) -> Privileges:
        """The runner's `--privileges`."""
        return Privileges.KEEP if self is PrivilegesPolicy.KEEP else Privileges.DROP


class BackupReference(ApiModel):
    """A Succeeded TenantBackup of the restore's own namespace."""

    name: ResourceName


class LatestOf(ApiModel):
    """The newest Succeeded run of a TenantBackupSchedule for one tenant."""

    schedule: ResourceName
    tenant: TenantSlug


class ArtifactSource(ApiModel):
    """An artifact named by its URL, for a cluster that lost its TenantBackup objects."""

    url: Annotated[str, Field(max_length=2048, pattern=STORED_URL_PATTERN)]
    """`pvc://<claim>/<path>`, `s3://<bucket>/<key>` or `telegram://<chat>/<manifest message>`
    (a backup's `status.artifact.url`)."""
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)]
    """The artifact's SHA-256 (`status.artifact.sha256`): checked while it is read."""
    tenant: TenantSlug
    """The tenant the artifact holds."""
    format: DumpFormat = DumpFormat.CUSTOM
    compression: Compression = Compression.ZSTD
    size_bytes: Annotated[int, Field(ge=1)] | None = None
    """Its size: bounds the work volume it is copied to (unbounded without it)."""
    destination: Destination
    """Where it is stored, as a backup's `destination`: the claim, or the service's settings
    and credentials Secret (the bucket, key and chat come from `url`)."""


class RestoreSource(ApiModel):
    """What is restored: exactly one of the fields. Never a backup of another namespace."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "[has(self.backupRef), has(self.latestOf), has(self.artifact)]"
                ".filter(s, s).size() == 1",
                "exactly one source must be set: backupRef, latestOf or artifact",
            )
        )
    )

    backup_ref: BackupReference | None = None
    """A Succeeded TenantBackup of this namespace."""
    latest_of: LatestOf | None = None
    """The newest Succeeded backup of a schedule's tenant, resolved when the restore starts."""
    artifact: ArtifactSource | None = None
    """An artifact by URL and checksum."""


class RestoreTarget(ApiModel):
    """Where the schema is restored."""

    database: DatabaseSource
    """The target database (same Secret layout as backups). Its role must be able to create
    schemas in it (and, for Verify without `verifyDatabase`, databases)."""
    tenant: TenantSlug | None = None
    """The tenant to restore as; default: the source's. Must be allowed in the namespace."""


class Check(ApiModel):
    """A read-only query run against the restored schema (search_path set to it): its first
    column of its first row, as text, must equal `expect`."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=CHECK_NAME_PATTERN)]
    sql: Annotated[str, Field(min_length=1, max_length=4096)]
    expect: Annotated[str, Field(min_length=1, max_length=64)]


class RestoreTimeouts(ApiModel):
    """Bounds on how long one attempt may take."""

    active_deadline_seconds: Annotated[int, Field(ge=10, le=604800)] = 3600
    """Deadline of each attempt's Job, from its start."""


class TenantRestoreSpec(ApiModel):
    """One restore. Immutable: create another object for another restore."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec is immutable: create a new TenantRestore to restore again",
            ),
            cel(
                "self.mode != 'Replace' || (has(self.target.tenant) && has(self.confirm) "
                "&& self.confirm == self.target.tenant)",
                "mode Replace needs target.tenant named and confirm equal to it",
            ),
            cel(
                "!has(self.verifyDatabase) || self.mode == 'Verify'",
                "verifyDatabase is only for mode Verify",
            ),
            cel(
                "!has(self.keepPreviousFor) || self.mode == 'Replace'",
                "keepPreviousFor is only for mode Replace",
            ),
            cel(
                "!has(self.checks) "
                "|| self.checks.all(c, self.checks.exists_one(d, d.name == c.name))",
                "the checks' names must differ",
            ),
        )
    )

    source: RestoreSource
    target: RestoreTarget
    mode: Mode = Mode.CREATE_NEW
    confirm: Annotated[str, Field(max_length=SLUG_MAX_LENGTH)] | None = None
    """Replace: the target tenant's slug again, typed by someone who means it."""
    keep_previous_for: (
        Annotated[str, Field(min_length=2, max_length=32, pattern=KEEP_PATTERN)] | None
    ) = None
    """Replace: how long the previous schema is kept as the undo (`d`, `h`, `m`, `s`; `0s`:
    dropped at once); default 24h. Then the operator drops it (`previousSchemaDropped`); if
    the restore is deleted first, the next Replace of the tenant drops it."""
    checks: Annotated[list[Check], Field(max_length=MAX_RESTORE_CHECKS)] = Field(
        default_factory=list
    )
    """Assertions on the restored schema, before it is swapped in; any failing one fails the
    restore with nothing of the target changed."""
    owner: Annotated[str, Field(min_length=1, max_length=63, pattern=ROLE_PATTERN)] | None = None
    """Role to own the restored objects (the target role must be able to SET ROLE to it);
    default: the owners in the archive."""
    privileges: PrivilegesPolicy = PrivilegesPolicy.KEEP
    """`Keep` restores the archive's grants (their roles must exist); `Drop` leaves them out."""
    verify_database: (
        Annotated[str, Field(min_length=1, max_length=63, pattern=ROLE_PATTERN)] | None
    ) = None
    """Verify: restore into this existing database instead of a scratch one the restore
    creates and drops."""
    decryption: Decryption | None = None
    """The identity that decrypts an encrypted artifact; without it (or with a wrong one) an
    encrypted artifact fails as DecryptionFailed before anything of the target changes."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: RestoreTimeouts = Field(default_factory=RestoreTimeouts)
    notifications: Notifications = Field(default_factory=Notifications)
    """Email and webhook notifications of the outcome, as a TenantBackup's; none unless a
    channel is set."""


class ResolvedSource(ApiModel):
    """The artifact the restore reads, as resolved before its first attempt (every attempt
    reads the same one)."""

    backup: str | None = None
    """The TenantBackup it came from (none for an `artifact` source)."""
    tenant: str
    url: Annotated[str, Field(max_length=2048)]
    sha256: str
    format: DumpFormat
    compression: Compression
    size_bytes: int | None = None
    destination: Destination
    encryption: ArtifactEncryption | None = None
    """The backup's word that its artifact is encrypted (an `artifact` source: found out by
    the runner)."""


class CheckOutcome(ApiModel):
    """How one check went."""

    name: str
    passed: bool
    value: str | None = None
    expected: str
    error: Annotated[str, Field(max_length=1024)] | None = None


class TenantRestoreStatus(FollowUpStatus):
    """Observed state, written only by the operator."""

    step: RestoreStep | None = None
    """The last step the runner reported: where a failed attempt stopped (the runner reports
    when it ends)."""
    source: ResolvedSource | None = None
    target_schema: str | None = None
    database_server: str | None = None
    """`host:port` of the target's server, the unit of the concurrency limits."""
    database: str | None = None
    """The database restored into (Verify: the scratch one, dropped since)."""
    previous_schema: str | None = None
    """Replace: the name the previous schema is kept under (the undo)."""
    previous_kept_until: datetime | None = None
    previous_schema_dropped: datetime | None = None
    """When the operator dropped the previous schema (or found it gone), after
    `previousKeptUntil`; condition `PreviousSchemaDropped` says how."""
    tables: int | None = None
    rows: int | None = None
    checks: Annotated[list[CheckOutcome], Field(max_length=MAX_RESTORE_CHECKS)] = Field(
        default_factory=list
    )
    missing: Annotated[list[str], Field(max_length=MAX_LISTED)] = Field(default_factory=list)
    """MissingPrerequisite: what the target database lacks (the first ones)."""
    references: Annotated[list[str], Field(max_length=MAX_LISTED)] = Field(default_factory=list)
    """CrossTenantReference: what would refer to another schema (the first ones)."""
    duration: str | None = None
    """From the start to the end of the restore, once it is finished."""
    verified_marked: bool = False
    """Verify: the source TenantBackup's `RestoreVerified` condition records this restore (or
    that backup is gone)."""
    paused_schedules: list[str] = Field(default_factory=list)
    """Replace: the TenantBackupSchedules whose runs of the tenant wait while it runs."""


class TenantRestore(BaseModel):
    """A whole TenantRestore object."""

    model_config = ConfigDict(frozen=True)

    metadata: ObjectMeta
    spec: TenantRestoreSpec
    status: TenantRestoreStatus = Field(default_factory=TenantRestoreStatus)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "TenantRestore":
        """Parse an object as the API server returns it."""
        return cls.model_validate(
            {
                "metadata": body["metadata"],
                "spec": body["spec"],
                "status": body.get("status") or {},
            }
        )

    def owner_reference(self) -> dict[str, Any]:
        """An owner reference making this restore the controller of a child object."""
        return owner_reference(TENANT_RESTORE, self.metadata)

    @property
    def notifications(self) -> Notifications:
        """Who hears about its outcome."""
        return self.spec.notifications

    @property
    def target_tenant(self) -> str | None:
        """The tenant restored as: named, or the source's once it is resolved."""
        source = self.spec.source
        named = self.spec.target.tenant or (source.latest_of.tenant if source.latest_of else None)
        named = named or (source.artifact.tenant if source.artifact else None)
        return named or (self.status.source.tenant if self.status.source else None)
