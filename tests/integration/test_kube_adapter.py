"""The Kubernetes adapter's conditional writes against the real API server: adding our
finalizer survives a concurrent write to the metadata, never one to the spec or status."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi

from tenant_backup.adapters.kube import Kube
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tenant_backup.core import naming
from tests.support.factories import backup_body

pytestmark = pytest.mark.usefixtures("crd")


def created(kube_api: ApiClient, namespace: str) -> dict[str, Any]:
    body = backup_body(namespace=namespace)
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        del body["metadata"][field]
    return cast(
        dict[str, Any],
        CustomObjectsApi(kube_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, TENANT_BACKUP.plural, body
        ),
    )


def test_the_finalizer_goes_on_after_an_annotation_written_meanwhile(
    kube_api: ApiClient, namespace: str
) -> None:
    read = created(kube_api, namespace)
    custom = CustomObjectsApi(kube_api)
    patch = {"metadata": {"annotations": {"kopf.example/last-handled": "x"}}}
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, TENANT_BACKUP.plural, "nightly", patch
    )
    marked = Kube(kube_api).add_finalizer(TENANT_BACKUP, read, naming.FINALIZER_ARTIFACT)
    assert marked is not None
    assert marked["metadata"]["finalizers"] == [naming.FINALIZER_ARTIFACT]
    assert marked["metadata"]["annotations"]["kopf.example/last-handled"] == "x"


def test_the_finalizer_is_not_added_to_an_object_whose_status_changed_meanwhile(
    kube_api: ApiClient, namespace: str
) -> None:
    read = created(kube_api, namespace)
    CustomObjectsApi(kube_api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, TENANT_BACKUP.plural, "nightly", {"status": {"phase": "Failed"}}
    )
    assert Kube(kube_api).add_finalizer(TENANT_BACKUP, read, naming.FINALIZER_ARTIFACT) is None
    fresh = CustomObjectsApi(kube_api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, TENANT_BACKUP.plural, "nightly"
    )
    assert "finalizers" not in cast(dict[str, Any], fresh)["metadata"]
