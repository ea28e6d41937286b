"""The real node's pod network: a Linux bridge with the host as gateway, and its CNI config.

Pods get addresses from host-local IPAM on `subnet`; the host is `gateway` on the bridge,
which is how pods reach what runs on the host (PostgreSQL, MinIO, the API server). The
bridge is created before anything listens on the gateway address, and deleted at the end.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins


class PodNetworkError(RuntimeError):
    """An `ip` command failed."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise PodNetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class PodNetwork:
    """Bridge name and pod subnet; the gateway is the subnet's first address."""

    bridge: str = "tbo0"
    subnet: str = "10.89.0.0/24"

    @property
    def gateway(self) -> str:
        """The host's address on the pod network."""
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    def bridge_exists(self) -> bool:
        """Whether the bridge is there (one real node per host: the names are fixed)."""
        return _ip("link", "show", self.bridge, check=False).returncode == 0

    @property
    def gateway_mac(self) -> str:
        """The bridge's own MAC: locally administered, made of the gateway address."""
        octets = ipaddress.ip_address(self.gateway).packed
        return ":".join(f"{byte:02x}" for byte in (0x02, 0x42, *octets))

    def create_bridge(self) -> None:
        """The bridge, up, holding the gateway address (the CNI bridge plugin reuses it).

        Its MAC is set: a bridge without one takes the lowest MAC of its ports, so deleting
        a pod could change the gateway's MAC under the others, whose ARP entries then point
        nowhere and their connections to the host stall.
        """
        prefix = ipaddress.ip_network(self.subnet).prefixlen
        _ip("link", "add", self.bridge, "address", self.gateway_mac, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{prefix}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def delete_bridge(self) -> None:
        """Remove the bridge (the pods' veth ends went with their network namespaces)."""
        _ip("link", "delete", self.bridge, check=False)

    def write_cni_config(self, conf_dir: Path, ipam_dir: Path) -> Path:
        """A bridge + host-local + portmap conflist in `conf_dir` (IPAM state in `ipam_dir`).

        No masquerading: pods only talk to the host (and to each other), never beyond.
        """
        conflist = {
            "cniVersion": "0.4.0",
            "name": "tbo-pods",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.subnet, "gateway": self.gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(ipam_dir),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        conf_dir.mkdir(parents=True, exist_ok=True)
        path = conf_dir / "10-tbo-pods.conflist"
        path.write_text(json.dumps(conflist, indent=2))
        return path
