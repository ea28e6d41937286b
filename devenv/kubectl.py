"""kubectl as a Python call: running it, its signature (what the `kubectl` fixture hands
out) and its error."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {self.stderr}\nstdout: {self.output}"


class KubectlRunner(Protocol):
    """Signature of `Cluster.kubectl` (what the `kubectl` fixture returns)."""

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]: ...


def run_kubectl(
    binary: Path,
    kubeconfig: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run `binary` (kubectl) with `kubeconfig`; raise KubectlError on failure when `check`."""
    cmd = [str(binary), f"--kubeconfig={kubeconfig}", *args]
    result = subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
    return result
