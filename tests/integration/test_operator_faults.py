"""Faults under load, on the real API server: the API server stopped for 30 s (then started
again on the same address), or the history database stopped for 30 s, in the middle of a
burst of backups. The operator keeps running (no restart), every backup finishes exactly once
(one Job, attempts 1), its status complete, and nothing is lost: the leader's fence engages
while the Lease cannot be renewed and lifts once it is renewed unchanged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.postgres import PostgresServer
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support.failover import (
    LIMIT,
    all_succeeded,
    apply_backups,
    assert_each_ran_once,
    burst,
)
from tests.support.history import rows, settings_for
from tests.support.operator_fixtures import StartOperator

DOWN_SECONDS = 30
BACKUPS = 20


@pytest.fixture(autouse=True)
def backup_ready(
    kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database, tmp_path: Path
) -> None:
    """The claim and the database Secret the backups use."""
    tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)


def test_api_server_away_for_30_s_mid_burst(
    cluster: Cluster,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    kube_api: ApiClient,
) -> None:
    if not cluster.owned:
        pytest.skip("reusing a cluster this session did not start (TBO_KUBECONFIG)")
    operator = start_operator(max_running_jobs=str(LIMIT), max_running_jobs_per_server=str(LIMIT))
    with burst(kube_api, kubectl, namespace, hold=1.0) as watch:
        names = apply_backups(kubectl, namespace, BACKUPS)
        wait_for(lambda: len(watch.ended) >= 5, 120, "the burst never got going")
        cluster.stop_apiserver()
        stopped = time.monotonic()
        time.sleep(DOWN_SECONDS)
        cluster.start_apiserver()
        back = time.monotonic()
        wait_for(lambda: all_succeeded(kubectl, namespace, names), 300, "backups left over")
        finished = time.monotonic() - back
    print(
        f"API server away {back - stopped:.1f} s; the rest of the burst finished "
        f"{finished:.1f} s after it was back; {watch.unreachable} samples failed meanwhile"
    )
    assert operator.exit_code(timeout=0) is None, "the operator needed a restart"
    logs = operator.logs()
    assert "stopped acting" in logs  # the fence engaged: the Lease went unrenewed > 10 s
    assert "Lease renewed unchanged, acting again" in logs
    assert_each_ran_once(kubectl, namespace, names, watch)
    for name in names:
        status = tb.status(kubectl, namespace, name)
        assert status["artifact"]["url"] == f"pvc://backups/{name}.pgdump.zst"
        complete = [c for c in status["conditions"] if c["type"] == "Complete"]
        assert [c["status"] for c in complete] == ["True"]


def test_history_database_away_for_30_s_mid_burst(
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    kube_api: ApiClient,
) -> None:
    server = PostgresServer()
    try:
        server.start()
        server.create_database("history")
        settings = settings_for(server, "history")
        assert settings.history_dsn is not None
        operator = start_operator(
            max_running_jobs=str(LIMIT),
            max_running_jobs_per_server=str(LIMIT),
            history_dsn=settings.history_dsn.get_secret_value(),
        )
        with burst(kube_api, kubectl, namespace, hold=1.0) as watch:
            names = apply_backups(kubectl, namespace, BACKUPS)
            wait_for(lambda: len(watch.ended) >= 5, 120, "the burst never got going")
            server.stop()
            time.sleep(DOWN_SECONDS)
            server.start()
            wait_for(lambda: all_succeeded(kubectl, namespace, names), 300, "backups left over")

        def recorded() -> bool:
            statuses = [tb.status(kubectl, namespace, name) for name in names]
            return all(s.get("history", {}).get("phase") == "Succeeded" for s in statuses)

        wait_for(recorded, 120, "history never caught up")
        assert operator.exit_code(timeout=0) is None, "the operator needed a restart"
        assert_each_ran_once(kubectl, namespace, names, watch)
        backups = rows(settings, "backups")
        assert sorted((r["name"], r["phase"]) for r in backups) == [
            (name, "Succeeded") for name in names
        ]
        attempts = rows(settings, "backup_attempts")
        assert sorted((r["attempt"], r["phase"]) for r in attempts) == [(1, "Succeeded")] * len(
            names
        )
    finally:
        server.destroy()
