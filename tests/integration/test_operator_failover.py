"""Two operator processes against the real API server, one Lease: the leader killed or frozen
in the middle of a burst of queued backups. The standby takes over within 30 s; at no
sampled moment are more Jobs unfinished than the limit; every backup runs exactly once (one
Job, attempts 1); a frozen leader that wakes up after losing the Lease exits instead of
acting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.operator_command import STEPPED_DOWN
from tests.support import backups as tb
from tests.support.failover import (
    LIMIT,
    Burst,
    all_succeeded,
    apply_backups,
    assert_each_ran_once,
    burst,
    wait_holder,
)
from tests.support.operator_fixtures import StartOperator, lease_name, operator_identity
from tests.support.operator_process import OperatorProcess

TAKEOVER_SECONDS = 30


@pytest.fixture(autouse=True)
def backup_ready(
    kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database, tmp_path: Path
) -> None:
    """The claim and the database Secret the backups use."""
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)


def two_replicas(
    kubectl: KubectlRunner, namespace: str, start_operator: StartOperator
) -> tuple[OperatorProcess, OperatorProcess]:
    """A leader holding the test's Lease, then a standby waiting for it."""
    limits = {"max_running_jobs": str(LIMIT), "max_running_jobs_per_server": str(LIMIT)}
    leader = start_operator(**limits)
    wait_holder(kubectl, lease_name(namespace), operator_identity(namespace, 0), 60)
    standby = start_operator(**limits)
    wait_for(lambda: "standing by" in standby.logs(), 60, "the second replica never stood by")
    return leader, standby


def first_job_after(watch: Burst, moment: float) -> float:
    """Seconds from `moment` to the first Job seen created after it."""
    return min(seen for seen in watch.first_seen.values() if seen > moment) - moment


def test_the_standby_takes_over_a_killed_leader_and_no_backup_runs_twice(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    kube_api: ApiClient,
) -> None:
    leader, _ = two_replicas(kubectl, namespace, start_operator)
    with burst(kube_api, kubectl, namespace, hold=1.0) as watch:
        names = apply_backups(kubectl, namespace, 20)
        wait_for(lambda: len(watch.ended) >= 6, 120, "the leader never got going")
        leader.kill()
        killed = time.monotonic()
        takeover = wait_holder(
            kubectl, lease_name(namespace), operator_identity(namespace, 1), TAKEOVER_SECONDS
        )
        wait_for(lambda: all_succeeded(kubectl, namespace, names), 240, "backups left over")
        next_job = first_job_after(watch, killed)
    print(
        f"leader SIGKILLed: Lease taken over after {takeover:.1f} s, next Job created after "
        f"{next_job:.1f} s; at most {watch.max_active} Jobs unfinished at once"
    )
    assert_each_ran_once(kubectl, namespace, names, watch)


def test_a_frozen_leader_that_lost_the_lease_exits_on_waking_instead_of_acting(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    kube_api: ApiClient,
) -> None:
    leader, standby = two_replicas(kubectl, namespace, start_operator)
    with burst(kube_api, kubectl, namespace, hold=1.0) as watch:
        names = apply_backups(kubectl, namespace, 12)
        wait_for(lambda: len(watch.ended) >= 3, 120, "the leader never got going")
        leader.pause()
        paused = time.monotonic()
        takeover = wait_holder(
            kubectl, lease_name(namespace), operator_identity(namespace, 1), TAKEOVER_SECONDS
        )
        ended = len(watch.ended)
        wait_for(lambda: len(watch.ended) >= ended + 3, 120, "the new leader did not act")
        leader.resume()
        resumed = time.monotonic()
        code = leader.exit_code(timeout=15)
        exited = time.monotonic() - resumed
        wait_for(lambda: all_succeeded(kubectl, namespace, names), 240, "backups left over")
    print(
        f"leader SIGSTOPped: Lease taken over after {takeover:.1f} s; woken after "
        f"{resumed - paused:.1f} s, it exited {exited:.1f} s later"
    )
    assert code == STEPPED_DOWN, leader.logs()[-3000:]
    assert f"{operator_identity(namespace, 1)} holds the Lease now" in leader.logs()
    assert standby.exit_code(timeout=0) is None
    assert_each_ran_once(kubectl, namespace, names, watch)
