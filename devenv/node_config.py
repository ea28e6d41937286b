"""The real node's component configs (pure): containerd, kubelet and kube-proxy.

The settings this host needs (cgroups v1, no systemd, no CAP_SYS_RESOURCE) are here; see
docs/real-node.md for why each is what it is.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from devenv.images import Image
from devenv.pod_network import CNI_BIN_DIR, PodNetwork

NODE_NAME = "tbo-node-0"
CGROUP_ROOT = "tbo-node"


def containerd_config(state: Path, pause: Image) -> str:
    """containerd's config.toml: root, state, socket and CNI config under `state`."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{state / "root"}"
state = "{state / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{state / "containerd.sock"}"
[{cri}]
  sandbox_image = "{pause.name}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{state / "cni" / "net.d"}"
  max_conf_num = 1
"""


def kubelet_config(socket: Path, ca_file: Path, network: PodNetwork, ports: dict[str, int]) -> str:
    """The KubeletConfiguration (ports: kubelet, kubelet-healthz)."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{CGROUP_ROOT}",
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{socket}",
        "address": network.gateway,
        "port": ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports["kubelet-healthz"],
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "AlwaysAllow"},  # only CA-signed clients get this far
        "failSwapOn": False,
        "resolvConf": "/etc/resolv.conf",
        # Images exist only locally (imported): never collect them, never evict for disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "maxPods": 50,
    }
    return yaml.safe_dump(config, sort_keys=False)


def kube_proxy_config(kubeconfig: Path, network: PodNetwork, ports: dict[str, int]) -> str:
    """The KubeProxyConfiguration (ports: kube-proxy-healthz, kube-proxy-metrics)."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "clusterCIDR": network.subnet,
        "healthzBindAddress": f"127.0.0.1:{ports['kube-proxy-healthz']}",
        "metricsBindAddress": f"127.0.0.1:{ports['kube-proxy-metrics']}",
        "nodePortAddresses": ["primary"],
        "conntrack": {"maxPerCore": 0},  # leave nf_conntrack_max as it is
    }
    return yaml.safe_dump(config, sort_keys=False)
