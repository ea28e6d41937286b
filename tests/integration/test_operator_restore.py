"""TenantRestore on a real API server, its Jobs' pods run for real (`tenant-backup restore`
against the real PostgreSQL, the claim's files and a real MinIO): a new tenant name from a PVC
and from an S3 backup, refused when the schema exists; Replace under a reader that never sees
an error, the previous schema kept, a backup of the tenant and the tenant's schedule waiting
meanwhile; Verify leaving the target untouched; a corrupted artifact failing as
ChecksumMismatch; admission of what a restore may ask."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.integration.test_operator_s3 import create_s3_secret, s3_destination
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.s3_fixtures import Bucket
from tests.support.schedules import schedule_manifest

Apply = Callable[..., Any]
RESTORE_SECRET = tb.RESTORE_SECRET_NAME
COUNT = "SELECT count(*) FROM tenant_acme.customers"


restore_manifest = tb.tenant_restore
wait_restore = tb.wait_restore


def restore_status(kubectl: KubectlRunner, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = tb.get(kubectl, namespace, "tenantrestore", name).get("status", {})
    return found


def restore_events(kubectl: KubectlRunner, namespace: str) -> list[str]:
    return [
        event["reason"]
        for event in tb.items(kubectl, namespace, "events")
        if event["involvedObject"]["kind"] == "TenantRestore"
    ]


def rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn()) as conn:
        return conn.execute(query).fetchall()


def schemas(db: Database) -> set[str]:
    return {row[0] for row in rows(db, "SELECT nspname FROM pg_namespace")}


def databases(db: Database) -> set[str]:
    return {row[0] for row in rows(db, "SELECT datname FROM pg_database")}


@pytest.fixture
def backed_up(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    claim_dir: Path,
    tmp_path: Path,
) -> dict[str, Any]:
    """A running operator, Secrets `pg-app` and `pg-restore` for `tenant_db`, and TenantBackup
    `nightly` of acme Succeeded in the claim; its status."""
    secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator()
    apply(tb.manifest())
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    return tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")


def run_restore(
    kubectl: KubectlRunner, namespace: str, job: str, db: Database, claim: Path, work: Path
) -> None:
    """Run Job `job`'s restore container for real with the `pg-restore` credentials."""
    creds = db.server.superuser
    secret = {
        "host": db.server.pod_host,
        "port": str(db.server.port),
        "dbname": db.dbname,
        "username": creds.user,
        "password": creds.password,
    }
    tb.run_real_attempt(kubectl, namespace, job, secret, claim, work)


@contextmanager
def reader(db: Database) -> Iterator[list[BaseException]]:
    """Query the tenant in a loop until the block ends; the errors it met."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        with psycopg.connect(db.dsn(), autocommit=True) as conn:
            while not stop.is_set():
                try:
                    conn.execute(COUNT).fetchone()
                except psycopg.Error as error:
                    errors.append(error)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        stop.set()
        thread.join(timeout=30)


def test_create_new_from_a_pvc_backup_then_refused_when_the_schema_exists(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    tenant_db: Database,
    backed_up: dict[str, Any],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    customers = rows(tenant_db, COUNT)[0][0]
    check = {"name": "customers", "sql": "SELECT count(*) FROM customers", "expect": f"{customers}"}
    apply(restore_manifest("copy", {"backupRef": {"name": "nightly"}}, checks=[check]))
    run_restore(kubectl, namespace, "copy-1-restore", tenant_db, claim_dir, tmp_path)
    status = wait_restore(kubectl, namespace, "copy", "Succeeded")
    assert status["targetSchema"] == "tenant_acme_copy"
    assert status["source"]["backup"] == "nightly"
    assert status["source"]["sha256"] == backed_up["artifact"]["sha256"]
    assert status["step"] == "Swapping"
    assert status["tables"] > 0
    assert status["checks"] == [
        {"name": "customers", "passed": True, "value": f"{customers}", "expected": f"{customers}"}
    ]
    assert status["duration"]
    copied = rows(tenant_db, "SELECT id, name, email FROM tenant_acme_copy.customers ORDER BY id")
    assert copied == rows(
        tenant_db, "SELECT id, name, email FROM tenant_acme.customers ORDER BY id"
    )
    assert {"JobCreated", "Succeeded"} <= set(restore_events(kubectl, namespace))

    apply(restore_manifest("again", {"backupRef": {"name": "nightly"}}))
    run_restore(kubectl, namespace, "again-1-restore", tenant_db, claim_dir, tmp_path)
    refused = wait_restore(kubectl, namespace, "again", "Failed")
    assert (refused["reason"], refused["step"]) == ("TargetExists", "Downloading")
    missing = restore_manifest("nothing", {"backupRef": {"name": "no-such-backup"}})
    apply(missing)
    gone = wait_restore(kubectl, namespace, "nothing", "Failed")
    assert gone["reason"] == "SourceNotFound"
    assert "no-such-backup" in gone["message"]
    assert "nothing-1-restore" not in tb.job_names(kubectl, namespace)


def test_replace_swaps_under_a_reader_while_a_backup_and_the_schedule_wait(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    tenant_db: Database,
    backed_up: dict[str, Any],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    names = "SELECT id, name FROM {}.customers ORDER BY id"
    before = rows(tenant_db, names.format("tenant_acme"))
    tenant_db.server.execute("UPDATE tenant_acme.customers SET name = 'changed'", tenant_db.dbname)
    apply(schedule_manifest("yearly", "0 0 1 1 *", ["acme"], {"keepLast": 1}))
    replace = restore_manifest(
        "undo",
        {"backupRef": {"name": "nightly"}},
        target={"database": {"secretRef": {"name": RESTORE_SECRET}}, "tenant": "acme"},
        mode="Replace",
        confirm="acme",
        keepPreviousFor="1h",
    )
    apply(replace)
    tb.running_pod(kubectl, namespace, "undo-1-restore")
    wait_for(
        lambda: restore_status(kubectl, namespace, "undo").get("pausedSchedules") == ["yearly"],
        30,
        "the restore to list the schedule it pauses",
    )

    apply(tb.manifest(name="later"))
    wait_for(
        lambda: tb.status(kubectl, namespace, "later").get("reason") == "Queued",
        30,
        "the backup to queue behind the restore",
    )
    queued = tb.status(kubectl, namespace, "later")
    assert queued["message"] == "queued: another restore of tenant acme is running", queued
    assert "later-1" not in tb.job_names(kubectl, namespace)

    with reader(tenant_db) as errors:
        run_restore(kubectl, namespace, "undo-1-restore", tenant_db, claim_dir, tmp_path)
        status = wait_restore(kubectl, namespace, "undo", "Succeeded")
    assert errors == []
    assert rows(tenant_db, names.format("tenant_acme")) == before
    previous = status["previousSchema"]
    assert previous.startswith("tbr_prev_")
    assert status["previousKeptUntil"]
    assert {name for _, name in rows(tenant_db, names.format(previous))} == {"changed"}
    tb.running_pod(kubectl, namespace, "later-1")  # the slot freed: the backup starts


def test_admission_of_restores(apply: Apply) -> None:
    source = {"backupRef": {"name": "nightly"}}
    target = {"database": {"secretRef": {"name": RESTORE_SECRET}}, "tenant": "acme"}
    unconfirmed = apply(
        restore_manifest("a", source, target=target, mode="Replace", confirm="acm"), check=False
    )
    assert "confirm equal to it" in unconfirmed.stderr
    unnamed = restore_manifest("b", source, mode="Replace", confirm="acme")
    unnamed["spec"]["target"] = {"database": {"secretRef": {"name": RESTORE_SECRET}}}
    assert "target.tenant named" in apply(unnamed, check=False).stderr
    both = {**source, "latestOf": {"schedule": "nightly", "tenant": "acme"}}
    assert "exactly one source" in apply(restore_manifest("c", both), check=False).stderr
    verify_db = restore_manifest("d", source, verifyDatabase="scratch")
    assert "only for mode Verify" in apply(verify_db, check=False).stderr
    twice = [{"name": "n", "sql": "SELECT 1", "expect": "1"}] * 2
    assert (
        "names must differ"
        in apply(restore_manifest("e", source, checks=twice), check=False).stderr
    )
    apply(restore_manifest("f", source))
    changed = restore_manifest("f", source, mode="Verify")
    assert "immutable" in apply(changed, check=False).stderr


def test_verify_restores_into_a_scratch_database_and_leaves_the_target_untouched(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    tenant_db: Database,
    backed_up: dict[str, Any],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    before_schemas, before_databases = schemas(tenant_db), databases(tenant_db)
    check = {"name": "one", "sql": "SELECT count(*) > 0 FROM customers", "expect": "t"}
    apply(restore_manifest("drill", {"backupRef": {"name": "nightly"}}, mode="Verify",
                           checks=[check]))  # fmt: skip
    run_restore(kubectl, namespace, "drill-1-restore", tenant_db, claim_dir, tmp_path)
    status = wait_restore(kubectl, namespace, "drill", "Succeeded")
    assert status["database"].startswith("tbr_verify_")
    assert status["checks"][0]["passed"] is True
    assert schemas(tenant_db) == before_schemas
    assert databases(tenant_db) == before_databases


def test_a_corrupted_artifact_fails_as_checksum_mismatch_touching_nothing(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    tenant_db: Database,
    backed_up: dict[str, Any],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    artifact = tb.artifact_file(claim_dir, backed_up["artifact"]["url"])
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    before = schemas(tenant_db)
    apply(restore_manifest("bad", {"backupRef": {"name": "nightly"}}))
    run_restore(kubectl, namespace, "bad-1-restore", tenant_db, claim_dir, tmp_path)
    status = wait_restore(kubectl, namespace, "bad", "Failed")
    assert (status["reason"], status["step"]) == ("ChecksumMismatch", "Downloading")
    assert schemas(tenant_db) == before


def test_create_new_from_an_s3_backup_by_latest_of_a_schedule(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    db_secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    s3 = create_s3_secret(kubectl, namespace, bucket)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator()
    backup = tb.manifest(destination=s3_destination(bucket))
    backup["metadata"]["labels"] = {"tenantbackup.dev/schedule": "hourly"}
    apply(backup)
    tb.run_real_attempt(kubectl, namespace, "nightly-1", db_secret | s3, tmp_path, tmp_path)
    url = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")["artifact"]["url"]
    apply(restore_manifest("copy", {"latestOf": {"schedule": "hourly", "tenant": "acme"}}))
    pod = tb.running_pod(kubectl, namespace, "copy-1-restore")
    assert "AWS_SECRET_ACCESS_KEY" in str(pod["spec"]["containers"][0]["env"])
    creds = tenant_db.server.superuser
    restore_secret = db_secret | {"username": creds.user, "password": creds.password}
    tb.run_real_attempt(kubectl, namespace, "copy-1-restore", restore_secret | s3, tmp_path,
                        tmp_path)  # fmt: skip
    status = wait_restore(kubectl, namespace, "copy", "Succeeded")
    assert (status["source"]["backup"], status["source"]["url"]) == ("nightly", url)
    assert rows(tenant_db, "SELECT count(*) FROM tenant_acme_copy.customers") == rows(
        tenant_db, COUNT
    )
