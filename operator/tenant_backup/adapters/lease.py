"""The leader-election Lease at the edge: read, create and replace one
`coordination.k8s.io/v1` Lease, every write conditional on what was read."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tenant_backup.adapters.kube import Body, KubeError
from tenant_backup.core.election import LeaseRecord

MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
"""A Lease's MicroTime, in UTC."""


@dataclass(frozen=True)
class StoredLease:
    """The Lease's record and the resourceVersion a replacement must match."""

    record: LeaseRecord
    resource_version: str


class LeaseStore:
    """One Lease, by namespace and name; requests time out after `timeout` seconds."""

    def __init__(self, api_client: client.ApiClient, namespace: str, name: str, timeout: float):
        self._api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self._timeout = timeout

    @classmethod
    def connect(cls, namespace: str, name: str, timeout: float) -> "LeaseStore":
        """The Lease through a client of its own, configured in-cluster or from kubeconfig."""
        config.load_config()  # type: ignore[no-untyped-call]
        return cls(client.ApiClient(), namespace, name, timeout)

    def read(self) -> StoredLease | None:
        """The Lease, or None when it does not exist."""
        try:
            response = self._api.read_namespaced_lease(
                self.name, self.namespace, _preload_content=False, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise _error("read", self, error) from None
        return _stored(_json(response))

    def create(self, record: LeaseRecord) -> bool:
        """Create the Lease holding `record`; False if it exists already."""
        body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": _spec(record)}
        try:
            _json(
                self._api.create_namespaced_lease(
                    self.namespace,
                    _lease(body),
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )  # read whole, so the connection is kept for the next round
        except ApiException as error:
            if error.status == 409:
                return False
            raise _error("create", self, error) from None
        return True

    def replace(self, record: LeaseRecord, resource_version: str) -> bool:
        """Replace the Lease's record if it is still at `resource_version`; False if someone
        wrote it meanwhile (or it is gone)."""
        body = {
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": resource_version,
            },
            "spec": _spec(record),
        }
        try:
            _json(
                self._api.replace_namespaced_lease(
                    self.name,
                    self.namespace,
                    _lease(body),
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise _error("replace", self, error) from None
        return True


def _lease(body: Body) -> Any:
    """The body as the client sends it: a dict goes out as it is, so MicroTimes keep their
    six digits (a V1Lease's datetimes lose them when the microseconds are 0)."""
    return body


def _spec(record: LeaseRecord) -> Body:
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": record.acquire_time.strftime(MICRO_TIME),
        "renewTime": record.renew_time.strftime(MICRO_TIME),
        "leaseTransitions": record.transitions,
    }


def _stored(lease: Body) -> StoredLease:
    spec = lease.get("spec") or {}
    epoch = "1970-01-01T00:00:00Z"
    record = LeaseRecord(
        holder=spec.get("holderIdentity") or "",
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=datetime.fromisoformat(spec.get("acquireTime") or epoch),
        renew_time=datetime.fromisoformat(spec.get("renewTime") or epoch),
        transitions=int(spec.get("leaseTransitions") or 0),
    )
    return StoredLease(record, lease["metadata"]["resourceVersion"])


def _json(response: Any) -> Body:
    body: Body = json.loads(response.data)
    return body


def _error(action: str, store: LeaseStore, error: ApiException) -> KubeError:
    target = f"{action} Lease {store.namespace}/{store.name}"
    return KubeError(target, error.status or 0, str(error.reason or "unreachable"))
