"""A schedule's drills, pure: when one is due (every N runs, every period, never twice for a
run, never while one runs), the manifest, and how many finished ones stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tenant_backup.api.attempts import Phase
from tenant_backup.api.schedule import TenantBackupSchedule
from tenant_backup.schedule.drills import DrillRun, drill_name, plan_drills
from tenant_backup.schedule.runs import Run
from tests.support.factories import T0

HOUR = timedelta(hours=1)


def schedule(**drill: Any) -> TenantBackupSchedule:
    return TenantBackupSchedule.from_body(
        {
            "metadata": {"name": "nightly", "namespace": "team-a", "uid": "s-uid",
                         "creationTimestamp": T0.isoformat()},
            "spec": {
                "schedule": "@daily",
                "tenants": ["acme"],
                "template": {"database": {"secretRef": {"name": "pg"}},
                             "destination": {"pvc": {"claimName": "b", "path": "x"}}},
                "drill": drill,
            },
        }
    )  # fmt: skip


def run(name: str, hours: int, phase: Phase = Phase.SUCCEEDED) -> Run:
    at = T0 + hours * HOUR
    return Run(name, "acme", None, at, phase, at, "pvc://b/x/a", 10, False, False, False)


def drill(backup: str, hours: int, phase: Phase | None = Phase.SUCCEEDED) -> DrillRun:
    at = T0 + hours * HOUR
    done = at if phase else None
    return DrillRun(drill_name(backup), "acme", backup, at, phase, done, False)


def created(plan: Any) -> list[str]:
    return [m["spec"]["source"]["backupRef"]["name"] for m in plan.creates]


def test_every_n_runs_drills_the_newest_once_n_succeeded_since_the_last_drill() -> None:
    every2 = schedule(every=2)
    runs = [run("r1", 1)]
    assert created(plan_drills(every2, runs, [], T0 + 2 * HOUR)) == []
    runs.append(run("r2", 2))
    assert created(plan_drills(every2, runs, [], T0 + 3 * HOUR)) == ["r2"]
    drills = [drill("r2", 3)]
    runs.append(run("r3", 4))
    assert created(plan_drills(every2, runs, drills, T0 + 5 * HOUR)) == []
    runs += [run("r4", 5), run("r5", 6, Phase.FAILED)]
    assert created(plan_drills(every2, runs, drills, T0 + 7 * HOUR)) == ["r4"]
    assert created(plan_drills(every2, runs, [drill("r4", 7)], T0 + 8 * HOUR)) == []
    running = [drill("r2", 3, None)]
    assert created(plan_drills(every2, runs, running, T0 + 8 * HOUR)) == []


def test_a_period_drills_the_newest_run_when_it_has_passed_and_says_when() -> None:
    weekly = schedule(period="1w")
    runs = [run("r1", 1), run("r2", 30)]
    plan = plan_drills(weekly, runs, [drill("r1", 2)], T0 + 31 * HOUR)
    assert (created(plan), plan.wake_at) == ([], T0 + 2 * HOUR + timedelta(weeks=1))
    later = plan_drills(weekly, runs, [drill("r1", 2)], T0 + 2 * HOUR + timedelta(weeks=1))
    assert created(later) == ["r2"]


def test_the_manifest_is_a_verify_restore_owned_and_labelled_and_keep_deletes_the_oldest() -> None:
    plan = plan_drills(schedule(every=1, keep=2), [run("r4", 9)],
                       [drill("r1", 1), drill("r2", 2), drill("r3", 3, Phase.FAILED)],
                       T0 + 10 * HOUR)  # fmt: skip
    [manifest] = plan.creates
    assert manifest["metadata"]["name"] == "r4-drill"
    assert manifest["metadata"]["labels"] == {
        "tenantbackup.dev/schedule": "nightly",
        "tenantbackup.dev/tenant": "acme",
        "tenantbackup.dev/drill": "true",
    }
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "s-uid"
    assert (manifest["spec"]["mode"], manifest["spec"]["notifications"]["on"]) == (
        "Verify",
        ["Failed"],
    )
    assert plan.deletes == ["r1-drill"]
    assert plan.last["acme"].name == "r3-drill"
    assert len(drill_name("x" * 60)) == 63
