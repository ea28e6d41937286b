"""Pytest fixtures over `devenv.cluster`: a real control plane per session.

Set TBO_KUBECONFIG to reuse a running cluster (e.g. one from `make cluster-up`)
instead of starting one.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, V1Namespace, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, TENANT_BACKUP_SCHEDULE, TENANT_RESTORE
from tenant_backup.api.kinds import VERSION as API_VERSION
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION, ANY_TENANT

_ALPHABET = string.ascii_lowercase + string.digits


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's control plane (started here, or reused from TBO_KUBECONFIG)."""
    reuse = os.environ.get("TBO_KUBECONFIG")
    if reuse:
        yield Cluster.from_kubeconfig(Path(reuse))
        return
    started = Cluster.start(tmp_path_factory.mktemp("cluster"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def kube_api(cluster: Cluster) -> Iterator[ApiClient]:
    """An admin `kubernetes.client.ApiClient` for the session."""
    client = cluster.api_client()
    with client:
        yield client


def namespace_name(test_name: str) -> str:
    """`t-<short test name>-<random>`, a valid DNS label of at most 63 characters."""
    short = re.sub(r"^test_?", "", test_name.lower())
    short = re.sub(r"[^a-z0-9]+", "-", short).strip("-")[:50].rstrip("-") or "x"
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"t-{short}-{suffix}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube_api: ApiClient) -> Iterator[str]:
    """A fresh namespace (with its `default` ServiceAccount) allowed to back up any tenant;
    deleted after, not awaited, with the finalizers the stopped operator left released."""
    core = CoreV1Api(kube_api)
    name = namespace_name(request.node.name)
    meta = V1ObjectMeta(name=name, annotations={ALLOWED_TENANTS_ANNOTATION: ANY_TENANT})
    core.create_namespace(V1Namespace(metadata=meta))
    wait_for(
        lambda: (
            core.list_namespaced_service_account(name, field_selector="metadata.name=default").items
        ),
        timeout=30,
        message=f"ServiceAccount {name}/default to be created",
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise
    release_finalizers(kube_api, name)


def release_finalizers(kube_api: ApiClient, namespace: str) -> None:
    """Drop every finalizer of our objects in a deleted namespace. The operator that would
    run them is stopped; left in place they keep the namespace Terminating, and the
    namespace controller retries it for the rest of the session (hundreds of requests a
    second over a whole suite)."""
    custom = CustomObjectsApi(kube_api)
    for kind in (TENANT_BACKUP, TENANT_RESTORE, TENANT_BACKUP_SCHEDULE):
        try:
            listed = custom.list_namespaced_custom_object(
                GROUP, API_VERSION, namespace, kind.plural
            )
        except ApiException as error:
            if error.status == 404:
                continue  # the CRD is not installed in this session
            raise
        items: list[dict[str, Any]] = cast(dict[str, Any], listed)["items"]
        for item in items:
            if not item["metadata"].get("finalizers"):
                continue
            try:
                custom.patch_namespaced_custom_object(
                    GROUP, API_VERSION, namespace, kind.plural, item["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )  # fmt: skip
            except ApiException as error:
                if error.status != 404:  # gone meanwhile is fine
                    raise


@pytest.fixture
def kubectl(cluster: Cluster) -> KubectlRunner:
    """`kubectl(*args, input=None, check=True, timeout=60.0) -> CompletedProcess[str]`, as admin."""
    return cluster.kubectl
