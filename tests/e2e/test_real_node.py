"""End to end on a real node: the chart's operator pod runs real dump Jobs (the image's
pg_dump) against PostgreSQL on the host, into a hostPath-backed claim."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg

from devenv import operator_release, pgclients
from devenv.kubectl import KubectlRunner
from devenv.node_cluster import NodeCluster
from devenv.postgres import PostgresServer
from devenv.restore import restore, row_counts
from devenv.tenants import Database, clone_tenants, create_tenant_template
from devenv.waiting import wait_for
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION
from tests.e2e.conftest import Apply
from tests.support import backups as tb
from tests.support.schedules import runs, schedule_manifest, schedule_status

SCHEMA = "tenant_acme"
BACKUP_TIMEOUT = 180


def _artifacts(claim_dir: Path) -> list[Path]:
    return sorted(path for path in claim_dir.rglob("*") if path.is_file())


def test_backup_succeeds_and_its_artifact_restores(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
    pod_postgres: PostgresServer,
) -> None:
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    node_apply(tb.manifest())
    status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)

    assert status["attempts"] == 1
    assert status["source"]["pgDumpVersion"].startswith("15.")
    (pod,) = tb.items(
        node_kubectl, node_namespace, "pods", "batch.kubernetes.io/job-name=nightly-1"
    )
    assert pod["spec"]["nodeName"] == node_cluster.node.name
    assert pod["status"]["containerStatuses"][0]["imageID"]  # pulled from containerd, not faked
    archive = tb.artifact_file(node_claim, status["artifact"]["url"])
    assert _artifacts(node_claim) == [archive]
    assert archive.stat().st_size == status["artifact"]["sizeBytes"]

    pod_postgres.create_database("restored_ok")
    try:
        restore(archive, "custom", "zstd", pod_postgres.dsn("restored_ok"))
        restored = row_counts(pod_postgres.dsn("restored_ok"), SCHEMA)
    finally:
        pod_postgres.drop_database("restored_ok")
    expected = row_counts(source_db.dsn(), SCHEMA)
    assert sorted(expected) == ["customers", "order_items", "orders", "secrets"]
    assert all(expected.values())
    assert restored == expected


def test_an_18_server_is_dumped_by_the_images_own_pg_dump_18(
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    pod_postgres18: PostgresServer,
) -> None:
    roles = create_tenant_template(pod_postgres18)
    source = clone_tenants(pod_postgres18, roles, "e2e18")
    tb.create_db_secret(node_kubectl, node_namespace, source)
    node_apply(tb.manifest())
    status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)

    assert status["source"]["serverVersion"].startswith("18.")
    assert status["source"]["pgDumpVersion"].startswith("18.")
    archive = tb.artifact_file(node_claim, status["artifact"]["url"])
    pod_postgres18.create_database("restored_18")
    try:
        restore(archive, "custom", "zstd", pod_postgres18.dsn("restored_18"),
                pgclients.pg_root() / "18" / "bin")  # fmt: skip
        restored = row_counts(pod_postgres18.dsn("restored_18"), SCHEMA)
    finally:
        pod_postgres18.drop_database("restored_18")
    expected = row_counts(source.dsn(), SCHEMA)
    assert all(expected.values())
    assert restored == expected


def test_a_backup_restores_into_a_new_tenant_by_a_real_restore_pod(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
) -> None:
    allowed = f"{ALLOWED_TENANTS_ANNOTATION}=acme,acme_copy"
    node_kubectl("annotate", "--overwrite", "namespace", node_namespace, allowed)
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    tb.create_restore_secret(node_kubectl, node_namespace, source_db)
    node_apply(tb.manifest())
    tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)
    node_apply(tb.tenant_restore("copy", {"backupRef": {"name": "nightly"}}))
    try:
        status = tb.wait_restore(node_kubectl, node_namespace, "copy", "Succeeded", BACKUP_TIMEOUT)
        (pod,) = tb.items(
            node_kubectl, node_namespace, "pods", "batch.kubernetes.io/job-name=copy-1-restore"
        )
        assert pod["spec"]["nodeName"] == node_cluster.node.name
        assert status["targetSchema"] == "tenant_acme_copy"
        assert row_counts(source_db.dsn(), "tenant_acme_copy") == row_counts(
            source_db.dsn(), SCHEMA
        )
    finally:
        with psycopg.connect(source_db.dsn(), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS tenant_acme_copy CASCADE")


def test_stopped_database_is_retried_then_fails_unavailable(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
) -> None:
    stopped = PostgresServer(pods=node_cluster.node.network)
    try:
        stopped.start()
        stopped.stop()
        secret = {"host": stopped.pod_host, "port": str(stopped.port), "dbname": "postgres",
                  "username": "postgres", "password": stopped.superuser.password}  # fmt: skip
        tb.create_secret(node_kubectl, node_namespace, tb.SECRET_NAME, secret)
        retry = {"maxAttempts": 2, "backoffSeconds": 1, "maxBackoffSeconds": 1}
        node_apply(tb.manifest(retry=retry))
        status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Failed", BACKUP_TIMEOUT)
    finally:
        stopped.destroy()

    assert status["reason"] == "DatabaseUnavailable"
    assert status["attempts"] == 2
    assert [(a["attempt"], a["reason"]) for a in status["attemptHistory"]] == [
        (1, "DatabaseUnavailable"),
        (2, "DatabaseUnavailable"),
    ]
    assert tb.job_names(node_kubectl, node_namespace) == ["nightly-1", "nightly-2"]
    assert _artifacts(node_claim) == []


def _pg_dump_waiting_for_lock(db: Database) -> bool:
    """Whether pg_dump itself waits for its table lock. The runner's size estimate waits for
    the same lock for a second before pg_dump even connects: that is not mid-backup yet."""
    with psycopg.connect(db.dsn()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND wait_event_type = 'Lock' AND query ILIKE 'LOCK TABLE%%'",
            [db.dbname],
        ).fetchone()
    return bool(row and row[0])


def _running_operator_pod(node_cluster: NodeCluster, not_named: str = "") -> str | None:
    for pod in operator_release.operator_pods(node_cluster.cluster):
        ready = any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
        if (
            ready
            and pod["metadata"]["name"] != not_named
            and not pod["metadata"].get("deletionTimestamp")
        ):
            return str(pod["metadata"]["name"])
    return None


def _leader_other_than(node_cluster: NodeCluster, old: str) -> str | None:
    holder = operator_release.leader(node_cluster.cluster)
    return holder if holder not in ("", old) else None


def test_leader_pod_deleted_mid_backup_hands_over_and_the_backup_finishes_once(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
) -> None:
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    with psycopg.connect(source_db.dsn()) as locker:  # pg_dump waits for this lock
        locker.execute(f"LOCK TABLE {SCHEMA}.orders IN ACCESS EXCLUSIVE MODE")
        node_apply(tb.manifest(timeouts={"lockWaitTimeoutSeconds": 240}))
        wait_for(lambda: _pg_dump_waiting_for_lock(source_db), 120, "pg_dump to wait for the lock")
        old = operator_release.leader(node_cluster.cluster)
        standby = _running_operator_pod(node_cluster, not_named=old)
        assert old, "no operator pod holds the Lease"
        assert standby is not None, "no standby replica"
        node_kubectl("delete", "pod", "-n", operator_release.NAMESPACE, old, "--wait=false")
        deleted = time.monotonic()
        # The old leader hands the Lease over as it stops: whichever replica asks first takes
        # it, the standby or (as often) the deleted pod's replacement starting up.
        successor = wait_for(
            lambda: _leader_other_than(node_cluster, old),
            30,
            lambda: f"no replica took over: {operator_release.leader(node_cluster.cluster)!r}",
        )
        handover = time.monotonic() - deleted
        print(f"leader pod deleted: {successor} took the Lease after {handover:.1f} s")
        wait_for(
            lambda: _running_operator_pod(node_cluster, not_named=successor) not in (None, old),
            120,
            "a second replica besides the new leader",
        )
        assert tb.status(node_kubectl, node_namespace, "nightly")["phase"] == "Running"
        locker.rollback()  # release: the dump proceeds

    status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)
    assert operator_release.leader(node_cluster.cluster) == successor
    assert status["attempts"] == 1, json.dumps(status["attemptHistory"], indent=1)
    assert tb.job_names(node_kubectl, node_namespace) == ["nightly-1"]
    (archive,) = _artifacts(node_claim)
    assert tb.artifact_file(node_claim, status["artifact"]["url"]) == archive


def test_deleting_a_delete_policy_backup_removes_its_file_with_a_real_prune_pod(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
) -> None:
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    node_apply(tb.manifest(deletionPolicy="Delete"))
    status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)
    archive = tb.artifact_file(node_claim, status["artifact"]["url"])
    assert _artifacts(node_claim) == [archive]

    node_kubectl("delete", "-n", node_namespace, "tb", "nightly", "--wait=false")
    prune_pods = "batch.kubernetes.io/job-name=nightly-1-prune"

    def scheduled_prune_pods() -> list[dict[str, Any]]:
        # The pod exists a moment before the scheduler binds it to the node.
        pods = tb.items(node_kubectl, node_namespace, "pods", prune_pods)
        return [pod for pod in pods if pod["spec"].get("nodeName")]

    (pod,) = wait_for(scheduled_prune_pods, BACKUP_TIMEOUT, "no prune pod on the node")
    assert pod["spec"]["nodeName"] == node_cluster.node.name
    wait_for(
        lambda: not tb.items(node_kubectl, node_namespace, "tenantbackups"),
        BACKUP_TIMEOUT,
        "the backup outlived its artifact's deletion",
    )
    assert _artifacts(node_claim) == []
    assert "ArtifactDeleted" in tb.event_reasons(node_kubectl, node_namespace)


def test_a_schedule_runs_on_the_real_node_and_retention_prunes_with_a_real_pod(
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
) -> None:
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    node_apply(schedule_manifest("minutely", "* * * * *", ["acme"], {"keepLast": 1}))

    def succeeded_runs() -> list[dict[str, Any]]:
        found = [
            run
            for run in runs(node_kubectl, node_namespace, "minutely")
            if run.get("status", {}).get("phase") == "Succeeded"
        ]
        return sorted(found, key=lambda run: run["metadata"]["creationTimestamp"])

    first = wait_for(lambda: succeeded_runs()[:1], 60 + BACKUP_TIMEOUT, "the first run")[0]
    first_file = tb.artifact_file(node_claim, first["status"]["artifact"]["url"])
    assert first_file.is_file()
    name = first["metadata"]["name"]
    wait_for(lambda: len(succeeded_runs()) >= 2 or None, 60 + BACKUP_TIMEOUT, "the second run")
    # keepLast 1: the first run goes, its file deleted by a prune pod (only a pod mounts it).
    wait_for(
        lambda: name not in [run["metadata"]["name"] for run in succeeded_runs()],
        BACKUP_TIMEOUT,
        "retention to prune the first run",
    )
    assert not first_file.exists()
    (kept,) = succeeded_runs()
    assert tb.artifact_file(node_claim, kept["status"]["artifact"]["url"]).is_file()
    status = schedule_status(node_kubectl, node_namespace, "minutely")
    assert status["tenants"][0]["pruned"] == 1
    assert status["tenants"][0]["lastSuccess"]["name"] == kept["metadata"]["name"]
