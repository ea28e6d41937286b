"""What Flux (and kpt, Config Sync) and Argo CD see: the kstatus library itself
(`sigs.k8s.io/cli-utils/pkg/kstatus/status`, tools/kstatus) and the chart's Argo CD Lua check,
on TenantBackups, TenantRestores and TenantBackupSchedules read from the real API server in
each phase, moved there by a real operator: Pending and Running are InProgress/Progressing,
Succeeded Current/Healthy, Failed Failed/Degraded; a healthy schedule Current/Healthy, an
invalid one Failed/Degraded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv import kstatus
from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tests.integration.test_operator_restore import run_restore
from tests.support import backups as tb
from tests.support.argocd_health import health
from tests.support.operator_fixtures import StartOperator
from tests.support.schedules import schedule_manifest, schedule_status

Apply = Callable[..., Any]
ARGO = {"InProgress": "Progressing", "Current": "Healthy", "Failed": "Degraded"}


def backup(name: str) -> dict[str, Any]:
    """TenantBackup `name` of acme to the claim, one attempt."""
    manifest = tb.manifest()
    manifest["metadata"]["name"] = name
    manifest["spec"]["retry"] = {"maxAttempts": 1}
    return manifest


def read(kubectl: KubectlRunner, namespace: str, resource: str, name: str) -> dict[str, Any]:
    return tb.get(kubectl, namespace, resource, name)


def judged_schedule(kubectl: KubectlRunner, namespace: str, name: str) -> dict[str, Any]:
    """Schedule `name` once the operator has written its conditions."""
    wait_for(lambda: schedule_status(kubectl, namespace, name).get("conditions"), 30, name)
    return read(kubectl, namespace, "tbs", name)


def assert_seen_as(body: dict[str, Any], expected: str) -> None:
    """kstatus calls `body` `expected`, and Argo CD's Lua check agrees."""
    [verdict] = kstatus.verdicts([body])
    name, status = body["metadata"]["name"], body.get("status", {})
    assert verdict.status == expected, (name, verdict, status)
    argo, message = health(body)
    assert argo == ARGO[expected], (name, argo, message, status)
    if expected == "Failed":  # the operator's reason reaches both
        stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
        assert verdict.message == stalled["message"]
        assert stalled["reason"] in message or stalled["message"] in message


def test_every_phase_of_every_kind(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator(max_running_jobs="1")  # a second Job waits: Pending (Queued)

    apply(backup("first"))
    tb.running_pod(kubectl, namespace, "first-1")
    apply(backup("second"))
    assert tb.wait_phase(kubectl, namespace, "second", "Pending")["reason"] == Reason.QUEUED
    assert tb.wait_phase(kubectl, namespace, "first", "Running")
    assert_seen_as(read(kubectl, namespace, "tb", "first"), "InProgress")
    assert_seen_as(read(kubectl, namespace, "tb", "second"), "InProgress")

    tb.run_real_attempt(kubectl, namespace, "first-1", secret, claim_dir, tmp_path)
    tb.wait_phase(kubectl, namespace, "first", "Succeeded")
    assert_seen_as(read(kubectl, namespace, "tb", "first"), "Current")

    tb.wait_phase(kubectl, namespace, "second", "Running")
    apply(tb.tenant_restore("copy", {"backupRef": {"name": "first"}}))
    assert tb.wait_restore(kubectl, namespace, "copy", "Pending")["reason"] == Reason.QUEUED
    assert_seen_as(read(kubectl, namespace, "tenantrestore", "copy"), "InProgress")
    tb.fail_attempt(kubectl, namespace, "second-1", Reason.PERMISSION_DENIED)
    tb.wait_phase(kubectl, namespace, "second", "Failed")
    assert_seen_as(read(kubectl, namespace, "tb", "second"), "Failed")

    tb.running_pod(kubectl, namespace, "copy-1-restore")
    tb.wait_restore(kubectl, namespace, "copy", "Running")
    assert_seen_as(read(kubectl, namespace, "tenantrestore", "copy"), "InProgress")
    run_restore(kubectl, namespace, "copy-1-restore", tenant_db, claim_dir, tmp_path)
    tb.wait_restore(kubectl, namespace, "copy", "Succeeded")
    assert_seen_as(read(kubectl, namespace, "tenantrestore", "copy"), "Current")
    apply(tb.tenant_restore("nothing", {"backupRef": {"name": "no-such-backup"}}))
    tb.wait_restore(kubectl, namespace, "nothing", "Failed")
    assert_seen_as(read(kubectl, namespace, "tenantrestore", "nothing"), "Failed")

    apply(schedule_manifest("nightly", "0 2 * * *", ["acme"]))
    invalid = schedule_manifest("broken", "0 2 * * *", ["acme"])
    invalid["spec"]["timeZone"] = "Mars/Olympus_Mons"
    apply(invalid)
    assert_seen_as(judged_schedule(kubectl, namespace, "nightly"), "Current")
    assert_seen_as(judged_schedule(kubectl, namespace, "broken"), "Failed")
