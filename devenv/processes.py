"""The local cluster's processes: free ports, starting a component tied to us or detached,
waiting for it while watching the others, asking whether one still runs, stopping them."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import ClusterError
from devenv.kubectl import KubectlError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    """Last `lines` lines of a log file (empty if missing)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@functools.cache
def die_with_parent() -> Callable[[], object] | None:
    """A preexec_fn making the child get SIGKILL when the thread that started it exits.

    Resolved in the parent: nothing may be loaded between fork and exec.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def alive(pid: int, binary: str | None = None) -> bool:
    """Is `pid` a live (non-zombie) process, running `binary` if given?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return binary is None or cmdline[0].decode(errors="replace") == binary


def launch(name: str, argv: list[str], state_dir: Path, detach: bool) -> subprocess.Popen[bytes]:
    """Start component `name` in `state_dir`, logging to `<name>.log` there, in its own
    process group (stopping kills the group). Unless `detach`, it gets SIGKILL when the
    thread that started it exits."""
    with (state_dir / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            start_new_session=True,
            preexec_fn=None if detach else die_with_parent(),
        )


@dataclass(frozen=True)
class Component:
    """A started component: its process group leader, and our handle if we started it
    (otherwise it counts as running only while `pid` runs `binary`)."""

    pid: int
    binary: str
    proc: subprocess.Popen[bytes] | None = None

    def running(self) -> bool:
        """Whether it still runs (our child is reaped if it ended)."""
        if self.proc is not None:
            return self.proc.poll() is None
        return alive(self.pid, self.binary)

    def signal(self, signum: signal.Signals) -> None:
        """Send `signum` to its process group, if there is one."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def wait_exit(self, deadline: float) -> bool:
        """Wait until it ended or the deadline passed; whether it ended."""
        while self.running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def stop(components: list[Component], grace: float) -> None:
    """SIGTERM the process groups of the components still running, all at once, then
    SIGKILL each one still running after `grace` seconds (and wait up to 5 more for it)."""
    running = [component for component in components if component.running()]
    for component in running:
        component.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for component in running:
        if not component.wait_exit(deadline):
            component.signal(signal.SIGKILL)
            component.wait_exit(time.monotonic() + 5)


def wait_until(
    component: str,
    check: Callable[[], bool],
    procs: Mapping[str, subprocess.Popen[bytes]],
    state_dir: Path,
    deadline: float,
) -> None:
    """Poll `check` until true (OSError, KubectlError and timeouts count as false); fail
    fast if one of `procs` died, else at the deadline, with the last lines of its log."""
    while True:
        for name, proc in procs.items():
            code = proc.poll()
            if code is not None:
                log = state_dir / f"{name}.log"
                raise ClusterError(
                    f"{name} exited with code {code}; last lines of {log}:\n{tail(log)}"
                )
        try:
            if check():
                return
        except (OSError, KubectlError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > deadline:
            log = state_dir / f"{component}.log"
            raise ClusterError(
                f"timed out waiting for {component}; last lines of {log}:\n{tail(log)}"
            )
        time.sleep(0.2)


def http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    """Whether `url` answers GET with 200 within 5 seconds."""
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return int(response.status) == 200
