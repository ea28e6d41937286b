"""helm and kubeconform (built once by tools/chart-tools/build.sh) and chart rendering."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

from devenv.paths import REPO

CHART = REPO / "charts" / "tenant-backup-operator"
BUILD_SCRIPT = REPO / "tools" / "chart-tools" / "build.sh"


@functools.cache
def tools_dir() -> Path:
    """Folder holding `helm` and `kubeconform` (built on first use)."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def run(tool: str, *args: str, input: str | None = None) -> str:
    """Run `helm` or `kubeconform`; its stdout (raises AssertionError with its output)."""
    result = subprocess.run(
        [str(tools_dir() / tool), *args], input=input, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} failed:\n{result.stderr}\n{result.stdout}")
    return result.stdout


def template(
    *set_values: str,
    release: str = "tenant-backup-operator",
    namespace: str = "tenant-backup-system",
) -> str:
    """`helm template` of the chart with CRDs, as YAML text."""
    sets = [arg for value in set_values for arg in ("--set-json", value)]
    return run(
        "helm", "template", release, str(CHART), "--namespace", namespace, "--include-crds", *sets
    )


def objects(rendered: str) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML text."""
    return [doc for doc in yaml.safe_load_all(rendered) if doc]
