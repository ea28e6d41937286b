"""The pure follow-up decisions: what is owed after a status write, and how it is recorded."""

from datetime import timedelta
from typing import Any

import pytest

from tenant_backup.api.backup import TenantBackup, TenantBackupStatus
from tenant_backup.api.notifications import Channel, Delivery, DeliveryState
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.plan import reconcile
from tenant_backup.core import followups
from tests.support.factories import T0
from tests.support.lifecycles import job, lifecycle, succeeded

LATER = T0 + timedelta(hours=1)
EMAIL = {"to": ["ops@example.com"], "smtpSecretRef": {"name": "smtp"}}
WEBHOOK = {"url": "https://hooks.example.com/t/abc", "secretRef": {"name": "hook"}}


def conditions(backup: TenantBackup) -> dict[str, tuple[str, str]]:
    return {c.type.value: (c.status, c.reason) for c in backup.status.conditions}


def apply(backup: TenantBackup, update: followups.Update[TenantBackupStatus]) -> TenantBackup:
    return backup.model_copy(update={"status": update.status})


def final(
    failures: list[Reason] | None = None, end: Reason | None = None, **spec: Any
) -> TenantBackup:
    return lifecycle(failures or [], end, **spec)[-1]


def test_history_is_due_for_every_new_state_only_when_enabled() -> None:
    states = lifecycle([Reason.LOCK_TIMEOUT])
    assert not any(followups.history_due(state, history_enabled=False) for state in states)
    assert all(followups.history_due(state, history_enabled=True) for state in states)
    recorded = apply(states[0], followups.history_recorded(states[0], T0))
    assert not followups.history_due(recorded, history_enabled=True)
    assert conditions(recorded)["HistoryRecorded"] == ("True", "HistoryRecorded")


def test_reconcile_keeps_follow_up_state_and_conditions() -> None:
    running = lifecycle([])[0]
    recorded = apply(running, followups.history_recorded(running, T0))
    plan = reconcile(recorded, [job(1, T0, succeeded(LATER))], LATER)
    assert plan.status.history == recorded.status.history
    assert conditions(recorded)["HistoryRecorded"] == ("True", "HistoryRecorded")
    assert conditions(recorded.model_copy(update={"status": plan.status}))["Complete"] == (
        "True",
        "Succeeded",
    )
    assert "HistoryRecorded" in conditions(recorded.model_copy(update={"status": plan.status}))
    after = recorded.model_copy(update={"status": plan.status})
    assert followups.history_due(after, history_enabled=True)


def test_history_failure_warns_once_and_keeps_the_backup_resynced() -> None:
    done = final()
    assert not followups.needs_resync(done, history_enabled=False)
    assert followups.needs_resync(done, history_enabled=True)
    failed = followups.history_failed(done, "connection refused", T0)
    assert [(e.type, e.reason) for e in failed.events] == [("Warning", "HistoryUnavailable")]
    down = apply(done, failed)
    assert conditions(down)["HistoryRecorded"] == ("False", "HistoryUnavailable")
    assert followups.history_failed(down, "connection refused", LATER).events == []
    assert followups.needs_resync(down, history_enabled=True)
    recovered = followups.history_recorded(down, LATER)
    assert [(e.type, e.reason) for e in recovered.events] == [("Normal", "HistoryRecorded")]
    back = apply(down, recovered)
    assert conditions(back)["HistoryRecorded"] == ("True", "HistoryRecorded")
    assert not followups.needs_resync(back, history_enabled=True)
    assert phase_unchanged(done, back)


def phase_unchanged(before: TenantBackup, after: TenantBackup) -> bool:
    keep = ("phase", "reason", "message", "artifact", "attempt_history")
    return all(getattr(before.status, k) == getattr(after.status, k) for k in keep)


@pytest.mark.parametrize(
    ("end", "on", "expected"),
    [
        (None, None, [Channel.EMAIL, Channel.WEBHOOK]),
        (Reason.PERMISSION_DENIED, None, [Channel.EMAIL, Channel.WEBHOOK]),
        (None, ["Failed"], []),
        (Reason.PERMISSION_DENIED, ["Failed"], [Channel.EMAIL, Channel.WEBHOOK]),
    ],
)
def test_notifications_due_for_final_outcomes_asked_for(
    end: Reason | None, on: list[str] | None, expected: list[Channel]
) -> None:
    wanted: dict[str, Any] = {"email": EMAIL, "webhook": WEBHOOK} | ({"on": on} if on else {})
    states = lifecycle([], end, notifications=wanted)
    assert all(followups.notifications_due(state) == [] for state in states[:-1])
    assert followups.notifications_due(states[-1]) == expected


def test_no_channel_no_notification() -> None:
    assert followups.notifications_due(final()) == []
    assert not followups.pending(final(), history_enabled=False)


def test_claim_then_results_sent_once() -> None:
    done = final(notifications={"email": EMAIL, "webhook": WEBHOOK})
    claimed = apply(done, followups.claimed(done, [Channel.EMAIL, Channel.WEBHOOK], T0))
    assert conditions(claimed)["Notified"] == ("Unknown", "Sending")
    assert followups.notifications_due(claimed) == []
    results = [
        Delivery(channel=Channel.EMAIL, state=DeliveryState.SENT, message="sent", time=T0),
        Delivery(
            channel=Channel.WEBHOOK,
            state=DeliveryState.FAILED,
            message="https://hooks.example.com answered HTTP 500 (try 3 of 3)",
            time=T0,
        ),
    ]
    update = followups.delivered(claimed, results, LATER)
    assert [(e.type, e.reason) for e in update.events] == [
        ("Normal", "Notified"),
        ("Warning", "NotificationFailed"),
    ]
    notified = apply(claimed, update)
    assert conditions(notified)["Notified"] == ("False", "NotificationFailed")
    assert [d.state for d in notified.status.notifications] == [
        DeliveryState.SENT,
        DeliveryState.FAILED,
    ]
    assert not followups.pending(notified, history_enabled=False)
    assert not followups.needs_resync(notified, history_enabled=False)
    assert phase_unchanged(done, notified)


def test_all_sent_is_notified_true() -> None:
    done = final(notifications={"webhook": WEBHOOK})
    claimed = apply(done, followups.claimed(done, [Channel.WEBHOOK], T0))
    sent = Delivery(channel=Channel.WEBHOOK, state=DeliveryState.SENT, message="200", time=T0)
    assert conditions(apply(claimed, followups.delivered(claimed, [sent], T0)))["Notified"] == (
        "True",
        "Notified",
    )


def test_a_send_interrupted_by_a_restart_is_not_sent_again() -> None:
    done = final(notifications={"email": EMAIL})
    claimed = apply(done, followups.claimed(done, [Channel.EMAIL], T0))
    assert followups.interrupted(claimed)
    assert followups.needs_resync(claimed, history_enabled=False)
    update = followups.mark_interrupted(claimed, LATER)
    assert [(e.type, e.reason) for e in update.events] == [("Warning", "NotificationInterrupted")]
    after = apply(claimed, update)
    assert [d.state for d in after.status.notifications] == [DeliveryState.INTERRUPTED]
    assert conditions(after)["Notified"] == ("False", "NotificationInterrupted")
    assert followups.notifications_due(after) == []
    assert not followups.pending(after, history_enabled=False)
