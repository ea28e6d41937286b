"""Run pg_dump and stream its stdout into the artifact writer, chunk by chunk."""

import logging
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import IO

from tenant_backup.runner.classify import classify_exit, describe_exit
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.stream import CHUNK_SIZE, ArtifactStream

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 10
PROGRESS_INTERVAL_SECONDS = 10.0
MIB = 1 << 20


class StderrTail:
    """Drains a child's stderr in a thread, logging it and keeping the last lines."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.lines: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._name = name
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    self.lines.append(line)
                    log.warning("%s: %s", self._name, line)
        except (OSError, ValueError):  # closed under us once the child was killed
            return

    def text(self) -> str:
        """The kept lines, after the stream has ended."""
        self._thread.join()
        return "\n".join(self.lines)


def run_pg_dump(argv: Sequence[str], writer: ArtifactStream, interrupts: Interrupts) -> None:
    """Stream pg_dump's stdout into `writer`; raise RunError unless it exits 0."""
    log.info("running %s", " ".join(argv))
    started = time.monotonic()
    pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with interrupts.child(argv, **pipes) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        stdout_fd = proc.stdout.fileno()  # unbuffered reads: at most CHUNK_SIZE in memory
        stderr = StderrTail(proc.stderr, "pg_dump")
        next_report = time.monotonic() + PROGRESS_INTERVAL_SECONDS
        while chunk := os.read(stdout_fd, CHUNK_SIZE):
            interrupts.check()
            writer.write(chunk)
            if time.monotonic() >= next_report:
                next_report += PROGRESS_INTERVAL_SECONDS
                log.info(
                    "dumped %.1f MiB, wrote %.1f MiB",
                    writer.input_size / MIB,
                    writer.size / MIB,
                )
        returncode = proc.wait()
        tail = stderr.text()
    interrupts.check()
    if returncode != 0:
        message = f"pg_dump {describe_exit(returncode)}"
        raise RunError(classify_exit(returncode, tail), f"{message}: {tail}" if tail else message)
    seconds = time.monotonic() - started
    log.info("pg_dump finished: %d bytes dumped in %.3f s", writer.input_size, seconds)
