"""The one Kubernetes adapter: every API call the operator makes goes through here.

Objects travel as plain JSON dicts (what the pure builders make and `observe` reads); the
typed client models are used only where the client insists on them. Client errors do not
leave this module: the outcomes callers act on (gone, conflict) are return values, and
anything else is a `KubeError`.
"""

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from tenant_backup.api import pod_config
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP_POD_CONFIG, VERSION, Kind
from tenant_backup.api.meta import ObjectMeta
from tenant_backup.api.pod_config import JobPodSpec, TenantBackupPodConfig
from tenant_backup.core import naming

Body = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
FINALIZER_TRIES = 3
T = TypeVar("T")


class KubeError(Exception):
    """An API call failed: the HTTP status (0 when the server was not reached) and why."""

    def __init__(self, action: str, status: int, reason: str) -> None:
        super().__init__(f"{action}: HTTP {status} {reason}")
        self.status = status


class NotLeaderError(KubeError):
    """A write refused before it was sent: this replica does not hold the leader Lease."""


class Kube:
    """Thin, synchronous wrapper over the official client (run from Kopf's sync handlers).
    Every write is sent only while `may_write()` (leader election's fence)."""

    def __init__(
        self, api_client: client.ApiClient, may_write: Callable[[], bool] = lambda: True
    ) -> None:
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self._may_write = may_write

    def _fence(self, action: str) -> None:
        """Raise NotLeaderError unless this replica may write now."""
        if not self._may_write():
            raise NotLeaderError(action, 0, "not the leader: this replica stopped acting")

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """One of our objects, or None when it is gone."""
        with _wrapped(f"get {kind.kind} {namespace}/{name}"):
            return _or_none(
                lambda: self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, kind.plural, name, _preload_content=False
                )
            )

    def write_status(self, kind: Kind, metadata: ObjectMeta, status: BaseModel) -> bool:
        """Replace the status of the object `metadata` names if it is unchanged since it was
        read (`metadata` as read then); False if not (or if it is gone). A merge patch of
        every field of `status`, None for the ones to clear."""
        namespace, name = metadata.namespace, metadata.name
        self._fence(f"write the status of {kind.kind} {namespace}/{name}")
        body = {
            "metadata": {"resourceVersion": metadata.resource_version or ""},
            "status": status.model_dump(mode="json", by_alias=True),
        }
        try:
            _drained(
                self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    namespace,
                    kind.plural,
                    name,
                    body,
                    _content_type=MERGE_PATCH,
                    _preload_content=False,
                )
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise _error(f"write the status of {kind.kind} {namespace}/{name}", error) from None
        return True

    def patch_metadata(
        self, kind: Kind, namespace: str, name: str, resource_version: str, metadata: Body
    ) -> Body | None:
        """Merge-patch the object's metadata (annotations, finalizers: lists are replaced
        whole) if it is unchanged since it was read; the patched object, or None if it changed
        meanwhile (or is gone)."""
        self._fence(f"patch the metadata of {kind.kind} {namespace}/{name}")
        body = {"metadata": {**metadata, "resourceVersion": resource_version}}
        try:
            patched: Body = _json(self._merge_patch(kind, namespace, name, body))
        except ApiException as error:
            if error.status in (404, 409):
                return None
            raise _error(f"patch the metadata of {kind.kind} {namespace}/{name}", error) from None
        return patched

    def _merge_patch(self, kind: Kind, namespace: str, name: str, body: Body) -> Any:
        """A merge patch of the object (not its status); the raw response."""
        return self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            kind.plural,
            name,
            body,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )

    def add_finalizer(self, kind: Kind, body: Body, finalizer: str) -> Body | None:
        """`body`'s object with `finalizer` added; `body` itself if it has the finalizer
        already. Should the object have changed since `body` was read only in its metadata
        (labels or annotations someone wrote meanwhile), it is read again and the finalizer
        added to that; None if its spec or status changed, or it is gone."""
        for _ in range(FINALIZER_TRIES):
            metadata = body["metadata"]
            present = list(metadata.get("finalizers") or [])
            if finalizer in present:
                return body
            patched = self.patch_metadata(
                kind,
                metadata["namespace"],
                metadata["name"],
                metadata["resourceVersion"],
                {"finalizers": [*present, finalizer]},
            )
            if patched is not None:
                return patched
            fresh = self.get(kind, metadata["namespace"], metadata["name"])
            if fresh is None or not _same_but_metadata(fresh, body):
                return None
            body = fresh
        return None

    def remove_finalizer(self, kind: Kind, body: Body, finalizer: str) -> bool:
        """Remove `finalizer` from `body`'s object unless it changed since `body` was read;
        whether it is without it now (False: read it again and decide again)."""
        metadata = body["metadata"]
        present = list(metadata.get("finalizers") or [])
        if finalizer not in present:
            return True
        kept = [name for name in present if name != finalizer]
        patched = self.patch_metadata(
            kind,
            metadata["namespace"],
            metadata["name"],
            metadata["resourceVersion"],
            {"finalizers": kept or None},
        )
        return patched is not None

    def create(self, kind: Kind, body: Body) -> Body:
        """Create one of our objects; an existing object of that name is returned instead
        (re-entrancy: the caller checks whether it is the one it meant)."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        self._fence(f"create {kind.kind} {namespace}/{name}")
        with _wrapped(f"create {kind.kind} {namespace}/{name}"):
            try:
                created: Body = _json(
                    self.custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, kind.plural, body, _preload_content=False
                    )
                )
            except ApiException as error:
                if error.status != 409:
                    raise
                existing = self.get(kind, namespace, name)
                if existing is None:  # deleted meanwhile: the next pass creates it
                    raise
                return existing
            return created

    def annotate(self, kind: Kind, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Add `annotations` to one of our objects (gone: nothing to do)."""
        self._fence(f"annotate {kind.kind} {namespace}/{name}")
        body = {"metadata": {"annotations": annotations}}
        with _wrapped(f"annotate {kind.kind} {namespace}/{name}"):
            _or_none(lambda: self._merge_patch(kind, namespace, name, body))

    def label(
        self, kind: Kind, namespace: str, name: str, labels: Mapping[str, str | None]
    ) -> None:
        """Set `labels` on one of our objects, removing those given None (gone: nothing to
        do)."""
        self._fence(f"label {kind.kind} {namespace}/{name}")
        body = {"metadata": {"labels": dict(labels)}}
        with _wrapped(f"label {kind.kind} {namespace}/{name}"):
            _or_none(lambda: self._merge_patch(kind, namespace, name, body))

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """Delete one of our objects (its finalizers run first); already gone is fine."""
        self._fence(f"delete {kind.kind} {namespace}/{name}")
        with _wrapped(f"delete {kind.kind} {namespace}/{name}"):
            _or_none(
                lambda: self.custom.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, kind.plural, name, _preload_content=False
                )
            )

    def list_objects(
        self, kind: Kind, namespace: str, labels: Mapping[str, str] | None = None
    ) -> list[Body]:
        """Our objects of `kind` in the namespace carrying all of `labels`."""
        selector = ",".join(f"{key}={value}" for key, value in (labels or {}).items())
        with _wrapped(f"list {kind.plural} in {namespace}"):
            return _items(
                self.custom.list_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    kind.plural,
                    label_selector=selector,
                    _preload_content=False,
                )
            )

    def list_jobs(self, namespace: str, labels: Mapping[str, str]) -> list[Body]:
        """The Jobs carrying all of `labels`."""
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        with _wrapped(f"list Jobs in {namespace}"):
            return _items(
                self.batch.list_namespaced_job(
                    namespace, label_selector=selector, _preload_content=False
                )
            )

    def list_job_pods(self, namespace: str, job_name: str) -> list[Body]:
        """The pods of one Job."""
        with _wrapped(f"list the pods of Job {namespace}/{job_name}"):
            return _items(
                self.core.list_namespaced_pod(
                    namespace,
                    label_selector=f"batch.kubernetes.io/job-name={job_name}",
                    _preload_content=False,
                )
            )

    def settle_jobs(self, namespace: str, names: list[str]) -> None:
        """Label Jobs whose outcome their owner recorded `LABEL_SETTLED`, which takes them out
        of the operator's Job watch; they stay for their logs until `jobTtlSeconds` (a Job
        gone already is fine)."""
        body = {"metadata": {"labels": {naming.LABEL_SETTLED: "true"}}}
        for name in names:
            self._fence(f"label Job {namespace}/{name} settled")
            with _wrapped(f"label Job {namespace}/{name} settled"):
                try:
                    _drained(
                        self.batch.patch_namespaced_job(
                            name, namespace, body, _preload_content=False
                        )
                    )
                except ApiException as error:
                    if error.status != 404:
                        raise

    def create_job(self, job: Body) -> Body:
        """Create a Job; an existing Job of that name is returned instead (re-entrancy)."""
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        self._fence(f"create Job {namespace}/{name}")
        model = client.V1Job.from_dict(job)
        if model is None:
            raise ValueError("empty Job")
        with _wrapped(f"create Job {namespace}/{name}"):
            try:
                created: Body = _json(
                    self.batch.create_namespaced_job(namespace, model, _preload_content=False)
                )
            except ApiException as error:
                if error.status != 409:
                    raise
                existing: Body = _json(
                    self.batch.read_namespaced_job(name, namespace, _preload_content=False)
                )
                return existing
            return created

    def pod_config(self, namespace: str) -> JobPodSpec | None:
        """The spec of the namespace's TenantBackupPodConfig, or None when it has none."""
        body = self.get(TENANT_BACKUP_POD_CONFIG, namespace, pod_config.NAME)
        return None if body is None else TenantBackupPodConfig.from_body(body).spec

    def namespace_annotations(self, name: str) -> dict[str, str]:
        """The annotations of a Namespace (empty when it has none)."""
        with _wrapped(f"read Namespace {name}"):
            namespace = _json(self.core.read_namespace(name, _preload_content=False))
        annotations: dict[str, str] = namespace["metadata"].get("annotations") or {}
        return annotations

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's decoded data, or None when it does not exist."""
        with _wrapped(f"read Secret {namespace}/{name}"):
            secret = _or_none(
                lambda: self.core.read_namespaced_secret(name, namespace, _preload_content=False)
            )
        if secret is None:
            return None
        data: dict[str, str] = secret.get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _same_but_metadata(fresh: Body, read: Body) -> bool:
    """Whether `fresh` is the object `read` was, with the same spec and status."""
    return (
        fresh["metadata"].get("uid") == read["metadata"].get("uid")
        and fresh.get("spec") == read.get("spec")
        and fresh.get("status") == read.get("status")
    )


def _json(response: Any) -> Any:
    return json.loads(response.data)


def _drained(response: Any) -> None:
    """Read an answer whole whose content is not needed: an unread response keeps its
    connection out of the pool, and the next call opens (and TLS-handshakes) another one."""
    response.read()


def _items(response: Any) -> list[Body]:
    items: list[Body] = _json(response)["items"]
    return items


def _or_none(call: Callable[[], Any]) -> Body | None:
    try:
        body: Body = _json(call())
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return body


def _error(action: str, error: ApiException) -> KubeError:
    return KubeError(action, error.status or 0, str(error.reason or "unreachable"))


@contextmanager
def _wrapped(action: str) -> Iterator[None]:
    """Turn the client's exceptions into KubeError."""
    try:
        yield
    except ApiException as error:
        raise _error(action, error) from None
