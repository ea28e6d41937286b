"""Restore drills on a real API server, every pod run for real (the backup's dump, the
drill's `tenant-backup restore --mode=verify` into a scratch database of the real
PostgreSQL): a schedule with `drill: {every: 1}` creates a Verify TenantRestore of its newest
Succeeded run, owned and labelled, the run gets `RestoreVerified`, and only `keep` finished
drills stay (the metric of the last verified time: tests/unit/test_metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.core import naming
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.pod_runner import pods_run
from tests.support.schedules import schedule_manifest, schedule_status

Apply = Callable[..., Any]
SCHEDULE = "nightly"


def run(name: str) -> dict[str, Any]:
    """A run of the schedule (a labelled TenantBackup, as the schedule's own are)."""
    manifest = tb.manifest(name=name, retry={"maxAttempts": 1})
    manifest["metadata"]["labels"] = {naming.LABEL_SCHEDULE: SCHEDULE, naming.LABEL_TENANT: "acme"}
    return manifest


def drills(kubectl: KubectlRunner, namespace: str) -> list[dict[str, Any]]:
    return tb.items(kubectl, namespace, "tenantrestores", f"{naming.LABEL_DRILL}=true")


def verified(kubectl: KubectlRunner, namespace: str, backup: str) -> dict[str, Any] | None:
    conditions = tb.status(kubectl, namespace, backup).get("conditions", [])
    return next((c for c in conditions if c["type"] == "RestoreVerified"), None)


def test_a_schedule_drills_each_new_run_and_the_backup_is_marked_verified(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    tb.create_db_secret(kubectl, namespace, tenant_db)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator()
    drill = {"every": 1, "keep": 1, "database": {"secretRef": {"name": tb.RESTORE_SECRET_NAME}}}
    apply(schedule_manifest(SCHEDULE, "0 0 1 1 *", ["acme"], drill=drill))
    with pods_run(kubectl, namespace, claim_dir, tmp_path):
        apply(run("first"))
        tb.wait_phase(kubectl, namespace, "first", "Succeeded", timeout=90)
        status = tb.wait_restore(kubectl, namespace, "first-drill", "Succeeded", timeout=120)
        condition = wait_for(
            lambda: verified(kubectl, namespace, "first"), 60, "first never marked verified"
        )
        time.sleep(1.1)  # a later creation second for the next run
        apply(run("second"))
        tb.wait_phase(kubectl, namespace, "second", "Succeeded", timeout=90)
        tb.wait_restore(kubectl, namespace, "second-drill", "Succeeded", timeout=120)
        wait_for(lambda: verified(kubectl, namespace, "second"), 60, "second never verified")
        wait_for(
            lambda: [d["metadata"]["name"] for d in drills(kubectl, namespace)] == ["second-drill"],
            60,
            lambda: f"drills kept: {[d['metadata']['name'] for d in drills(kubectl, namespace)]}",
        )

    assert status["database"].startswith("tbr_verify_")
    assert status["source"]["backup"] == "first"
    assert (condition["status"], condition["reason"]) == ("True", "RestoreVerified")
    assert "TenantRestore first-drill restored it at" in condition["message"]
    assert condition["lastTransitionTime"] == status["completionTime"]
    [kept] = drills(kubectl, namespace)
    meta = kept["metadata"]
    assert meta["labels"][naming.LABEL_SCHEDULE] == SCHEDULE
    assert meta["labels"][naming.LABEL_TENANT] == "acme"
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("TenantBackupSchedule", SCHEDULE)
    assert kept["spec"]["mode"] == "Verify"
    state = {t["tenant"]: t for t in schedule_status(kubectl, namespace, SCHEDULE)["tenants"]}
    assert state["acme"]["lastDrill"]["name"] == "second-drill"
    assert state["acme"]["lastDrill"]["phase"] == "Succeeded"
    with psycopg.connect(tenant_db.dsn()) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    assert not [name for name in names if name.startswith("tbr_verify_")]


def test_admission_wants_exactly_one_of_every_and_period(apply: Apply) -> None:
    both = schedule_manifest(SCHEDULE, "@daily", ["acme"], drill={"every": 2, "period": "168h"})
    assert "exactly one of every" in apply(both, check=False).stderr
    neither = schedule_manifest(SCHEDULE, "@daily", ["acme"], drill={"keep": 2})
    assert "exactly one of every" in apply(neither, check=False).stderr
    apply(schedule_manifest(SCHEDULE, "@daily", ["acme"], drill={"period": "1w2d"}))
