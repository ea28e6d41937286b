"""The kstatus library of sigs.k8s.io/cli-utils (what Flux, kpt and Config Sync judge custom
resources with) as a command built once by tools/kstatus/build.sh, to ask it for its verdict
on objects read from the API server."""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.paths import REPO

BUILD_SCRIPT = REPO / "tools" / "kstatus" / "build.sh"


@dataclass(frozen=True)
class Verdict:
    """kstatus's status of one object (Current, InProgress, Failed, ...) and its message."""

    kind: str
    name: str
    status: str
    message: str


@functools.cache
def tools_dir() -> Path:
    """Folder holding `kstatus` (built on first use)."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def verdicts(objects: list[dict[str, Any]]) -> list[Verdict]:
    """kstatus's verdict on each object, in order (AssertionError with its stderr)."""
    result = subprocess.run(
        [str(tools_dir() / "kstatus")],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kstatus failed: {result.stderr}")
    return [Verdict(**json.loads(line)) for line in result.stdout.splitlines()]
