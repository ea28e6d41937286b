"""The operator's identity from `manifests/` (ServiceAccount and RBAC) and its audit trail.

The test suite runs the operator as that ServiceAccount, so every request it makes is
checked by the real RBAC authorizer; the audit log then shows which rules were used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from devenv.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
NAMESPACE = "tenant-backup-system"
SERVICE_ACCOUNT = "tenant-backup-operator"
USERNAME = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

# What `--namespace` mode adds (the chart renders it when `watchNamespaces` is set): Kopf lists
# and watches Namespaces to resolve the served ones. The suite runs the operator that way so
# each test sees only its own namespace; --all-namespaces never makes these requests.
NAMESPACED_MODE_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
]
NAMESPACED_MODE_NAME = "tenant-backup-operator-namespaces"

Permission = tuple[str, str, str]
"""(apiGroup, resource[/subresource], verb), "" for the core group."""


def render_manifests(cluster: Cluster) -> list[dict[str, Any]]:
    """`kubectl kustomize manifests/`: every object of the base."""
    rendered = cluster.kubectl("kustomize", str(MANIFESTS)).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def namespaced_mode_objects() -> list[dict[str, Any]]:
    """The ClusterRole and binding `--namespace` mode needs on top of the manifests."""
    meta = {"name": NAMESPACED_MODE_NAME}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta,
            "rules": NAMESPACED_MODE_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAMESPACED_MODE_NAME,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
            ],
        },
    ]


def install_identity(cluster: Cluster, kubeconfig: Path) -> Path:
    """Apply the manifests' ServiceAccount and RBAC (plus namespaced mode's rule); write a
    kubeconfig with a token of that ServiceAccount to `kubeconfig` and return it."""
    rbac = [o for o in render_manifests(cluster) if o["kind"] in RBAC_KINDS]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    items = [namespace, *rbac, *namespaced_mode_objects()]
    cluster.kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    return cluster.service_account_kubeconfig(NAMESPACE, SERVICE_ACCOUNT, kubeconfig)


def granted(rules: Iterable[dict[str, Any]]) -> set[Permission]:
    """Every (group, resource, verb) the rules grant (no wildcards are used)."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def manifest_rules(cluster: Cluster) -> list[dict[str, Any]]:
    """The rules of every ClusterRole and Role in `manifests/` bound to the operator."""
    objs = render_manifests(cluster)
    bound = {
        (obj["roleRef"]["kind"], obj["roleRef"]["name"])
        for obj in objs
        if obj["kind"] in ("ClusterRoleBinding", "RoleBinding")
        and any(subject.get("name") == SERVICE_ACCOUNT for subject in obj.get("subjects", []))
    }
    return [
        rule
        for obj in objs
        if (obj["kind"], obj["metadata"]["name"]) in bound
        for rule in obj.get("rules", [])
    ]


def used(events: Iterable[dict[str, Any]]) -> set[Permission]:
    """The (group, resource, verb) of every resource request in audit events."""
    found = set()
    for event in events:
        ref = event.get("objectRef")
        if not ref or "resource" not in ref:
            continue  # discovery (/api, /apis) is a non-resource URL every user may read
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        found.add((ref.get("apiGroup", ""), resource, event["verb"]))
    return found


RBAC_SETTLING_SECONDS = 10.0
"""After an API server restart, how long its RBAC authorizer may refuse everything while its
caches fill (audit: decision forbid, no reason)."""


def forbidden(
    events: Iterable[dict[str, Any]], restarts: Iterable[tuple[float, float]] = ()
) -> list[str]:
    """`verb URI` of every request the authorizer refused (HTTP 403), except those received
    while a restarted API server was coming up (`restarts`: its start and ready times), when
    an authorizer with empty caches refuses any request."""
    windows = [(start, ready + RBAC_SETTLING_SECONDS) for start, ready in restarts]

    def settling(event: dict[str, Any]) -> bool:
        received = datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp()
        return any(start <= received <= end for start, end in windows)

    return [
        f"{e['verb']} {e['requestURI']}"
        for e in events
        if e.get("responseStatus", {}).get("code") == 403 and not settling(e)
    ]
