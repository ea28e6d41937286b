"""`make demo`: one real backup on a local real-node cluster, restored to prove it.

Builds what is missing (images, node binaries; the Makefile builds the control plane and
helm), starts the control plane and a real node (containerd + kubelet + kube-proxy),
installs the Helm chart with the local image (the operator runs as a pod), starts a
PostgreSQL with the test tenants, backs tenant `acme` up into a claim, restores the backup
through a TenantRestore into the new tenant `acme_copy` (a real restore pod) and compares row
counts; then applies a minutely schedule over every tenant and shows its status after its
first run. Everything stays up; `make demo-down` (this
script's `down`) stops it. State: `.cache/demo/`.

"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any

import yaml

from devenv import backup_objects as tb
from devenv import operator_release
from devenv.kubectl import KubectlRunner
from devenv.node_cluster import NodeCluster
from devenv.paths import CACHE
from devenv.pod_network import PodNetwork
from devenv.postgres import PostgresServer
from devenv.restore import row_counts
from devenv.tenants import clone_tenants, create_tenant_template
from devenv.waiting import wait_for

STATE_DIR = CACHE / "demo"
NAMESPACE = "demo"
BACKUP = "acme-demo"
RESTORE = "acme-copy"
RUN_AS = 65532  # the dump container's user: it writes into the claim's host directory
SCHEDULE_NAME = "every-minute"
SCHEDULE: dict[str, Any] = {
    "apiVersion": "tenantbackup.dev/v1alpha1",
    "kind": "TenantBackupSchedule",
    "metadata": {"name": SCHEDULE_NAME},
    "spec": {
        "schedule": "* * * * *",
        "tenants": ["*"],
        "template": {
            "database": {"secretRef": {"name": tb.SECRET_NAME}},
            "destination": {"pvc": {"claimName": tb.CLAIM_NAME, "path": "scheduled"}},
        },
        "retention": {"keepLast": 3},
    },
}


def _step(started: float, text: str) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)


def _demo_namespace(nodes: NodeCluster) -> None:
    namespace = tb.restricted_namespace(NAMESPACE, allowed_tenants="acme,acme_copy")
    nodes.cluster.kubectl("apply", "-f", "-", input=json.dumps(namespace))


def up() -> int:
    """Start everything, run the backup, restore it, print the evidence."""
    started = time.monotonic()
    NodeCluster.stop_recorded(STATE_DIR)
    _stop_database()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    STATE_DIR.mkdir(parents=True)
    _step(started, "images, control plane and real node")
    nodes = NodeCluster.start(STATE_DIR, detach=True)
    _step(started, f"node {nodes.node.name} Ready; installing the chart ({nodes.image.short_name})")
    operator_release.install(nodes.cluster, nodes.image, resyncSeconds=5)
    _step(started, "operator pod running; starting PostgreSQL with the test tenants")
    server = PostgresServer(pods=PodNetwork())
    server.start(detach=True)
    (STATE_DIR / "postgres-data").symlink_to(server.data_dir)
    source = clone_tenants(server, create_tenant_template(server), "app")
    kubectl = nodes.cluster.kubectl
    _demo_namespace(nodes)
    claim_dir = tb.create_bound_claim(kubectl, NAMESPACE, STATE_DIR / "backups")
    os.chown(claim_dir, RUN_AS, RUN_AS)
    tb.create_db_secret(kubectl, NAMESPACE, source)
    tb.create_restore_secret(kubectl, NAMESPACE, source)
    kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(tb.manifest(BACKUP)))
    _step(started, f"TenantBackup {NAMESPACE}/{BACKUP} applied; waiting for Succeeded")
    status = tb.wait_phase(kubectl, NAMESPACE, BACKUP, "Succeeded", timeout=300)
    print(kubectl("get", "tb", "-n", NAMESPACE, "-o", "wide").stdout)
    url = status["artifact"]["url"]
    archive = tb.artifact_file(claim_dir, url)
    print(f"artifact: {url}\n  on the host: {archive} ({archive.stat().st_size} bytes)")
    restore = tb.tenant_restore(RESTORE, {"backupRef": {"name": BACKUP}})
    kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(restore))
    _step(started, f"TenantRestore {NAMESPACE}/{RESTORE} applied; waiting for Succeeded")
    restored = tb.wait_restore(kubectl, NAMESPACE, RESTORE, "Succeeded", timeout=300)
    print(kubectl("get", "tr", "-n", NAMESPACE, "-o", "wide").stdout)
    target = restored["targetSchema"]
    expected = row_counts(source.dsn(), "tenant_acme")
    got = row_counts(source.dsn(), target)
    print(f"\n{'table':<14}{'tenant_acme':>12}{target:>18}")
    for table, rows in expected.items():
        print(f"{table:<14}{rows:>12}{got.get(table, 0):>18}")
    same = expected == got and bool(expected)
    print("restore matches the source" if same else "RESTORE DIFFERS FROM THE SOURCE")
    _schedule(started, kubectl)
    _step(started, "done")
    print(f"\nexport KUBECONFIG={nodes.cluster.kubeconfig}\nstop everything: make demo-down")
    return 0 if same else 1


def _schedule(started: float, kubectl: KubectlRunner) -> None:
    """A minutely schedule over every tenant of the database (the namespace allows only
    acme), keeping the last 3 runs; shown after its first slot."""
    kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(SCHEDULE))
    _step(started, f"TenantBackupSchedule {NAMESPACE}/{SCHEDULE_NAME} applied; its first slot")

    def first_run_finished() -> dict[str, Any] | None:
        status = tb.get(kubectl, NAMESPACE, "tbs", SCHEDULE_NAME).get("status", {})
        tenants = status.get("tenants") or []
        done = tenants and all((t.get("lastRun") or {}).get("phase") for t in tenants)
        return status if done and status.get("lastSuccessfulTime") else None

    status = wait_for(first_run_finished, 240, "the schedule's first run")
    print(kubectl("get", "tbs", "-n", NAMESPACE, "-o", "wide").stdout)
    print(
        kubectl(
            "get", "tb", "-n", NAMESPACE, "-l", f"tenantbackup.dev/schedule={SCHEDULE_NAME}"
        ).stdout
    )
    shown = {key: status.get(key) for key in ("lastScheduleTime", "nextScheduleTime", "discovery")}
    shown["tenants"] = status.get("tenants")
    print(yaml.safe_dump({"status": shown}, sort_keys=False))


def _stop_database() -> None:
    link = STATE_DIR / "postgres-data"
    if link.is_symlink():
        data_dir = link.resolve()
        PostgresServer.stop_detached(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def down() -> int:
    """Stop the demo's cluster, node and database; remove its state."""
    NodeCluster.stop_recorded(STATE_DIR)
    _stop_database()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    print("demo stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m devenv.demo [up|down]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", nargs="?", choices=("up", "down"), default="up")
    args = parser.parse_args(argv)
    return up() if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
