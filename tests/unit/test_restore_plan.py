"""The TenantRestore's pure parts: the planner over a table of situations, the source
resolved from backups, the Job it builds, the concurrency gate with restores in it, and a
schedule skipping the slot of a tenant a Replace is replacing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tenant_backup.api import kinds
from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import RestoreMode, RestoreStep
from tenant_backup.api.reasons import Reason
from tenant_backup.api.restore import ResolvedSource, TenantRestore, TenantRestoreSpec
from tenant_backup.api.result import CheckResult, RestoreResult
from tenant_backup.core import naming
from tenant_backup.core.observe import JobFinish, ObservedJob, Termination
from tenant_backup.core.restoring import busy_tenants, replacing_of
from tenant_backup.core.scheduling import Entry, Limits, State, may_start
from tenant_backup.restore.job import build_job, keep_previous_seconds, restore_id
from tenant_backup.restore.plan import Preflight, PreflightFailure, reconcile, to_settle
from tenant_backup.restore.source import from_backup, newest_run
from tenant_backup.settings import Settings
from tests.support.factories import T0, backup_body

RUID = "9f8e7d6c-0000-4000-8000-000000000002"
SHA = "b" * 64
SOURCE = {
    "backup": "nightly",
    "tenant": "acme",
    "url": "pvc://backups/nightly/acme/acme.pgdump.zst",
    "sha256": SHA,
    "format": "custom",
    "compression": "zstd",
    "sizeBytes": 10 << 20,
    "destination": {"pvc": {"claimName": "backups", "path": "nightly"}},
}
RESOLVED = Preflight(source=ResolvedSource.model_validate(SOURCE), server="db:5432")


def restore(status: dict[str, Any] | None = None, **spec: Any) -> TenantRestore:
    fields: dict[str, Any] = {
        "source": {"backupRef": {"name": "nightly"}},
        "target": {"database": {"secretRef": {"name": "pg-restore"}}, "tenant": "acme_copy"},
        "retry": {"maxAttempts": 2, "backoffSeconds": 10, "maxBackoffSeconds": 60},
    } | spec
    return TenantRestore.from_body(
        {
            "metadata": {
                "name": "undo",
                "namespace": "team-a",
                "uid": RUID,
                "creationTimestamp": T0.isoformat(),
            },
            "spec": fields,
            "status": status or {},
        }
    )


def job(attempt: int, finish: JobFinish | None = None) -> ObservedJob:
    return ObservedJob(naming.restore_job_name("undo", attempt), attempt, RUID, T0, finish)


def ended(result: RestoreResult, after: int = 30) -> JobFinish:
    term = Termination(0 if result.ok else 1, None, result.to_message(), None)
    return JobFinish(result.ok, None, None, T0 + timedelta(seconds=after), term)


SUCCESS = RestoreResult(
    ok=True,
    reason=Reason.SUCCEEDED,
    message="restored tenant_acme as tenant_acme_copy (create-new): 3 tables, 40 rows",
    mode=RestoreMode.CREATE_NEW,
    step=RestoreStep.SWAPPING,
    target_schema="tenant_acme_copy",
    database="app",
    tables=3,
    rows=40,
    checks=(CheckResult(name="customers", passed=True, value="20", expected="20"),),
)


def failed(reason: Reason, retryable: bool, step: RestoreStep, **facts: Any) -> RestoreResult:
    return RestoreResult(
        ok=False, reason=reason, retryable=retryable, message="no", step=step, **facts
    )


def advance(current: TenantRestore, status: Any) -> TenantRestore:
    return current.model_copy(update={"status": status})


def test_the_first_pass_resolves_the_source_and_starts_attempt_one() -> None:
    plan = reconcile(restore(), [], T0, RESOLVED)
    assert plan.create_attempt == 1
    status = plan.status
    assert (status.phase, status.attempts, status.job_name) == (Phase.RUNNING, 1, "undo-1-restore")
    assert status.source is not None
    assert (status.source.backup, status.source.sha256) == ("nightly", SHA)
    assert (status.target_schema, status.database_server) == ("tenant_acme_copy", "db:5432")
    assert [event.reason for event in plan.events] == [Reason.JOB_CREATED]


def test_the_target_defaults_to_the_sources_tenant() -> None:
    plan = reconcile(restore(target={"database": {"secretRef": {"name": "p"}}}), [], T0, RESOLVED)
    assert plan.status.target_schema == "tenant_acme"


@pytest.mark.parametrize("failure", list(PreflightFailure))
def test_a_preflight_failure_is_permanent_and_starts_nothing(failure: PreflightFailure) -> None:
    plan = reconcile(restore(), [], T0, Preflight(failure, "nope"))
    assert plan.create_attempt is None
    assert (plan.status.phase, plan.status.reason, plan.status.attempts) == (
        Phase.FAILED,
        failure.value,
        0,
    )


# (result of attempt 1, phase after it, next attempt started at +30 s, step recorded)
TABLE = [
    (SUCCESS, Phase.SUCCEEDED, None, RestoreStep.SWAPPING),
    (failed(Reason.CHECKSUM_MISMATCH, False, RestoreStep.DOWNLOADING), Phase.FAILED, None,
     RestoreStep.DOWNLOADING),
    (failed(Reason.TARGET_EXISTS, False, RestoreStep.DOWNLOADING), Phase.FAILED, None,
     RestoreStep.DOWNLOADING),
    (failed(Reason.MISSING_PREREQUISITE, False, RestoreStep.VERIFYING, missing=("extension x",),
            missing_total=1), Phase.FAILED, None, RestoreStep.VERIFYING),
    (failed(Reason.DATABASE_UNAVAILABLE, True, RestoreStep.RESTORING), Phase.RUNNING, None,
     RestoreStep.RESTORING),
]  # fmt: skip


@pytest.mark.parametrize(("result", "phase", "started", "step"), TABLE)
def test_an_attempts_result_decides_the_phase_and_is_reported(
    result: RestoreResult, phase: Phase, started: int | None, step: RestoreStep
) -> None:
    running = advance(restore(), reconcile(restore(), [], T0, RESOLVED).status)
    plan = reconcile(running, [job(1, ended(result))], T0 + timedelta(seconds=31))
    status = plan.status
    assert (status.phase, status.step, plan.create_attempt) == (phase, step, started)
    assert status.reason == (result.reason if phase.terminal else Reason.RETRY_SCHEDULED)
    assert status.missing == list(result.missing)
    if result.ok:
        assert (status.tables, status.rows, status.database) == (3, 40, "app")
        assert [(c.name, c.passed, c.value) for c in status.checks] == [("customers", True, "20")]
        assert status.duration == "31s"
    if phase is Phase.RUNNING:
        retry = reconcile(advance(running, status), [job(1, ended(result))], T0 + timedelta(60))
        assert retry.create_attempt == 2


def test_an_attempt_that_finds_its_swap_done_succeeds_with_an_event() -> None:
    running = advance(restore(), reconcile(restore(), [], T0, RESOLVED).status)
    again = RestoreResult(**{**SUCCESS.__dict__, "already_restored": True})
    plan = reconcile(running, [job(1, ended(again))], T0 + timedelta(seconds=31))
    assert plan.status.phase is Phase.SUCCEEDED
    assert "AlreadyRestored" in [event.reason for event in plan.events]


def test_a_replace_records_the_schedules_it_pauses_and_the_previous_schema() -> None:
    replace = restore(
        target={"database": {"secretRef": {"name": "p"}}, "tenant": "acme"},
        mode="Replace",
        confirm="acme",
    )
    plan = reconcile(replace, [], T0, RESOLVED, paused=["nightly"])
    assert plan.status.paused_schedules == ["nightly"]
    assert "SchedulesPaused" in [event.reason for event in plan.events]
    running = advance(replace, plan.status)
    swapped = RestoreResult(
        **{**SUCCESS.__dict__, "mode": RestoreMode.REPLACE, "target_schema": "tenant_acme",
           "previous_schema": "tbr_prev_0123456789abcdef",
           "previous_kept_until": T0 + timedelta(days=1)}
    )  # fmt: skip
    done = reconcile(running, [job(1, ended(swapped))], T0 + timedelta(seconds=40), paused=[])
    assert done.status.previous_schema == "tbr_prev_0123456789abcdef"
    assert done.status.paused_schedules == ["nightly"]  # kept as a record once finished
    assert replacing_of(running) is not None
    assert replacing_of(advance(running, done.status)) is None


@pytest.mark.parametrize("keep", ["1y", "1mo", "0h", "90", "1h1d"])
def test_keep_previous_for_takes_days_to_seconds_only(keep: str) -> None:
    fields = {
        "source": {"backupRef": {"name": "nightly"}},
        "target": {"database": {"secretRef": {"name": "p"}}, "tenant": "acme"},
        "mode": "Replace",
        "confirm": "acme",
    }
    assert TenantRestoreSpec.model_validate(fields | {"keepPreviousFor": "1d12h"})
    with pytest.raises(ValidationError):
        TenantRestoreSpec.model_validate(fields | {"keepPreviousFor": keep})


def test_the_source_is_a_succeeded_backup_and_latest_of_picks_the_newest() -> None:
    assert "not found" in str(from_backup(None, "gone"))
    pending = TenantBackup.from_body(backup_body())
    assert "not Succeeded" in str(from_backup(pending, "nightly"))
    artifact = {"url": SOURCE["url"], "sizeBytes": 10, "size": "10B", "sha256": SHA,
                "format": "custom", "compression": "zstd"}  # fmt: skip

    def succeeded(name: str, minutes: int, tenant: str = "acme") -> TenantBackup:
        body = backup_body(name=name, tenant=tenant)
        done = (T0 + timedelta(minutes=minutes)).isoformat()
        body["status"] = {"phase": "Succeeded", "artifact": artifact, "completionTime": done}
        return TenantBackup.from_body(body)

    resolved = from_backup(succeeded("nightly", 1), "nightly")
    assert not isinstance(resolved, str)
    assert (resolved.backup, resolved.tenant, resolved.url) == ("nightly", "acme", SOURCE["url"])
    runs = [succeeded("a", 1), succeeded("b", 3), succeeded("c", 5, tenant="globex"), pending]
    newest = newest_run(runs, "acme")
    assert newest is not None
    assert newest.metadata.name == "b"
    assert newest_run(runs, "initech") is None


def test_the_job_reads_the_artifact_into_a_sized_work_volume_with_nothing_secret_in_argv() -> None:
    replace = restore(
        target={"database": {"secretRef": {"name": "pg-restore"}}, "tenant": "acme"},
        mode="Replace",
        confirm="acme",
        keepPreviousFor="2h30m",
        checks=[{"name": "customers", "sql": "SELECT count(*) FROM customers", "expect": "20"}],
    )
    status = reconcile(replace, [], T0, RESOLVED).status
    assert status.source is not None
    body = build_job(replace, status.source, 1, Settings())
    pod = body["spec"]["template"]
    container = pod["spec"]["containers"][0]
    command = container["command"]
    assert command[:2] == ["tenant-backup", "restore"]
    assert f"--restore-id={restore_id(replace)}" in command
    assert "--mode=replace" in command
    assert "--keep-previous-seconds=9000" in command
    assert "--checks-file=/etc/tenant-backup/checks/checks.json" in command
    assert "--pvc-root=/backup" in command
    assert "SELECT" not in json.dumps(command)
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["work"]["emptyDir"] == {"sizeLimit": "74Mi"}
    assert volumes["destination"]["persistentVolumeClaim"]["claimName"] == "backups"
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["destination"]["readOnly"] is True
    checks = json.loads(pod["metadata"]["annotations"]["tenantbackup.dev/restore-checks"])
    assert checks == [{"name": "customers", "sql": "SELECT count(*) FROM customers",
                       "expect": "20"}]  # fmt: skip
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "pg-restore"
    labels = body["metadata"]["labels"]
    assert labels[naming.LABEL_RESTORE] == "undo"
    assert naming.LABEL_BACKUP not in labels
    assert keep_previous_seconds(restore(mode="Replace", keepPreviousFor="0s")) == 0


def entry(kind: str, name: str, tenant: str, state: State, server: str = "db:5432") -> Entry:
    return Entry(T0, "team-a", name, server, tenant, state, kind)


def test_a_backup_and_a_restore_of_one_tenant_on_one_server_never_run_at_once() -> None:
    limits = Limits(total=10, per_server=5)
    restoring = entry(kinds.TENANT_RESTORE.kind, "nightly", "acme", State.ACTIVE)
    backup = entry(kinds.TENANT_BACKUP.kind, "nightly", "acme", State.WAITING)
    verdict = may_start(backup, [restoring, backup], limits)
    assert (verdict.allowed, verdict.message) == (
        False,
        "another restore of tenant acme is running",
    )
    other_server = entry(kinds.TENANT_BACKUP.kind, "x", "acme", State.WAITING, "db2:5432")
    assert may_start(other_server, [restoring], limits).allowed
    running_backup = entry(kinds.TENANT_BACKUP.kind, "nightly", "acme", State.ACTIVE)
    second = entry(kinds.TENANT_RESTORE.kind, "again", "acme", State.WAITING)
    assert not may_start(second, [running_backup, second], limits).allowed
    # Same name, different kinds: two entries, not one.
    assert may_start(backup, [restoring], Limits(total=1, per_server=1)).allowed is False


def test_busy_tenants_are_those_replaced_on_the_schedules_server() -> None:
    replace = restore(
        target={"database": {"secretRef": {"name": "p"}}, "tenant": "acme"},
        mode="Replace",
        confirm="acme",
    )
    running = advance(replace, reconcile(replace, [], T0, RESOLVED).status)
    found = replacing_of(running)
    assert found is not None
    assert busy_tenants("db:5432", [found]) == {"acme": "team-a/undo"}
    assert busy_tenants("other:5432", [found]) == {}
    assert replacing_of(advance(restore(), reconcile(restore(), [], T0, RESOLVED).status)) is None


def test_a_finished_restore_is_labelled_settled_only_once_it_waits_for_nothing() -> None:
    source = SOURCE | {"backup": "nightly"}
    finished = {"phase": "Succeeded", "source": source}
    assert not to_settle(restore())
    assert not to_settle(restore({"phase": "Running"}))
    assert to_settle(restore(finished))
    verify = restore(finished, mode="Verify")
    assert not to_settle(verify)  # its verdict is still to be marked on the backup
    assert to_settle(restore(finished | {"verifiedMarked": True}, mode="Verify"))
    kept = finished | {
        "previousSchema": "tbr_prev_0123456789abcdef",
        "previousKeptUntil": (T0 + timedelta(days=1)).isoformat(),
    }
    assert not to_settle(restore(kept))  # a previous schema still to drop
    labelled = restore(finished)
    meta = labelled.metadata.model_copy(update={"labels": {naming.LABEL_SETTLED: "true"}})
    assert not to_settle(labelled.model_copy(update={"metadata": meta}))
