"""A TenantBackup (and a TenantRestore) and the objects they need on a cluster (a restricted
Namespace, the database Secrets, a claim bound to a host directory), and reading their state
back.

Shared by `make demo` and the tests.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION

SECRET_NAME = "pg-app"  # noqa: S105 (a Secret's name)
CLAIM_NAME = "backups"


def restricted_namespace(name: str, allowed_tenants: str | None = None) -> dict[str, Any]:
    """A Namespace enforcing the restricted Pod Security level; `allowed_tenants` is the
    allowed-tenants annotation a cluster admin sets (None: none)."""
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
    }
    if allowed_tenants is not None:
        metadata["annotations"] = {ALLOWED_TENANTS_ANNOTATION: allowed_tenants}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def tenant_backup(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A TenantBackup to `apply` with exactly this spec."""
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackup",
        "metadata": {"name": name},
        "spec": spec,
    }


def manifest(
    name: str = "nightly", tenant: str = "acme", secret_name: str = SECRET_NAME, **spec: Any
) -> dict[str, Any]:
    """A TenantBackup to `apply`: `tenant` with the credentials of Secret `secret_name`, into claim
    `backups` under `nightly/`, up to 3 attempts 1-2 s apart. `spec` sets top-level spec
    fields; None leaves one out."""
    fields = {
        "tenant": tenant,
        "database": {"secretRef": {"name": secret_name}},
        "destination": {"pvc": {"claimName": CLAIM_NAME, "path": "nightly"}},
        "retry": {"maxAttempts": 3, "backoffSeconds": 1, "maxBackoffSeconds": 2},
    } | spec
    return tenant_backup(name, {key: value for key, value in fields.items() if value is not None})


def create_secret(kubectl: KubectlRunner, namespace: str, name: str, data: dict[str, str]) -> None:
    """An Opaque Secret holding `data`."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }
    kubectl("apply", "-f", "-", input=json.dumps(secret))


def create_db_secret(kubectl: KubectlRunner, namespace: str, db: Database) -> dict[str, str]:
    """A Secret in the CloudNativePG app-Secret layout for the backup role; returns its data."""
    data = {
        "host": db.server.pod_host,
        "port": str(db.server.port),
        "dbname": db.dbname,
        "username": db.backup.user,
        "password": db.backup.password,
    }
    create_secret(kubectl, namespace, SECRET_NAME, data)
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


def artifact_file(claim_dir: Path, url: str) -> Path:
    """The host file behind a `pvc://<claim>/<path>` artifact URL of claim `backups`."""
    prefix = f"pvc://{CLAIM_NAME}/"
    if not url.startswith(prefix):
        raise ValueError(f"not an artifact of claim {CLAIM_NAME}: {url}")
    return claim_dir / url.removeprefix(prefix)


def get(kubectl: KubectlRunner, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """One object as JSON."""
    result: dict[str, Any] = json.loads(
        kubectl("get", "-n", namespace, kind, name, "-o", "json").stdout
    )
    return result


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


RESTORE_SECRET_NAME = "pg-restore"  # noqa: S105 (a Secret's name)


def create_restore_secret(kubectl: KubectlRunner, namespace: str, db: Database) -> dict[str, str]:
    """Secret `pg-restore`: a role that may create schemas and databases in `db` (the
    superuser here); returns its data."""
    creds = db.server.superuser
    data = {
        "host": db.server.pod_host,
        "port": str(db.server.port),
        "dbname": db.dbname,
        "username": creds.user,
        "password": creds.password,
    }
    create_secret(kubectl, namespace, RESTORE_SECRET_NAME, data)
    return data


def tenant_restore(name: str, source: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A TenantRestore to `apply`: into tenant `acme_copy` of the database of Secret
    `pg-restore`, one attempt; `spec` sets top-level spec fields."""
    fields = {
        "source": source,
        "target": {
            "database": {"secretRef": {"name": RESTORE_SECRET_NAME}},
            "tenant": "acme_copy",
        },
        "retry": {"maxAttempts": 1},
    } | spec
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantRestore",
        "metadata": {"name": name},
        "spec": fields,
    }


def wait_restore(
    kubectl: KubectlRunner, namespace: str, name: str, phase: str, timeout: float = 90
) -> dict[str, Any]:
    """Wait until the TenantRestore reaches `phase`; returns its status."""

    def current() -> dict[str, Any]:
        found: dict[str, Any] = get(kubectl, namespace, "tenantrestore", name).get("status", {})
        return found

    def reached() -> dict[str, Any] | None:
        status = current()
        return status if status.get("phase") == phase else None

    found: dict[str, Any] = wait_for(
        reached, timeout, lambda: f"{name} never reached {phase}: {current()}"
    )
    return found
