"""`make bench-scale`'s view of the cluster: watches that timestamp what happens, and the
stand-in for dumps.

A "dump" here is not pg_dump: KWOK keeps each dump Job's pod Running, and `Dumps` ends it
`dump_seconds` later with a valid runner result (exit 0 and the success termination
message, as `devenv.pod_executor.end_pod` does), so the Job completes, the operator records
the backup as Succeeded and its slot frees.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from devenv.cluster_config import EXIT_CODE_ANNOTATION, MESSAGE_ANNOTATION
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tenant_backup.api.result import DumpResult, ResultArtifact
from tenant_backup.core import naming

log = logging.getLogger(__name__)
TERMINAL = ("Succeeded", "Failed")
WATCH_SECONDS = 300


def _follow(
    list_call: Callable[..., Any], on_event: Callable[[str, dict[str, Any]], None], **kwargs: Any
) -> None:
    """List then watch forever (in the calling thread), starting over when the watch ends
    or expires; each object goes to `on_event(type, object)` (type ADDED after a list)."""
    while True:
        try:
            listed = list_call(**kwargs)
            for item in listed["items"]:
                on_event("ADDED", item)
            version = listed["metadata"]["resourceVersion"]
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                list_call, resource_version=version, timeout_seconds=WATCH_SECONDS, **kwargs
            )
            for event in stream:
                on_event(event["type"], event["object"])
        except ApiException as error:
            if error.status != 410:
                log.warning("watch failed, starting over: %s", error)
                time.sleep(1)
        except urllib3.exceptions.HTTPError:  # the connection broke (or the cluster stopped)
            time.sleep(1)


def _dict_call(method: Callable[..., Any]) -> Callable[..., Any]:
    """A client list method answering plain dicts, for listing and for the watch (which
    yields dicts when the method's docstring names no model)."""

    def call(**kwargs: Any) -> Any:
        if kwargs.get("watch"):
            return method(**kwargs)
        return json.loads(method(**kwargs, _preload_content=False).data)

    return call


class Timeline:
    """When each TenantBackup turned terminal and each dump Job appeared (local clock,
    as the watches deliver them), and how many backups are terminal now."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._lock = threading.Lock()
        self.finished: dict[str, float] = {}
        self.job_seen: dict[str, float] = {}
        self.job_of: dict[str, str] = {}
        """A backup's first Job's name."""
        custom, batch = client.CustomObjectsApi(api), client.BatchV1Api(api)
        backups = {
            "group": GROUP, "version": VERSION, "namespace": namespace,
            "plural": TENANT_BACKUP.plural,
        }  # fmt: skip
        threading.Thread(
            target=_follow,
            args=(custom.list_namespaced_custom_object, self._backup),
            kwargs=backups,
            daemon=True,
        ).start()
        threading.Thread(
            target=_follow,
            args=(_dict_call(batch.list_namespaced_job), self._job),
            kwargs={"namespace": namespace},
            daemon=True,
        ).start()

    def _backup(self, _: str, body: dict[str, Any]) -> None:
        if (body.get("status") or {}).get("phase") in TERMINAL:
            with self._lock:
                self.finished.setdefault(body["metadata"]["name"], time.time())

    def _job(self, _: str, body: dict[str, Any]) -> None:
        labels = body["metadata"].get("labels") or {}
        backup, name = labels.get(naming.LABEL_BACKUP), body["metadata"]["name"]
        if backup is None:
            return
        with self._lock:
            if name not in self.job_seen:
                self.job_seen[name] = time.time()
                self.job_of.setdefault(backup, name)

    def finished_count(self) -> int:
        """Backups terminal so far."""
        with self._lock:
            return len(self.finished)


class Dumps:
    """Ends each dump pod `dump_seconds` after it runs, up to `budget` pods (raisable)."""

    def __init__(
        self, api: client.ApiClient, namespace: str, dump_seconds: float, budget: int
    ) -> None:
        self.namespace = namespace
        self.dump_seconds = dump_seconds
        self.budget = budget
        self.ended = 0
        self._core = client.CoreV1Api(api)
        self._seen: set[str] = set()
        self._due: list[tuple[float, str, str]] = []
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="end-pod")
        threading.Thread(target=self._run, daemon=True).start()
        threading.Thread(
            target=_follow,
            args=(_dict_call(self._core.list_namespaced_pod), self._pod),
            kwargs={"namespace": namespace},
            daemon=True,
        ).start()

    def raise_budget(self, budget: int) -> None:
        """End up to `budget` pods in all."""
        with self._changed:
            self.budget = budget
            self._changed.notify()

    def _pod(self, _: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        backup = (pod["metadata"].get("labels") or {}).get(naming.LABEL_BACKUP)
        if backup is None or (pod.get("status") or {}).get("phase") != "Running":
            return
        with self._changed:
            if name in self._seen:
                return
            self._seen.add(name)
            heapq.heappush(self._due, (time.time() + self.dump_seconds, name, backup))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self.ended >= self.budget:
                    self._changed.wait(1)
                delay = self._due[0][0] - time.time()
                if delay > 0:
                    self._changed.wait(delay)
                    continue
                _, pod, backup = heapq.heappop(self._due)
                self.ended += 1
            self._pool.submit(self._end, pod, backup)

    def _end(self, pod: str, backup: str) -> None:
        result = DumpResult(
            ok=True,
            artifact=ResultArtifact(
                url=f"pvc://backups/bench/{backup}.pgdump.zst",
                size_bytes=4096,
                sha256="0" * 64,
                format="custom",
                compression="zstd",
            ),
            server_version="15.18",
            pg_dump_version="15.18",
        )
        annotations = {MESSAGE_ANNOTATION: result.to_message(), EXIT_CODE_ANNOTATION: "0"}
        body = {"metadata": {"annotations": annotations}}
        try:
            self._core.patch_namespaced_pod(pod, self.namespace, body)
        except ApiException as error:
            log.warning("ending pod %s failed: %s", pod, error)
