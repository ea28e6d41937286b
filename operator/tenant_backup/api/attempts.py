"""What every kind that runs Jobs shares: phases, conditions, attempts and retries."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from tenant_backup.api.base import ApiModel, cel, validations

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
    """Condition types, like batch Jobs' plus a Ready summary, and kstatus's `Reconciling` and
    `Stalled` so that GitOps tools (Flux, kpt, cli-utils) can tell work in progress from a
    failure."""

    COMPLETE = "Complete"
    FAILED = "Failed"
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    VERIFIED = "Verified"
    SIZE_ANOMALY = "SizeAnomaly"
    SUSPENDED = "Suspended"
    HISTORY_RECORDED = "HistoryRecorded"
    NOTIFIED = "Notified"
    PREVIOUS_SCHEMA_DROPPED = "PreviousSchemaDropped"
    RESTORE_VERIFIED = "RestoreVerified"


class Condition(ApiModel):
    """A Kubernetes API convention condition."""

    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[str, Field(max_length=1024)]
    message: Text = ""
    last_transition_time: datetime
    observed_generation: int | None = None


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


class AttemptStatus(ApiModel):
    """The status fields of every kind that runs one Job per attempt; written only by the
    operator."""

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
    attempt_history: Annotated[list[AttemptRecord], Field(max_length=MAX_ATTEMPT_HISTORY)] = Field(
        default_factory=list
    )
    """The finished attempts, oldest first."""
    conditions: list[Condition] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the phase is final: Succeeded or Failed."""
        return self.phase is not None and self.phase.terminal
