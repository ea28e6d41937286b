"""The operator as a real process (the way its Deployment runs it), startable and killable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from devenv.processes import free_port

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "tenant-backup"


class OperatorProcess:
    """`tenant-backup operator` scoped to namespaces, with a health endpoint on a free port,
    logging to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: list[str],
        log_file: Path,
        settings: Mapping[str, str] | None = None,
        args: list[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        """`args`, if given, replace the default `operator` arguments (after the program);
        `extra_args` are added to the default ones."""
        self.args = args
        self.extra_args = extra_args or []
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.log_file = log_file
        self.settings = dict(settings or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self.health_url = f"http://127.0.0.1:{free_port()}/healthz"

    def start(self) -> OperatorProcess:
        """Start (or start again after a kill); logs are appended."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "TENANT_BACKUP_RESYNC_SECONDS": "1",
            "PYTHONSAFEPATH": "1",
            **self.settings,
        }
        argv = [str(CLI), "operator", "--verbose", f"--liveness={self.health_url}"]
        argv += [f"--namespace={namespace}" for namespace in self.namespaces]
        argv += self.extra_args
        if self.args is not None:
            argv = [str(CLI), *self.args]
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        """The running process's id."""
        if self._proc is None:
            raise RuntimeError("the operator is not running")
        return self._proc.pid

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish anything (the crash case)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._proc = None

    def pause(self) -> None:
        """SIGSTOP: frozen mid-flight, as a stalled VM or a long GC pause."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def exit_code(self, timeout: float) -> int | None:
        """Its exit status once it ended within `timeout` seconds; None if it still runs."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGCONT)  # in case it was paused
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def logs(self) -> str:
        """Everything the operator printed so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
