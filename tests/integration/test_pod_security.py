"""The API server's Pod Security admission accepts the dump Job's pods at `restricted`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.tenants import Database
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]


def test_dump_pods_pass_the_restricted_level(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    rogue = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rogue", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = kubectl("apply", "-f", "-", input=json.dumps(rogue), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted' in refused.stderr  # enforcement is on

    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    secret = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    apply(
        {
            "apiVersion": "tenantbackup.dev/v1alpha1",
            "kind": "TenantBackup",
            "metadata": {"name": "nightly"},
            "spec": {
                "tenant": "acme",
                "database": {"secretRef": {"name": tb.SECRET_NAME}},
                "destination": {"pvc": {"claimName": tb.CLAIM_NAME}},
            },
        }
    )
    pod = tb.running_pod(kubectl, namespace, "nightly-1")
    code, message = run_dump_container(pod, secret, claim, tmp_path)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    assert tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")["attempts"] == 1
