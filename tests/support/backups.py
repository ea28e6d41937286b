"""Test-side helpers for TenantBackups: the objects they need, and reading their state."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.support.cluster import KubectlRunner
from tests.support.postgres_fixtures import Database
from tests.support.waiting import wait_for

SECRET_NAME = "pg-app"
CLAIM_NAME = "backups"


def create_db_secret(kubectl: KubectlRunner, namespace: str, db: Database) -> dict[str, str]:
    """A Secret in the CloudNativePG app-Secret layout for the backup role; returns its data."""
    data = {
        "host": db.server.host,
        "port": str(db.server.port),
        "dbname": db.dbname,
        "username": db.backup.user,
        "password": db.backup.password,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }
    kubectl("apply", "-f", "-", input=json.dumps(secret))
    return data


def create_bound_claim(kubectl: KubectlRunner, namespace: str, host_dir: Path) -> Path:
    """A hostPath PersistentVolume pre-bound to claim `backups`; returns the host directory."""
    host_dir.mkdir(parents=True, exist_ok=True)
    storage_class = f"manual-{namespace}"
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pv-{namespace}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "hostPath": {"path": str(host_dir)},
            "claimRef": {"namespace": namespace, "name": CLAIM_NAME},
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": CLAIM_NAME, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [volume, claim]}),
    )
    wait_for(
        lambda: (
            kubectl(
                "get", "-n", namespace, "pvc", CLAIM_NAME, "-o", "jsonpath={.status.phase}"
            ).stdout
            == "Bound"
        ),
        30,
        "claim never bound",
    )
    return host_dir


def get(kubectl: KubectlRunner, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """One object as JSON."""
    result: dict[str, Any] = json.loads(
        kubectl("get", "-n", namespace, kind, name, "-o", "json").stdout
    )
    return result


def items(
    kubectl: KubectlRunner, namespace: str, kind: str, *selector: str
) -> list[dict[str, Any]]:
    """Objects of a kind in the namespace, optionally by label selector."""
    args = ["get", "-n", namespace, kind, "-o", "json", *(["-l", *selector] if selector else [])]
    found: list[dict[str, Any]] = json.loads(kubectl(*args).stdout)["items"]
    return found


def status(kubectl: KubectlRunner, namespace: str, name: str) -> dict[str, Any]:
    """A TenantBackup's status (empty until the operator writes one)."""
    found: dict[str, Any] = get(kubectl, namespace, "tenantbackup", name).get("status", {})
    return found


def wait_phase(
    kubectl: KubectlRunner, namespace: str, name: str, phase: str, timeout: float = 60
) -> dict[str, Any]:
    """Wait until the TenantBackup reaches `phase`; returns its status."""

    def reached() -> dict[str, Any] | None:
        current = status(kubectl, namespace, name)
        return current if current.get("phase") == phase else None

    found: dict[str, Any] = wait_for(
        reached,
        timeout,
        lambda: f"{name} never reached {phase}: {status(kubectl, namespace, name)}",
    )
    return found


def running_pod(
    kubectl: KubectlRunner, namespace: str, job_name: str, timeout: float = 60
) -> dict[str, Any]:
    """The Running pod of a Job (KWOK keeps it running until the test ends it)."""

    def find() -> dict[str, Any] | None:
        pods = items(kubectl, namespace, "pods", f"batch.kubernetes.io/job-name={job_name}")
        running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        return running[0] if running else None

    pod: dict[str, Any] = wait_for(find, timeout, f"no running pod for Job {job_name}")
    return pod
