"""No password ends up in a Job spec, a status, an Event, or the operator's or runner's logs,
on the success path, a preflight failure and a runner failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.tenants import Database
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]
WRONG_PASSWORD = "Wr0ng-pa55word-that-must-not-leak"


def backup(name: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackup",
        "metadata": {"name": name},
        "spec": {
            "tenant": "acme",
            "database": {"secretRef": {"name": secret}},
            "destination": {"pvc": {"claimName": tb.CLAIM_NAME}},
            "retry": {"maxAttempts": 1},
        },
    }


def secret(kubectl: KubectlRunner, namespace: str, name: str, data: dict[str, str]) -> None:
    literals = [f"--from-literal={key}={value}" for key, value in data.items()]
    kubectl("create", "secret", "generic", "-n", namespace, name, *literals)


def test_passwords_never_leak(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    owner = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    limited = owner | {
        "username": shared_tenant_db.roles.limited.user,
        "password": shared_tenant_db.roles.limited.password,
    }
    secret(kubectl, namespace, "limited", limited)
    secret(kubectl, namespace, "wrong", owner | {"password": WRONG_PASSWORD})
    operator = start_operator()
    apply(backup("rejected", "wrong"))
    # One after the other: two backups of one tenant never run at once.
    for name, secret_name, data in [("ok", tb.SECRET_NAME, owner), ("denied", "limited", limited)]:
        apply(backup(name, secret_name))
        pod = tb.running_pod(kubectl, namespace, f"{name}-1")
        code, message = run_dump_container(pod, data, claim, tmp_path)
        end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    assert tb.wait_phase(kubectl, namespace, "ok", "Succeeded")
    assert tb.wait_phase(kubectl, namespace, "denied", "Failed")["reason"] == "PermissionDenied"
    assert tb.wait_phase(kubectl, namespace, "rejected", "Failed")["reason"] == "AuthFailed"

    seen = {
        "jobs": json.dumps(tb.items(kubectl, namespace, "jobs")),
        "pods": json.dumps(tb.items(kubectl, namespace, "pods")),
        "tenantbackups": json.dumps(tb.items(kubectl, namespace, "tenantbackups")),
        "events": json.dumps(tb.items(kubectl, namespace, "events")),
        "operator log": operator.logs(),
        "runner logs": "".join(log.read_text() for log in tmp_path.glob("*.log")),
    }
    assert "PermissionDenied" in seen["runner logs"]  # the logs were really collected
    assert "Succeeded" in seen["events"]
    for password in (owner["password"], limited["password"], WRONG_PASSWORD):
        for place, text in seen.items():
            assert password not in text, f"a password leaked into {place}"
