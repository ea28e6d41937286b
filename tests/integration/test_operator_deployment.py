"""The operator started as `manifests/` Deployment starts it: health, metrics, JSON logs, Events.

Same command, flags and environment as the Deployment's container, with three changes: free
ports instead of 8080/9090, `--namespace=<test namespace>` instead of `--all-namespaces`
(so this test sees only its own objects), and a Lease of the test's own. It runs as the
manifests' ServiceAccount.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.processes import free_port
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support import operator_rbac as rbac
from tests.support.operator_fixtures import lease_name
from tests.support.operator_process import OperatorProcess

POD_NAME = "tenant-backup-operator-5d8f7c9b4-x2x7q"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def deployment_container(cluster: Cluster) -> dict[str, Any]:
    """The operator container of the Deployment in `manifests/`."""
    deployment = next(o for o in rbac.render_manifests(cluster) if o["kind"] == "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_deployment_ports_match_its_command(cluster: Cluster) -> None:
    container = deployment_container(cluster)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--metrics-port={ports['metrics']}" in container["command"]
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/healthz", "health")
    assert ports["health"] == 8080  # the port of the operator's default --liveness URL


def _resolve(variable: dict[str, Any]) -> str:
    """An env entry's value as the kubelet gives it to pod POD_NAME in the operator's
    namespace."""
    if "value" in variable:
        return str(variable["value"])
    fields = {"metadata.name": POD_NAME, "metadata.namespace": rbac.NAMESPACE}
    return fields[variable["valueFrom"]["fieldRef"]["fieldPath"]]


@pytest.fixture
def deployed_operator(
    cluster: Cluster, operator_kubeconfig: Path, namespace: str, crd: str, tmp_path: Path
) -> Iterator[tuple[OperatorProcess, int, int]]:
    """The operator as the Deployment runs it; yields it with its health and metrics ports."""
    container = deployment_container(cluster)
    health, metrics = free_port(), free_port()
    args = []
    for arg in container["command"][1:]:
        if arg == "--all-namespaces":
            arg = f"--namespace={namespace}"
        elif arg.startswith("--metrics-port="):
            arg = f"--metrics-port={metrics}"
        args.append(arg)
    args.append(f"--liveness=http://0.0.0.0:{health}/healthz")
    env = {e["name"]: _resolve(e) for e in container["env"]} | {
        "HOSTNAME": POD_NAME,
        "TENANT_BACKUP_LEASE_NAME": lease_name(namespace),  # this test's own Lease
    }
    process = OperatorProcess(
        operator_kubeconfig, [namespace], tmp_path / "operator.log", env, args=args
    )
    process.start()
    yield process, health, metrics
    process.stop()
    print(f"--- operator log (tail)\n{process.logs()[-6000:]}")


def http_get(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read().decode()


def scrape(port: int) -> Samples:
    """Every sample of /metrics, keyed by (name, labels)."""
    _, text = http_get(port, "/metrics")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_deployed_operator_serves_health_metrics_json_logs_and_events(
    deployed_operator: tuple[OperatorProcess, int, int],
    apply: Callable[..., Any],
    kubectl: KubectlRunner,
    namespace: str,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    process, health, metrics = deployed_operator
    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    secret = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    wait_for(lambda: http_get(health, "/healthz")[0] == 200, 30, "no /healthz", ignore=(OSError,))

    apply(tb.manifest())
    pod = tb.running_pod(kubectl, namespace, "nightly-1")
    wait_for(
        lambda: sample(scrape(metrics), "tenant_backup_jobs", namespace=namespace, state="running"),
        30,
        "the running Job never showed in tenant_backup_jobs",
    )
    assert pod["metadata"]["labels"]["tenantbackup.dev/tenant"] == "acme"
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim, tmp_path)
    status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")

    def settled() -> Samples | None:
        samples = scrape(metrics)
        by_phase = dict(namespace=namespace, phase="Succeeded", reason="Succeeded")
        return samples if sample(samples, "tenant_backup_backups", **by_phase) == 1 else None

    samples = wait_for(settled, 30, "tenant_backup_backups never showed the success")
    assert sample(samples, "tenant_backup_attempts_total", namespace=namespace, tenant="acme") == 1
    durations = dict(namespace=namespace, phase="Succeeded")
    assert sample(samples, "tenant_backup_duration_seconds_count", **durations) == 1
    size = status["artifact"]["sizeBytes"]
    assert sample(samples, "tenant_backup_artifact_size_bytes_sum", namespace=namespace) == size
    completed = datetime.fromisoformat(status["completionTime"]).timestamp()
    last = sample(
        samples, "tenant_backup_last_success_timestamp_seconds", namespace=namespace, tenant="acme"
    )
    assert last == completed
    wait_for(
        lambda: (
            not [
                k
                for k in scrape(metrics)
                if k[0] == "tenant_backup_jobs" and ("namespace", namespace) in k[1]
            ]
        ),
        30,
        "the finished Job stayed in tenant_backup_jobs",
    )

    events = [
        e
        for e in tb.items(kubectl, namespace, "events")
        if e["involvedObject"]["kind"] == "TenantBackup" and e["reason"] == "Succeeded"
    ]
    assert events, "no Succeeded Event"
    assert events[0]["reportingComponent"] == "tenant-backup-operator"
    assert events[0]["reportingInstance"] == POD_NAME

    lines = [line for line in process.logs().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all("message" in r for r in records)
    # Each Event is a line (what happened to the backup), Kopf's progress per handler is not.
    messages = [r["message"] for r in records]
    assert f"TenantBackup {namespace}/nightly: Succeeded: " in "\n".join(messages)
    assert not [m for m in messages if m.startswith("Handler ")]
