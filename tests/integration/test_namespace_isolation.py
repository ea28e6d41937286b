"""Namespace isolation on the real API server: a namespace backs up only the tenants a
cluster admin listed on its Namespace, and only with Secrets of its own namespace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.users import bind_cluster_role, can_i

Apply = Callable[..., Any]


def annotate(kubectl: KubectlRunner, namespace: str, tenants: str | None) -> None:
    """Set (or with None remove) the namespace's allowed-tenants annotation, as an admin."""
    value = (
        f"{ALLOWED_TENANTS_ANNOTATION}={tenants}" if tenants else f"{ALLOWED_TENANTS_ANNOTATION}-"
    )
    kubectl("annotate", "--overwrite", "namespace", namespace, value)


@pytest.fixture
def other_namespace(kubectl: KubectlRunner, namespace: str) -> Iterator[str]:
    """Namespace B, allowed tenant acme, holding a Secret `pg-app` of its own."""
    name = f"{namespace}-b"[:63]
    kubectl("create", "namespace", name)
    annotate(kubectl, name, "acme")
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize(
    ("allowed", "says"),
    [
        ("globex, acme_eu", "tenant acme is not allowed in namespace"),
        (None, "may back up no tenant"),
    ],
    ids=["other-tenants-listed", "no-annotation"],
)
def test_a_tenant_allowed_only_elsewhere_fails_with_no_job(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    other_namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    claim_dir: Path,
    allowed: str | None,
    says: str,
) -> None:
    annotate(kubectl, namespace, allowed)
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    apply(tb.manifest(tenant="acme"))
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert status["reason"] == "TenantNotAllowed"
    assert says in status["message"]
    assert ALLOWED_TENANTS_ANNOTATION in status["message"]
    assert status["attempts"] == 0
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "TenantNotAllowed")
    reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
    assert reconciling["status"] == "False"
    assert tb.job_names(kubectl, namespace) == []
    assert list(claim_dir.iterdir()) == []
    assert "TenantNotAllowed" in tb.event_reasons(kubectl, namespace)


def test_a_listed_tenant_runs(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
) -> None:
    annotate(kubectl, namespace, "globex,acme")
    start_operator()
    apply(tb.manifest(tenant="acme"))
    tb.running_pod(kubectl, namespace, "nightly-1")
    assert tb.status(kubectl, namespace, "nightly")["phase"] in ("Pending", "Running")


def test_a_secret_of_another_namespace_is_not_found(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    other_namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    claim_dir: Path,
) -> None:
    """A Secret reference is a name, resolved in the backup's own namespace only."""
    tb.create_db_secret(kubectl, other_namespace, shared_tenant_db)
    start_operator()
    apply(tb.manifest(tenant="acme"))
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert status["reason"] == "SecretMissing"
    assert namespace in status["message"]
    assert tb.job_names(kubectl, namespace) == []


def test_namespace_admins_cannot_change_their_allowed_tenants(
    kubectl: KubectlRunner, namespace: str
) -> None:
    """Even a namespace's `admin` (the built-in ClusterRole bound in the namespace) may not
    edit the Namespace object that carries the annotation."""
    bind_cluster_role(kubectl, namespace, "admin", "team-lead")
    wait_for(
        lambda: can_i(kubectl, namespace, "team-lead", "create", "secrets"),
        30,
        "the admin ClusterRole was never aggregated",
    )
    assert not can_i(kubectl, namespace, "team-lead", "patch", f"namespace/{namespace}")
    assert not can_i(kubectl, namespace, "team-lead", "update", f"namespace/{namespace}")
