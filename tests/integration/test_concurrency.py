"""Concurrency limits on the real control plane: 20 backups created at once run at most
three at a time against one database server, queue as Pending/Queued, start in creation
order, and all finish; two backups of one tenant never run together. A backup waiting for a
slot or a backoff is woken when it ends, not at the next resync."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult, ResultArtifact
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]
NAMES = [f"b{n:02}" for n in range(1, 21)]


@pytest.fixture(autouse=True)
def backup_ready(
    kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database, tmp_path: Path
) -> None:
    """Every test's namespace has the claim and the database Secret its backups use."""
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)


def queue_behind(
    kubectl: KubectlRunner, namespace: str, apply: Apply, first: str, second: str
) -> dict[str, Any]:
    """Backup `first` of tenant `first` running, then `second` of tenant `second` queued
    behind it; the first's running pod."""
    apply(tb.manifest("first", first))
    pod = tb.running_pod(kubectl, namespace, "first-1")
    apply(tb.manifest("second", second))
    wait_for(
        lambda: tb.status(kubectl, namespace, "second").get("reason") == "Queued",
        30,
        "second backup not queued",
    )
    return pod


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
) -> None:
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
    # Each says what it waits for, as things stood when it last asked (it is not rewritten
    # while the answer stays no).
    explanations = ("(limit 5)", "on this database server (limit 3)", "another backup of tenant")
    for queued_status in queued:
        assert any(words in queued_status["message"] for words in explanations), queued_status

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
) -> None:
    start_operator(max_running_jobs_per_server="5")
    first = queue_behind(kubectl, namespace, apply, "acme", "acme")
    assert (
        "another backup of tenant acme is running"
        in tb.status(kubectl, namespace, "second")["message"]
    )
    assert started(kubectl, namespace) == ["first"]
    succeed(kubectl, namespace, first)
    second = tb.running_pod(kubectl, namespace, "second-1")
    succeed(kubectl, namespace, second)
    assert tb.wait_phase(kubectl, namespace, "second", "Succeeded")["attempts"] == 1


# Long enough that a test passing within WAKE_TIMEOUT cannot have been helped by a resync.
RESYNC_SECONDS = "600"
WAKE_TIMEOUT = 30


def test_a_queued_backup_starts_when_its_slot_frees_not_at_the_resync(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    apply: Apply,
) -> None:
    start_operator(max_running_jobs="1", resync_seconds=RESYNC_SECONDS)
    first = queue_behind(kubectl, namespace, apply, "acme", "globex")
    succeed(kubectl, namespace, first)
    freed = time.monotonic()
    wait_for(
        lambda: "second" in started(kubectl, namespace),
        WAKE_TIMEOUT,
        "the queued backup waited for the resync",
    )
    print(
        f"the queued backup's Job was created {time.monotonic() - freed:.1f} s after its slot freed"
    )
    second = tb.running_pod(kubectl, namespace, "second-1")
    succeed(kubectl, namespace, second)
    assert tb.wait_phase(kubectl, namespace, "second", "Succeeded")["attempts"] == 1


def test_a_retry_starts_when_its_backoff_ends_not_at_the_resync(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    apply: Apply,
) -> None:
    start_operator(resync_seconds=RESYNC_SECONDS)
    retry = {"maxAttempts": 2, "backoffSeconds": 5, "maxBackoffSeconds": 5}
    apply(tb.manifest("flaky", "acme", retry=retry))
    tb.running_pod(kubectl, namespace, "flaky-1")
    tb.fail_attempt(kubectl, namespace, "flaky-1", Reason.DATABASE_UNAVAILABLE)
    waiting = wait_for(
        lambda: (s := tb.status(kubectl, namespace, "flaky")).get("nextAttemptTime") and s,
        30,
        "no retry scheduled",
    )
    assert waiting["reason"] == "RetryScheduled"
    wait_for(
        lambda: "flaky-2" in tb.job_names(kubectl, namespace),
        WAKE_TIMEOUT,
        "the retry waited for the resync",
    )
    created = tb.get(kubectl, namespace, "jobs", "flaky-2")["metadata"]["creationTimestamp"]
    due = waiting["nextAttemptTime"]
    print(f"attempt 2 due at {due}, its Job created at {created}")
    assert created >= due
