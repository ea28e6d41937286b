"""Fixtures of the end-to-end tests: a control plane with one real node (containerd, kubelet,
kube-proxy) for the session, the operator installed by its Helm chart as a real pod, and a
PostgreSQL the pods reach through the pod network's gateway.

Needs root and the Debian packages `.ci/run` installs; the images and binaries are built
(and cached) by the Makefile's `test` prerequisites.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv import operator_release
from devenv.kubectl import KubectlRunner
from devenv.node_cluster import NodeCluster
from devenv.postgres import PostgresServer, server_bin_dir
from devenv.tenants import (
    Database,
    Roles,
    clone_tenants,
    create_tenant_template,
)
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support.cluster_fixtures import namespace_name

RUN_AS = 65532  # the dump container's user, which writes into the claim's host directory
CHART_WIDE_LABEL = {"e2e.tenantbackup.test/chart-wide": "yes"}
"""The chart's jobPod.labels: on every Job's pod."""

Apply = Callable[[dict[str, Any]], None]
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember a failed test body, so its namespace fixture can print what happened."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


def namespace_story(kubectl: KubectlRunner, namespace: str) -> str:
    """Statuses of the namespace's TenantBackups, its Jobs' and pods' states, and Events."""
    parts = [
        f"{kind}: {json.dumps({'name': obj['metadata']['name'], 'status': obj.get('status')})}"
        for kind in ("tenantbackups", "jobs", "pods")
        for obj in tb.items(kubectl, namespace, kind)
    ]
    events = kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False)
    return "\n".join([*parts, events.stdout])


@pytest.fixture(scope="session")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    """The real-node cluster with the operator running from its chart; stopped (pods
    drained, mounts, cgroups, iptables rules and the bridge removed) after the session."""
    nodes = NodeCluster.start(tmp_path_factory.mktemp("real-node"))
    try:
        operator_release.install(
            nodes.cluster, nodes.image, job_pod={"labels": CHART_WIDE_LABEL}, resyncSeconds=2
        )
        yield nodes
    finally:
        print(f"--- operator logs (tail)\n{operator_release.logs(nodes.cluster)[-6000:]}")
        nodes.stop()


@pytest.fixture
def node_kubectl(node_cluster: NodeCluster) -> KubectlRunner:
    """kubectl as admin on the real-node cluster."""
    return node_cluster.cluster.kubectl


@pytest.fixture(scope="session")
def pod_postgres(node_cluster: NodeCluster) -> Iterator[PostgresServer]:
    """A PostgreSQL 15 on the host that pods reach at the pod gateway."""
    server = PostgresServer(pods=node_cluster.node.network)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def pod_postgres18(node_cluster: NodeCluster) -> Iterator[PostgresServer]:
    """A PostgreSQL 18 on the host that pods reach at the pod gateway."""
    server = PostgresServer(server_bin_dir(18), pods=node_cluster.node.network)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def pod_tenant_roles(pod_postgres: PostgresServer) -> Roles:
    """tenants.sql loaded as the template of `source_db`."""
    return create_tenant_template(pod_postgres)


@pytest.fixture
def source_db(pod_postgres: PostgresServer, pod_tenant_roles: Roles) -> Iterator[Database]:
    """A fresh tenant database on `pod_postgres`."""
    db = clone_tenants(pod_postgres, pod_tenant_roles, "e2e")
    yield db
    pod_postgres.drop_database(db.dbname)


@pytest.fixture
def node_namespace(request: pytest.FixtureRequest, node_kubectl: KubectlRunner) -> Iterator[str]:
    """A fresh namespace enforcing the restricted Pod Security level, allowed to back up
    tenant acme; deleted after."""
    name = namespace_name(request.node.name)
    manifest = tb.restricted_namespace(name, allowed_tenants="acme")
    node_kubectl("apply", "-f", "-", input=json.dumps(manifest))
    wait_for(
        lambda: (
            node_kubectl("get", "-n", name, "serviceaccount", "default", check=False).returncode
            == 0
        ),
        30,
        f"ServiceAccount {name}/default",
    )
    yield name
    if request.node.stash.get(FAILED, False):
        print(f"--- namespace {name}\n{namespace_story(node_kubectl, name)}")
    node_kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def node_apply(node_kubectl: KubectlRunner, node_namespace: str) -> Apply:
    """`node_apply(manifest)`: kubectl apply into the test namespace."""

    def _apply(manifest: dict[str, Any]) -> None:
        node_kubectl("apply", "-n", node_namespace, "-f", "-", input=json.dumps(manifest))

    return _apply


@pytest.fixture
def node_claim(node_kubectl: KubectlRunner, node_namespace: str, tmp_path: Path) -> Path:
    """The host directory behind the namespace's bound claim `backups`, writable by the
    dump container's user (hostPath volumes ignore fsGroup)."""
    claim_dir = tb.create_bound_claim(node_kubectl, node_namespace, tmp_path / "claim")
    os.chown(claim_dir, RUN_AS, RUN_AS)
    return claim_dir
