"""What a finished TenantRestore owes: its history row, its notice, the channels due."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tenant_backup.api.notifications import Channel
from tenant_backup.api.restore import TenantRestore
from tenant_backup.core import followups
from tenant_backup.restore.history_rows import restore_row
from tenant_backup.restore.notice import notice_for
from tenant_backup.restore.plan import reconcile
from tests.support.factories import T0
from tests.unit.test_restore_plan import RESOLVED, RUID, SUCCESS, advance, ended, job, restore

EMAIL = {"to": ["ops@example.com"], "smtpSecretRef": {"name": "smtp"}}


def finished(**spec: Any) -> TenantRestore:
    start = restore(**spec)
    running = advance(start, reconcile(start, [], T0, RESOLVED).status)
    done = reconcile(running, [job(1, ended(SUCCESS))], T0 + timedelta(seconds=31)).status
    return advance(running, done)


def test_the_row_says_what_was_restored_from_what_into_what() -> None:
    done = finished()
    row = restore_row(done)
    assert row.columns() == {
        "uid": RUID,
        "namespace": "team-a",
        "name": "undo",
        "mode": "CreateNew",
        "source_backup": "nightly",
        "source_tenant": "acme",
        "artifact_url": "pvc://backups/nightly/acme/acme.pgdump.zst",
        "sha256": "b" * 64,
        "target_tenant": "acme_copy",
        "target_schema": "tenant_acme_copy",
        "database": "app",
        "phase": "Succeeded",
        "reason": "Succeeded",
        "message": SUCCESS.message,
        "attempts": 1,
        "step": "Swapping",
        "tables": 3,
        "rows": 40,
        "previous_schema": None,
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=31),
        "duration_seconds": 31,
    }


def test_the_notice_names_the_restore_and_its_counts() -> None:
    notice = notice_for(finished())
    assert notice.subject == "[TenantRestore] acme_copy CreateNew Succeeded: team-a/undo"
    assert "Restored:  3 tables, 40 rows\n" in notice.text
    assert "Source:    nightly\n" in notice.text
    payload = json.loads(notice.payload)
    assert (payload["kind"], payload["outcome"], payload["rows"]) == (
        "TenantRestoreNotification",
        "Succeeded",
        40,
    )
    assert notice.delivery_id == f"{RUID}.Succeeded"


def test_channels_are_due_once_finished_and_history_once_it_has_a_phase() -> None:
    start = restore(notifications={"email": EMAIL, "on": ["Failed"]})
    assert followups.notifications_due(start) == []
    assert followups.history_due(start, history_enabled=True) is False
    running = advance(start, reconcile(start, [], T0, RESOLVED).status)
    assert followups.history_due(running, history_enabled=True)
    assert followups.notifications_due(running) == []
    succeeded = finished(notifications={"email": EMAIL, "on": ["Failed"]})
    assert followups.notifications_due(succeeded) == []
    wanted = finished(notifications={"email": EMAIL})
    assert followups.notifications_due(wanted) == [Channel.EMAIL]
