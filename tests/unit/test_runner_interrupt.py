"""Termination signals kill the runner's children and fail the run at the next check."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts


def test_leaving_the_block_kills_the_whole_process_group() -> None:
    interrupts = Interrupts()
    with interrupts.child(["sh", "-c", "sleep 60 & wait"], stdout=subprocess.PIPE) as proc:
        pass
    assert proc.returncode == -signal.SIGKILL
    wait_for(lambda: not live_members(proc.pid), 5, "a member of the group survived")


def live_members(group: int) -> list[int]:
    """Processes of a process group that are not zombies (zombies wait for PID 1 to reap)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_sigterm_kills_children_and_check_raises() -> None:
    interrupts = Interrupts()
    with interrupts.installed(), interrupts.child(["sleep", "60"]) as proc:
        interrupts.check()
        os.kill(os.getpid(), signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        with pytest.raises(RunError) as caught:
            interrupts.check()
    assert caught.value.reason is Reason.DUMP_INTERRUPTED
    assert "SIGTERM" in caught.value.message
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_child_started_after_the_signal_is_killed_at_once() -> None:
    interrupts = Interrupts()
    with interrupts.installed():
        os.kill(os.getpid(), signal.SIGINT)
        with interrupts.child(["sleep", "60"]) as proc:
            assert proc.wait(timeout=10) == -signal.SIGKILL


def test_a_sleep_ends_early_with_dump_interrupted_once_a_signal_arrives() -> None:
    interrupts = Interrupts()
    started = time.monotonic()
    interrupts.sleep(0.3)
    assert 0.3 <= time.monotonic() - started < 2
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    with interrupts.installed():
        timer.start()
        started = time.monotonic()
        with pytest.raises(RunError) as caught:
            interrupts.sleep(60)
    assert caught.value.reason is Reason.DUMP_INTERRUPTED
    assert time.monotonic() - started < 5
