"""The reference age CLI (built once by tools/age/build.sh from the Go module proxy), to check
that our encrypted artifacts are plain age files: decrypted by `age`, and files `age`
encrypted restored by us."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from devenv.paths import REPO

BUILD_SCRIPT = REPO / "tools" / "age" / "build.sh"


@functools.cache
def tools_dir() -> Path:
    """Folder holding `age` and `age-keygen` (built on first use)."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def run(tool: str, *args: str, stdin: bytes = b"") -> bytes:
    """Run `age` or `age-keygen` with `stdin`; its stdout (AssertionError with its stderr)."""
    result = subprocess.run(
        [str(tools_dir() / tool), *args], input=stdin, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout


def keygen() -> tuple[str, str]:
    """A new identity file's text (`age-keygen`), and its recipient."""
    identity = run("age-keygen").decode()
    recipient = run("age-keygen", "-y", stdin=identity.encode()).decode().strip()
    return identity, recipient
