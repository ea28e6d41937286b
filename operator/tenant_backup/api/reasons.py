"""The reason vocabulary shared by the runner's result, status, conditions and Events."""

from enum import StrEnum


class Reason(StrEnum):
    """Why a backup (or one attempt of it) is where it is."""

    # Progress.
    CREATED = "Created"
    JOB_CREATED = "JobCreated"
    RETRY_SCHEDULED = "RetryScheduled"
    QUEUED = "Queued"
    SUCCEEDED = "Succeeded"
    # Permanent failures: retrying cannot help.
    VALIDATION_FAILED = "ValidationFailed"
    TENANT_NOT_FOUND = "TenantNotFound"
    TENANT_NOT_ALLOWED = "TenantNotAllowed"
    SECRET_MISSING = "SecretMissing"  # noqa: S105 (a reason, not a secret)
    AUTH_FAILED = "AuthFailed"
    PERMISSION_DENIED = "PermissionDenied"
    VERSION_MISMATCH = "VersionMismatch"
    TLS_FAILED = "TLSFailed"
    """TLS to the database failed: the server's certificate (CA, host name), ours, or a
    server without TLS; libpq's message says which."""
    EMPTY_DUMP = "EmptyDump"
    VERIFICATION_FAILED = "VerificationFailed"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    # Transient failures: the next attempt may succeed.
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    LOCK_TIMEOUT = "LockTimeout"
    DUMP_FAILED = "DumpFailed"
    DUMP_INTERRUPTED = "DumpInterrupted"
    DESTINATION_UNAVAILABLE = "DestinationUnavailable"
    UPLOAD_FAILED = "UploadFailed"
    OOM_KILLED = "OOMKilled"
    EVICTED = "Evicted"
    POD_FAILED = "PodFailed"
    RESULT_MISSING = "ResultMissing"
    JOB_DELETED = "JobDeleted"
    PRUNE_FAILED = "PruneFailed"
    # Permanent failures of reading a stored artifact back.
    ARTIFACT_NOT_FOUND = "ArtifactNotFound"
    ARTIFACT_CORRUPT = "ArtifactCorrupt"
    # Permanent failures of a restore; nothing of the target was changed.
    CHECKSUM_MISMATCH = "ChecksumMismatch"
    MISSING_PREREQUISITE = "MissingPrerequisite"
    CROSS_TENANT_REFERENCE = "CrossTenantReference"
    TARGET_EXISTS = "TargetExists"
    TARGET_NOT_FOUND = "TargetNotFound"
    CHECKS_FAILED = "ChecksFailed"
    RESTORE_FAILED = "RestoreFailed"
    SOURCE_NOT_FOUND = "SourceNotFound"
    """The restore's source is not a Succeeded TenantBackup of its namespace."""
    DECRYPTION_FAILED = "DecryptionFailed"
    """The artifact is encrypted and no identity given decrypts it."""


PERMANENT: frozenset[Reason] = frozenset(
    {
        Reason.VALIDATION_FAILED,
        Reason.TENANT_NOT_FOUND,
        Reason.TENANT_NOT_ALLOWED,
        Reason.SECRET_MISSING,
        Reason.AUTH_FAILED,
        Reason.PERMISSION_DENIED,
        Reason.VERSION_MISMATCH,
        Reason.TLS_FAILED,
        Reason.EMPTY_DUMP,
        Reason.VERIFICATION_FAILED,
        Reason.DEADLINE_EXCEEDED,
        Reason.ARTIFACT_NOT_FOUND,
        Reason.ARTIFACT_CORRUPT,
        Reason.CHECKSUM_MISMATCH,
        Reason.MISSING_PREREQUISITE,
        Reason.CROSS_TENANT_REFERENCE,
        Reason.TARGET_EXISTS,
        Reason.TARGET_NOT_FOUND,
        Reason.CHECKS_FAILED,
        Reason.RESTORE_FAILED,
        Reason.SOURCE_NOT_FOUND,
        Reason.DECRYPTION_FAILED,
    }
)


def is_retryable(reason: Reason) -> bool:
    """Whether another attempt could end differently."""
    return reason not in PERMANENT


class VerifiedReason(StrEnum):
    """Reasons of the `Verified` condition: how the artifact was read back before success
    (`Reason.VERIFICATION_FAILED` when it did not read back)."""

    TOC_VERIFIED = "TocVerified"
    FULLY_VERIFIED = "FullyVerified"
    SCAN_VERIFIED = "ScanVerified"


class RestoreReason(StrEnum):
    """Reasons of a restore's Events besides its attempts'."""

    SCHEDULES_PAUSED = "SchedulesPaused"
    ALREADY_RESTORED = "AlreadyRestored"
    PREVIOUS_SCHEMA_DROPPED = "PreviousSchemaDropped"
    """The previous schema a Replace kept was dropped once `keepPreviousFor` had passed."""
    PREVIOUS_SCHEMA_GONE = "PreviousSchemaGone"
    """It was gone already (dropped by someone, or by a later Replace)."""
    PREVIOUS_SCHEMA_NOT_DROPPED = "PreviousSchemaNotDropped"
    """It could not be dropped now (database unreachable, locked): tried again."""
    PREVIOUS_SCHEMA_LEFT_ALONE = "PreviousSchemaLeftAlone"
    """A schema of its name exists that its marker does not name as this restore's previous
    one: never dropped."""


class VerificationReason(StrEnum):
    """Reasons of a TenantBackup's `RestoreVerified` condition and its Events (a failed
    restore's own reason when it failed)."""

    RESTORE_VERIFIED = "RestoreVerified"
    RESTORE_VERIFICATION_FAILED = "RestoreVerificationFailed"
    """The Event of a Verify restore of the backup that failed."""


class SizeReason(StrEnum):
    """Reasons of the `SizeAnomaly` condition (`spec.sizeCheck`)."""

    SIZE_ANOMALY = "SizeAnomaly"
    SIZE_AS_EXPECTED = "SizeAsExpected"


class ScheduleReason(StrEnum):
    """Reasons of a schedule's conditions and Events."""

    SCHEDULED = "Scheduled"
    SUSPENDED = "Suspended"
    ACTIVE = "Active"
    INVALID_SCHEDULE = "InvalidSchedule"
    DISCOVERY_FAILED = "DiscoveryFailed"
    MISSED = "Missed"
    SKIPPED = "Skipped"
    NAME_TAKEN = "NameTaken"
    PRUNED = "Pruned"
    TENANTS_CHANGED = "TenantsChanged"
    RESTORING = "Restoring"
    """A tenant skipped its slot: a Replace restore of it runs."""


class FollowUpReason(StrEnum):
    """Reasons of the history and notification conditions and Events."""

    RECORDED = "HistoryRecorded"
    HISTORY_UNAVAILABLE = "HistoryUnavailable"
    SENDING = "Sending"
    NOTIFIED = "Notified"
    NOTIFICATION_FAILED = "NotificationFailed"
    NOTIFICATION_INTERRUPTED = "NotificationInterrupted"


class DeletionReason(StrEnum):
    """Reasons of `status.deletion` and the Events of deleting a backup's artifact."""

    WAITING_FOR_ATTEMPT = "WaitingForAttempt"
    PRUNE_JOB_CREATED = "PruneJobCreated"
    DELETION_FAILED = "ArtifactDeletionFailed"
    DELETED = "ArtifactDeleted"
    FORGOTTEN = "ArtifactForgotten"
    RETAINED = "ArtifactRetained"
