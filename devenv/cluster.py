"""A real Kubernetes control plane on loopback for tests, without Docker.

Runs etcd, kube-apiserver (RBAC, audit log), kube-controller-manager, kube-scheduler and
kwok (which plays the kubelet for one fake Node) from the binaries that
`tools/controlplane/build.sh` builds, each logging to a file in a state directory.
With `pod_gateway` set there is no kwok: the API server also listens for pods behind that
address (its `kubernetes` Service points there) and a real node joins (`real_node.py`).

Library: ``Cluster.start(state_dir)`` ... ``cluster.stop()``.
CLI (from the repo root): ``python -m devenv.cluster up|down|status``; ``up`` starts
a detached cluster in ``.cache/cluster/`` and prints ``export KUBECONFIG=...``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from devenv.paths import CACHE, REPO

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build.sh"
STAGES_FILE = Path(__file__).with_name("kwok-stages.yaml")
DEFAULT_STATE_DIR = CACHE / "cluster"

NODE_NAME = "kwok-node-0"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Pod annotations understood by our kwok stages (see kwok-stages.yaml).
EXIT_CODE_ANNOTATION = "kwok.tenantbackup.dev/exit-code"
MESSAGE_ANNOTATION = "kwok.tenantbackup.dev/message"
REASON_ANNOTATION = "kwok.tenantbackup.dev/reason"
STAY_PENDING_ANNOTATION = "kwok.tenantbackup.dev/stay-pending"

CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "node-lifecycle-controller",
    "persistentvolume-binder-controller",
    "clusterrole-aggregation-controller",
)
# Also run for a real node: the operator's Deployment, and kube-root-ca.crt for token volumes.
REAL_NODE_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "root-ca-certificate-publisher-controller",
)

# Stop order: dependants first, etcd last.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""


class ClusterError(RuntimeError):
    """The control plane could not be started or reached."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {self.stderr}\nstdout: {self.output}"


class KubectlRunner(Protocol):
    """Signature of `Cluster.kubectl` (what the `kubectl` fixture returns)."""

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]: ...


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    """Last `lines` lines of a log file (empty if missing)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- PKI (openssl CLI; the venv has no `cryptography`) -------------------------------------


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args[:2])} failed: {result.stderr}")


def _issue(pki: Path, name: str, subject: str, *exts: str) -> None:
    """Issue `name`.crt/.key (EC P-256) signed by pki/ca."""
    addext = [
        arg for ext in ("basicConstraints=critical,CA:FALSE", *exts) for arg in ("-addext", ext)
    ]
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.crt"),
        "-days", "3650", "-subj", subject,
        "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
        *addext,
    )  # fmt: skip


def issue_client_cert(pki: Path, name: str, subject: str) -> None:
    """Issue client certificate `name`.crt/.key for `subject` (e.g. /O=group/CN=user)."""
    _issue(pki, name, subject, "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=clientAuth")  # fmt: skip


def make_pki(pki: Path, extra_ips: tuple[str, ...] = ()) -> None:
    """CA, apiserver serving cert (also for `extra_ips`), client certs per component,
    service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
        "-days", "3650", "-subj", "/CN=tenant-backup-test-ca",
    )  # fmt: skip
    ips = "".join(f"IP:{ip}," for ip in ("127.0.0.1", "10.96.0.1", *extra_ips))
    san = f"subjectAltName={ips}DNS:localhost,DNS:kubernetes," + (
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    )
    _issue(
        pki, "apiserver", "/CN=kube-apiserver", san,
        "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    for name, subject in (
        ("admin", "/O=system:masters/CN=tbo-admin"),
        ("kwok", "/O=system:masters/CN=kwok"),
        ("controller-manager", "/CN=system:kube-controller-manager"),
        ("scheduler", "/CN=system:kube-scheduler"),
        ("kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client"),
    ):
        issue_client_cert(pki, name, subject)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(pki / "sa.key"))  # fmt: skip
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def write_kubeconfig(
    path: Path, server: str, ca_pem: bytes, user: dict[str, str], name: str = "tbo-test"
) -> Path:
    """Write a single-context kubeconfig; `user` is the kubeconfig `user` mapping."""

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _cert_user(pki: Path, name: str) -> dict[str, str]:
    return {
        "client-certificate-data": base64.b64encode((pki / f"{name}.crt").read_bytes()).decode(),
        "client-key-data": base64.b64encode((pki / f"{name}.key").read_bytes()).decode(),
    }


# --- processes ------------------------------------------------------------------------------


@functools.cache
def die_with_parent() -> Callable[[], object] | None:
    """A preexec_fn making the child get SIGKILL when the thread that started it exits.

    Resolved in the parent: nothing may be loaded between fork and exec.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def alive(pid: int, binary: str | None = None) -> bool:
    """Is `pid` a live (non-zombie) process, running `binary` if given?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return binary is None or cmdline[0].decode(errors="replace") == binary


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
    node_name: str = NODE_NAME
    pod_gateway: str | None = None
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

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
        ca_pem = (pki / "ca.crt").read_bytes()
        api_port = free_port()
        server = f"https://127.0.0.1:{api_port}"
        kubeconfigs = {
            name: write_kubeconfig(state_dir / f"{name}.kubeconfig", server, ca_pem,
                                   _cert_user(pki, name))
            for name in ("admin", "kwok", "controller-manager", "scheduler")
        }  # fmt: skip
        audit_policy = state_dir / "audit-policy.yaml"
        audit_policy.write_text(AUDIT_POLICY)
        cluster = cls(
            state_dir=state_dir,
            server=server,
            kubeconfig=kubeconfigs["admin"],
            ca_file=pki / "ca.crt",
            audit_log=state_dir / "audit.log",
            bin_dir=bin_dir,
            owned=True,
            pod_gateway=pod_gateway,
        )
        if not detach:
            atexit.register(cluster.stop)
        deadline = time.monotonic() + timeout
        try:
            cluster._start_all(pki, api_port, kubeconfigs, audit_policy, deadline, detach)
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
        self,
        pki: Path,
        api_port: int,
        kubeconfigs: dict[str, Path],
        audit_policy: Path,
        deadline: float,
        detach: bool,
    ) -> None:
        sd = self.state_dir
        etcd_port, peer_port, kcm_port, sched_port = (free_port() for _ in range(4))
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._launch("etcd", [
            "--name=default", f"--data-dir={sd / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
        ], detach)  # fmt: skip
        self._wait_http("etcd", f"{etcd_url}/health", None, deadline)

        if self.pod_gateway is None:
            listen = ["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                      "--endpoint-reconciler-type=none"]  # fmt: skip
        else:  # pods reach it through the `kubernetes` Service (kube-proxy) at the gateway
            listen = ["--bind-address=0.0.0.0", f"--advertise-address={self.pod_gateway}"]
        self._launch("kube-apiserver", [
            f"--etcd-servers={etcd_url}", *listen, f"--secure-port={api_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            f"--audit-policy-file={audit_policy}", f"--audit-log-path={self.audit_log}",
            "--profiling=false",
        ], detach)  # fmt: skip
        api_ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        api_ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._wait_http("kube-apiserver", f"{self.server}/readyz", api_ctx, deadline)

        kcm_kc = kubeconfigs["controller-manager"]
        controllers = CONTROLLERS + (REAL_NODE_CONTROLLERS if self.pod_gateway else ())
        self._launch("kube-controller-manager", [
            f"--kubeconfig={kcm_kc}", f"--authentication-kubeconfig={kcm_kc}",
            f"--authorization-kubeconfig={kcm_kc}",
            "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
            f"--cert-dir={sd / 'controller-manager-certs'}",
            f"--controllers={','.join(controllers)}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true", "--leader-elect=false",
            "--kube-api-qps=100", "--kube-api-burst=200",
        ], detach)  # fmt: skip
        sched_kc = kubeconfigs["scheduler"]
        self._launch("kube-scheduler", [
            f"--kubeconfig={sched_kc}", f"--authentication-kubeconfig={sched_kc}",
            f"--authorization-kubeconfig={sched_kc}",
            "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
            f"--cert-dir={sd / 'scheduler-certs'}", "--leader-elect=false",
            "--kube-api-qps=100", "--kube-api-burst=200",
        ], detach)  # fmt: skip
        if self.pod_gateway is None:
            self._launch("kwok", [
                f"--kubeconfig={kubeconfigs['kwok']}", f"--config={STAGES_FILE}",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                "--node-lease-duration-seconds=40", f"--cidr={POD_CIDR}", "--node-ip=10.255.0.1",
            ], detach)  # fmt: skip
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        self._wait_http("kube-controller-manager", f"https://127.0.0.1:{kcm_port}/healthz",
                        insecure, deadline)  # fmt: skip
        self._wait_http("kube-scheduler", f"https://127.0.0.1:{sched_port}/healthz",
                        insecure, deadline)  # fmt: skip

    def _launch(self, name: str, args: list[str], detach: bool) -> None:
        binary = str(self.bin_dir / name)
        log_path = self.state_dir / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [binary, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,  # own process group: stop() kills the group
                preexec_fn=None if detach else die_with_parent(),
            )
        self._procs[name] = proc
        self.pids[name] = proc.pid

    def _check_processes(self) -> None:
        for name, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                raise ClusterError(
                    f"{name} exited with code {code}; last lines of "
                    f"{self.state_dir / f'{name}.log'}:\n{tail(self.state_dir / f'{name}.log')}"
                )

    def _wait_until(self, component: str, check: Callable[[], bool], deadline: float) -> None:
        """Poll `check` until true; fail fast if any process died, else at the deadline."""
        while True:
            self._check_processes()
            try:
                if check():
                    return
            except (OSError, KubectlError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                log = self.state_dir / f"{component}.log"
                raise ClusterError(
                    f"timed out waiting for {component}; last lines of {log}:\n{tail(log)}"
                )
            time.sleep(0.2)

    def _wait_http(
        self, component: str, url: str, context: ssl.SSLContext | None, deadline: float
    ) -> None:
        def healthy() -> bool:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                return int(response.status) == 200

        self._wait_until(component, healthy, deadline)

    def _create_node(self, deadline: float) -> None:
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "spec": {},
            "status": {"allocatable": resources, "capacity": resources},
        }
        self.kubectl("create", "-f", "-", input=json.dumps(node))

        def ready() -> bool:
            got = json.loads(self.kubectl("get", "node", self.node_name, "-o", "json").stdout)
            conditions = got.get("status", {}).get("conditions", [])
            is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            return is_ready and not got.get("spec", {}).get("taints")

        self._wait_until("kwok", ready, deadline)

    def _has_default_sa(self) -> bool:
        return self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0

    def stop(self, grace: float = 10.0) -> None:
        """Stop owned processes: SIGTERM each process group, SIGKILL after `grace` seconds."""
        atexit.unregister(self.stop)
        if not self.owned or not self.pids:
            return
        names = [n for n in reversed(COMPONENTS) if n in self.pids]
        binaries = {name: str(self.bin_dir / name) for name in names}
        live = [n for n in names if n in self._procs or alive(self.pids[n], binaries[n])]
        for name in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pids[name], signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in live:
            if not self._wait_exit(name, binaries[name], deadline):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pids[name], signal.SIGKILL)
                self._wait_exit(name, binaries[name], time.monotonic() + 5)
        self.pids.clear()
        self._procs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "cluster.json").unlink()

    def _wait_exit(self, name: str, binary: str, deadline: float) -> bool:
        proc = self._procs.get(name)
        while True:
            if proc is not None:
                if proc.poll() is not None:
                    return True
            elif not alive(self.pids[name], binary):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

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
        config = yaml.safe_load(kubeconfig.read_text())
        contexts = {c["name"]: c["context"] for c in config["contexts"]}
        context = contexts[config["current-context"]]
        entry = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        state_dir = Path(tempfile.mkdtemp(prefix="tbo-cluster-"))
        if "certificate-authority-data" in entry:
            ca_file = state_dir / "ca.crt"
            ca_file.write_bytes(base64.b64decode(entry["certificate-authority-data"]))
        else:
            ca_file = Path(entry["certificate-authority"])
        return cls(
            state_dir=state_dir,
            server=entry["server"],
            kubeconfig=kubeconfig,
            ca_file=ca_file,
            audit_log=None,
            bin_dir=binaries_dir(),
        )

    def is_running(self) -> bool:
        """All recorded processes alive and the apiserver answering /readyz."""
        if not all(alive(pid, str(self.bin_dir / n)) for n, pid in self.pids.items()):
            return False
        return self.kubectl("get", "--raw=/readyz", check=False, timeout=10).returncode == 0

    # --- clients ---

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run our kubectl as admin; raise KubectlError on failure when `check`."""
        cmd = [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
        return result

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
        events: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), self.audit_log.open() as log:
            for line in log:
                if not line.strip():
                    continue
                event: dict[str, Any] = json.loads(line)
                if username is None or event.get("user", {}).get("username") == username:
                    events.append(event)
        return events


@contextlib.contextmanager
def running_cluster(state_dir: Path | None = None) -> Iterator[Cluster]:
    """Context manager: a started cluster, stopped (and its temp dir removed) on exit."""
    tmp = None if state_dir else Path(tempfile.mkdtemp(prefix="tbo-cluster-"))
    cluster = Cluster.start(state_dir or tmp or Path())
    try:
        yield cluster
    finally:
        cluster.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# --- CLI --------------------------------------------------------------------------------------


def _cmd_up(state_dir: Path) -> int:
    if (state_dir / "cluster.json").exists():
        existing = Cluster.attach(state_dir)
        if existing.is_running():
            print(f"export KUBECONFIG={existing.kubeconfig}")
            return 0
        print("stale cluster state found; cleaning up", file=sys.stderr)
        existing.stop()
    shutil.rmtree(state_dir, ignore_errors=True)
    started = time.monotonic()
    cluster = Cluster.start(state_dir, detach=True)
    print(f"cluster up in {time.monotonic() - started:.1f}s: {cluster.server}", file=sys.stderr)
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def _cmd_down(state_dir: Path) -> int:
    if (state_dir / "cluster.json").exists():
        Cluster.attach(state_dir).stop()
    shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _cmd_status(state_dir: Path) -> int:
    if not (state_dir / "cluster.json").exists():
        print("down")
        return 1
    cluster = Cluster.attach(state_dir)
    running = cluster.is_running()
    print(f"{'up' if running else 'broken'}: {cluster.server} KUBECONFIG={cluster.kubeconfig}")
    return 0 if running else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m devenv.cluster`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    commands = {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status}
    try:
        return commands[args.command](state_dir)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
