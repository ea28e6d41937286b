"""Retention on the real API server with real artifacts: a schedule prunes its runs by its
policy (the artifacts first: real MinIO objects and their sidecars, deleted by the real runner
in prune Jobs), never its newest good backup while newer runs fail, never a retained one, and
nothing at all in dry-run.

The runs here are TenantBackups labelled with the schedule (as the schedule's own runs are,
and as it adopts them), created one by one so their order is known; the schedule's cron is
yearly, so only retention acts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.core import naming
from tests.integration.test_operator_s3 import create_s3_secret, s3_destination
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.pod_runner import pods_run
from tests.support.s3_fixtures import Bucket
from tests.support.schedules import schedule_manifest, schedule_status

Apply = Callable[..., Any]
SCHEDULE = "keep"


def run_manifest(bucket: Bucket, name: str, secret: str = tb.SECRET_NAME, **labels: str) -> Any:
    manifest = tb.manifest(
        name=name,
        secret_name=secret,
        destination=s3_destination(bucket),
        retry={"maxAttempts": 1},
    )
    manifest["metadata"]["labels"] = {
        naming.LABEL_SCHEDULE: SCHEDULE,
        naming.LABEL_TENANT: "acme",
        **labels,
    }
    return manifest


def test_retention_prunes_real_artifacts_keeps_the_last_good_one_and_dry_run_deletes_nothing(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    create_s3_secret(kubectl, namespace, bucket)
    start_operator()
    with pods_run(kubectl, namespace, None, tmp_path) as runner:
        # Oldest first: a retained success, two successes, then two failures (no Secret).
        order = [("kept-by-label", "Succeeded"), ("good-1", "Succeeded"), ("good-2", "Succeeded")]
        order += [("broken-1", "Failed"), ("broken-2", "Failed")]
        for name, phase in order:
            retained = {naming.LABEL_RETAIN: "true"} if name == "kept-by-label" else {}
            secret = "absent" if phase == "Failed" else tb.SECRET_NAME
            apply(run_manifest(bucket, name, secret, **retained))
            tb.wait_phase(kubectl, namespace, name, phase, timeout=90)
            time.sleep(1.1)  # distinct creation seconds: the order retention sees
        artifacts = {
            name: tb.status(kubectl, namespace, name)["artifact"]["url"]
            for name, phase in order
            if phase == "Succeeded"
        }
        keys_before = bucket.keys()
        assert len(keys_before) == 2 * 3  # each artifact and its sidecar

        retention = {"keepLast": 1, "failedHistoryLimit": 1, "dryRun": True}
        apply(schedule_manifest(SCHEDULE, "0 0 1 1 *", ["acme"], retention, bucket=bucket))

        def dry_run_shown() -> dict[str, Any] | None:
            status = schedule_status(kubectl, namespace, SCHEDULE)
            tenants = status.get("tenants") or []
            return tenants[0] if tenants and tenants[0].get("nextToGo") else None

        acme = wait_for(dry_run_shown, 60, "the dry run's verdict in status")
        assert acme["nextToGo"] == ["broken-1", "good-1"]
        assert acme["kept"] == 2  # good-2 (newest success) and kept-by-label
        assert acme["lastSuccess"]["name"] == "good-2"
        time.sleep(3)
        assert bucket.keys() == keys_before, "dry run deleted something"
        assert sorted(item["metadata"]["name"] for item in tb.items(kubectl, namespace, "tb")) == (
            sorted(name for name, _ in order)
        )

        kubectl(
            "patch",
            "-n",
            namespace,
            "tbs",
            SCHEDULE,
            "--type=merge",
            "-p",
            '{"spec": {"retention": {"dryRun": false}}}',
        )

        def names() -> list[str]:
            return sorted(item["metadata"]["name"] for item in tb.items(kubectl, namespace, "tb"))

        wait_for(
            lambda: names() == ["broken-2", "good-2", "kept-by-label"],
            120,
            "retention to prune good-1 and broken-1",
        )
        assert any(pod.startswith("good-1") for pod in runner.ran), runner.ran
    remaining = bucket.keys()
    assert artifacts["good-1"].removeprefix(f"s3://{bucket.name}/") not in remaining
    assert len(remaining) == 2 * 2, remaining  # good-2 and kept-by-label, with sidecars
    status = schedule_status(kubectl, namespace, SCHEDULE)
    assert status["pruned"] == 2
    assert status["tenants"][0]["pruned"] == 2
    assert "Pruned" in [
        event["reason"]
        for event in tb.items(kubectl, namespace, "events")
        if event["involvedObject"]["kind"] == "TenantBackupSchedule"
    ]
