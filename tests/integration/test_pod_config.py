"""TenantBackupPodConfig on a real API server: admission refuses what would reach the
operator's labels or the pods' confinement, and the operator's Jobs carry the namespace's
settings over the chart-wide ones (and still run: KWOK moves the pod, the real runner dumps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]


def pod_config(name: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackupPodConfig",
        "metadata": {"name": name},
        "spec": spec,
    }


def rejected(apply: Apply, body: dict[str, Any]) -> str:
    result = apply(body, check=False)
    assert result.returncode != 0, f"accepted: {body}"
    return str(result.stderr)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (pod_config(name="team-a"), "one TenantBackupPodConfig, named default"),
        (pod_config(labels={"tenantbackup.dev/backup": "x"}), "label keys must be"),
        (pod_config(labels={"batch.kubernetes.io/job-name": "x"}), "label keys must be"),
        (pod_config(labels={"job-name": "x"}), "label keys must be"),
        (
            pod_config(
                annotations={"container.apparmor.security.beta.kubernetes.io/dump": "unconfined"}
            ),
            "annotation keys must be",
        ),
        (pod_config(labels={"team": "not a label value"}), "spec.labels.team"),
        (
            pod_config(priorityClassName="system-cluster-critical"),
            'unknown field "spec.priorityClassName"',
        ),
        (pod_config(securityContext={"runAsUser": 0}), 'unknown field "spec.securityContext"'),
        (pod_config(automountServiceAccountToken=True), "unknown field"),
        (pod_config(serviceAccountName="Not_A_Name"), "spec.serviceAccountName"),
        (pod_config(imagePullSecrets=["regcred"]), "spec.imagePullSecrets"),
        (
            pod_config(tolerations=[{"operator": "Exists", "value": "x"}]),
            "operator Exists has no value",
        ),
        (pod_config(resources={"limits": {"memory": "lots"}}), "spec.resources.limits.memory"),
    ],
)
def test_admission_refuses(apply: Apply, body: dict[str, Any], expected: str) -> None:
    assert expected in rejected(apply, body)


def test_the_dump_job_carries_the_settings_and_the_backup_succeeds(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    kubectl("create", "serviceaccount", "-n", namespace, "backup-runner")
    apply(
        pod_config(
            serviceAccountName="backup-runner",
            imagePullSecrets=[{"name": "team-registry"}],
            annotations={"example.com/owner": "team-a"},
            labels={"team": "a", "tier": "backup"},
            nodeSelector={"type": "kwok"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "backup"}],
            resources={"limits": {"memory": "768Mi"}},
        )
    )
    table = kubectl("get", "-n", namespace, "tbpc").stdout.splitlines()
    assert table[0].split() == ["NAME", "SERVICE", "ACCOUNT", "AGE"]
    assert table[1].split()[:2] == ["default", "backup-runner"]
    chart_wide = {
        "imagePullSecrets": [{"name": "chart-registry"}],
        "labels": {"tier": "chart"},
        "nodeSelector": {"type": "other", "kubernetes.io/os": "linux"},
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {"matchExpressions": [{"key": "pool", "operator": "Exists"}]},
                    }
                ]
            }
        },
    }
    start_operator(job_pod=json.dumps(chart_wide))
    apply(tb.manifest())
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    assert tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")["attempts"] == 1

    job = json.loads(kubectl("get", "-n", namespace, "job", "nightly-1", "-o", "json").stdout)
    template = job["spec"]["template"]
    spec = template["spec"]
    assert spec["serviceAccountName"] == "backup-runner"
    assert spec["imagePullSecrets"] == [{"name": "chart-registry"}, {"name": "team-registry"}]
    assert spec["nodeSelector"] == {"type": "kwok", "kubernetes.io/os": "linux"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "backup"}]
    assert spec["affinity"] == chart_wide["affinity"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["containers"][0]["resources"]["limits"] == {"memory": "768Mi"}
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    labels = template["metadata"]["labels"]
    assert labels["team"] == "a"
    assert labels["tier"] == "backup"
    assert labels["tenantbackup.dev/backup"] == "nightly"
    assert labels["batch.kubernetes.io/job-name"] == "nightly-1"  # the Job controller's
    assert template["metadata"]["annotations"] == {"example.com/owner": "team-a"}
    pod = tb.items(kubectl, namespace, "pods", "batch.kubernetes.io/job-name=nightly-1")[0]
    assert pod["spec"]["serviceAccountName"] == "backup-runner"
