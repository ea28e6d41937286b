"""End to end on a real node: a namespace's TenantBackupPodConfig puts the dump Job's pod under
a ServiceAccount of its own, with a pull Secret, over the chart's jobPod settings, and the real
kubelet runs it to a verified backup."""

from __future__ import annotations

import json
from pathlib import Path

from devenv.kubectl import KubectlRunner
from devenv.node_cluster import NodeCluster
from devenv.tenants import Database
from tests.e2e.conftest import CHART_WIDE_LABEL, Apply
from tests.support import backups as tb

BACKUP_TIMEOUT = 180
SERVICE_ACCOUNT = "backup-runner"
PULL_SECRET = "dummy-registry"


def test_a_backup_runs_under_its_own_service_account_with_a_pull_secret(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    node_claim: Path,
    source_db: Database,
) -> None:
    node_kubectl("create", "serviceaccount", "-n", node_namespace, SERVICE_ACCOUNT)
    # A registry that does not exist: the image is on the node (pullPolicy Never), so the
    # kubelet never uses it, and naming it must not get in the way.
    auth = {"auths": {"registry.invalid": {"auth": "ZHVtbXk6ZHVtbXk="}}}
    node_apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": PULL_SECRET},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json.dumps(auth)},
        }
    )
    node_apply(
        {
            "apiVersion": "tenantbackup.dev/v1alpha1",
            "kind": "TenantBackupPodConfig",
            "metadata": {"name": "default"},
            "spec": {
                "serviceAccountName": SERVICE_ACCOUNT,
                "imagePullSecrets": [{"name": PULL_SECRET}],
                "labels": {"team": "a"},
                "nodeSelector": {"kubernetes.io/os": "linux"},
            },
        }
    )
    tb.create_db_secret(node_kubectl, node_namespace, source_db)
    node_apply(tb.manifest())
    status = tb.wait_phase(node_kubectl, node_namespace, "nightly", "Succeeded", BACKUP_TIMEOUT)

    assert status["attempts"] == 1
    assert (
        tb.artifact_file(node_claim, status["artifact"]["url"]).stat().st_size
        == (status["artifact"]["sizeBytes"])
    )
    (pod,) = tb.items(
        node_kubectl, node_namespace, "pods", "batch.kubernetes.io/job-name=nightly-1"
    )
    spec = pod["spec"]
    assert spec["nodeName"] == node_cluster.node.name
    assert spec["serviceAccountName"] == SERVICE_ACCOUNT
    assert spec["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert spec["automountServiceAccountToken"] is False
    # No token of the ServiceAccount in the pod: only the Job's own volumes.
    assert not any("projected" in volume for volume in spec["volumes"])
    assert pod["metadata"]["labels"]["team"] == "a"
    assert pod["metadata"]["labels"].items() >= CHART_WIDE_LABEL.items()
    assert pod["status"]["containerStatuses"][0]["imageID"]  # run by the real kubelet
