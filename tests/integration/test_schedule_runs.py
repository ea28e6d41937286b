"""A minute schedule on the real API server with real dumps, slot after slot: `["*"]` fans out
over the database's tenants that the namespace allows, under the concurrency limits; a foreign
object holding a run's name is never touched; a tenant emptied between two runs is flagged
SizeAnomaly and its last unflagged backup survives retention, which prunes real PVC files; the
operator killed across slot boundaries catches up exactly once; suspend stops it.

Slots are real minutes, so this test takes about five of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION
from tenant_backup.schedule.children import child_name
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.pod_runner import pods_run
from tests.support.schedules import (
    runs,
    runs_by_slot,
    schedule_events,
    schedule_manifest,
    schedule_status,
)

Apply = Callable[..., Any]
NAME = "minutely"
ALLOWED = "acme,acme_eu,acmex,globex,initech,wayne"  # not hooli
MINUTE = timedelta(minutes=1)


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + MINUTE


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def add_tenant(db: Database, slug: str, rows: int = 2000) -> None:
    schema = f"tenant_{slug}"
    db.server.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {db.backup.user}", db.dbname)
    add_notes(db, schema, rows)


def add_notes(db: Database, schema: str, rows: int) -> None:
    db.server.execute(
        f"CREATE TABLE {schema}.notes AS SELECT g AS id, md5(g::text) AS body "
        f"FROM generate_series(1, {rows}) AS g;"
        f"ALTER TABLE {schema}.notes OWNER TO {db.backup.user};",
        db.dbname,
    )


def finished(kubectl: KubectlRunner, namespace: str, names: list[str]) -> bool:
    phases = {
        run["metadata"]["name"]: run.get("status", {}).get("phase")
        for run in runs(kubectl, namespace, NAME)
    }
    return all(phases.get(name) in ("Succeeded", "Failed") for name in names)


@pytest.mark.timeout(900)  # five real minutes, more on a loaded machine
def test_minute_schedule_fans_out_flags_shrinks_prunes_catches_up_once_and_suspends(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    tmp_path: Path,
) -> None:
    add_notes(tenant_db, "tenant_acme", 20000)  # most of acme's artifact, emptied later
    add_tenant(tenant_db, "initech")
    add_tenant(tenant_db, "hooli")  # in the database, not allowed in the namespace
    kubectl(
        "annotate", "--overwrite", "namespace", namespace, f"{ALLOWED_TENANTS_ANNOTATION}={ALLOWED}"
    )
    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, tenant_db)
    operator = start_operator(max_running_jobs="2")

    now = datetime.now(UTC)
    if now.second > 40:
        sleep_until(next_minute(now) + timedelta(seconds=1))
    first = next_minute(datetime.now(UTC))
    # A foreign object holds the name globex's first run would get.
    foreign = tb.manifest(name=child_name(NAME, "globex", first), tenant="acme")
    apply(foreign)
    foreign_uid = tb.get(kubectl, namespace, "tb", foreign["metadata"]["name"])["metadata"]["uid"]
    apply(schedule_manifest(NAME, "* * * * *", ["*"], {"keepLast": 1}))

    with pods_run(kubectl, namespace, claim, tmp_path) as runner:
        # Slot 1: every allowed tenant but globex (name taken); hooli never.
        # Runs appear one by one: wait for the whole slot.
        slot_1 = ["acme", "acme_eu", "acmex", "initech"]
        wait_for(
            lambda: runs_by_slot(kubectl, namespace, NAME).get(first) == slot_1,
            90,
            f"slot 1's runs: {slot_1}",
        )
        slot1 = [run["metadata"]["name"] for run in runs(kubectl, namespace, NAME)]
        wait_for(lambda: finished(kubectl, namespace, slot1), 90, "slot 1's runs to finish")
        untouched = tb.get(kubectl, namespace, "tb", foreign["metadata"]["name"])
        assert untouched["metadata"]["uid"] == foreign_uid
        assert "tenantbackup.dev/schedule" not in (untouched["metadata"].get("labels") or {})
        status = schedule_status(kubectl, namespace, NAME)
        assert status["discovery"]["ignored"] == ["hooli"]
        assert status["skipped"] == 1
        assert runner.max_active <= 2, runner.max_active
        # Read now: retention may prune it as soon as slot 2's run of acme_eu succeeds.
        acme_eu_1 = child_name(NAME, "acme_eu", first)
        acme_eu_file = (
            claim / tb.status(kubectl, namespace, acme_eu_1)["artifact"]["url"].split("/", 3)[3]
        )
        assert acme_eu_file.is_file()

        # Before slot 2: acme emptied, initech dropped, wayne added.
        tenant_db.server.execute(
            "TRUNCATE tenant_acme.notes, tenant_acme.customers, tenant_acme.orders, "
            "tenant_acme.order_items CASCADE",
            tenant_db.dbname,
        )
        tenant_db.server.execute("DROP SCHEMA tenant_initech CASCADE", tenant_db.dbname)
        add_tenant(tenant_db, "wayne")
        second = first + MINUTE
        slot_2 = ["acme", "acme_eu", "acmex", "globex", "wayne"]
        wait_for(
            lambda: runs_by_slot(kubectl, namespace, NAME).get(second) == slot_2,
            90,
            f"slot 2's runs: {slot_2}",
        )
        acme_1, acme_2 = child_name(NAME, "acme", first), child_name(NAME, "acme", second)
        flagged = tb.wait_phase(kubectl, namespace, acme_2, "Succeeded", timeout=90)
        anomaly = {c["type"]: c for c in flagged["conditions"]}["SizeAnomaly"]
        assert anomaly["status"] == "True", anomaly
        status = schedule_status(kubectl, namespace, NAME)
        assert status["discovery"]["added"] == ["wayne"]
        assert status["discovery"]["dropped"] == ["initech"]
        # keepLast 1: slot 1's runs go (artifact files first), but acme's unflagged one stays.
        wait_for(
            lambda: (
                acme_eu_1 not in {run["metadata"]["name"] for run in runs(kubectl, namespace, NAME)}
            ),
            90,
            "retention to prune acme_eu's first run",
        )
        assert not acme_eu_file.exists()
        assert tb.status(kubectl, namespace, acme_1)["phase"] == "Succeeded"

        # The operator down across two slot boundaries: exactly one catch-up, one missed.
        slot2 = [
            run["metadata"]["name"]
            for run in runs(kubectl, namespace, NAME)
            if run["metadata"]["annotations"]["tenantbackup.dev/slot"] == second.isoformat()
        ]
        wait_for(lambda: finished(kubectl, namespace, slot2), 90, "slot 2's runs to finish")
        operator.kill()
        fourth = second + 2 * MINUTE
        sleep_until(fourth + timedelta(seconds=5))
        operator = start_operator(max_running_jobs="2")
        wait_for(lambda: fourth in runs_by_slot(kubectl, namespace, NAME), 60, "the catch-up run")
        assert second + MINUTE not in runs_by_slot(kubectl, namespace, NAME)
        status = schedule_status(kubectl, namespace, NAME)
        assert status["missed"] == 1
        assert datetime.fromisoformat(status["lastScheduleTime"]) == fourth

        # Suspended: the next slot passes without runs.
        kubectl(
            "patch",
            "-n",
            namespace,
            "tbs",
            NAME,
            "--type=merge",
            "-p",
            '{"spec": {"suspend": true}}',
        )
        wait_for(
            lambda: (
                {
                    c["type"]: c["status"]
                    for c in schedule_status(kubectl, namespace, NAME).get("conditions", [])
                }.get("Suspended")
                == "True"
            ),
            30,
            "the Suspended condition",
        )
        sleep_until(fourth + MINUTE + timedelta(seconds=5))
        assert max(runs_by_slot(kubectl, namespace, NAME)) == fourth
    reasons = [event["reason"] for event in schedule_events(kubectl, namespace)]
    for reason in ("Scheduled", "NameTaken", "Missed", "Pruned", "TenantsChanged"):
        assert reason in reasons, reasons
