"""The local control plane (KWOK, no real node) by hand, in the background.

``python -m devenv.cluster_cli up|down|status`` (from the repo root): ``up`` starts a
detached cluster in ``.cache/cluster/`` and prints ``export KUBECONFIG=...``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from devenv.cluster import Cluster
from devenv.errors import ClusterError
from devenv.paths import CACHE

DEFAULT_STATE_DIR = CACHE / "cluster"


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
    """Entry point of `python -m devenv.cluster_cli`."""
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
