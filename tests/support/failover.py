"""Watching a burst of backups through failures: every Job ever seen and the most unfinished
at once (sampled continuously), pods ended with success as KWOK runs them, the Lease's
holder. All of it tolerates the API server being away."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api

from devenv.kubectl import KubectlError, KubectlRunner
from devenv.pod_executor import end_pod
from tenant_backup.api.result import DumpResult, ResultArtifact
from tenant_backup.backup.metrics import job_state
from tenant_backup.core import naming
from tests.support import backups as tb
from tests.support.operator_rbac import NAMESPACE as OPERATOR_NAMESPACE

SAMPLE_SECONDS = 0.1
LIMIT = 3
"""The bursts' concurrency limit (total and per server)."""
TENANTS = ("acme", "acme_eu", "globex")
SELECTOR = f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"


class Burst:
    """In the background: samples the namespace's Jobs of ours (`max_active`, `jobs`: every
    Job name seen, with its backup) and ends each Running pod with a successful dump result
    `hold` seconds after it was first seen Running (`ended`: pod names, in order)."""

    def __init__(self, api: ApiClient, kubectl: KubectlRunner, namespace: str, hold: float) -> None:
        self._kubectl = kubectl
        self._batch = BatchV1Api(api)
        self._core = CoreV1Api(api)
        self._namespace = namespace
        self._hold = hold
        self._stop = threading.Event()
        self._running_since: dict[str, float] = {}
        self.max_active = 0
        self.jobs: dict[str, str] = {}
        self.first_seen: dict[str, float] = {}
        """When each Job was first seen (monotonic)."""
        self.ended: list[str] = []
        self.unreachable = 0
        """Samples that failed (the API server away)."""
        self._threads = [
            threading.Thread(target=self._loop, args=(self._sample,), daemon=True),
            threading.Thread(target=self._loop, args=(self._end_pods,), daemon=True),
        ]

    def _loop(self, step: Any) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                step()
            except Exception:  # the API server away: sample again
                self.unreachable += 1
                time.sleep(0.5)

    def _sample(self) -> None:
        found = self._batch.list_namespaced_job(
            self._namespace, label_selector=SELECTOR, _request_timeout=5, _preload_content=False
        )
        jobs: list[dict[str, Any]] = json.loads(cast(Any, found).data)["items"]
        now = time.monotonic()
        for job in jobs:
            self.jobs[job["metadata"]["name"]] = job["metadata"]["labels"][naming.LABEL_BACKUP]
            self.first_seen.setdefault(job["metadata"]["name"], now)
        active = sum(1 for job in jobs if job_state(job) is not None)
        self.max_active = max(self.max_active, active)

    def _end_pods(self) -> None:
        found = self._core.list_namespaced_pod(
            self._namespace, label_selector=SELECTOR, _request_timeout=5, _preload_content=False
        )
        now = time.monotonic()
        for pod in json.loads(cast(Any, found).data)["items"]:
            name = pod["metadata"]["name"]
            if pod.get("status", {}).get("phase") != "Running" or name in self.ended:
                continue
            if now - self._running_since.setdefault(name, now) >= self._hold:
                self._succeed(pod)
                self.ended.append(name)

    def _succeed(self, pod: dict[str, Any]) -> None:
        """End the pod as the runner does on success (the real runner is tested elsewhere)."""
        backup = pod["metadata"]["labels"][naming.LABEL_BACKUP]
        result = DumpResult(
            ok=True,
            artifact=ResultArtifact(
                url=f"pvc://backups/{backup}.pgdump.zst",
                size_bytes=1,
                sha256="0" * 64,
                format="custom",
                compression="zstd",
            ),
        )
        end_pod(self._kubectl, self._namespace, pod["metadata"]["name"], 0, result.to_message())

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@contextmanager
def burst(
    api: ApiClient, kubectl: KubectlRunner, namespace: str, hold: float = 1.0
) -> Iterator[Burst]:
    """A Burst for the block."""
    watcher = Burst(api, kubectl, namespace, hold)
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.stop()


def lease_holder(kubectl: KubectlRunner, lease: str) -> str | None:
    """The Lease's holder in the operator's namespace ('' released, None: no Lease or the API
    server away)."""
    try:
        found = kubectl("get", "lease", "-n", OPERATOR_NAMESPACE, lease, "-o", "json")
    except KubectlError:
        return None
    holder: str = json.loads(found.stdout)["spec"].get("holderIdentity") or ""
    return holder


def wait_holder(kubectl: KubectlRunner, lease: str, holder: str, timeout: float) -> float:
    """Seconds until `holder` holds the Lease (AssertionError after `timeout`)."""
    start = time.monotonic()
    while lease_holder(kubectl, lease) != holder:
        if time.monotonic() - start > timeout:
            raise AssertionError(
                f"{holder} did not take Lease {lease} within {timeout} s "
                f"(holder: {lease_holder(kubectl, lease)!r})"
            )
        time.sleep(0.2)
    return time.monotonic() - start


def apply_backups(kubectl: KubectlRunner, namespace: str, count: int) -> list[str]:
    names = [f"b{n:02}" for n in range(1, count + 1)]
    items = [tb.manifest(name, TENANTS[i % len(TENANTS)]) for i, name in enumerate(names)]
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    return names


def all_succeeded(kubectl: KubectlRunner, namespace: str, names: list[str]) -> bool:
    phases = {
        item["metadata"]["name"]: item.get("status", {}).get("phase")
        for item in tb.items(kubectl, namespace, "tb")
    }
    return all(phases.get(name) == "Succeeded" for name in names)


def assert_each_ran_once(
    kubectl: KubectlRunner, namespace: str, names: list[str], watch: Burst, limit: int = LIMIT
) -> None:
    """One Job per backup, its first attempt, and every Job's pods ended; never more unfinished
    Jobs than the limit at any sample. (How many pods a Job gets is the Job controller's: once
    in three runs across an API-server restart the pods were not one per Job; the operator's
    own attempts are the Jobs and `status.attempts`, checked exactly.)"""
    expected = sorted(f"{name}-1" for name in names)
    assert sorted(watch.jobs) == expected
    assert sorted(tb.job_names(kubectl, namespace)) == expected
    pods = [
        pod["metadata"]["labels"]["batch.kubernetes.io/job-name"]
        for pod in tb.items(kubectl, namespace, "pods")
    ]
    assert sorted(set(pods)) == expected, sorted(pods)  # every Job ran, no stray pod
    for name in names:
        status: dict[str, Any] = tb.status(kubectl, namespace, name)
        assert (status["phase"], status["attempts"]) == ("Succeeded", 1), (name, status)
    assert 0 < watch.max_active <= limit, watch.max_active
