"""The API requests a backup costs the operator, from the real API server's audit log: a burst
of queued backups, each run once, stays within a fixed number of requests per backup (watches
left out), so that thousands of backups cannot turn into a storm of reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
from kubernetes.client import ApiClient

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support.failover import LIMIT, all_succeeded, apply_backups, burst
from tests.support.operator_fixtures import StartOperator
from tests.support.operator_rbac import USERNAME

BACKUPS = 20
REQUESTS_PER_BACKUP = 30
"""The bound: about 21 are needed (reads, the Queued and the final status, the finalizer,
the namespace's TenantBackupPodConfig read for the Job, the Job, its settled label and the
backup's, Events), and the audit log shows each; re-reads when wake-ups coincide add a few,
more under load (26.4 measured beside a full test run). A storm (reads growing with the
backups queued) would be far beyond it."""


@pytest.fixture(autouse=True)
def backup_ready(
    kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database, tmp_path: Path
) -> None:
    """The claim and the database Secret the backups use."""
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)


def test_a_burst_costs_a_bounded_number_of_requests_per_backup(
    cluster: Cluster,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    kube_api: ApiClient,
) -> None:
    start_operator(max_running_jobs=str(LIMIT), max_running_jobs_per_server=str(LIMIT))
    with burst(kube_api, kubectl, namespace, hold=0.5):
        names = apply_backups(kubectl, namespace, BACKUPS)
        wait_for(lambda: all_succeeded(kubectl, namespace, names), 240, "backups left over")
    events = [
        event
        for event in cluster.audit_events(USERNAME)
        if (event.get("objectRef") or {}).get("namespace") == namespace
    ]
    requests = Counter(
        f"{event['verb']} {event['objectRef'].get('resource')}"
        + (f"/{event['objectRef']['subresource']}" if "subresource" in event["objectRef"] else "")
        for event in events
        if event["verb"] != "watch"
    )
    per_backup = sum(requests.values()) / BACKUPS
    print(f"{per_backup:.1f} requests per backup: {requests.most_common()}")
    assert per_backup <= REQUESTS_PER_BACKUP, requests.most_common()
    assert requests["create jobs"] == BACKUPS  # and none run twice
    assert requests["get tenantbackuppodconfigs"] == BACKUPS  # one read per Job, no more
    # The backup's own metadata written twice: our finalizer, the settled label. Kopf writes
    # nothing on it (no handler of a kind that keeps state in an annotation).
    assert requests["patch tenantbackups"] == 2 * BACKUPS
    annotated = kubectl(
        "get", "tenantbackups", "-n", namespace, "-o", "jsonpath={.items[*].metadata.annotations}"
    ).stdout
    assert "last-handled-configuration" not in annotated
    # Each Job labelled settled once its backup recorded it, which takes it out of the watch.
    assert requests["patch jobs"] == BACKUPS
    job_watches = [
        unquote(e["requestURI"])
        for e in events
        if e["verb"] == "watch" and e["objectRef"].get("resource") == "jobs"
    ]
    assert job_watches
    assert all("!tenantbackup.dev/settled" in uri for uri in job_watches), job_watches
    # Each backup labelled settled too once it owes nothing: out of Kopf's watch (the
    # informer, with no selector, still follows it), so a restart does not even list it.
    settled = kubectl(
        "get", "tenantbackups", "-n", namespace, "-l", "tenantbackup.dev/settled=true", "-o", "name"
    ).stdout.split()
    assert len(settled) == BACKUPS
    backup_watches = [
        unquote(e["requestURI"])
        for e in events
        if e["verb"] == "watch" and e["objectRef"].get("resource") == "tenantbackups"
    ]
    assert any("!tenantbackup.dev/settled" in uri for uri in backup_watches), backup_watches
