"""Fixtures for the operator's own tests: the CRD installed, and operator processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from devenv.cluster import Cluster
from devenv.kubectl import KubectlError, KubectlRunner
from devenv.waiting import wait_for
from tests.support.egress import LOOPBACK_ALLOWED_CIDRS
from tests.support.operator_process import OperatorProcess
from tests.support.operator_rbac import NAMESPACE as OPERATOR_NAMESPACE
from tests.support.operator_rbac import install_identity

CRDS = Path(__file__).resolve().parents[2] / "crds"
CRD_NAMES = (
    "tenantbackups.tenantbackup.dev",
    "tenantbackupschedules.tenantbackup.dev",
    "tenantrestores.tenantbackup.dev",
    "tenantbackuppodconfigs.tenantbackup.dev",
)

StartOperator = Callable[..., OperatorProcess]


@pytest.fixture(scope="session")
def crd(cluster: Cluster) -> str:
    """The generated CRDs (crds/), applied and Established; returns TenantBackup's name."""
    cluster.kubectl("apply", "--server-side", "-k", str(CRDS))
    for name in CRD_NAMES:
        # Right after the apply, `kubectl wait` can fail on a status without conditions yet.
        wait_for(
            partial(
                cluster.kubectl,
                "wait",
                "--for=condition=Established",
                f"crd/{name}",
                "--timeout=30s",
            ),
            60,
            f"CRD {name} to be Established",
            ignore=(KubectlError,),
        )
    return CRD_NAMES[0]


@pytest.fixture
def apply(kubectl: KubectlRunner, namespace: str, crd: str) -> Callable[..., Any]:
    """`apply(manifest, check=True)`: kubectl apply a dict into the test namespace."""

    def _apply(manifest: dict[str, Any], check: bool = True) -> Any:
        return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=check)

    return _apply


@pytest.fixture(scope="session")
def operator_kubeconfig(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig of the operator's own ServiceAccount, with the RBAC of `manifests/`."""
    return install_identity(cluster, tmp_path_factory.mktemp("operator") / "kubeconfig")


def lease_name(namespace: str) -> str:
    """The leader-election Lease of the operators serving `namespace` in a test."""
    return f"operator-{namespace}"


def operator_identity(namespace: str, index: int) -> str:
    """The pod name (Lease holder identity) of the `index`th operator a test started."""
    return f"{namespace}-operator-{index}"


@pytest.fixture
def start_operator(
    operator_kubeconfig: Path, namespace: str, crd: str, tmp_path: Path
) -> Iterator[StartOperator]:
    """`start_operator(**settings)`: an operator process serving the test namespace, as the
    ServiceAccount of `manifests/` (so every test also proves the RBAC suffices). It may
    connect to loopback (the tests' receivers and PostgreSQL) unless `egress_defaults`.
    Each elects itself leader on the test's own Lease (the operators of one test compete),
    with a pod name of its own that it keeps across restarts, like a pod's container."""
    started: list[OperatorProcess] = []

    def _start(
        egress_defaults: bool = False, extra_args: list[str] | None = None, **settings: str
    ) -> OperatorProcess:
        if not egress_defaults:
            settings.setdefault("denied_cidrs", ",".join(LOOPBACK_ALLOWED_CIDRS))
        settings.setdefault("lease_namespace", OPERATOR_NAMESPACE)
        settings.setdefault("lease_name", lease_name(namespace))
        env = {f"TENANT_BACKUP_{key.upper()}": value for key, value in settings.items()}
        env["POD_ID"] = operator_identity(namespace, len(started))
        log_file = tmp_path / f"operator-{len(started)}.log"
        process = OperatorProcess(
            operator_kubeconfig, [namespace], log_file, env, extra_args=extra_args
        )
        started.append(process.start())
        return process

    yield _start
    for process in started:
        process.stop()
        print(f"--- {process.log_file.name} (tail)\n{process.logs()[-6000:]}")  # shown on failure
