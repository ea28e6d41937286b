"""The backup UI under test: a `tenant-backup ui` process against the test API server, users
as ServiceAccounts holding built-in roles (their tokens from the TokenRequest API), and a
real headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tests.support import operator_rbac as rbac
from tests.support.users import RBAC_API, can_i

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "ui"
AGGREGATE_LABEL_PREFIX = f"{RBAC_API}/aggregate-to-"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class UiProcess:
    """`tenant-backup ui` serving on a free loopback port; its log in `log_file`."""

    def __init__(
        self,
        cluster: Cluster,
        namespaces: list[str],
        log_file: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        args = [
            str(Path(sys.executable).parent / "tenant-backup"),
            "ui",
            f"--port={self.port}",
            f"--api-server={cluster.server}",
            f"--certificate-authority={cluster.ca_file}",
            *(f"--namespace={ns}" for ns in namespaces),
        ]
        with log_file.open("wb") as log:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        wait_for(self._healthy, 30, "the UI to serve /healthz")

    def _healthy(self) -> bool:
        assert self._process.poll() is None, self.log_file.read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=15)


def apply_user_roles(cluster: Cluster, kubectl: KubectlRunner) -> None:
    """The ClusterRoles of `manifests/` that aggregate our kinds into `edit`, `view`, `admin`."""
    roles = [
        obj
        for obj in rbac.render_manifests(cluster)
        if obj["kind"] == "ClusterRole"
        and any(key.startswith(AGGREGATE_LABEL_PREFIX) for key in obj["metadata"].get("labels", {}))
    ]
    kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": roles})
    )


def service_account_user(
    cluster: Cluster, kubectl: KubectlRunner, namespace: str, name: str, role: str
) -> str:
    """ServiceAccount `name` holding ClusterRole `role` in `namespace`; a token of it, once
    the aggregated role lets it list TenantBackups there."""
    kubectl("create", "serviceaccount", name, "-n", namespace)
    binding = {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{name}-{role}", "namespace": namespace},
        "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }
    kubectl("apply", "-f", "-", input=json.dumps(binding))
    user = f"system:serviceaccount:{namespace}:{name}"
    wait_for(
        lambda: can_i(kubectl, namespace, user, "list", "tenantbackups"),
        30,
        f"{user} to list tenantbackups (aggregation)",
    )
    return cluster.service_account_token(namespace, name, duration_seconds=3600)


def ui_process(
    cluster: Cluster,
    namespaces: list[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[UiProcess]:
    """A UI process for the block (its log printed after, shown when a test fails); `env`
    adds to its environment."""
    process = UiProcess(cluster, namespaces, log_file, env)
    try:
        yield process
    finally:
        process.stop()
        print(f"--- {log_file.name}\n{log_file.read_text()[-4000:]}")
