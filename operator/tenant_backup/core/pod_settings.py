"""Pure: the settings of a Job's pod, from the chart-wide defaults and the namespace's
TenantBackupPodConfig, and how they go into the pod.

The namespace's config applies over the defaults: the service account replaces, pull
Secrets and tolerations add up, annotations, labels and the node selector merge key by key,
each affinity kind and each resource quantity given replaces. The priority class is the
defaults' alone. The operator's own labels and annotations are applied after all of them,
and nothing here reaches the security contexts or the service-account token.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from tenant_backup.api.pod_config import JobPodDefaults, JobPodSpec, Resources
from tenant_backup.settings import Settings

Body = dict[str, Any]
T = TypeVar("T")


def merge(defaults: JobPodDefaults, namespace: JobPodSpec | None) -> JobPodDefaults:
    """The settings a namespace's Jobs get: `namespace` over `defaults`."""
    if namespace is None:
        return defaults
    return JobPodDefaults(
        service_account_name=namespace.service_account_name or defaults.service_account_name,
        image_pull_secrets=_union(defaults.image_pull_secrets, namespace.image_pull_secrets),
        annotations=defaults.annotations | namespace.annotations,
        labels=defaults.labels | namespace.labels,
        node_selector=defaults.node_selector | namespace.node_selector,
        tolerations=_union(defaults.tolerations, namespace.tolerations),
        affinity=defaults.affinity | {kind: v for kind, v in namespace.affinity.items() if v},
        priority_class_name=defaults.priority_class_name,
        resources=Resources(
            requests=defaults.resources.requests | namespace.resources.requests,
            limits=defaults.resources.limits | namespace.resources.limits,
        ),
    )


def _union(first: list[T], second: list[T]) -> list[T]:
    """`first`, then what `second` adds, each once, in order."""
    out: list[T] = []
    for item in [*first, *second]:
        if item not in out:
            out.append(item)
    return out


def resources(settings: Settings, pod: JobPodDefaults) -> Body:
    """The container's resources: the operator's settings, each quantity `pod` gives
    replacing the setting's."""
    requests = {"cpu": settings.cpu_request, "memory": settings.memory_request}
    limits = {"memory": settings.memory_limit}
    return {
        "requests": requests | pod.resources.requests,
        "limits": limits | pod.resources.limits,
    }


def pod_metadata(
    pod: JobPodDefaults, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Body:
    """The pod template's metadata: `pod`'s labels and annotations under the operator's."""
    merged_annotations = pod.annotations | dict(annotations)
    return {
        "labels": pod.labels | dict(labels),
        **({"annotations": merged_annotations} if merged_annotations else {}),
    }


def pod_spec_fields(pod: JobPodDefaults) -> Body:
    """The pod spec's fields `pod` sets; none the operator's hardening sets."""
    fields: Body = {
        "serviceAccountName": pod.service_account_name,
        "imagePullSecrets": [secret.wire() for secret in pod.image_pull_secrets],
        "nodeSelector": pod.node_selector,
        "tolerations": [toleration.wire() for toleration in pod.tolerations],
        "affinity": pod.affinity,
        "priorityClassName": pod.priority_class_name,
    }
    return {key: value for key, value in fields.items() if value}
