"""The users' side of RBAC on the real API server: `manifests/user-roles.yaml` is aggregated
by the clusterrole-aggregation controller into the built-in roles, so a namespace's `edit`
holder manages TenantBackups, a `view` holder reads them, and nobody but the operator may
write their status. TenantRestores (which can replace a tenant's data) and TenantBackupPodConfigs
(which name the Jobs' ServiceAccount) are for `admin` only."""

from __future__ import annotations

import functools
import json
import subprocess
from typing import Any

import pytest

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support import operator_rbac as rbac
from tests.support.schedules import schedule_manifest
from tests.support.users import RBAC_API, bind_cluster_role, can_i

AGGREGATE_LABEL_PREFIX = f"{RBAC_API}/aggregate-to-"
BACKUP = tb.manifest()
RESTORE = {
    "apiVersion": "tenantbackup.dev/v1alpha1",
    "kind": "TenantRestore",
    "metadata": {"name": "undo"},
    "spec": {
        "source": {"backupRef": {"name": "nightly"}},
        "target": {"database": {"secretRef": {"name": "pg-app"}}, "tenant": "acme_copy"},
    },
}


def user_roles(cluster: Cluster) -> list[dict[str, Any]]:
    """The ClusterRoles of `manifests/` that aggregate into built-in roles."""
    return [
        obj
        for obj in rbac.render_manifests(cluster)
        if obj["kind"] == "ClusterRole"
        and any(key.startswith(AGGREGATE_LABEL_PREFIX) for key in obj["metadata"].get("labels", {}))
    ]


@pytest.fixture
def users(cluster: Cluster, kubectl: KubectlRunner, namespace: str, crd: str) -> None:
    """`developer` holds `edit`, `auditor` holds `view` and `lead` holds `admin` in the
    namespace, with our roles aggregated into them."""
    roles = user_roles(cluster)
    assert {role["metadata"]["name"] for role in roles} == {
        "tenant-backup-operator-edit",
        "tenant-backup-operator-restore",
        "tenant-backup-operator-pod-config",
        "tenant-backup-operator-view",
    }
    items = {"apiVersion": "v1", "kind": "List", "items": roles}
    kubectl("apply", "-f", "-", input=json.dumps(items))
    bind_cluster_role(kubectl, namespace, "edit", "developer")
    bind_cluster_role(kubectl, namespace, "view", "auditor")
    bind_cluster_role(kubectl, namespace, "admin", "lead")
    for user, verb, resource in (
        ("developer", "create", "tenantbackups"),
        ("auditor", "list", "tenantbackups"),
        ("auditor", "list", "tenantrestores"),
        ("lead", "create", "tenantrestores"),
        ("lead", "create", "tenantbackuppodconfigs"),
        ("auditor", "list", "tenantbackuppodconfigs"),
    ):
        wait_for(
            functools.partial(can_i, kubectl, namespace, user, verb, resource),
            30,
            f"{user} to be allowed to {verb} {resource} (aggregation)",
        )


def as_user(
    kubectl: KubectlRunner, user: str, *args: str, body: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kubectl as `user`, not raising when refused."""
    stdin = json.dumps(body) if body else None
    return kubectl(*args, f"--as={user}", input=stdin, check=False)


def refused(result: subprocess.CompletedProcess[str], resource: str) -> bool:
    """Whether the API server's authorizer refused the request on `resource`."""
    return result.returncode != 0 and "forbidden" in result.stderr and resource in result.stderr


@pytest.mark.usefixtures("users")
def test_edit_holders_manage_tenant_backups_but_not_their_status(
    kubectl: KubectlRunner, namespace: str
) -> None:
    created = as_user(kubectl, "developer", "create", "-n", namespace, "-f", "-", body=BACKUP)
    assert created.returncode == 0, created.stderr
    forged = json.dumps({"status": {"phase": "Succeeded", "reason": "Succeeded"}})
    patch = ("patch", "-n", namespace, "tenantbackup", "nightly", "--subresource=status")
    result = as_user(kubectl, "developer", *patch, "--type=merge", "-p", forged)
    assert refused(result, "tenantbackups/status")
    status = kubectl("get", "-n", namespace, "tenantbackup", "nightly", "-o", "json").stdout
    assert "Succeeded" not in json.dumps(json.loads(status).get("status", {}))
    deleted = as_user(kubectl, "developer", "delete", "-n", namespace, "tenantbackup", "nightly")
    assert deleted.returncode == 0, deleted.stderr
    assert not can_i(kubectl, "default", "developer", "create", "tenantbackups")


@pytest.mark.usefixtures("users")
def test_view_holders_read_tenant_backups_and_change_nothing(
    kubectl: KubectlRunner, namespace: str
) -> None:
    attempt = as_user(kubectl, "auditor", "create", "-n", namespace, "-f", "-", body=BACKUP)
    assert refused(attempt, "tenantbackups")
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(BACKUP))
    listed = as_user(kubectl, "auditor", "get", "-n", namespace, "tenantbackups", "-o", "name")
    assert listed.stdout.split() == ["tenantbackup.tenantbackup.dev/nightly"], listed.stderr
    assert can_i(kubectl, namespace, "auditor", "get", "tenantbackups", "--subresource=status")
    deleted = as_user(kubectl, "auditor", "delete", "-n", namespace, "tenantbackup", "nightly")
    assert refused(deleted, "tenantbackups")
    assert not can_i(kubectl, namespace, "auditor", "patch", "tenantbackups")


@pytest.mark.usefixtures("users")
def test_schedules_follow_the_same_roles(kubectl: KubectlRunner, namespace: str) -> None:
    schedule = schedule_manifest("nightly", "0 2 * * *", ["acme"])
    created = as_user(kubectl, "developer", "create", "-n", namespace, "-f", "-", body=schedule)
    assert created.returncode == 0, created.stderr
    forged = json.dumps({"status": {"lastScheduleTime": "2026-01-01T00:00:00Z"}})
    patch = ("patch", "-n", namespace, "tbs", "nightly", "--subresource=status")
    result = as_user(kubectl, "developer", *patch, "--type=merge", "-p", forged)
    assert refused(result, "tenantbackupschedules/status")
    listed = as_user(kubectl, "auditor", "get", "-n", namespace, "tbs", "-o", "name")
    assert listed.stdout.split() == ["tenantbackupschedule.tenantbackup.dev/nightly"], listed.stderr
    suspend = ("patch", "-n", namespace, "tbs", "nightly", "--type=merge")
    refused_suspend = as_user(kubectl, "auditor", *suspend, "-p", '{"spec": {"suspend": true}}')
    assert refused(refused_suspend, "tenantbackupschedules")
    suspended = as_user(kubectl, "developer", *suspend, "-p", '{"spec": {"suspend": true}}')
    assert suspended.returncode == 0, suspended.stderr
    deleted = as_user(kubectl, "developer", "delete", "-n", namespace, "tbs", "nightly")
    assert deleted.returncode == 0, deleted.stderr


@pytest.mark.usefixtures("users")
def test_restores_are_for_admin_holders_and_readable_by_view(
    kubectl: KubectlRunner, namespace: str
) -> None:
    attempt = as_user(kubectl, "developer", "create", "-n", namespace, "-f", "-", body=RESTORE)
    assert refused(attempt, "tenantrestores")
    created = as_user(kubectl, "lead", "create", "-n", namespace, "-f", "-", body=RESTORE)
    assert created.returncode == 0, created.stderr
    forged = json.dumps({"status": {"phase": "Succeeded", "reason": "Succeeded"}})
    patch = ("patch", "-n", namespace, "tr", "undo", "--subresource=status")
    result = as_user(kubectl, "lead", *patch, "--type=merge", "-p", forged)
    assert refused(result, "tenantrestores/status")
    listed = as_user(kubectl, "auditor", "get", "-n", namespace, "tr", "-o", "name")
    assert listed.stdout.split() == ["tenantrestore.tenantbackup.dev/undo"], listed.stderr
    deleted = as_user(kubectl, "auditor", "delete", "-n", namespace, "tr", "undo")
    assert refused(deleted, "tenantrestores")
    assert not can_i(kubectl, namespace, "developer", "delete", "tenantrestores")


@pytest.mark.usefixtures("users")
def test_pod_configs_are_for_admin_holders_and_readable_by_view(
    kubectl: KubectlRunner, namespace: str
) -> None:
    config = {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackupPodConfig",
        "metadata": {"name": "default"},
        "spec": {"serviceAccountName": "backup-runner"},
    }
    attempt = as_user(kubectl, "developer", "create", "-n", namespace, "-f", "-", body=config)
    assert refused(attempt, "tenantbackuppodconfigs")
    created = as_user(kubectl, "lead", "create", "-n", namespace, "-f", "-", body=config)
    assert created.returncode == 0, created.stderr
    listed = as_user(kubectl, "auditor", "get", "-n", namespace, "tbpc", "-o", "name")
    assert listed.stdout.split() == ["tenantbackuppodconfig.tenantbackup.dev/default"]
    deleted = as_user(kubectl, "auditor", "delete", "-n", namespace, "tbpc", "default")
    assert refused(deleted, "tenantbackuppodconfigs")
