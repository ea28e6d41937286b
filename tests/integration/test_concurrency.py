"""Concurrency limits on the real control plane: 20 backups created at once run at most
three at a time against one database server, queue as Pending/Queued, start in creation
order, and all finish; two backups of one tenant never run together."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenant_backup.api.result import DumpResult, ResultArtifact
from tests.support import backups as tb
from tests.support.cluster import KubectlRunner
from tests.support.operator_fixtures import StartOperator
from tests.support.pod_executor import end_pod
from tests.support.postgres_fixtures import Database
from tests.support.waiting import wait_for

Apply = Callable[..., Any]
NAMES = [f"b{n:02}" for n in range(1, 21)]


def succeed(kubectl: KubectlRunner, namespace: str, pod: dict[str, Any]) -> None:
    """End a dump pod as the runner does on success (the real runner is tested elsewhere)."""
    name = pod["metadata"]["labels"]["tenantbackup.dev/backup"]
    result = DumpResult(
        ok=True,
        artifact=ResultArtifact(
            url=f"pvc://backups/{name}.pgdump.zst",
            size_bytes=1,
            sha256="0" * 64,
            format="custom",
            compression="zstd",
        ),
    )
    end_pod(kubectl, namespace, pod["metadata"]["name"], 0, result.to_message())


def running_pods(kubectl: KubectlRunner, namespace: str) -> list[dict[str, Any]]:
    pods = tb.items(kubectl, namespace, "pods")
    return [p for p in pods if p.get("status", {}).get("phase") == "Running"]


def started(kubectl: KubectlRunner, namespace: str) -> list[str]:
    return sorted(
        j["metadata"]["labels"]["tenantbackup.dev/backup"]
        for j in tb.items(kubectl, namespace, "jobs")
    )


def test_twenty_backups_queue_and_run_in_creation_order(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator(max_running_jobs="5", max_running_jobs_per_server="3")
    tenants = ["acme", "acme_eu", "globex"]
    items = [tb.manifest(name, tenants[i % 3]) for i, name in enumerate(NAMES)]
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )

    wait_for(lambda: len(started(kubectl, namespace)) == 3, 60, "the first three never started")
    queued = wait_for(
        lambda: (
            [
                s
                for n in NAMES[3:]
                if (s := tb.status(kubectl, namespace, n)).get("reason") == "Queued"
            ]
            or None
        ),
        60,
        "nothing queued",
    )
    assert all(s["phase"] == "Pending" and s["attempts"] == 0 for s in queued)
    messages = " ".join(s["message"] for s in queued)
    assert "on this database server (limit 3)" in messages or "another backup of tenant" in messages

    most = 0
    while len(started(kubectl, namespace)) < len(NAMES) or running_pods(kubectl, namespace):
        pods = wait_for(lambda: running_pods(kubectl, namespace), 60, "no pod running")
        most = max(most, len(pods))
        so_far = started(kubectl, namespace)
        assert so_far == NAMES[: len(so_far)]
        tenants = [p["metadata"]["labels"]["tenantbackup.dev/tenant"] for p in pods]
        assert len(set(tenants)) == len(tenants), f"one tenant twice at once: {tenants}"
        succeed(kubectl, namespace, pods[0])
        done = pods[0]["metadata"]["labels"]["tenantbackup.dev/backup"]
        tb.wait_phase(kubectl, namespace, done, "Succeeded")
    assert most == 3
    for name in NAMES:
        assert tb.status(kubectl, namespace, name)["phase"] == "Succeeded"


def test_one_tenant_never_runs_twice_at_once(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    apply: Apply,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator(max_running_jobs_per_server="5")
    apply(tb.manifest("first", "acme"))
    first = tb.running_pod(kubectl, namespace, "first-1")
    apply(tb.manifest("second", "acme"))
    wait_for(
        lambda: tb.status(kubectl, namespace, "second").get("reason") == "Queued",
        30,
        "second backup of acme not queued",
    )
    assert (
        "another backup of tenant acme is running"
        in tb.status(kubectl, namespace, "second")["message"]
    )
    assert started(kubectl, namespace) == ["first"]
    succeed(kubectl, namespace, first)
    second = tb.running_pod(kubectl, namespace, "second-1")
    succeed(kubectl, namespace, second)
    assert tb.wait_phase(kubectl, namespace, "second", "Succeeded")["attempts"] == 1
