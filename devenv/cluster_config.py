"""The control plane's component command lines and settings (pure): etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, and kwok with the fake Node it plays the kubelet for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGES_FILE = Path(__file__).with_name("kwok-stages.yaml")
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
    "persistentvolumeclaim-protection-controller",
    "clusterrole-aggregation-controller",
)
# Also run for a real node: the operator's Deployment, kube-root-ca.crt for token volumes,
# and the EndpointSlices kube-proxy routes a Service's address by (the UI's Service).
REAL_NODE_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "root-ca-certificate-publisher-controller",
    "endpointslice-controller",
)

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""


def etcd_args(data_dir: Path, client_url: str, peer_url: str) -> list[str]:
    """etcd: one member, no fsync."""
    return [
        "--name=default", f"--data-dir={data_dir}",
        f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
    ]  # fmt: skip


def apiserver_args(
    pki: Path, etcd_url: str, port: int, audit: tuple[Path, Path], pod_gateway: str | None
) -> list[str]:
    """kube-apiserver with RBAC and an audit log (`audit`: policy file, log file). With
    `pod_gateway` it also listens for pods behind that address (its `kubernetes` Service
    points there, reached through kube-proxy); otherwise on loopback only."""
    if pod_gateway is None:
        listen = ["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                  "--endpoint-reconciler-type=none"]  # fmt: skip
    else:
        listen = ["--bind-address=0.0.0.0", f"--advertise-address={pod_gateway}"]
    return [
        f"--etcd-servers={etcd_url}", *listen, f"--secure-port={port}",
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
        f"--audit-policy-file={audit[0]}", f"--audit-log-path={audit[1]}",
        "--profiling=false",
    ]  # fmt: skip


def controller_manager_args(
    pki: Path, kubeconfig: Path, port: int, cert_dir: Path, *, real_node: bool
) -> list[str]:
    """kube-controller-manager running CONTROLLERS (and REAL_NODE_CONTROLLERS for a real
    node), on loopback."""
    controllers = CONTROLLERS + (REAL_NODE_CONTROLLERS if real_node else ())
    return [
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        f"--controllers={','.join(controllers)}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        "--use-service-account-credentials=true", "--leader-elect=false",
        "--kube-api-qps=100", "--kube-api-burst=200",
    ]  # fmt: skip


def scheduler_args(kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    """kube-scheduler, on loopback."""
    return [
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
        f"--cert-dir={cert_dir}", "--leader-elect=false",
        "--kube-api-qps=100", "--kube-api-burst=200",
    ]  # fmt: skip


def kwok_args(kubeconfig: Path) -> list[str]:
    """kwok with our stages, managing the Nodes annotated as fake (see `fake_node`)."""
    return [
        f"--kubeconfig={kubeconfig}", f"--config={STAGES_FILE}",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
        "--node-lease-duration-seconds=40", f"--cidr={POD_CIDR}", "--node-ip=10.255.0.1",
    ]  # fmt: skip


def fake_node(name: str) -> dict[str, Any]:
    """The Node kwok plays the kubelet for."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": resources},
    }
