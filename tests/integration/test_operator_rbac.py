"""The operator's RBAC from `manifests/` on the real authorizer: enough, and no more.

Every operator test runs as the manifests' ServiceAccount (`start_operator`), electing
itself leader on a Lease in the operator's namespace. Here a
representative flow (preflight failure, a retry then success, deletion: our finalizer
removed, the artifact deleted by a prune Job) runs that way, then
the audit log is read: no request of that user was refused, and every rule granted is listed
as used or unused. Denials are asserted with SubjectAccessReviews.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tenant_backup.core import naming
from tests.support import backups as tb
from tests.support import operator_rbac as rbac
from tests.support.operator_fixtures import StartOperator
from tests.support.schedules import schedule_manifest

# Used by every run of the flow below; anything else granted may be unused in a short run.
ESSENTIAL: set[rbac.Permission] = {
    ("tenantbackup.dev", "tenantbackups", "list"),
    ("tenantbackup.dev", "tenantbackups", "watch"),
    ("tenantbackup.dev", "tenantbackups", "get"),
    ("tenantbackup.dev", "tenantbackups", "patch"),
    ("tenantbackup.dev", "tenantbackups/status", "patch"),
    ("tenantbackup.dev", "tenantbackups", "delete"),
    ("tenantbackup.dev", "tenantbackupschedules", "list"),
    ("tenantbackup.dev", "tenantbackupschedules", "watch"),
    ("tenantbackup.dev", "tenantbackupschedules", "get"),
    ("tenantbackup.dev", "tenantbackupschedules/status", "patch"),
    ("tenantbackup.dev", "tenantrestores", "list"),
    ("tenantbackup.dev", "tenantrestores", "watch"),
    ("tenantbackup.dev", "tenantbackuppodconfigs", "get"),
    ("batch", "jobs", "list"),
    ("batch", "jobs", "watch"),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "patch"),
    ("", "pods", "list"),
    ("", "secrets", "get"),
    ("", "events", "create"),
    ("", "namespaces", "get"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
    ("coordination.k8s.io", "leases", "get"),
    ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "update"),
}


def allowed(
    kubectl: KubectlRunner, verb: str, resource: str, group: str = "", namespace: str = ""
) -> bool:
    """A SubjectAccessReview for the operator's ServiceAccount."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": rbac.USERNAME,
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{rbac.NAMESPACE}",
                "system:authenticated",
            ],
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": resource,
                "namespace": namespace,
            },
        },
    }
    result = kubectl("create", "-o", "json", "-f", "-", input=json.dumps(review))
    return bool(json.loads(result.stdout)["status"].get("allowed"))


@pytest.mark.parametrize(
    ("verb", "resource", "group"),
    [
        ("delete", "pods", ""),
        ("create", "pods", ""),
        ("list", "secrets", ""),
        ("watch", "secrets", ""),
        ("delete", "jobs", "batch"),
        ("update", "jobs", "batch"),
        ("update", "tenantbackups", "tenantbackup.dev"),
        ("update", "tenantbackupschedules", "tenantbackup.dev"),
        ("delete", "tenantbackupschedules", "tenantbackup.dev"),
        ("create", "tenantbackupschedules", "tenantbackup.dev"),
        ("update", "tenantrestores", "tenantbackup.dev"),
        # The namespace's pod settings: read with get when a Job is made, nothing else.
        ("list", "tenantbackuppodconfigs", "tenantbackup.dev"),
        ("watch", "tenantbackuppodconfigs", "tenantbackup.dev"),
        ("create", "tenantbackuppodconfigs", "tenantbackup.dev"),
        ("patch", "tenantbackuppodconfigs", "tenantbackup.dev"),
        # Naming a ServiceAccount in a Job needs no right on ServiceAccounts.
        ("get", "serviceaccounts", ""),
        ("get", "configmaps", ""),
        ("create", "rolebindings", "rbac.authorization.k8s.io"),
        ("update", "customresourcedefinitions", "apiextensions.k8s.io"),
        ("get", "pods/exec", ""),
        ("get", "leases", "coordination.k8s.io"),  # only in the operator's own namespace
        ("update", "leases", "coordination.k8s.io"),
    ],
)
def test_operator_is_denied(
    kubectl: KubectlRunner,
    operator_kubeconfig: Path,
    namespace: str,
    verb: str,
    resource: str,
    group: str,
) -> None:
    assert not allowed(kubectl, verb, resource, group, namespace)


def test_operator_is_allowed_what_it_does(
    kubectl: KubectlRunner, operator_kubeconfig: Path, namespace: str
) -> None:
    """The positive control for the denials above (same review, same identity)."""
    assert allowed(kubectl, "get", "secrets", "", namespace)
    assert allowed(kubectl, "create", "jobs", "batch", namespace)
    assert allowed(kubectl, "patch", "tenantbackups/status", "tenantbackup.dev", namespace)
    # A schedule's runs: created on their slots, deleted when retention prunes them.
    assert allowed(kubectl, "create", "tenantbackups", "tenantbackup.dev", namespace)
    assert allowed(kubectl, "delete", "tenantbackups", "tenantbackup.dev", namespace)
    assert allowed(kubectl, "patch", "tenantbackupschedules/status", "tenantbackup.dev", namespace)
    # A restore: its status, and the schedules it pauses (listed, never changed).
    assert allowed(kubectl, "patch", "tenantrestores/status", "tenantbackup.dev", namespace)
    assert allowed(kubectl, "list", "tenantbackupschedules", "tenantbackup.dev", namespace)
    # A schedule's drills: Verify restores it creates, and deletes past `drill.keep`.
    assert allowed(kubectl, "create", "tenantrestores", "tenantbackup.dev", namespace)
    assert allowed(kubectl, "delete", "tenantrestores", "tenantbackup.dev", namespace)
    # Leader election: its Lease, in its own namespace.
    for verb in ("get", "create", "update"):
        assert allowed(kubectl, verb, "leases", "coordination.k8s.io", rbac.NAMESPACE)


@pytest.mark.parametrize("verb", ["delete", "list", "watch", "patch"])
def test_operator_may_not_do_more_with_leases(
    kubectl: KubectlRunner, operator_kubeconfig: Path, verb: str
) -> None:
    assert not allowed(kubectl, verb, "leases", "coordination.k8s.io", rbac.NAMESPACE)


def test_flow_as_service_account_needs_no_more_than_granted(
    cluster: Cluster,
    apply: Callable[..., Any],
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    if cluster.audit_log is None:
        pytest.skip("reusing a cluster whose audit log is unknown (TBO_KUBECONFIG)")
    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    start_operator()
    apply(tb.manifest(name="early", tenant="acme"))
    assert tb.wait_phase(kubectl, namespace, "early", "Failed")["reason"] == "SecretMissing"
    time.sleep(1.1)  # a later creation second: retention's order
    apply(tb.manifest(name="early-2", tenant="acme"))
    tb.wait_phase(kubectl, namespace, "early-2", "Failed")
    # A schedule adopts both as its runs; retention keeps only the newer failure.
    runs = f"{naming.LABEL_SCHEDULE}=yearly", f"{naming.LABEL_TENANT}=acme"
    kubectl("label", "-n", namespace, "tb", "early", "early-2", *runs)
    apply(schedule_manifest("yearly", "0 0 1 1 *", ["acme"], {"keepLast": 1}))
    wait_for(
        lambda: (
            [item["metadata"]["name"] for item in tb.items(kubectl, namespace, "tb")] == ["early-2"]
        ),
        60,
        "retention to prune the older failure",
    )
    secret = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    apply(tb.manifest(deletionPolicy="Delete"))
    tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.LOCK_TIMEOUT)
    tb.run_real_attempt(kubectl, namespace, "nightly-2", secret, claim, tmp_path)
    tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    kubectl("delete", "-n", namespace, "tb", "nightly", "early-2", "--wait=false")
    tb.run_real_attempt(kubectl, namespace, "nightly-1-prune", secret, claim, tmp_path)
    wait_for(lambda: not tb.items(kubectl, namespace, "tb"), 60, "the backups were never released")
    wait_for(lambda: tb.job_names(kubectl, namespace) == [], 60, "Jobs outlived their TenantBackup")

    events = cluster.audit_events(rbac.USERNAME)
    assert events, "no audit events for the operator's ServiceAccount"
    assert rbac.forbidden(events, cluster.apiserver_restarts) == []
    used = rbac.used(events)
    granted = rbac.granted(rbac.manifest_rules(cluster) + rbac.NAMESPACED_MODE_RULES)
    assert used <= granted, f"used but not granted: {sorted(used - granted)}"
    assert used >= ESSENTIAL, f"granted, expected in use, unused: {sorted(ESSENTIAL - used)}"
    unused = sorted(granted - used)
    print(f"RBAC rules granted but unused so far this session: {unused}")
