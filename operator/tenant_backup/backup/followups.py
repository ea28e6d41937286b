"""Pure: what a TenantBackup still owes once its status is written (history rows and
notifications), and the status and Events that record each follow-up.

History is at-least-once and idempotent: rows are upserted until the status says the
current state was recorded. Notifications are at-most-once: a channel is marked `Sending`
in status before it is sent, and a `Sending` found later (the operator stopped in between)
becomes `Interrupted`, never a second message.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tenant_backup.api.attempts import Condition, ConditionType
from tenant_backup.api.backup import TenantBackup, TenantBackupStatus
from tenant_backup.api.notifications import Channel, Delivery, DeliveryState, NotifyOn
from tenant_backup.api.reasons import FollowUpReason
from tenant_backup.backup.history_rows import history_mark
from tenant_backup.core.conditions import Status, with_condition
from tenant_backup.core.events import Event


@dataclass(frozen=True)
class Update:
    """A status recording a follow-up, and the Events to post once it is written."""

    status: TenantBackupStatus
    events: list[Event] = field(default_factory=list)


def history_due(backup: TenantBackup, history_enabled: bool) -> bool:
    """Whether the history database does not hold the backup's current state yet."""
    mark = history_mark(backup.status)
    return history_enabled and mark is not None and mark != backup.status.history


def _channels(backup: TenantBackup) -> list[Channel]:
    """The channels the spec asks to notify of the backup's final phase."""
    phase, wanted = backup.status.phase, backup.spec.notifications
    if phase is None or not backup.status.finished or NotifyOn(phase.value) not in wanted.on:
        return []
    configured = {Channel.EMAIL: wanted.email, Channel.WEBHOOK: wanted.webhook}
    return [channel for channel, config in configured.items() if config is not None]


def notifications_due(backup: TenantBackup) -> list[Channel]:
    """Channels to notify that were never attempted."""
    attempted = {delivery.channel for delivery in backup.status.notifications}
    return [channel for channel in _channels(backup) if channel not in attempted]


def interrupted(backup: TenantBackup) -> bool:
    """Whether a notification was being sent when the operator last stopped."""
    return any(d.state is DeliveryState.SENDING for d in backup.status.notifications)


def pending(backup: TenantBackup, history_enabled: bool) -> bool:
    """Whether any follow-up is left to do."""
    return (
        history_due(backup, history_enabled)
        or bool(notifications_due(backup))
        or interrupted(backup)
    )


def needs_resync(backup: TenantBackup, history_enabled: bool) -> bool:
    """Whether the periodic resync should keep visiting the backup."""
    return not backup.status.finished or pending(backup, history_enabled)


def history_recorded(backup: TenantBackup, now: datetime) -> Update:
    """The current state is in the history database."""
    status = backup.status
    message = f"recorded as {status.phase}, attempt {status.attempts}"
    conditions = _set(
        backup, ConditionType.HISTORY_RECORDED, "True", FollowUpReason.RECORDED, message, now
    )
    events = []
    if _condition_status(status, ConditionType.HISTORY_RECORDED) == "False":
        events.append(Event("Normal", FollowUpReason.RECORDED, "history database reachable again"))
    return Update(
        status.model_copy(update={"history": history_mark(status), "conditions": conditions}),
        events,
    )


def history_failed(backup: TenantBackup, error: str, now: datetime) -> Update:
    """The history database could not be written; the next resync tries again."""
    message = f"history not recorded, will retry: {error}"
    reason = FollowUpReason.HISTORY_UNAVAILABLE
    conditions = _set(backup, ConditionType.HISTORY_RECORDED, "False", reason, message, now)
    events = []
    if _condition_status(backup.status, ConditionType.HISTORY_RECORDED) != "False":
        events.append(Event("Warning", reason, message))
    return Update(backup.status.model_copy(update={"conditions": conditions}), events)


def claimed(backup: TenantBackup, due: Sequence[Channel], now: datetime) -> Update:
    """`due` marked `Sending`: written before sending, so nothing is ever sent twice."""
    sending = [
        Delivery(channel=c, state=DeliveryState.SENDING, message="sending", time=now) for c in due
    ]
    return _with_deliveries(backup, sending, now)


def delivered(backup: TenantBackup, results: Sequence[Delivery], now: datetime) -> Update:
    """The outcome of sending, with an Event per channel."""
    update = _with_deliveries(backup, results, now)
    events = [
        Event("Normal", FollowUpReason.NOTIFIED, f"{d.channel.value}: {d.message}")
        if d.state is DeliveryState.SENT
        else Event("Warning", FollowUpReason.NOTIFICATION_FAILED, f"{d.channel.value}: {d.message}")
        for d in results
    ]
    return Update(update.status, events)


def mark_interrupted(backup: TenantBackup, now: datetime) -> Update:
    """`Sending` left by a stopped operator becomes `Interrupted` (not re-sent)."""
    stopped = [
        Delivery(
            channel=d.channel,
            state=DeliveryState.INTERRUPTED,
            message="the operator stopped while sending; it may not have arrived and is not "
            "sent again",
            time=now,
        )
        for d in backup.status.notifications
        if d.state is DeliveryState.SENDING
    ]
    update = _with_deliveries(backup, stopped, now)
    events = [
        Event("Warning", FollowUpReason.NOTIFICATION_INTERRUPTED, f"{d.channel.value}: {d.message}")
        for d in stopped
    ]
    return Update(update.status, events)


def _with_deliveries(backup: TenantBackup, changed: Sequence[Delivery], now: datetime) -> Update:
    """Deliveries replaced by channel, and the `Notified` condition summarising them."""
    by_channel = {d.channel: d for d in backup.status.notifications}
    by_channel.update({d.channel: d for d in changed})
    deliveries = [by_channel[c] for c in Channel if c in by_channel]
    states = {d.state for d in deliveries}
    status: Status
    if states == {DeliveryState.SENT}:
        status, reason = "True", FollowUpReason.NOTIFIED
    elif DeliveryState.SENDING in states:
        status, reason = "Unknown", FollowUpReason.SENDING
    elif DeliveryState.FAILED in states:
        status, reason = "False", FollowUpReason.NOTIFICATION_FAILED
    else:
        status, reason = "False", FollowUpReason.NOTIFICATION_INTERRUPTED
    message = "; ".join(f"{d.channel.value} {d.state.value}: {d.message}" for d in deliveries)
    conditions = _set(backup, ConditionType.NOTIFIED, status, reason, message, now)
    return Update(
        backup.status.model_copy(update={"notifications": deliveries, "conditions": conditions})
    )


def _set(
    backup: TenantBackup,
    kind: ConditionType,
    status: Status,
    reason: str,
    message: str,
    now: datetime,
) -> list[Condition]:
    return with_condition(
        backup.status.conditions, kind, status, reason, message, now, backup.metadata.generation
    )


def _condition_status(status: TenantBackupStatus, kind: ConditionType) -> str | None:
    return next((c.status for c in status.conditions if c.type is kind), None)
