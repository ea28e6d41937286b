"""Pure: what an object (a TenantBackup, a TenantRestore) still owes once its status is
written (history rows and notifications), and the status and Events that record each
follow-up.

History is at-least-once and idempotent: rows are upserted until the status says the
current state was recorded. Notifications are at-most-once: a channel is marked `Sending`
in status before it is sent, and a `Sending` found later (the operator stopped in between)
becomes `Interrupted`, never a second message.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from tenant_backup.api.attempts import AttemptStatus, Condition, ConditionType
from tenant_backup.api.meta import ObjectMeta
from tenant_backup.api.notifications import (
    Channel,
    Delivery,
    DeliveryState,
    FollowUpStatus,
    HistoryMark,
    Notifications,
    NotifyOn,
)
from tenant_backup.api.reasons import FollowUpReason
from tenant_backup.core.conditions import Status, with_condition
from tenant_backup.core.events import Event
from tenant_backup.core.naming import LABEL_SETTLED

S = TypeVar("S", bound=FollowUpStatus)
S_co = TypeVar("S_co", bound=FollowUpStatus, covariant=True)


class Owing(Protocol[S_co]):
    """An object with follow-ups: its metadata, status and notification settings."""

    @property
    def metadata(self) -> ObjectMeta: ...
    @property
    def status(self) -> S_co: ...
    @property
    def notifications(self) -> Notifications: ...


@dataclass(frozen=True)
class Update(Generic[S]):
    """A status recording a follow-up, and the Events to post once it is written."""

    status: S
    events: list[Event] = field(default_factory=list)


def history_mark(status: AttemptStatus) -> HistoryMark | None:
    """What recording `status` amounts to; None before the object has a phase."""
    if status.phase is None:
        return None
    return HistoryMark(
        phase=status.phase,
        attempts=status.attempts,
        finished_attempts=len(status.attempt_history),
    )


def history_due(subject: Owing[FollowUpStatus], history_enabled: bool) -> bool:
    """Whether the history database does not hold the object's current state yet."""
    mark = history_mark(subject.status)
    return history_enabled and mark is not None and mark != subject.status.history


def _channels(subject: Owing[FollowUpStatus]) -> list[Channel]:
    """The channels the spec asks to notify of the object's final phase."""
    phase, wanted = subject.status.phase, subject.notifications
    if phase is None or not subject.status.finished or NotifyOn(phase.value) not in wanted.on:
        return []
    configured = {Channel.EMAIL: wanted.email, Channel.WEBHOOK: wanted.webhook}
    return [channel for channel, config in configured.items() if config is not None]


def notifications_due(subject: Owing[FollowUpStatus]) -> list[Channel]:
    """Channels to notify that were never attempted."""
    attempted = {delivery.channel for delivery in subject.status.notifications}
    return [channel for channel in _channels(subject) if channel not in attempted]


def interrupted(subject: Owing[FollowUpStatus]) -> bool:
    """Whether a notification was being sent when the operator last stopped."""
    return any(d.state is DeliveryState.SENDING for d in subject.status.notifications)


def pending(subject: Owing[FollowUpStatus], history_enabled: bool) -> bool:
    """Whether any follow-up is left to do."""
    return (
        history_due(subject, history_enabled)
        or bool(notifications_due(subject))
        or interrupted(subject)
    )


def needs_resync(subject: Owing[FollowUpStatus], history_enabled: bool) -> bool:
    """Whether the periodic resync should keep visiting the object."""
    return not subject.status.finished or pending(subject, history_enabled)


def to_settle(subject: Owing[FollowUpStatus]) -> bool:
    """Whether an object that owes no follow-up is to be labelled settled now: finished, not
    being deleted, and not labelled yet. The label takes it out of the operator's watch: it
    costs no memory and no start-up work from then on (a deletion hands it back)."""
    return (
        subject.status.finished
        and subject.metadata.deletion_timestamp is None
        and LABEL_SETTLED not in subject.metadata.labels
    )


def history_recorded(subject: Owing[S], now: datetime) -> Update[S]:
    """The current state is in the history database."""
    status = subject.status
    message = f"recorded as {status.phase}, attempt {status.attempts}"
    conditions = _set(
        subject, ConditionType.HISTORY_RECORDED, "True", FollowUpReason.RECORDED, message, now
    )
    events = []
    if _condition_status(status, ConditionType.HISTORY_RECORDED) == "False":
        events.append(Event("Normal", FollowUpReason.RECORDED, "history database reachable again"))
    return Update(
        status.model_copy(update={"history": history_mark(status), "conditions": conditions}),
        events,
    )


def history_failed(subject: Owing[S], error: str, now: datetime) -> Update[S]:
    """The history database could not be written; the next resync tries again."""
    message = f"history not recorded, will retry: {error}"
    reason = FollowUpReason.HISTORY_UNAVAILABLE
    conditions = _set(subject, ConditionType.HISTORY_RECORDED, "False", reason, message, now)
    events = []
    if _condition_status(subject.status, ConditionType.HISTORY_RECORDED) != "False":
        events.append(Event("Warning", reason, message))
    return Update(subject.status.model_copy(update={"conditions": conditions}), events)


def claimed(subject: Owing[S], due: Sequence[Channel], now: datetime) -> Update[S]:
    """`due` marked `Sending`: written before sending, so nothing is ever sent twice."""
    sending = [
        Delivery(channel=c, state=DeliveryState.SENDING, message="sending", time=now) for c in due
    ]
    return _with_deliveries(subject, sending, now)


def delivered(subject: Owing[S], results: Sequence[Delivery], now: datetime) -> Update[S]:
    """The outcome of sending, with an Event per channel."""
    update = _with_deliveries(subject, results, now)
    events = [
        Event("Normal", FollowUpReason.NOTIFIED, f"{d.channel.value}: {d.message}")
        if d.state is DeliveryState.SENT
        else Event("Warning", FollowUpReason.NOTIFICATION_FAILED, f"{d.channel.value}: {d.message}")
        for d in results
    ]
    return Update(update.status, events)


def mark_interrupted(subject: Owing[S], now: datetime) -> Update[S]:
    """`Sending` left by a stopped operator becomes `Interrupted` (not re-sent)."""
    stopped = [
        Delivery(
            channel=d.channel,
            state=DeliveryState.INTERRUPTED,
            message="the operator stopped while sending; it may not have arrived and is not "
            "sent again",
            time=now,
        )
        for d in subject.status.notifications
        if d.state is DeliveryState.SENDING
    ]
    update = _with_deliveries(subject, stopped, now)
    events = [
        Event("Warning", FollowUpReason.NOTIFICATION_INTERRUPTED, f"{d.channel.value}: {d.message}")
        for d in stopped
    ]
    return Update(update.status, events)


def _with_deliveries(subject: Owing[S], changed: Sequence[Delivery], now: datetime) -> Update[S]:
    """Deliveries replaced by channel, and the `Notified` condition summarising them."""
    by_channel = {d.channel: d for d in subject.status.notifications}
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
    conditions = _set(subject, ConditionType.NOTIFIED, status, reason, message, now)
    return Update(
        subject.status.model_copy(update={"notifications": deliveries, "conditions": conditions})
    )


def _set(
    subject: Owing[FollowUpStatus],
    kind: ConditionType,
    status: Status,
    reason: str,
    message: str,
    now: datetime,
) -> list[Condition]:
    return with_condition(
        subject.status.conditions, kind, status, reason, message, now, subject.metadata.generation
    )


def _condition_status(status: AttemptStatus, kind: ConditionType) -> str | None:
    return next((c.status for c in status.conditions if c.type is kind), None)
