"""Runs a Job pod's dump container for real on this host, the part of a kubelet KWOK lacks.

The container's argv, environment from the Secret (secretKeyRef) and volume mount are taken
from the pod the operator's Job created; the real runner runs them against the real
PostgreSQL, and its termination message is handed to KWOK, which ends the pod with it. So
the operator -> Job -> runner -> status contract is exercised end to end, minus the image.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devenv.cluster_config import EXIT_CODE_ANNOTATION, MESSAGE_ANNOTATION, REASON_ANNOTATION
from devenv.kubectl import KubectlRunner

RUNNER = Path(sys.executable).parent / "tenant-backup"


def container_env(container: Mapping[str, Any], secret: Mapping[str, str]) -> dict[str, str]:
    """Resolve `env` the way the kubelet does, from literal values and one Secret."""
    env: dict[str, str] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        ref = variable["valueFrom"]["secretKeyRef"]
        if ref["key"] in secret:
            env[variable["name"]] = secret[ref["key"]]
        elif not ref.get("optional"):
            raise KeyError(f"Secret key {ref['key']} missing: the kubelet would not start this")
    return env


def _remapped(arg: str, mount_path: str, volume_root: Path) -> str:
    """`--flag=<mount path>[/...]` with the mount path replaced by `volume_root`."""
    flag, equals, value = arg.partition("=")
    if equals and (value == mount_path or value.startswith(mount_path + "/")):
        return f"{flag}={volume_root}{value[len(mount_path) :]}"
    return arg


_ANNOTATION_FIELD = re.compile(r"^metadata\.annotations\['([^']+)'\]$")


def _secret_volume(volume: Mapping[str, Any], secret: Mapping[str, str], root: Path) -> None:
    """Write a secret volume's items from `secret`, with their mode, as the kubelet does."""
    source = volume["secret"]
    for item in source.get("items", []):
        if item["key"] not in secret:
            raise KeyError(f"Secret key {item['key']} missing: the kubelet would not start this")
        path = root / item["path"]
        path.write_text(secret[item["key"]])
        path.chmod(item.get("mode", source.get("defaultMode", 0o644)))


def _volume_roots(
    pod: Mapping[str, Any], secret: Mapping[str, str], claim_root: Path, work_dir: Path
) -> dict[str, Path]:
    """Where each volume of the pod is on this host: the claim at `claim_root`; an emptyDir
    (a restore's work volume), a downwardAPI volume (its items written, from the pod's
    annotations) and a secret volume (its items from `secret`) in fresh directories under
    `work_dir`. The runner's own /tmp is the host's."""
    roots: dict[str, Path] = {}
    name = pod["metadata"]["name"]
    annotations = pod["metadata"].get("annotations") or {}
    for volume in pod["spec"].get("volumes", []):
        if "persistentVolumeClaim" in volume:
            roots[volume["name"]] = claim_root
        elif "secret" in volume:
            root = work_dir / f"{name}-{volume['name']}"
            root.mkdir(parents=True, exist_ok=True)
            _secret_volume(volume, secret, root)
            roots[volume["name"]] = root
        elif volume["name"] != "tmp" and ("emptyDir" in volume or "downwardAPI" in volume):
            root = work_dir / f"{name}-{volume['name']}"
            root.mkdir(parents=True, exist_ok=True)
            for item in volume.get("downwardAPI", {}).get("items", []):
                field = _ANNOTATION_FIELD.match(item["fieldRef"]["fieldPath"])
                if field is None:
                    raise ValueError(f"unsupported downwardAPI field {item['fieldRef']}")
                (root / item["path"]).write_text(annotations.get(field.group(1), ""))
            roots[volume["name"]] = root
    return roots


def run_dump_container(
    pod: Mapping[str, Any],
    secret: Mapping[str, str],
    volume_root: Path,
    work_dir: Path,
    platform_env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run the pod's container (a dump, a prune, a restore: any runner subcommand) with its
    claim mapped to `volume_root` and its other volumes to directories under `work_dir`;
    (exit code, message). `platform_env` is what the cluster adds to the pod beyond its spec
    (a workload identity webhook's variables). The container's output is kept in
    `work_dir/<pod name>.log`."""
    container = pod["spec"]["containers"][0]
    argv = [str(RUNNER), *container["command"][1:]]
    roots = _volume_roots(pod, secret, volume_root, work_dir)
    for mount in container.get("volumeMounts", []):
        if mount["name"] in roots:
            argv = [_remapped(arg, mount["mountPath"], roots[mount["name"]]) for arg in argv]
    result_file = work_dir / f"{pod['metadata']['name']}.termination-log"
    argv.append(f"--result-file={result_file}")
    env = {"PATH": "/usr/bin:/bin", **container_env(container, secret), **(platform_env or {})}
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    log = work_dir / f"{pod['metadata']['name']}.log"
    log.write_text(completed.stdout + completed.stderr)  # what `kubectl logs` would show
    message = result_file.read_text() if result_file.exists() else completed.stdout
    return completed.returncode, message


def end_pod(
    kubectl: KubectlRunner,
    namespace: str,
    pod_name: str,
    exit_code: int,
    message: str = "",
    reason: str | None = None,
) -> None:
    """Have KWOK terminate the pod's container with this exit code and message."""
    annotations = [f"{MESSAGE_ANNOTATION}={message}", f"{EXIT_CODE_ANNOTATION}={exit_code}"]
    if reason:
        annotations.append(f"{REASON_ANNOTATION}={reason}")
    kubectl("annotate", "--overwrite", "-n", namespace, "pod", pod_name, *annotations)
