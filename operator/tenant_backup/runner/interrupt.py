"""SIGTERM/SIGINT handling and the child processes it must not leave behind.

The handler only records the signal and kills the running children's process groups; the
runner notices at its next `check()` (a killed child closes its pipes, so blocked reads
return). Raising from the handler instead could cut a cleanup step in half.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError

SIGNALS = (signal.SIGTERM, signal.SIGINT)
SLEEP_STEP_SECONDS = 0.2  # how soon a sleep notices a signal (a handler cannot cut it short)


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class Interrupts:
    """Tracks a termination request and the children to kill when it comes."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._children: set[subprocess.Popen[bytes]] = set()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        for proc in list(self._children):
            if proc.returncode is None:
                _kill_group(proc)

    @contextlib.contextmanager
    def installed(self) -> Iterator["Interrupts"]:
        """Handle SIGTERM and SIGINT while in the block."""
        previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def check(self) -> None:
        """Raise DumpInterrupted if a termination signal has arrived."""
        if self.signum is not None:
            name = signal.Signals(self.signum).name
            raise RunError(Reason.DUMP_INTERRUPTED, f"runner received {name}")

    def sleep(self, seconds: float) -> None:
        """time.sleep, cut short by DumpInterrupted once a termination signal arrives."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.check()
            time.sleep(min(left, SLEEP_STEP_SECONDS))
        self.check()

    @contextlib.contextmanager
    def child(self, argv: Sequence[str], **popen: Any) -> Iterator["subprocess.Popen[bytes]"]:
        """Run `argv` in its own process group; kill the group if the block exits early."""
        proc = subprocess.Popen(argv, process_group=0, **popen)
        self._children.add(proc)
        try:
            if self.signum is not None:
                _kill_group(proc)
            yield proc
        finally:
            self._children.discard(proc)
            if proc.poll() is None:
                _kill_group(proc)
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):  # unflushed input to a dead child
                        stream.close()
