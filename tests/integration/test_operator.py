"""The operator on a real API server: Jobs per attempt, truthful status, restart safety.

Pods are moved by KWOK. On the success paths the dump container really runs: the Job's
argv and Secret-derived environment are executed with the real runner against the real
PostgreSQL, and its termination message is what KWOK reports.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.job import build_job
from tenant_backup.core import naming
from tenant_backup.settings import Settings
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]


def test_success_reports_a_verified_artifact(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "tb/nightly", "--timeout=60s")
    status = tb.status(kubectl, namespace, "nightly")
    assert status["phase"] == "Succeeded"
    assert status["attempts"] == 1
    artifact = status["artifact"]
    assert artifact["url"].startswith("pvc://backups/nightly/acme/acme-")
    assert artifact["url"].endswith(".pgdump.zst")
    on_disk = claim_dir / artifact["url"].removeprefix("pvc://backups/")
    assert artifact["sizeBytes"] == on_disk.stat().st_size
    assert artifact["sha256"] == hashlib.sha256(on_disk.read_bytes()).hexdigest()
    assert status["source"]["serverVersion"].startswith("15.")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "Complete": "True",
        "Failed": "False",
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
        "Verified": "True",
    }
    assert artifact["verification"] == "toc"
    assert status["completionTime"] >= status["startTime"]
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]
    wait_for(lambda: "Succeeded" in tb.event_reasons(kubectl, namespace), 30, "no Succeeded event")
    assert {"JobCreated", "AttemptSucceeded", "Succeeded"} <= set(
        tb.event_reasons(kubectl, namespace)
    )
    row = kubectl("get", "-n", namespace, "tb", "nightly", "--no-headers").stdout.split()
    assert row[1:4] == ["acme", "Succeeded", "1"]


def test_two_retryable_failures_then_success(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.LOCK_TIMEOUT)
    tb.fail_attempt(kubectl, namespace, "nightly-2", Reason.DATABASE_UNAVAILABLE)
    tb.run_real_attempt(kubectl, namespace, "nightly-3", secret, claim_dir, tmp_path)
    status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    assert status["attempts"] == 3
    assert [(r["attempt"], r["reason"]) for r in status["attemptHistory"]] == [
        (1, "LockTimeout"),
        (2, "DatabaseUnavailable"),
        (3, "Succeeded"),
    ]
    assert tb.job_names(kubectl, namespace) == ["nightly-1", "nightly-2", "nightly-3"]
    # Every Job of the finished backup leaves the operator's Job watch (kept for its logs).
    wait_for(
        lambda: all(
            job["metadata"]["labels"].get(naming.LABEL_SETTLED) == "true"
            for job in tb.items(kubectl, namespace, "jobs")
        ),
        10,
        "the Jobs labelled settled",
    )


def test_retryable_failures_up_to_max_attempts_fail(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    start_operator()
    apply(tb.manifest(retry={"maxAttempts": 2, "backoffSeconds": 1, "maxBackoffSeconds": 1}))
    tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.LOCK_TIMEOUT)
    tb.fail_attempt(kubectl, namespace, "nightly-2", Reason.LOCK_TIMEOUT)
    kubectl("wait", "-n", namespace, "--for=condition=Failed", "tb/nightly", "--timeout=60s")
    status = tb.status(kubectl, namespace, "nightly")
    assert (status["phase"], status["reason"], status["attempts"]) == ("Failed", "LockTimeout", 2)
    assert "gave up after 2 of 2 attempts" in status["message"]
    assert "artifact" not in status
    time.sleep(2)
    assert tb.job_names(kubectl, namespace) == ["nightly-1", "nightly-2"]


def test_permanent_failure_stops_after_one_attempt(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.PERMISSION_DENIED)
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert (status["reason"], status["attempts"]) == ("PermissionDenied", 1)
    time.sleep(2)
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]


@pytest.mark.parametrize(
    ("tenant", "with_secret", "reason"),
    [("nosuch", True, "TenantNotFound"), ("acme", False, "SecretMissing")],
)
def test_preflight_failures_create_no_job(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    claim_dir: Path,
    tenant: str,
    with_secret: bool,
    reason: str,
) -> None:
    if with_secret:
        tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    apply(tb.manifest(tenant=tenant))
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert status["reason"] == reason
    assert status["attempts"] == 0
    assert tb.job_names(kubectl, namespace) == []


@pytest.mark.parametrize("finalizer", [True, False], ids=["finalized", "finalizer-removed"])
def test_restart_between_job_creation_and_status_adopts_the_job(
    finalizer: bool,
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    """The state a crash right after creating Job 1 leaves: the Job, our finalizer, and no
    status yet (its Jobs are listed); also with the finalizer taken off by hand (then no Job
    is listed for a backup never started, and creating Job 1 finds it)."""
    apply(tb.manifest())
    if finalizer:
        kubectl(
            "patch",
            "tenantbackup",
            "nightly",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps({"metadata": {"finalizers": [naming.FINALIZER_ARTIFACT]}}),
        )
    body = tb.get(kubectl, namespace, "tenantbackup", "nightly")
    job = build_job(TenantBackup.from_body(body), 1, Settings())
    kubectl("create", "-f", "-", input=json.dumps(job))
    start_operator()
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    assert status["attempts"] == 1
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]


def test_restart_while_the_job_runs_finishes_once(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    operator = start_operator()
    apply(tb.manifest())
    tb.running_pod(kubectl, namespace, "nightly-1")
    tb.wait_phase(kubectl, namespace, "nightly", "Running")
    operator.kill()
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    wait_for(
        lambda: tb.get(kubectl, namespace, "job", "nightly-1")["status"].get("succeeded"),
        30,
        "Job never completed",
    )
    assert tb.status(kubectl, namespace, "nightly")["phase"] == "Running"
    operator.start()
    status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    assert status["attempts"] == 1
    assert len(status["attemptHistory"]) == 1
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]


def test_a_deleted_job_counts_as_a_failed_attempt(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    tb.running_pod(kubectl, namespace, "nightly-1")
    tb.wait_phase(kubectl, namespace, "nightly", "Running")
    kubectl("delete", "-n", namespace, "job", "nightly-1", "--wait=true")
    tb.running_pod(kubectl, namespace, "nightly-2")
    status = tb.status(kubectl, namespace, "nightly")
    assert status["attemptHistory"][0]["reason"] == "JobDeleted"
    assert status["attempts"] == 2


def test_deadline_exceeded_is_permanent(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    start_operator()
    apply(tb.manifest(timeouts={"activeDeadlineSeconds": 10}))
    tb.running_pod(kubectl, namespace, "nightly-1")
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed", timeout=60)
    assert (status["reason"], status["attempts"]) == ("DeadlineExceeded", 1)


def test_deleting_the_backup_removes_its_jobs(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    tb.running_pod(kubectl, namespace, "nightly-1")
    kubectl("delete", "-n", namespace, "tb", "nightly", "--timeout=30s")
    wait_for(lambda: tb.job_names(kubectl, namespace) == [], 60, "Jobs outlived their TenantBackup")
