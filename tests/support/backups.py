"""Test-side helpers for TenantBackups: the objects of `devenv.backup_objects` (re-exported,
so tests reach everything as `tb.*`), listing Jobs and Events, and ending attempts' pods
through KWOK (for real, or as a failure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devenv.backup_objects import (
    CLAIM_NAME,
    RESTORE_SECRET_NAME,
    SECRET_NAME,
    artifact_file,
    create_bound_claim,
    create_db_secret,
    create_restore_secret,
    create_secret,
    get,
    manifest,
    restricted_namespace,
    status,
    tenant_backup,
    tenant_restore,
    wait_phase,
    wait_restore,
)
from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tests.support.lifecycles import failure_message

__all__ = [
    "CLAIM_NAME",
    "RESTORE_SECRET_NAME",
    "SECRET_NAME",
    "artifact_file",
    "create_bound_claim",
    "create_db_secret",
    "create_restore_secret",
    "create_secret",
    "event_reasons",
    "fail_attempt",
    "get",
    "items",
    "job_names",
    "manifest",
    "restricted_namespace",
    "run_real_attempt",
    "running_pod",
    "status",
    "tenant_backup",
    "tenant_restore",
    "wait_phase",
    "wait_restore",
]


def items(
    kubectl: KubectlRunner, namespace: str, kind: str, *selector: str
) -> list[dict[str, Any]]:
    """Objects of a kind in the namespace, optionally by label selector."""
    args = ["get", "-n", namespace, kind, "-o", "json", *(["-l", *selector] if selector else [])]
    found: list[dict[str, Any]] = json.loads(kubectl(*args).stdout)["items"]
    return found


def job_names(kubectl: KubectlRunner, namespace: str) -> list[str]:
    """The names of the namespace's Jobs, sorted."""
    return sorted(job["metadata"]["name"] for job in items(kubectl, namespace, "jobs"))


def event_reasons(kubectl: KubectlRunner, namespace: str) -> list[str]:
    """The reasons of the Events about TenantBackups in the namespace."""
    return [
        event["reason"]
        for event in items(kubectl, namespace, "events")
        if event["involvedObject"]["kind"] == "TenantBackup"
    ]


def running_pod(
    kubectl: KubectlRunner, namespace: str, job_name: str, timeout: float = 60
) -> dict[str, Any]:
    """The Running pod of a Job (KWOK keeps it running until the test ends it)."""

    def find() -> dict[str, Any] | None:
        pods = items(kubectl, namespace, "pods", f"batch.kubernetes.io/job-name={job_name}")
        running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        return running[0] if running else None

    pod: dict[str, Any] = wait_for(find, timeout, f"no running pod for Job {job_name}")
    return pod


def run_real_attempt(
    kubectl: KubectlRunner,
    namespace: str,
    job: str,
    secret: dict[str, str],
    claim: Path,
    work_dir: Path,
) -> None:
    """Run Job `job`'s dump container with the real runner (Secret `secret`, its volume at
    `claim`, logs in `work_dir`), then have KWOK end the pod with the runner's result."""
    pod = running_pod(kubectl, namespace, job)
    code, message = run_dump_container(pod, secret, claim, work_dir)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)


def fail_attempt(kubectl: KubectlRunner, namespace: str, job: str, reason: Reason) -> None:
    """Have KWOK end Job `job`'s pod as the runner does when it fails with `reason`."""
    pod = running_pod(kubectl, namespace, job)
    end_pod(kubectl, namespace, pod["metadata"]["name"], 1, failure_message(reason))
