"""Helpers for tests that run `tenant-backup dump` as a subprocess against a remote destination:
the finished run, its failure checks, a tenant with megabytes of rows, and a stand-in pg_dump."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from devenv.postgres import DEFAULT_BIN_DIR
from devenv.tenants import Database
from devenv.waiting import wait_for

REAL_VERSION = f'if [ "$1" = --version ]; then exec {DEFAULT_BIN_DIR}/pg_dump --version; fi\n'


@dataclass(frozen=True)
class Run:
    """A finished runner: its exit status, output, and the result file's JSON."""

    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]
    result_text: str


def assert_failed(run: Run, reason: str, *, retryable: bool) -> None:
    """The run failed with `reason`, reported no artifact, and says whether to retry."""
    assert run.returncode != 0, run.stderr
    assert (run.result["ok"], run.result["reason"]) == (False, reason), run.result
    assert run.result["retryable"] is retryable
    assert "artifact" not in run.result


def add_blobs(db: Database, rows: int) -> None:
    """`rows` rows of 1 KiB of incompressible bytes in tenant_acme.blobs."""
    statements = sql.SQL("""
        CREATE TABLE tenant_acme.blobs (id int PRIMARY KEY, data bytea NOT NULL);
        INSERT INTO tenant_acme.blobs
        SELECT i, decode(string_agg(md5(i || '-' || j), '' ORDER BY j), 'hex')
        FROM generate_series(1, {}) i, generate_series(1, 64) j GROUP BY i;
        ALTER TABLE tenant_acme.blobs OWNER TO backup_owner;
    """)
    db.server.execute(statements.format(sql.Literal(rows)), db.dbname)


def wrapper_bin(directory: Path, script: str) -> Path:
    """A --pg-bin-dir whose pg_dump is `script` (sh) and whose pg_restore is the real one."""
    directory.mkdir()
    pg_dump = directory / "pg_dump"
    pg_dump.write_text("#!/bin/sh\n" + REAL_VERSION + script)
    pg_dump.chmod(0o755)
    (directory / "pg_restore").symlink_to(DEFAULT_BIN_DIR / "pg_restore")
    return directory


def finished(
    returncode: int, stdout: str, stderr: str, result_file: Path, secrets: Iterable[str]
) -> Run:
    """The run, checked to show none of `secrets` in its output or result."""
    text = result_file.read_text()
    for secret in secrets:
        assert secret not in stdout + stderr + text
    return Run(returncode, stdout, stderr, json.loads(text), text)


def run_dump(
    argv: list[str], env: dict[str, str], result_file: Path, secrets: Iterable[str]
) -> Run:
    """Run the runner to its end (2 minutes at most)."""
    completed = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return finished(completed.returncode, completed.stdout, completed.stderr, result_file, secrets)


def terminated(
    argv: list[str],
    env: dict[str, str],
    result_file: Path,
    ready: Callable[[], object],
    secrets: Iterable[str],
) -> tuple[Run, float]:
    """Run the runner until `ready()`, then SIGTERM it: its run, and the seconds it took to
    end after the signal."""
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(ready, 30, "the runner never got there")
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        stdout, stderr = proc.communicate(timeout=60)
        ended = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return finished(proc.returncode, stdout, stderr, result_file, secrets), ended
