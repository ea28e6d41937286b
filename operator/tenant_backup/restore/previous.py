"""Pure: the previous schema a Replace kept as its undo, once `keepPreviousFor` has passed:
whether the operator owes its drop, and the status and Events that record how it went.

Only the schema named in `status.previousSchema` is ever dropped, and only while its marker
names this restore (see `adapters.db.drop_previous_schema`). A drop that could not be done
now (the database unreachable, a reader's lock) is tried again at the next resync; a schema
whose marker names something else is left alone for good.
"""

from datetime import datetime

from tenant_backup.api.attempts import ConditionType, Phase
from tenant_backup.api.reasons import RestoreReason
from tenant_backup.api.restore import TenantRestore, TenantRestoreStatus
from tenant_backup.core.conditions import Status, with_condition
from tenant_backup.core.events import Event
from tenant_backup.core.followups import Update

FINAL = (RestoreReason.PREVIOUS_SCHEMA_LEFT_ALONE,)


def drop_pending(restore: TenantRestore) -> bool:
    """Whether the restore kept a previous schema that it has yet to drop."""
    status = restore.status
    left = any(
        c.type is ConditionType.PREVIOUS_SCHEMA_DROPPED and c.reason in FINAL
        for c in status.conditions
    )
    return (
        status.phase is Phase.SUCCEEDED
        and status.previous_schema is not None
        and status.previous_kept_until is not None
        and status.previous_schema_dropped is None
        and not left
    )


def drop_due(restore: TenantRestore, now: datetime) -> bool:
    """Whether the kept previous schema's time has passed."""
    until = restore.status.previous_kept_until
    return drop_pending(restore) and until is not None and until <= now


def dropped(
    restore: TenantRestore, gone_already: bool, now: datetime
) -> Update[TenantRestoreStatus]:
    """The previous schema is no more: dropped now, or found gone."""
    schema = restore.status.previous_schema
    if gone_already:
        reason = RestoreReason.PREVIOUS_SCHEMA_GONE
        message = f"previous schema {schema} was gone already"
    else:
        reason = RestoreReason.PREVIOUS_SCHEMA_DROPPED
        message = f"dropped previous schema {schema}, kept until {_until(restore)}"
    status = _with(restore, "True", reason, message, now).model_copy(
        update={"previous_schema_dropped": now}
    )
    return Update(status, [Event("Normal", reason, message)])


def not_dropped(
    restore: TenantRestore, why: str, now: datetime, left_alone: bool = False
) -> Update[TenantRestoreStatus]:
    """The drop failed (tried again later) or, `left_alone`, is refused for good."""
    schema = restore.status.previous_schema
    if left_alone:
        reason = RestoreReason.PREVIOUS_SCHEMA_LEFT_ALONE
        message = f"previous schema {schema} left alone: {why}"
    else:
        reason = RestoreReason.PREVIOUS_SCHEMA_NOT_DROPPED
        message = f"previous schema {schema} not dropped, will retry: {why}"
    before = next(
        (c for c in restore.status.conditions if c.type is ConditionType.PREVIOUS_SCHEMA_DROPPED),
        None,
    )
    events = (
        []
        if before is not None and before.reason == reason
        else [Event("Warning", reason, message)]
    )
    return Update(_with(restore, "False", reason, message, now), events)


def _until(restore: TenantRestore) -> str:
    until = restore.status.previous_kept_until
    return until.isoformat() if until else "-"


def _with(
    restore: TenantRestore, status: Status, reason: str, message: str, now: datetime
) -> TenantRestoreStatus:
    conditions = with_condition(
        restore.status.conditions,
        ConditionType.PREVIOUS_SCHEMA_DROPPED,
        status,
        reason,
        message,
        now,
        restore.metadata.generation,
    )
    return restore.status.model_copy(update={"conditions": conditions})
