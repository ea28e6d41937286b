"""Pure: the Job of one attempt of any runner subcommand, locked down the same way for all.

One pod, no retries of its own (the attempt machine retries), non-root, read-only root
filesystem, no capabilities, no privilege escalation, seccomp RuntimeDefault, no
service-account token: the runner reports through its termination message. The pod
settings (`core.pod_settings`: the chart-wide defaults and the namespace's
TenantBackupPodConfig) place and size it, and change none of that.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.pod_config import JobPodSpec
from tenant_backup.core import pod_settings
from tenant_backup.settings import Settings

Body = dict[str, Any]
# The root filesystem is read-only; pg_restore's output during verification is spooled here.
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 (in the pod: the emptyDir)


@dataclass(frozen=True)
class JobRequest:
    """What differs between the Jobs of different kinds and attempts."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    owner_reference: Body
    container: str
    """The container's name: the runner subcommand (`dump`, `restore`, `prune`)."""
    command: Sequence[str]
    """The runner's argv: only non-secret, validated values."""
    active_deadline_seconds: int
    env: Sequence[Body] = field(default_factory=list)
    volumes: Sequence[Body] = field(default_factory=list)
    volume_mounts: Sequence[Body] = field(default_factory=list)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """Read by the container through a downwardAPI volume (a restore's checks)."""
    pod: JobPodSpec | None = None
    """The namespace's TenantBackupPodConfig, if it has one."""


def _security_context(uid: int) -> Body:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def build_job(request: JobRequest, settings: Settings) -> Body:
    """The Job manifest for `request`."""
    uid = settings.run_as_user
    pod = pod_settings.merge(settings.job_pod, request.pod)
    container = {
        "name": request.container,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(request.command),
        "env": list(request.env),
        "volumeMounts": [*request.volume_mounts, TMP_MOUNT],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "resources": pod_settings.resources(settings, pod),
        "securityContext": _security_context(uid),
    }
    pod_security = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": request.name,
            "namespace": request.namespace,
            "labels": dict(request.labels),
            "ownerReferences": [request.owner_reference],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": request.active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "template": {
                "metadata": pod_settings.pod_metadata(pod, request.labels, request.pod_annotations),
                "spec": {
                    **pod_settings.pod_spec_fields(pod),
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security,
                    "containers": [container],
                    "volumes": [*request.volumes, TMP_VOLUME],
                },
            },
        },
    }
