"""A real Kubernetes node on this host, joined to a running control plane: containerd (CRI,
runc, CNI bridge), upstream's kubelet and kube-proxy. Real pods run real images.

Requires root, Debian's containerd, runc, containernetworking-plugins, iptables and
conntrack, and a `Cluster` started with `pod_gateway` (see cluster.py). Everything lives in a
state directory: containerd's root, state and socket, the kubelet's root dir (pod volumes),
the CNI config and IPAM state, configs and logs. Fixed for this host (cgroups v1, no
systemd, no CAP_SYS_RESOURCE): cgroupfs driver, `failCgroupV1: false`, `--oom-score-adj=0`
and containerd's `restrict_oom_score_adj`. Pod cgroups live under `/<cgroup root>` of each
v1 hierarchy, not at the roots.

The kubelet changes host settings (sysctls such as vm.overcommit_memory, kernel.panic and
ip_forward via the bridge plugin) and kube-proxy adds iptables rules (removed at stop):
run it on throwaway machines.

`RealNode.start(cluster, state_dir, images)` ... `node.stop()` (drains the pods, stops
everything, unmounts what the pods mounted, removes cgroups, rules and the bridge).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devenv import processes
from devenv.cluster import Cluster
from devenv.errors import ClusterError
from devenv.images import Image
from devenv.kubeconfig import write_kubeconfig
from devenv.node_config import (
    CGROUP_ROOT,
    NODE_NAME,
    containerd_config,
    kube_proxy_config,
    kubelet_config,
)
from devenv.paths import REPO
from devenv.pki import issue_client_cert
from devenv.pod_network import PodNetwork
from devenv.processes import free_port, launch, tail

BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build-node.sh"
CGROUP_MOUNT = Path("/sys/fs/cgroup")
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CRI_NAMESPACE = "k8s.io"
# Stop order: the kubelet first (no restarts behind our back), containerd last.
COMPONENTS = ("kubelet", "kube-proxy", "containerd")
START_TIMEOUT_SECONDS = 120
DRAIN_TIMEOUT_SECONDS = 60


@functools.cache
def node_binaries() -> Path:
    """Folder holding kubelet and kube-proxy (built on first use by build-node.sh)."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ClusterError(f"{BUILD_SCRIPT} failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def _cgroup_dirs() -> list[Path]:
    """Our cgroup root in every cgroup v1 hierarchy."""
    return [
        hierarchy / CGROUP_ROOT
        for hierarchy in sorted(CGROUP_MOUNT.iterdir())
        if (hierarchy / "cgroup.procs").exists() and not (hierarchy / "cgroup.controllers").exists()
    ]


def _remove_kube_chains() -> None:
    """Delete the KUBE-* iptables chains (and jumps to them) that the kubelet and kube-proxy
    leave behind even after `kube-proxy --cleanup`."""
    for save, tool in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
        dump = subprocess.run([save], capture_output=True, text=True, check=False).stdout
        table, chains = "", []
        for line in dump.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":KUBE-"):
                chains.append((table, line[1:].split()[0]))
            elif line.startswith("-A ") and " -j KUBE-" in line:
                rule = shlex.split(line)[1:]
                subprocess.run([tool, "-t", table, "-D", *rule], capture_output=True, check=False)
        for table, chain in chains:
            subprocess.run([tool, "-t", table, "-F", chain], capture_output=True, check=False)
        for table, chain in chains:
            subprocess.run([tool, "-t", table, "-X", chain], capture_output=True, check=False)


def _mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].encode().decode("unicode_escape"))
        if point == root or root in point.parents:
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


@dataclass
class RealNode:
    """containerd, kubelet and kube-proxy for one Node, started (owned) or attached."""

    cluster: Cluster
    state_dir: Path
    network: PodNetwork = field(default_factory=PodNetwork)
    name: str = NODE_NAME
    pids: dict[str, int] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def socket(self) -> Path:
        """containerd's CRI socket."""
        return self.state_dir / "containerd" / "containerd.sock"

    # --- lifecycle ---

    @classmethod
    def start(
        cls, cluster: Cluster, state_dir: Path, images: list[Image], *, detach: bool = False
    ) -> RealNode:
        """Start the node with `images` imported (the first is the pause image); return
        once the Node is Ready and untainted. `detach` as for `Cluster.start`."""
        if cluster.pod_gateway is None:
            raise ClusterError("the control plane was not started for a real node (pod_gateway)")
        network = PodNetwork()
        if network.gateway != cluster.pod_gateway:
            raise ClusterError(f"pod gateway {cluster.pod_gateway} is not {network.gateway}")
        if network.bridge_exists():
            raise ClusterError(
                f"bridge {network.bridge} exists: another real node runs here (make demo-down),"
                f" or a crashed one left it (ip link delete {network.bridge})"
            )
        node = cls(cluster=cluster, state_dir=state_dir.resolve(), network=network)
        node.state_dir.mkdir(parents=True, exist_ok=True)
        if not detach:
            atexit.register(node.stop)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            network.create_bridge()
            node._start_containerd(images, detach, deadline)
            node._start_kubelet(detach)
            node._start_kube_proxy(detach)
            node._wait_ready(deadline)
            node._write_state()
        except BaseException:
            node.stop()
            raise
        return node

    def _launch(self, name: str, argv: list[str], detach: bool) -> None:
        proc = launch(name, argv, self.state_dir, detach)
        self._procs[name] = proc
        self.pids[name] = proc.pid

    def _wait(self, what: str, check: Callable[[], bool], deadline: float) -> None:
        while not check():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    log = self.state_dir / f"{name}.log"
                    raise ClusterError(f"{name} exited ({proc.returncode}):\n{tail(log)}")
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {n}\n{tail(self.state_dir / f'{n}.log', 15)}" for n in self.pids
                )
                raise ClusterError(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.3)

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `ctr` against our containerd, in the CRI namespace."""
        argv = [CTR, f"--address={self.socket}", f"--namespace={CRI_NAMESPACE}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"ctr {' '.join(args)}: {result.stderr.strip()}")
        return result

    def _start_containerd(self, images: list[Image], detach: bool, deadline: float) -> None:
        state = self.state_dir / "containerd"
        self.network.write_cni_config(state / "cni" / "net.d", state / "cni" / "ipam")
        config = state / "config.toml"
        config.write_text(containerd_config(state, images[0]))
        self._launch("containerd", [self._binary("containerd"), f"--config={config}"], detach)
        self._wait("containerd", lambda: self.ctr("version", check=False).returncode == 0,
                   deadline)  # fmt: skip
        for image in images:
            self.ctr("images", "import", "--no-unpack=false", str(image.tarball))

    def _node_kubeconfig(self, name: str, subject: str) -> Path:
        pki = self.cluster.state_dir / "pki"
        issue_client_cert(pki, name, subject)
        user = {
            "client-certificate": str(pki / f"{name}.crt"),
            "client-key": str(pki / f"{name}.key"),
        }
        return write_kubeconfig(
            self.state_dir / f"{name}.kubeconfig", self.cluster.server,
            self.cluster.ca_file.read_bytes(), user,
        )  # fmt: skip

    def _start_kubelet(self, detach: bool) -> None:
        for cgroup in _cgroup_dirs():
            cgroup.mkdir(exist_ok=True)
        ports = {name: free_port() for name in ("kubelet", "kubelet-healthz")}
        config = self.state_dir / "kubelet.yaml"
        config.write_text(kubelet_config(self.socket, self.cluster.ca_file, self.network, ports))
        # Group system:nodes: the Node authorizer grants it what pods bound here need.
        kubeconfig = self._node_kubeconfig("kubelet", f"/O=system:nodes/CN=system:node:{self.name}")
        self._launch("kubelet", [
            self._binary("kubelet"), f"--config={config}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.state_dir / 'kubelet'}",
            f"--cert-dir={self.state_dir / 'kubelet-pki'}",
            f"--hostname-override={self.name}", f"--node-ip={self.network.gateway}",
            "--oom-score-adj=0", "--v=1",
        ], detach)  # fmt: skip

    def _start_kube_proxy(self, detach: bool) -> None:
        # User system:kube-proxy is bound to ClusterRole system:node-proxier by RBAC bootstrap.
        kubeconfig = self._node_kubeconfig("kube-proxy", "/CN=system:kube-proxy")
        ports = {name: free_port() for name in ("kube-proxy-healthz", "kube-proxy-metrics")}
        config = self.state_dir / "kube-proxy.yaml"
        config.write_text(kube_proxy_config(kubeconfig, self.network, ports))
        self._launch("kube-proxy", [self._binary("kube-proxy"), f"--config={config}"],
                     detach)  # fmt: skip

    def _wait_ready(self, deadline: float) -> None:
        ready = functools.partial(self.cluster.node_ready, self.name)
        self._wait(f"Node {self.name} to be Ready", ready, deadline)

    # --- stop and clean up ---

    def stop(self) -> None:
        """Drain, stop the components, then remove what they left on the host."""
        atexit.unregister(self.stop)
        if self._component_alive("kubelet"):
            self._drain()
        for name in COMPONENTS:
            if name == "containerd":
                self._kill_leftover_tasks()
            self._stop_component(name)
        with contextlib.suppress(OSError):
            subprocess.run([str(node_binaries() / "kube-proxy"), "--cleanup"],
                           capture_output=True, check=False, timeout=60)  # fmt: skip
        _remove_kube_chains()
        self._kill_shims()
        for point in _mounts_under(self.state_dir):
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
        for cgroup in _cgroup_dirs():
            for child in sorted(cgroup.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if child.is_dir():
                    with contextlib.suppress(OSError):
                        child.rmdir()
            with contextlib.suppress(OSError):
                cgroup.rmdir()
        self.network.delete_bridge()
        self.pids.clear()
        self._procs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "node.json").unlink()

    def _component(self, name: str) -> processes.Component:
        return processes.Component(self.pids[name], self._binary(name), self._procs.get(name))

    def _component_alive(self, name: str) -> bool:
        return name in self.pids and self._component(name).running()

    @staticmethod
    def _binary(name: str) -> str:
        return CONTAINERD if name == "containerd" else str(node_binaries() / name)

    def _drain(self) -> None:
        """Cordon the node (no replacement pods), delete its pods and wait until the kubelet
        stopped their containers (so it tears their sandboxes down through CNI)."""
        self.cluster.kubectl("cordon", self.name, check=False)
        self.cluster.kubectl(
            "delete", "pods", "--all-namespaces", "--wait=false",
            f"--field-selector=spec.nodeName={self.name}", "--grace-period=5", check=False,
        )  # fmt: skip
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            listed = self.ctr("tasks", "ls", check=False).stdout.splitlines()[1:]
            if not any("RUNNING" in line for line in listed):
                return
            time.sleep(0.5)

    def _kill_leftover_tasks(self) -> None:
        if not self._component_alive("containerd"):
            return
        for line in self.ctr("tasks", "ls", check=False).stdout.splitlines()[1:]:
            task = line.split()[0]
            self.ctr("tasks", "kill", "--signal=SIGKILL", task, check=False)

    def _kill_shims(self) -> None:
        """SIGKILL the runc shims of our containerd (they outlive it by design)."""
        needle = str(self.socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if needle in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)

    def _stop_component(self, name: str) -> None:
        if name in self.pids:
            processes.stop([self._component(name)], grace=15.0)

    # --- persisted state (demo CLI) ---

    def _write_state(self) -> None:
        (self.state_dir / "node.json").write_text(json.dumps({"pids": self.pids}, indent=2))

    @classmethod
    def attach(cls, cluster: Cluster, state_dir: Path) -> RealNode:
        """The node recorded in `state_dir/node.json` by a detached `start`."""
        data = json.loads((state_dir / "node.json").read_text())
        pids = {name: int(pid) for name, pid in data["pids"].items()}
        return cls(cluster=cluster, state_dir=state_dir.resolve(), pids=pids)
