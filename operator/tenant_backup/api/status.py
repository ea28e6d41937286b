"""TenantBackup status: a phase for people, conditions for tools, the artifact contract."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from tenant_backup.api.base import ApiModel

MAX_ATTEMPT_HISTORY = 10
Text = Annotated[str, Field(max_length=32768)]


class Phase(StrEnum):
    """Where the backup is in its life."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        """Whether the backup is finished for good."""
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class ConditionType(StrEnum):
    """Condition types, like batch Jobs' plus a Ready summary."""

    COMPLETE = "Complete"
    FAILED = "Failed"
    READY = "Ready"
    VERIFIED = "Verified"
    HISTORY_RECORDED = "HistoryRecorded"
    NOTIFIED = "Notified"


class Condition(ApiModel):
    """A Kubernetes API convention condition."""

    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[str, Field(max_length=1024)]
    message: Text = ""
    last_transition_time: datetime
    observed_generation: int | None = None


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
    """How the artifact was read back before success: `toc` or `full`."""
    download_url: Annotated[str, Field(max_length=8192)] | None = None
    """Opt-in presigned download URL (`spec.destination.s3.downloadLink`): a bearer
    credential until `downloadUrlExpiresAt`; `tenant-backup link` makes fresh ones."""
    download_url_expires_at: datetime | None = None


class Source(ApiModel):
    """Facts about what was dumped, and with what."""

    server_version: str | None = None
    pg_dump_version: str | None = None


class AttemptOutcome(StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class AttemptRecord(ApiModel):
    """One finished attempt."""

    attempt: int
    job_name: str
    outcome: AttemptOutcome
    reason: str
    message: Text = ""
    retryable: bool = False
    start_time: datetime | None = None
    completion_time: datetime


class HistoryMark(ApiModel):
    """The backup's state as last written to the history database."""

    phase: Phase
    attempts: int
    finished_attempts: int


class Channel(StrEnum):
    """A notification channel."""

    EMAIL = "Email"
    WEBHOOK = "Webhook"


class DeliveryState(StrEnum):
    """Where one notification is; `Sending` is written before sending (at-most-once)."""

    SENDING = "Sending"
    SENT = "Sent"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"
    """The operator stopped while sending: it may or may not have arrived; not re-sent."""


class Delivery(ApiModel):
    """One channel's notification of the outcome."""

    channel: Channel
    state: DeliveryState
    message: Text = ""
    time: datetime


class TenantBackupStatus(ApiModel):
    """Observed state, written only by the operator."""

    model_config = ConfigDict(extra="ignore")

    phase: Phase | None = None
    attempts: int = 0
    """Attempts started so far."""
    max_attempts: int | None = None
    job_name: str | None = None
    """The Job of the current (or last) attempt."""
    reason: str | None = None
    message: Text | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    next_attempt_time: datetime | None = None
    """When the next attempt starts, while waiting after a retryable failure."""
    observed_generation: int | None = None
    artifact: Artifact | None = None
    source: Source | None = None
    database_server: str | None = None
    """`host:port` of the database server, the unit of the per-server concurrency limit."""
    attempt_history: Annotated[list[AttemptRecord], Field(max_length=MAX_ATTEMPT_HISTORY)] = Field(
        default_factory=list
    )
    """The finished attempts, oldest first."""
    conditions: list[Condition] = Field(default_factory=list)
    history: HistoryMark | None = None
    """What the history database holds of this backup, when history is enabled."""
    notifications: Annotated[list[Delivery], Field(max_length=len(Channel))] = Field(
        default_factory=list
    )
    """The outcome's notifications, one per channel."""
