"""The part of a kubelet KWOK lacks, for every pod of our Jobs in a namespace, in the
background: each Running pod's container is run for real on this host (the runner against the
real PostgreSQL, MinIO or claim directory) and KWOK ends the pod with its result.

For tests where the operator itself creates many Jobs (a schedule's runs, prunes) and the test
cannot name each one in advance.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlError, KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from tenant_backup.backup.metrics import job_state
from tenant_backup.core import naming

POLL_SECONDS = 0.3


class PodRunner:
    """Runs the namespace's pods of our Jobs as they start; `ran` names them in order."""

    def __init__(
        self, kubectl: KubectlRunner, namespace: str, claim_root: Path | None, work_dir: Path
    ) -> None:
        self._kubectl = kubectl
        self._namespace = namespace
        self._claim_root = claim_root or work_dir / "no-claim"
        self._work_dir = work_dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.ran: list[str] = []
        self.errors: list[BaseException] = []
        self.max_active = 0
        """The most unfinished Jobs of ours seen at once."""

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.max_active = max(self.max_active, self._active_jobs())
                for pod in self._running_pods():
                    self._run(pod)
            except (KubectlError, OSError, ValueError) as error:
                self.errors.append(error)

    def _active_jobs(self) -> int:
        selector = f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"
        found = self._kubectl("get", "-n", self._namespace, "jobs", "-l", selector, "-o", "json")
        jobs: list[dict[str, Any]] = json.loads(found.stdout)["items"]
        return sum(1 for job in jobs if job_state(job) is not None)

    def _running_pods(self) -> list[dict[str, Any]]:
        selector = f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"
        found = self._kubectl("get", "-n", self._namespace, "pods", "-l", selector, "-o", "json")
        pods: list[dict[str, Any]] = json.loads(found.stdout)["items"]
        return [
            pod
            for pod in pods
            if pod.get("status", {}).get("phase") == "Running"
            and pod["metadata"]["name"] not in self.ran
        ]

    def _run(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.ran.append(name)
        code, message = run_dump_container(
            self._resolved(pod), {}, self._claim_root, self._work_dir
        )
        end_pod(self._kubectl, self._namespace, name, code, message)

    def _resolved(self, pod: dict[str, Any]) -> dict[str, Any]:
        """`pod` with every Secret reference replaced by the Secret's value (as the kubelet
        would), whichever Secret it names."""
        resolved = copy.deepcopy(pod)
        secrets: dict[str, dict[str, str]] = {}
        for container in resolved["spec"]["containers"]:
            env = []
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    env.append(variable)
                    continue
                if ref["name"] not in secrets:
                    secrets[ref["name"]] = self._secret(ref["name"])
                value = secrets[ref["name"]].get(ref["key"])
                if value is None and not ref.get("optional"):
                    raise ValueError(f"Secret {ref['name']} lacks key {ref['key']}")
                if value is not None:
                    env.append({"name": variable["name"], "value": value})
            container["env"] = env
        return resolved

    def _secret(self, name: str) -> dict[str, str]:
        try:
            found = self._kubectl("get", "-n", self._namespace, "secret", name, "-o", "json")
        except KubectlError:
            return {}
        data: dict[str, str] = json.loads(found.stdout).get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@contextmanager
def pods_run(
    kubectl: KubectlRunner, namespace: str, claim_root: Path | None, work_dir: Path
) -> Iterator[PodRunner]:
    """A PodRunner for the block; its errors fail the test at the end."""
    runner = PodRunner(kubectl, namespace, claim_root, work_dir)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()
    assert runner.errors == [], runner.errors
