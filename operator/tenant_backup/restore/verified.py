"""Pure: what a finished Verify restore tells about the TenantBackup it restored: condition
`RestoreVerified` (True with the restore's name and time; False with its reason), set at the
restore's completion time unless the backup records a later verification already."""

from dataclasses import dataclass, field

from tenant_backup.api.attempts import Condition, ConditionType, Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import VerificationReason
from tenant_backup.api.restore import Mode, TenantRestore
from tenant_backup.core.conditions import Status, with_condition
from tenant_backup.core.events import Event


@dataclass(frozen=True)
class Verification:
    """The backup's conditions after the restore (None: leave them), and its Event."""

    conditions: list[Condition] | None = None
    events: list[Event] = field(default_factory=list)


def mark_due(restore: TenantRestore) -> bool:
    """Whether a finished Verify restore of a TenantBackup has yet to mark it."""
    status = restore.status
    return (
        restore.spec.mode is Mode.VERIFY
        and status.finished
        and status.source is not None
        and status.source.backup is not None
        and not status.verified_marked
    )


def verification(backup: TenantBackup, restore: TenantRestore) -> Verification:
    """The `RestoreVerified` condition the restore gives `backup`."""
    status = restore.status
    when = status.completion_time
    if when is None:
        return Verification()
    before = next(
        (c for c in backup.status.conditions if c.type is ConditionType.RESTORE_VERIFIED), None
    )
    if before is not None and before.last_transition_time > when:
        return Verification()  # a later restore's verdict stands
    name = restore.metadata.name
    verdict: Status
    reason: str
    if status.phase is Phase.SUCCEEDED:
        verdict = "True"
        reason = VerificationReason.RESTORE_VERIFIED
        message = (
            f"TenantRestore {name} restored it at {when.isoformat()}: {status.tables} tables, "
            f"{status.rows} rows, {len(status.checks)} checks passed"
        )
        event = Event("Normal", VerificationReason.RESTORE_VERIFIED, message)
    else:
        verdict, reason = "False", status.reason or "RestoreFailed"
        message = f"TenantRestore {name} failed at {when.isoformat()}: {reason}: {status.message}"
        event = Event("Warning", VerificationReason.RESTORE_VERIFICATION_FAILED, message)
    conditions = with_condition(
        backup.status.conditions,
        ConditionType.RESTORE_VERIFIED,
        verdict,
        reason,
        message,
        when,
        backup.metadata.generation,
    )
    stamped = [
        c.model_copy(update={"last_transition_time": when})
        if c.type is ConditionType.RESTORE_VERIFIED
        else c
        for c in conditions
    ]
    return Verification(stamped, [event])
