"""A Replace's kept previous schema: when its drop is owed, what records it, and which
markers allow it (only the exact schema this restore swapped out, expired)."""

from __future__ import annotations

import json
from datetime import timedelta

from tenant_backup.adapters.db import _marks
from tenant_backup.api.attempts import ConditionType
from tenant_backup.api.reasons import RestoreReason
from tenant_backup.api.restore import TenantRestore
from tenant_backup.restore.previous import drop_due, drop_pending, dropped, not_dropped
from tests.support.factories import T0
from tests.unit.test_restore_plan import restore

KEPT = {
    "phase": "Succeeded",
    "previousSchema": "tbr_prev_abc",
    "previousKeptUntil": (T0 + timedelta(hours=1)).isoformat(),
    "targetSchema": "tenant_acme",
}


def kept(**status: object) -> TenantRestore:
    return restore(KEPT | status, mode="Replace", confirm="acme_copy")


def test_the_drop_is_owed_after_its_time_once() -> None:
    assert drop_pending(kept())
    assert not drop_due(kept(), T0)
    assert drop_due(kept(), T0 + timedelta(hours=1))
    assert not drop_pending(kept(previousSchema=None))
    assert not drop_pending(kept(phase="Running"))
    done = dropped(kept(), gone_already=False, now=T0 + timedelta(hours=2))
    assert done.status.previous_schema_dropped == T0 + timedelta(hours=2)
    assert [e.reason for e in done.events] == [RestoreReason.PREVIOUS_SCHEMA_DROPPED]
    assert not drop_pending(kept().model_copy(update={"status": done.status}))


def test_a_failed_drop_is_retried_but_a_foreign_marker_is_left_alone_for_good() -> None:
    now = T0 + timedelta(hours=2)
    failed = not_dropped(kept(), "connection refused", now)
    again = kept().model_copy(update={"status": failed.status})
    assert drop_due(again, now)
    assert not_dropped(again, "connection refused", now).events == []  # one Warning only
    left = not_dropped(kept(), "marker", now, left_alone=True)
    [condition] = [
        c for c in left.status.conditions if c.type is ConditionType.PREVIOUS_SCHEMA_DROPPED
    ]
    assert (condition.status, condition.reason) == ("False", "PreviousSchemaLeftAlone")
    assert not drop_pending(kept().model_copy(update={"status": left.status}))


def test_only_the_marker_of_this_restores_expired_previous_schema_allows_a_drop() -> None:
    now = T0 + timedelta(hours=2)
    marker = {"previousOf": "tenant_acme", "keepUntil": T0.isoformat(), "replacedBy": "ns.r.u"}
    assert _marks(json.dumps(marker), "tenant_acme", "ns.r.u", now)
    assert not _marks(json.dumps(marker), "tenant_acme", "ns.other.u", now)
    assert not _marks(json.dumps(marker), "tenant_beta", "ns.r.u", now)
    assert not _marks(json.dumps(marker), "tenant_acme", "ns.r.u", T0 - timedelta(seconds=1))
    for comment in (None, "", "not json", "[]", json.dumps({**marker, "keepUntil": 5})):
        assert not _marks(comment, "tenant_acme", "ns.r.u", now)
