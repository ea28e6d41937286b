"""The dump Job, field by field: argv, Secret wiring, security, ownership, deadlines."""

from typing import Any

import pytest

from tenant_backup.backup.destination import plan_destination
from tenant_backup.backup.job import build_job
from tenant_backup.core import naming
from tenant_backup.settings import Settings
from tests.support.factories import UID, backup

SETTINGS = Settings(image="registry.local/tbo:1", job_ttl_seconds=600, run_as_user=65532)


def container(job: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_job_identity_owner_and_labels() -> None:
    job = build_job(backup(), 2, SETTINGS)
    meta = job["metadata"]
    assert meta["name"] == "nightly-2"
    assert meta["namespace"] == "team-a"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "tenantbackup.dev/v1alpha1",
            "kind": "TenantBackup",
            "name": "nightly",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "tenant-backup-operator",
        "tenantbackup.dev/backup": "nightly",
        "tenantbackup.dev/backup-uid": UID,
        "tenantbackup.dev/tenant": "acme",
        "tenantbackup.dev/attempt": "2",
    }
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]


def test_job_runs_once_with_deadline_and_ttl() -> None:
    job = build_job(backup(timeouts={"activeDeadlineSeconds": 900}), 1, SETTINGS)
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 900
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_argv_holds_no_secret_and_exact_options() -> None:
    tb = backup(dump={"format": "plain", "compression": "gzip", "compressionLevel": 4})
    argv = container(build_job(tb, 1, SETTINGS))["command"]
    path = "/backup/nightly/acme/acme-20261125T120000Z-0a1b2c3d.sql.gz"
    assert argv == [
        "tenant-backup",
        "dump",
        "--tenant=acme",
        f"--output={path}",
        "--artifact-url=pvc://backups/nightly/acme/acme-20261125T120000Z-0a1b2c3d.sql.gz",
        "--format=plain",
        "--compression=gzip",
        "--lock-wait-timeout-seconds=60",
        "--verify=toc",
        "--compression-level=4",
    ]


def test_credentials_come_only_from_the_secret() -> None:
    env = {e["name"]: e for e in container(build_job(backup(), 1, SETTINGS))["env"]}
    for variable, key in [
        ("PGHOST", "host"),
        ("PGDATABASE", "dbname"),
        ("PGUSER", "username"),
        ("PGPASSWORD", "password"),
    ]:
        assert env[variable] == {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": "pg-app", "key": key, "optional": False}},
        }
    assert env["PGPORT"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["PGSSLMODE"] == {"name": "PGSSLMODE", "value": "prefer"}
    assert all("value" not in e for name, e in env.items() if name.startswith("PGPASS"))


def test_pod_is_locked_down() -> None:
    job = build_job(backup(), 1, SETTINGS)
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(job)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(job)["image"] == "registry.local/tbo:1"


def test_pvc_is_mounted_where_the_runner_writes() -> None:
    job = build_job(backup(), 1, SETTINGS)
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "destination", "persistentVolumeClaim": {"claimName": "backups"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    assert container(job)["volumeMounts"] == [
        {"name": "destination", "mountPath": "/backup"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    output = next(a for a in container(job)["command"] if a.startswith("--output="))
    assert output.startswith("--output=/backup/nightly/acme/")


def test_artifact_name_is_stable_across_attempts_and_distinct_per_backup() -> None:
    one = plan_destination(backup())
    assert plan_destination(backup()) == one
    other = backup(tenant="globex")
    assert plan_destination(other).args != one.args


@pytest.mark.parametrize(("name", "attempt"), [("a" * 63, 1), ("b" * 60, 10), ("short", 3)])
def test_job_names_fit_63_characters(name: str, attempt: int) -> None:
    job_name = naming.job_name(name, attempt)
    assert len(job_name) <= 63
    assert job_name.endswith(f"-{attempt}")
    assert naming.job_name(name, attempt) == job_name


def test_long_names_that_share_a_prefix_get_distinct_jobs() -> None:
    assert naming.job_name("a" * 62 + "b", 1) != naming.job_name("a" * 62 + "c", 1)
