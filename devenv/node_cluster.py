"""A control plane with one real node and the locally built images: what `make demo` and
the end-to-end tests run on. Its state lives in one directory (`cp/`, `node/`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devenv.cluster import Cluster
from devenv.images import Image, operator_image, pause_image
from devenv.pod_network import PodNetwork
from devenv.real_node import RealNode


@dataclass
class NodeCluster:
    """The running pieces, and the operator image the node holds."""

    cluster: Cluster
    node: RealNode
    image: Image

    @classmethod
    def start(cls, state_dir: Path, *, detach: bool = False) -> NodeCluster:
        """Build (or reuse) the images, start the control plane, then the node."""
        images = [pause_image(), operator_image()]
        cluster = Cluster.start(state_dir / "cp", pod_gateway=PodNetwork().gateway, detach=detach)
        try:
            node = RealNode.start(cluster, state_dir / "node", images, detach=detach)
        except BaseException:
            cluster.stop()
            raise
        return cls(cluster, node, images[1])

    @staticmethod
    def stop_recorded(state_dir: Path) -> None:
        """Stop whatever a detached `start` in `state_dir` left running."""
        if (state_dir / "cp" / "cluster.json").exists():
            cluster = Cluster.attach(state_dir / "cp")
            if (state_dir / "node" / "node.json").exists():
                RealNode.attach(cluster, state_dir / "node").stop()
            cluster.stop()

    def stop(self) -> None:
        """Stop the node (draining it), then the control plane."""
        try:
            self.node.stop()
        finally:
            self.cluster.stop()
