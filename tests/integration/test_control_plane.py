"""The test control plane is real: RBAC, Job controller, scheduler, GC, TTL, kwok stages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client import (
    ApiClient,
    BatchV1Api,
    CoreV1Api,
    RbacAuthorizationV1Api,
    V1ConfigMap,
    V1Job,
    V1Namespace,
    V1ObjectMeta,
    V1OwnerReference,
    V1Pod,
    V1PolicyRule,
    V1Role,
    V1RoleBinding,
    V1RoleRef,
    V1ServiceAccount,
)
from kubernetes.client.exceptions import ApiException

from devenv.cluster import Cluster
from devenv.cluster_config import (
    EXIT_CODE_ANNOTATION,
    MESSAGE_ANNOTATION,
    REASON_ANNOTATION,
    STAY_PENDING_ANNOTATION,
)
from devenv.waiting import wait_for
from tests.support.cluster_fixtures import namespace_name

pytestmark = pytest.mark.timeout(120)


def _job(name: str, *, ttl: int | None = None, annotations: dict[str, str] | None = None) -> V1Job:
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"annotations": annotations or {}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "registry.invalid/backup:test"}],
            },
        },
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return V1Job.model_validate({"metadata": {"name": name}, "spec": spec})


def _job_pod(core: CoreV1Api, namespace: str, job: str, phase: str | None = None) -> V1Pod:
    """Wait for the (single) pod of `job`, optionally until it reaches `phase`."""

    def find() -> V1Pod | None:
        pods = core.list_namespaced_pod(
            namespace, label_selector=f"batch.kubernetes.io/job-name={job}"
        ).items
        if len(pods) != 1:
            return None
        pod = pods[0]
        if phase is not None and (pod.status is None or pod.status.phase != phase):
            return None
        return pod

    return wait_for(find, timeout=30, message=f"pod of job {namespace}/{job} in phase {phase}")


def _job_condition(batch: BatchV1Api, namespace: str, job: str, kind: str) -> None:
    def has_condition() -> bool:
        status = batch.read_namespaced_job_status(job, namespace).status
        conditions = (status.conditions if status else None) or []
        return any(c.type == kind and c.status == "True" for c in conditions)

    wait_for(has_condition, timeout=30, message=f"job {namespace}/{job} condition {kind}")


def _gone(read: Callable[[], object]) -> bool:
    """True once `read()` answers 404."""
    try:
        read()
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def _phase(core: CoreV1Api, namespace: str, pod: str) -> str | None:
    status = core.read_namespaced_pod_status(pod, namespace).status
    return status.phase if status else None


def test_fake_node_is_ready_and_schedulable(kube_api: ApiClient, cluster: Cluster) -> None:
    node = CoreV1Api(kube_api).read_node(cluster.node_name)
    assert node.status is not None
    assert node.status.allocatable == {"cpu": "32", "memory": "256Gi", "pods": "110"}
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    assert not (node.spec and node.spec.taints)


def test_rbac_is_enforced_for_service_account_tokens(
    cluster: Cluster, kube_api: ApiClient, namespace: str
) -> None:
    core = CoreV1Api(kube_api)
    rbac = RbacAuthorizationV1Api(kube_api)
    core.create_namespaced_service_account(
        namespace, V1ServiceAccount(metadata=V1ObjectMeta(name="reader"))
    )
    kubeconfig = cluster.service_account_kubeconfig(namespace, "reader")
    username = f"system:serviceaccount:{namespace}:reader"

    with cluster.api_client(kubeconfig) as sa_client:
        sa_core = CoreV1Api(sa_client)
        with pytest.raises(ApiException) as refused:
            sa_core.list_namespaced_pod(namespace)
        assert refused.value.status == 403

        rbac.create_namespaced_role(
            namespace,
            V1Role(
                metadata=V1ObjectMeta(name="pod-reader"),
                rules=[V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            V1RoleBinding.model_validate(
                {
                    "metadata": {"name": "reader-pod-reader"},
                    "roleRef": V1RoleRef(
                        api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"
                    ),
                    "subjects": [
                        {"kind": "ServiceAccount", "name": "reader", "namespace": namespace}
                    ],
                }
            ),
        )
        pods = wait_for(
            lambda: sa_core.list_namespaced_pod(namespace),
            timeout=10,
            message="list pods allowed after the RoleBinding",
            ignore=(ApiException,),
        )
        assert pods.items == []
        with pytest.raises(ApiException) as still_refused:
            sa_core.list_namespaced_secret(namespace)
        assert still_refused.value.status == 403

    if cluster.audit_log is not None:
        # The audit log (Metadata level) records both the refusal and the allowed list.
        def pod_list_codes() -> set[int] | None:
            codes = {
                int(e["responseStatus"]["code"])
                for e in cluster.audit_events(username)
                if e["objectRef"].get("resource") == "pods" and e["verb"] == "list"
            }
            return codes if {200, 403} <= codes else None

        wait_for(pod_list_codes, timeout=10, message=f"audit events for {username}")


@pytest.mark.parametrize(
    ("exit_code", "message", "reason", "phase", "job_condition"),
    [
        pytest.param(
            0,
            json.dumps({"bytes": 1234, "note": 'quotes " \\ <&> and\nnewline'}),
            None,
            "Succeeded",
            "Complete",
            id="success",
        ),
        pytest.param(1, "disk full", None, "Failed", "Failed", id="error"),
        pytest.param(137, "", "OOMKilled", "Failed", "Failed", id="oomkilled"),
    ],
)
def test_job_pod_runs_until_annotated_then_exits(
    kube_api: ApiClient,
    cluster: Cluster,
    namespace: str,
    exit_code: int,
    message: str,
    reason: str | None,
    phase: str,
    job_condition: str,
) -> None:
    core, batch = CoreV1Api(kube_api), BatchV1Api(kube_api)
    batch.create_namespaced_job(namespace, _job("backup"))

    pod = _job_pod(core, namespace, "backup", phase="Running")
    assert pod.spec is not None
    assert pod.spec.node_name == cluster.node_name
    assert pod.status is not None
    assert pod.status.pod_ip
    assert pod.status.container_statuses
    assert all(s.ready and s.state and s.state.running for s in pod.status.container_statuses)
    assert pod.metadata is not None
    assert pod.metadata.name
    time.sleep(1.0)  # not annotated: it must stay Running
    assert _phase(core, namespace, pod.metadata.name) == "Running"

    annotations = {EXIT_CODE_ANNOTATION: str(exit_code)}
    if message:
        annotations[MESSAGE_ANNOTATION] = message
    if reason:
        annotations[REASON_ANNOTATION] = reason
    core.patch_namespaced_pod(
        pod.metadata.name, namespace, {"metadata": {"annotations": annotations}}
    )

    done = _job_pod(core, namespace, "backup", phase=phase)
    assert done.status is not None
    assert done.status.container_statuses
    state = done.status.container_statuses[0].state
    assert state is not None
    terminated = state.terminated
    assert terminated is not None
    assert terminated.exit_code == exit_code
    assert (terminated.message or "") == message
    assert terminated.reason == (reason or ("Completed" if exit_code == 0 else "Error"))
    if exit_code == 0:
        assert json.loads(terminated.message or "") == json.loads(message)
    _job_condition(batch, namespace, "backup", job_condition)
    # Finished pods are kept (kwok does not delete them).
    assert _job_pod(core, namespace, "backup", phase=phase)


def test_stay_pending_annotation_keeps_pod_pending(kube_api: ApiClient, namespace: str) -> None:
    core, batch = CoreV1Api(kube_api), BatchV1Api(kube_api)
    batch.create_namespaced_job(
        namespace, _job("waits", annotations={STAY_PENDING_ANNOTATION: "true"})
    )
    pod = wait_for(
        lambda: next(
            (p for p in core.list_namespaced_pod(namespace).items if p.spec and p.spec.node_name),
            None,
        ),
        timeout=30,
        message="pod scheduled",
    )
    assert pod.metadata is not None
    assert pod.metadata.name
    time.sleep(2.0)
    status = core.read_namespaced_pod_status(pod.metadata.name, namespace).status
    assert status is not None
    assert status.phase == "Pending"
    assert not status.pod_ip

    core.patch_namespaced_pod(
        pod.metadata.name,
        namespace,
        {"metadata": {"annotations": {STAY_PENDING_ANNOTATION: None}}},
    )
    _job_pod(core, namespace, "waits", phase="Running")


def test_owner_reference_garbage_collection(kube_api: ApiClient, namespace: str) -> None:
    core = CoreV1Api(kube_api)
    owner = core.create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="owner"))
    )
    assert owner.metadata is not None
    assert owner.metadata.uid
    reference = V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace,
        V1ConfigMap(metadata=V1ObjectMeta(name="owned", owner_references=[reference])),
    )
    core.delete_namespaced_config_map("owner", namespace)
    wait_for(
        lambda: _gone(lambda: core.read_namespaced_config_map("owned", namespace)),
        timeout=30,
        message="owned ConfigMap garbage-collected",
    )


def test_ttl_after_finished_deletes_job_and_its_pods(kube_api: ApiClient, namespace: str) -> None:
    core, batch = CoreV1Api(kube_api), BatchV1Api(kube_api)
    batch.create_namespaced_job(
        namespace, _job("short-lived", ttl=0, annotations={EXIT_CODE_ANNOTATION: "0"})
    )

    wait_for(
        lambda: _gone(lambda: batch.read_namespaced_job("short-lived", namespace)),
        timeout=45,
        message="finished Job deleted by ttl-after-finished",
    )
    # Its pods were deleted in cascade: kwok's pod-delete stage clears their finalizers.
    wait_for(
        lambda: not core.list_namespaced_pod(namespace).items,
        timeout=30,
        message="pods of the deleted Job removed",
    )


def test_namespace_deletion_completes_with_running_pods(kube_api: ApiClient) -> None:
    core, batch = CoreV1Api(kube_api), BatchV1Api(kube_api)
    name = namespace_name("doomed")
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    wait_for(
        lambda: core.list_namespaced_service_account(name).items,
        timeout=30,
        message="default ServiceAccount",
    )
    batch.create_namespaced_job(name, _job("runs"))
    _job_pod(core, name, "runs", phase="Running")
    core.delete_namespace(name)
    wait_for(
        lambda: _gone(lambda: core.read_namespace(name)),
        timeout=60,
        message=f"namespace {name} deleted",
    )
