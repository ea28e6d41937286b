"""People using a namespace (RBAC subjects other than the operator): bind them a built-in
ClusterRole there, and ask the real authorizer what they may do."""

from __future__ import annotations

import json

from devenv.kubectl import KubectlRunner

RBAC_API = "rbac.authorization.k8s.io"


def bind_cluster_role(kubectl: KubectlRunner, namespace: str, role: str, user: str) -> None:
    """Bind ClusterRole `role` (e.g. the built-in `admin`, `edit`, `view`) to `user` in
    `namespace`."""
    binding = {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{user}-{role}", "namespace": namespace},
        "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": user, "apiGroup": RBAC_API}],
    }
    kubectl("apply", "-f", "-", input=json.dumps(binding))


def can_i(
    kubectl: KubectlRunner, namespace: str, user: str, verb: str, resource: str, *extra: str
) -> bool:
    """`kubectl auth can-i` as `user` in `namespace` (`extra`: e.g. --subresource=status)."""
    result = kubectl(
        "auth", "can-i", verb, resource, "-n", namespace, f"--as={user}", *extra, check=False
    )
    return result.stdout.strip() == "yes"
