"""Prometheus's promtool (built once by tools/promtool/build.sh), to check and unit-test the
chart's alerting rules."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from devenv.paths import REPO

BUILD_SCRIPT = REPO / "tools" / "promtool" / "build.sh"


@functools.cache
def tools_dir() -> Path:
    """Folder holding `promtool` (built on first use)."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def run(*args: str, cwd: Path | None = None) -> str:
    """Run `promtool`; its stdout (raises AssertionError with its output)."""
    result = subprocess.run(
        [str(tools_dir() / "promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"promtool {' '.join(args)} failed:\n{result.stderr}\n{result.stdout}")
    return result.stdout
