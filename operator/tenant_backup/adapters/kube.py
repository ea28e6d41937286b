"""The one Kubernetes adapter: every API call the operator makes goes through here.

Objects travel as plain JSON dicts (what the pure builders make and `observe` reads); the
typed client models are used only where the client insists on them.
"""

import base64
import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_backup.core import naming

Body = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"


class Kube:
    """Thin, synchronous wrapper over the official client (run from Kopf's sync handlers)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def get_backup(self, namespace: str, name: str) -> Body | None:
        """The TenantBackup, or None when it is gone."""
        return _or_none(
            lambda: _json(
                self.custom.get_namespaced_custom_object(
                    naming.GROUP,
                    naming.VERSION,
                    namespace,
                    naming.PLURAL,
                    name,
                    _preload_content=False,
                )
            )
        )

    def list_jobs(self, namespace: str, backup_uid: str) -> list[Body]:
        """All Jobs made for one TenantBackup."""
        response = self.batch.list_namespaced_job(
            namespace,
            label_selector=f"{naming.LABEL_BACKUP_UID}={backup_uid}",
            _preload_content=False,
        )
        items: list[Body] = _json(response)["items"]
        return items

    def list_job_pods(self, namespace: str, job_name: str) -> list[Body]:
        """The pods of one Job."""
        response = self.core.list_namespaced_pod(
            namespace,
            label_selector=f"batch.kubernetes.io/job-name={job_name}",
            _preload_content=False,
        )
        items: list[Body] = _json(response)["items"]
        return items

    def create_job(self, job: Body) -> Body:
        """Create a Job; an existing Job of that name is returned instead (re-entrancy)."""
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        model = client.V1Job.from_dict(job)
        if model is None:
            raise ValueError("empty Job")
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

    def namespace_annotations(self, name: str) -> dict[str, str]:
        """The annotations of a Namespace (empty when it has none)."""
        namespace = _json(self.core.read_namespace(name, _preload_content=False))
        annotations: dict[str, str] = namespace["metadata"].get("annotations") or {}
        return annotations

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's decoded data, or None when it does not exist."""
        secret = _or_none(
            lambda: _json(self.core.read_namespaced_secret(name, namespace, _preload_content=False))
        )
        if secret is None:
            return None
        data: dict[str, str] = secret.get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def write_status(self, namespace: str, name: str, resource_version: str, status: Body) -> bool:
        """Replace the status if the object is unchanged since it was read; False if not.

        A merge patch: `status` must hold every field, None for the ones to clear."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        try:
            self.custom.patch_namespaced_custom_object_status(
                naming.GROUP,
                naming.VERSION,
                namespace,
                naming.PLURAL,
                name,
                body,
                _content_type=MERGE_PATCH,
                _preload_content=False,
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise
        return True


def _json(response: Any) -> Any:
    return json.loads(response.data)


def _or_none(call: Callable[[], Body]) -> Body | None:
    try:
        return call()
    except ApiException as error:
        if error.status == 404:
            return None
        raise
