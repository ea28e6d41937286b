"""The operator installed the way users install it: the Helm chart, as a real pod.

Used on the real node (`node_cluster.py`) with the locally built image; the chart's RBAC,
Deployment and security context are then what the operator really runs with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from devenv import backup_objects, chart_tools
from devenv.cluster import Cluster
from devenv.images import Image

RELEASE = "tenant-backup-operator"
NAMESPACE = "tenant-backup-system"
CHART_NAME = "tenant-backup-operator"
# The UI's pods carry the release's instance label too: the chart's name tells them apart.
POD_SELECTOR = f"app.kubernetes.io/name={CHART_NAME},app.kubernetes.io/instance={RELEASE}"
UI_SELECTOR = f"app.kubernetes.io/name={CHART_NAME}-ui,app.kubernetes.io/instance={RELEASE}"
UI_SERVICE = f"{RELEASE}-ui"


def install(
    cluster: Cluster, image: Image, job_pod: dict[str, Any] | None = None, **settings: str | int
) -> None:
    """`helm upgrade --install` the chart into NAMESPACE (Pod Security restricted) with
    `image` for the operator and its Jobs; `job_pod` becomes the chart's `jobPod` (the Jobs'
    pod settings), `settings` its `dumpJob.settings` (operator settings, e.g.
    resyncSeconds=2). Returns once the Deployment is available."""
    namespace = backup_objects.restricted_namespace(NAMESPACE)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    repository, tag = image.short_name.rsplit(":", 1)
    values = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "dumpJob": {"settings": settings},
    }
    chart_tools.run(
        "helm", "upgrade", "--install", RELEASE, str(chart_tools.CHART),
        f"--kubeconfig={cluster.kubeconfig}", "--namespace", NAMESPACE,
        "--set-json", f"image={json.dumps(values['image'])}",
        "--set-json", f"dumpJob={json.dumps(values['dumpJob'])}",
        "--set-json", f"jobPod={json.dumps(job_pod or {})}",
        "--wait", "--timeout=180s",
    )  # fmt: skip


def enable_ui(cluster: Cluster, namespaces: Sequence[str]) -> None:
    """Upgrade the release, its values kept, with the backup UI on (`ui.enabled`) looking in
    `namespaces`; returns once the UI's Deployment is available (its pod Ready). The
    operator's pods are not touched: their template does not change."""
    _upgrade(cluster, "--set", "ui.enabled=true",
             "--set-json", f"ui.namespaces={json.dumps(list(namespaces))}",
             "--wait", "--timeout=120s")  # fmt: skip


def disable_ui(cluster: Cluster) -> None:
    """Upgrade the release, its values kept, with the backup UI off (no waiting)."""
    _upgrade(cluster, "--set", "ui.enabled=false")


def _upgrade(cluster: Cluster, *args: str) -> None:
    chart_tools.run(
        "helm", "upgrade", RELEASE, str(chart_tools.CHART), f"--kubeconfig={cluster.kubeconfig}",
        "--namespace", NAMESPACE, "--reuse-values", *args,
    )  # fmt: skip


def ui_pods(cluster: Cluster) -> list[dict[str, Any]]:
    """The backup UI's pods (any phase)."""
    listed = cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", UI_SELECTOR, "-o", "json")
    pods: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return pods


def operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    """The operator's pods (any phase), oldest first."""
    listed = cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", POD_SELECTOR, "-o", "json")
    pods: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return sorted(pods, key=lambda pod: pod["metadata"]["creationTimestamp"])


def leader(cluster: Cluster) -> str:
    """The pod holding the replicas' Lease ('' when none does)."""
    found = cluster.kubectl("get", "lease", "-n", NAMESPACE, RELEASE, "-o", "json", check=False)
    if found.returncode != 0:
        return ""
    holder: str = json.loads(found.stdout)["spec"].get("holderIdentity") or ""
    return holder


def logs(cluster: Cluster, pod: str = "") -> str:
    """The operator pods' logs so far, or one pod's (for failure reports)."""
    chosen = [pod] if pod else ["-l", POD_SELECTOR]
    result = cluster.kubectl(
        "logs", "-n", NAMESPACE, *chosen, "--tail=200", "--prefix", "--timestamps", check=False
    )
    return result.stdout + result.stderr
