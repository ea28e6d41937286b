"""A real Kubernetes control plane on loopback, without Docker.

Runs etcd, kube-apiserver (RBAC, audit log), kube-controller-manager, kube-scheduler and
kwok (which plays the kubelet for one fake Node) from the binaries that
`tools/controlplane/build.sh` builds, each logging to a file in a state directory; their
command lines are in cluster_config.py. With `pod_gateway` set there is no kwok: the API
server also listens for pods behind that address and a real node joins (`real_node.py`).

Library: ``Cluster.start(state_dir)`` ... ``cluster.stop()``. CLI: cluster_cli.py.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import cluster_config, processes
from devenv.errors import ClusterError
from devenv.kubeconfig import ca_file, cert_user, current_cluster, write_kubeconfig
from devenv.kubectl import run_kubectl
from devenv.paths import REPO
from devenv.pki import make_pki
from devenv.processes import free_port, launch

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build.sh"

# Stop order: dependants first, etcd last.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@functools.cache
def binaries_dir() -> Path:
    """Folder holding the control-plane binaries (env TBO_CONTROLPLANE_BIN, else build.sh)."""
    override = os.environ.get("TBO_CONTROLPLANE_BIN")
    if override:
        return Path(override)
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ClusterError(f"{BUILD_SCRIPT} failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class Cluster:
    """A running control plane (owned: started by us; else attached to someone else's)."""

    state_dir: Path
    server: str
    kubeconfig: Path
    ca_file: Path
    audit_log: Path | None
    bin_dir: Path
    owned: bool = False
    pids: dict[str, int] = field(default_factory=dict)
    node_name: str = cluster_config.NODE_NAME
    pod_gateway: str | None = None
    apiserver_restarts: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """When `start_apiserver` started it again and when it was ready (UNIX seconds)."""
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    _apiserver_args: list[str] = field(default_factory=list, repr=False)

    # --- lifecycle ---

    @classmethod
    def start(
        cls,
        state_dir: Path,
        *,
        timeout: float = 60.0,
        detach: bool = False,
        pod_gateway: str | None = None,
        _attempt: int = 1,
    ) -> Cluster:
        """Start everything in `state_dir` and return once the fake node is Ready.

        With `detach`, processes are not tied to this Python process (CLI `up`);
        otherwise they get SIGKILL when the thread that started them exits (so start it
        from a long-lived thread) and are stopped at interpreter exit. With `pod_gateway`
        (the host's address on the pod network), no kwok and no fake node: see the module doc.
        """
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        bin_dir = binaries_dir()
        pki = state_dir / "pki"
        make_pki(pki, (pod_gateway,) if pod_gateway else ())
        api_port = free_port()
        audit_log = state_dir / "audit.log"
        cluster = cls(
            state_dir=state_dir,
            server=f"https://127.0.0.1:{api_port}",
            kubeconfig=state_dir / "admin.kubeconfig",
            ca_file=pki / "ca.crt",
            audit_log=audit_log,
            bin_dir=bin_dir,
            owned=True,
            pod_gateway=pod_gateway,
        )
        if not detach:
            atexit.register(cluster.stop)
        deadline = time.monotonic() + timeout
        try:
            cluster._start_all(pki, api_port, audit_log, deadline, detach)
            if pod_gateway is None:
                cluster._create_node(deadline)
            cluster._wait_until("kube-controller-manager", cluster._has_default_sa, deadline)
            cluster._write_state()
        except ClusterError as error:
            cluster.stop()
            if _attempt < 3 and "address already in use" in str(error):
                shutil.rmtree(state_dir / "etcd", ignore_errors=True)  # free ports raced
                return cls.start(
                    state_dir,
                    timeout=timeout,
                    detach=detach,
                    pod_gateway=pod_gateway,
                    _attempt=_attempt + 1,
                )
            raise
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_all(
        self, pki: Path, api_port: int, audit_log: Path, deadline: float, detach: bool
    ) -> None:
        sd = self.state_dir
        kubeconfigs = {
            name: write_kubeconfig(sd / f"{name}.kubeconfig", self.server,
                                   self.ca_file.read_bytes(), cert_user(pki, name))
            for name in ("admin", "kwok", "controller-manager", "scheduler")
        }  # fmt: skip
        audit_policy = sd / "audit-policy.yaml"
        audit_policy.write_text(cluster_config.AUDIT_POLICY)
        etcd_port, peer_port, kcm_port, sched_port = (free_port() for _ in range(4))
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._launch("etcd", cluster_config.etcd_args(sd / "etcd", etcd_url, peer_url), detach)
        self._wait_http("etcd", f"{etcd_url}/health", None, deadline)

        audit = (audit_policy, audit_log)
        args = cluster_config.apiserver_args(pki, etcd_url, api_port, audit, self.pod_gateway)
        self._apiserver_args = args
        self._launch("kube-apiserver", args, detach)
        self._wait_apiserver(deadline)

        args = cluster_config.controller_manager_args(
            pki, kubeconfigs["controller-manager"], kcm_port, sd / "controller-manager-certs",
            real_node=self.pod_gateway is not None,
        )  # fmt: skip
        self._launch("kube-controller-manager", args, detach)
        args = cluster_config.scheduler_args(
            kubeconfigs["scheduler"], sched_port, sd / "scheduler-certs"
        )
        self._launch("kube-scheduler", args, detach)
        if self.pod_gateway is None:
            self._launch("kwok", cluster_config.kwok_args(kubeconfigs["kwok"]), detach)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        self._wait_http("kube-controller-manager", f"https://127.0.0.1:{kcm_port}/healthz",
                        insecure, deadline)  # fmt: skip
        self._wait_http("kube-scheduler", f"https://127.0.0.1:{sched_port}/healthz",
                        insecure, deadline)  # fmt: skip

    def _wait_apiserver(self, deadline: float) -> None:
        pki = self.state_dir / "pki"
        api_ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        api_ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._wait_http("kube-apiserver", f"{self.server}/readyz", api_ctx, deadline)

    def stop_apiserver(self, grace: float = 10.0) -> None:
        """Stop the API server alone (SIGTERM, SIGKILL after `grace`): clients get connection
        refused until `start_apiserver`. Only for a cluster started by this process."""
        if not self._apiserver_args:
            raise ClusterError(
                "the API server can be restarted only by the process that started it"
            )
        processes.stop([self._component("kube-apiserver")], grace)

    def start_apiserver(self, timeout: float = 60.0) -> None:
        """Start the API server again, as before and on the same address, and wait until it
        is ready (etcd kept everything; the other components reconnect by themselves)."""
        if not self._apiserver_args:
            raise ClusterError(
                "the API server can be restarted only by the process that started it"
            )
        started = time.time()
        self._launch("kube-apiserver", self._apiserver_args, detach=False)
        self._wait_apiserver(time.monotonic() + timeout)
        self.apiserver_restarts.append((started, time.time()))
        self._write_state()

    def _launch(self, name: str, args: list[str], detach: bool) -> None:
        proc = launch(name, [str(self.bin_dir / name), *args], self.state_dir, detach)
        self._procs[name] = proc
        self.pids[name] = proc.pid

    def _wait_until(self, component: str, check: Callable[[], bool], deadline: float) -> None:
        processes.wait_until(component, check, self._procs, self.state_dir, deadline)

    def _wait_http(
        self, component: str, url: str, context: ssl.SSLContext | None, deadline: float
    ) -> None:
        self._wait_until(component, lambda: processes.http_ok(url, context), deadline)

    def _create_node(self, deadline: float) -> None:
        self.kubectl(
            "create", "-f", "-", input=json.dumps(cluster_config.fake_node(self.node_name))
        )
        self._wait_until("kwok", lambda: self.node_ready(self.node_name), deadline)

    def _has_default_sa(self) -> bool:
        return self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0

    def node_ready(self, name: str) -> bool:
        """Whether Node `name` exists, is Ready and has no taints."""
        got = self.kubectl("get", "node", name, "-o", "json", check=False)
        if got.returncode != 0:
            return False
        node = json.loads(got.stdout)
        conditions = node.get("status", {}).get("conditions", [])
        is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return is_ready and not node.get("spec", {}).get("taints")

    def stop(self, grace: float = 10.0) -> None:
        """Stop owned processes: SIGTERM each process group, SIGKILL after `grace` seconds."""
        atexit.unregister(self.stop)
        if not self.owned or not self.pids:
            return
        names = [n for n in reversed(COMPONENTS) if n in self.pids]
        processes.stop([self._component(name) for name in names], grace)
        self.pids.clear()
        self._procs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "cluster.json").unlink()

    def _component(self, name: str) -> processes.Component:
        return processes.Component(self.pids[name], str(self.bin_dir / name), self._procs.get(name))

    # --- persisted state (CLI, TBO_KUBECONFIG) ---

    def _write_state(self) -> None:
        data = {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "ca_file": str(self.ca_file),
            "audit_log": str(self.audit_log),
            "bin_dir": str(self.bin_dir),
            "node_name": self.node_name,
            "pod_gateway": self.pod_gateway,
            "pids": self.pids,
        }
        tmp = self.state_dir / "cluster.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_dir / "cluster.json")

    @classmethod
    def attach(cls, state_dir: Path, *, owned: bool = True) -> Cluster:
        """The cluster recorded in `state_dir/cluster.json` (by `start`, e.g. via CLI `up`)."""
        state_dir = state_dir.resolve()
        data = json.loads((state_dir / "cluster.json").read_text())
        return cls(
            state_dir=state_dir,
            server=data["server"],
            kubeconfig=Path(data["kubeconfig"]),
            ca_file=Path(data["ca_file"]),
            audit_log=Path(data["audit_log"]),
            bin_dir=Path(data["bin_dir"]),
            owned=owned,
            pids={k: int(v) for k, v in data["pids"].items()},
            node_name=data["node_name"],
            pod_gateway=data.get("pod_gateway"),
        )

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> Cluster:
        """A cluster we do not own, reached through an admin `kubeconfig`.

        If the kubeconfig sits in a state dir written by `start` (CLI `up`), that state is
        used (audit log included); otherwise server and CA come from the kubeconfig.
        """
        kubeconfig = kubeconfig.resolve()
        if (kubeconfig.parent / "cluster.json").exists():
            return cls.attach(kubeconfig.parent, owned=False)
        entry = current_cluster(kubeconfig)
        state_dir = Path(tempfile.mkdtemp(prefix="tbo-cluster-"))
        return cls(
            state_dir=state_dir,
            server=entry["server"],
            kubeconfig=kubeconfig,
            ca_file=ca_file(entry, state_dir),
            audit_log=None,
            bin_dir=binaries_dir(),
        )

    def is_running(self) -> bool:
        """All recorded processes alive and the apiserver answering /readyz."""
        if not all(self._component(name).running() for name in self.pids):
            return False
        return self.kubectl("get", "--raw=/readyz", check=False, timeout=10).returncode == 0

    # --- clients ---

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run our kubectl as admin; raise KubectlError on failure when `check`."""
        return run_kubectl(
            self.bin_dir / "kubectl", self.kubeconfig, *args,
            input=input, check=check, timeout=timeout,
        )  # fmt: skip

    def api_client(self, kubeconfig: Path | None = None) -> ApiClient:
        """A new `kubernetes.client.ApiClient` for the admin (or the given kubeconfig)."""
        from kubernetes import config

        client: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig or self.kubeconfig), persist_config=False
        )
        return client

    def service_account_token(
        self, namespace: str, name: str, *, duration_seconds: int = 7200
    ) -> str:
        """A token for ServiceAccount `namespace/name` from the TokenRequest API."""
        result = self.kubectl(
            "create", "token", name, "-n", namespace, f"--duration={duration_seconds}s"
        )
        return result.stdout.strip()

    def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        path: Path | None = None,
        *,
        duration_seconds: int = 7200,
    ) -> Path:
        """Write a kubeconfig authenticating as ServiceAccount `namespace/name` (token)."""
        token = self.service_account_token(namespace, name, duration_seconds=duration_seconds)
        if path is None:
            path = self.state_dir / "kubeconfigs" / f"{namespace}.{name}.kubeconfig"
        return write_kubeconfig(
            path, self.server, self.ca_file.read_bytes(), {"token": token}, name=f"sa-{name}"
        )

    def audit_events(self, username: str | None = None) -> list[dict[str, Any]]:
        """Audit events logged so far (Metadata level), optionally for one username."""
        if self.audit_log is None:
            raise ClusterError("this cluster's audit log is unknown (attached by kubeconfig)")
        log_path = self.audit_log
        # The API server rotates its log at 100 MB (renamed with a timestamp; older files
        # first). A rotation while the files are read moves unread events into a file not
        # listed yet: read again until no file appeared meanwhile.
        while True:
            rotated = sorted(log_path.parent.glob(f"{log_path.stem}-*{log_path.suffix}"))
            events = [
                event for path in [*rotated, log_path] for event in _audit_events(path, username)
            ]
            if sorted(log_path.parent.glob(f"{log_path.stem}-*{log_path.suffix}")) == rotated:
                return events


def _audit_events(path: Path, username: str | None) -> Iterator[dict[str, Any]]:
    """The events of one audit log file (none if it is gone), of `username` if given."""
    with contextlib.suppress(FileNotFoundError), path.open() as log:
        for line in log:
            if not line.strip() or (username is not None and f'"{username}"' not in line):
                continue  # a cheap test first: the log holds the whole suite's requests
            event: dict[str, Any] = json.loads(line)
            if username is None or event.get("user", {}).get("username") == username:
                yield event
