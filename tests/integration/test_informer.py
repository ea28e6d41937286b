"""The informer against the real API server: what it delivers of TenantBackups, in which
namespaces, across watches that end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, V1Namespace, V1ObjectMeta

from devenv.waiting import wait_for
from tenant_backup.adapters import informer as informer_module
from tenant_backup.adapters.informer import Change, Informer
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tests.support.cluster_fixtures import namespace_name
from tests.support.factories import backup_body

pytestmark = pytest.mark.usefixtures("crd")


class Recorded:
    """What a subscriber was handed, in order."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self._lock = threading.Lock()

    def __call__(self, change: Change) -> None:
        with self._lock:
            self.changes.append(change)

    def seen(self, kind: str | None = None) -> list[tuple[str, str]]:
        with self._lock:
            return [(c.namespace, c.name) for c in self.changes if kind is None or c.type == kind]


@pytest.fixture
def other_namespace(request: pytest.FixtureRequest, kube_api: ApiClient) -> Iterator[str]:
    core = CoreV1Api(kube_api)
    name = namespace_name(f"other-{request.node.name}")
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def create(kube_api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = backup_body(name=name, namespace=namespace)
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        del body["metadata"][field]
    created = CustomObjectsApi(kube_api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, TENANT_BACKUP.plural, body
    )
    return cast(dict[str, Any], created)


def delete(kube_api: ApiClient, namespace: str, name: str) -> None:
    CustomObjectsApi(kube_api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, TENANT_BACKUP.plural, name
    )


def test_it_lists_then_watches_only_the_namespaces_served(
    kube_api: ApiClient, namespace: str, other_namespace: str
) -> None:
    for index in range(3):
        create(kube_api, namespace, f"before-{index}")
    create(kube_api, other_namespace, "elsewhere")
    recorded = Recorded()
    informer = Informer(kube_api, TENANT_BACKUP, [namespace])
    informer.subscribe(recorded)
    informer.start()
    assert informer.wait_synced(30)
    assert sorted(recorded.seen("ADDED")) == [(namespace, f"before-{i}") for i in range(3)]

    create(kube_api, namespace, "after")
    CustomObjectsApi(kube_api).patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        TENANT_BACKUP.plural,
        "before-0",
        {"metadata": {"labels": {"x": "y"}}},
    )
    delete(kube_api, namespace, "before-1")
    wait_for(lambda: (namespace, "before-1") in recorded.seen("DELETED"), 30, "the deletion")
    assert (namespace, "after") in recorded.seen("ADDED")
    modified = [c for c in recorded.changes if c.type == "MODIFIED" and c.name == "before-0"]
    assert modified
    assert modified[-1].body is not None
    assert modified[-1].body["metadata"]["labels"] == {"x": "y"}
    assert all(c.namespace == namespace for c in recorded.changes)


def test_a_pattern_serves_every_matching_namespace_and_watches_that_end_are_resumed(
    kube_api: ApiClient, namespace: str, other_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(informer_module, "WATCH_SECONDS", 1)
    recorded = Recorded()
    informer = Informer(kube_api, TENANT_BACKUP, [namespace, "t-other-*"])
    informer.subscribe(recorded)
    informer.start()
    assert informer.wait_synced(30)
    for index in range(4):  # across several one-second watches
        create(kube_api, namespace, f"n-{index}")
        create(kube_api, other_namespace, f"o-{index}")
        threading.Event().wait(0.7)
    expected = {(namespace, f"n-{i}") for i in range(4)} | {
        (other_namespace, f"o-{i}") for i in range(4)
    }
    wait_for(lambda: expected <= set(recorded.seen("ADDED")), 30, "every creation")
    # Each creation once: a resumed watch starts after the last version seen.
    added = recorded.seen("ADDED")
    assert sorted(added) == sorted(set(added)), added
