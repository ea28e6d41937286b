"""Kubeconfig files: writing one for a user of the control plane, reading one's cluster."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


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


def cert_user(pki: Path, name: str) -> dict[str, str]:
    """The kubeconfig `user` of client certificate `name` in `pki`, inline."""
    return {
        "client-certificate-data": base64.b64encode((pki / f"{name}.crt").read_bytes()).decode(),
        "client-key-data": base64.b64encode((pki / f"{name}.key").read_bytes()).decode(),
    }


def current_cluster(path: Path) -> dict[str, Any]:
    """The `cluster` entry (server, CA) of the kubeconfig's current context."""
    config = yaml.safe_load(path.read_text())
    contexts = {c["name"]: c["context"] for c in config["contexts"]}
    context = contexts[config["current-context"]]
    entry: dict[str, Any] = next(
        c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"]
    )
    return entry


def ca_file(entry: dict[str, Any], directory: Path) -> Path:
    """The CA file of a kubeconfig `cluster` entry; inline CA data is written to `directory`."""
    if "certificate-authority-data" not in entry:
        return Path(entry["certificate-authority"])
    path = directory / "ca.crt"
    path.write_bytes(base64.b64decode(entry["certificate-authority-data"]))
    return path
