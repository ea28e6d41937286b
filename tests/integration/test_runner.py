"""`tenant-backup dump` against a real PostgreSQL 15, run as a subprocess the way a Job runs it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv.postgres import DEFAULT_BIN_DIR, Credentials, PostgresServer
from devenv.restore import decompressed, pipe_into, restore
from devenv.tenants import Database
from devenv.waiting import wait_for

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
TABLES = ("customers", "orders", "order_items", "secrets")
NEIGHBOURS = ("tenant_acme_eu", "tenant_acmex", "TENANT_ACME", "tenant_globex", "global_settings")
COMBINATIONS = [
    (fmt, compression) for fmt in ("custom", "plain") for compression in ("zstd", "gzip", "none")
]


@dataclass(frozen=True)
class Run:
    """A finished runner process and the result it reported."""

    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]
    result_file: str


def _env(db: Database, creds: Credentials | None) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return {**clean, **db.env(creds)}


def _run(
    db: Database,
    output: Path,
    *args: str,
    creds: Credentials | None = None,
    tenant: str = "acme",
    result_file: Path | None = None,
) -> Run:
    result_file = result_file or output.parent / f"{output.name}.result.json"
    env = _env(db, creds)
    completed = subprocess.run(
        [str(TENANT_BACKUP), "dump", "--tenant", tenant, "--output", str(output),
         "--result-file", str(result_file), *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return _finished(completed.returncode, completed.stdout, completed.stderr, result_file, env)


def _finished(
    returncode: int, stdout: str, stderr: str, result_file: Path, env: dict[str, str]
) -> Run:
    lines = stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON line, got {stdout!r}; stderr: {stderr}"
    written = result_file.read_text()
    assert written == lines[0]
    password = env["PGPASSWORD"]
    for text in (stdout, stderr, written):
        assert password not in text
    return Run(returncode, stdout, stderr, json.loads(lines[0]), written)


def _assert_failed(run: Run, reason: str, *, retryable: bool) -> None:
    assert run.returncode != 0, run.stderr
    assert run.result["ok"] is False
    assert run.result["reason"] == reason, run.result
    assert run.result["retryable"] is retryable
    assert "artifact" not in run.result


def _assert_nothing_left(output: Path) -> None:
    assert not output.exists()
    assert list(output.parent.glob(f".{output.name}.partial-*")) == []


def _toc(archive: Path, compression: str) -> str:
    listing = pipe_into(
        [str(DEFAULT_BIN_DIR / "pg_restore"), "--list"],
        decompressed(archive, "custom", compression),
    )
    assert listing.returncode == 0, listing.stdout.decode()
    return listing.stdout.decode()


def _rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn()) as conn:
        return conn.execute(query).fetchall()


def _one(db: Database, query: str) -> Any:
    return _rows(db, query)[0][0]


def _assert_restored_like(source: Database, restored: Database) -> None:
    for table in TABLES:
        query = f"SELECT * FROM tenant_acme.{table} ORDER BY 1, 2"
        expected = _rows(source, query)
        assert expected, table
        assert _rows(restored, query) == expected, table
    view = "SELECT * FROM tenant_acme.paid_orders ORDER BY id"
    assert _rows(restored, view) == _rows(source, view) != []
    total = "SELECT tenant_acme.order_total(5)"
    assert _one(restored, total) == _one(source, total) > 0
    assert _one(restored, "SELECT last_value FROM tenant_acme.invoice_number_seq") == 1042
    assert _one(restored, "SELECT tenant_acme.next_invoice_number()") == "INV-1043"
    enum = "SELECT enum_range(NULL::tenant_acme.order_status)::text"
    assert _one(restored, enum) == "{pending,paid,shipped,cancelled}"
    fks = (
        "SELECT count(*) FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = 'tenant_acme'::regnamespace"
    )
    assert _one(restored, fks) == 2
    max_id = _one(restored, "SELECT max(id) FROM tenant_acme.customers")
    new_id = _one(
        restored,
        "INSERT INTO tenant_acme.customers (name, email, created_at)"
        " VALUES ('new', 'new@x', now()) RETURNING id",
    )
    assert new_id == max_id + 1
    schemas = (
        "SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace"
        " WHERE nspname !~ '^(pg_|information_schema)'"
    )
    assert _one(restored, schemas) == ["public", "tenant_acme"]
    assert _one(restored, "SELECT to_regclass('public.global_settings')") is None


def _wrapper_bin(directory: Path, script: str) -> Path:
    """A --pg-bin-dir whose pg_dump is `script` (sh) and whose pg_restore is the real one."""
    directory.mkdir()
    pg_dump = directory / "pg_dump"
    pg_dump.write_text("#!/bin/sh\n" + script)
    pg_dump.chmod(0o755)
    (directory / "pg_restore").symlink_to(DEFAULT_BIN_DIR / "pg_restore")
    return directory


REAL_VERSION = f'if [ "$1" = --version ]; then exec {DEFAULT_BIN_DIR}/pg_dump --version; fi\n'


# --- successful dumps -------------------------------------------------------------------


def test_default_dump_is_custom_zstd_and_matches_its_result(
    shared_tenant_db: Database, tmp_path: Path
) -> None:
    output = tmp_path / "acme.dump"
    run = _run(shared_tenant_db, output)
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["ok"] is True
    assert result["reason"] == "Succeeded"
    assert result["serverVersion"].startswith("15.")
    assert result["pgDumpVersion"].startswith("15.")
    artifact = result["artifact"]
    assert artifact["format"] == "custom"
    assert artifact["compression"] == "zstd"
    assert artifact["url"] == output.as_uri()
    assert artifact["sizeBytes"] == output.stat().st_size
    assert artifact["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert output.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    assert list(tmp_path.glob(".acme.dump.partial-*")) == []


@pytest.mark.parametrize(("fmt", "compression"), COMBINATIONS)
def test_every_format_and_compression_restores(
    shared_tenant_db: Database, empty_db: Database, tmp_path: Path, fmt: str, compression: str
) -> None:
    output = tmp_path / f"acme.{fmt}.{compression}"
    run = _run(shared_tenant_db, output, "--format", fmt, "--compression", compression)
    assert run.returncode == 0, run.stderr
    assert run.result["artifact"]["format"] == fmt
    assert run.result["artifact"]["compression"] == compression
    assert run.result["artifact"]["verification"] == ("scan" if fmt == "plain" else "toc")
    restore(output, fmt, compression, empty_db.dsn())
    _assert_restored_like(shared_tenant_db, empty_db)


def test_custom_archive_lists_only_the_tenant(shared_tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "acme.dump"
    run = _run(shared_tenant_db, output, "--verify", "full")
    assert run.returncode == 0, run.stderr
    assert run.result["artifact"]["verification"] == "full"
    toc = _toc(output, "zstd")
    entries = [line for line in toc.splitlines() if line and not line.startswith(";")]
    assert any(" SCHEMA - tenant_acme " in line for line in entries)
    for line in entries:
        assert re.search(r"\btenant_acme\b", line), line  # the schema or an object in it
    for neighbour in NEIGHBOURS:
        assert neighbour not in toc


def test_plain_dump_mentions_no_other_schema(shared_tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "acme.sql.zst"
    run = _run(shared_tenant_db, output, "--format", "plain", "--verify", "full")
    assert run.returncode == 0, run.stderr
    assert run.result["artifact"]["verification"] == "scan"  # what was done, not what was asked
    with decompressed(output, "plain", "zstd") as stream:
        text = stream.read().decode()
    assert "CREATE SCHEMA tenant_acme;" in text
    for neighbour in NEIGHBOURS:
        assert neighbour not in text


# --- failures: nothing at the output, one JSON result, the right reason ---------------------


def _child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


@contextlib.contextmanager
def _started(
    db: Database, output: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, str]]]:
    """A runner in the background; stopped (SIGTERM, then SIGKILL) if the test leaves early."""
    result_file = output.parent / f"{output.name}.result.json"
    env = _env(db, None)
    proc = subprocess.Popen(
        [str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
         "--result-file", str(result_file), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc, result_file, env
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _wait(proc: subprocess.Popen[str], result_file: Path, env: dict[str, str]) -> Run:
    stdout, stderr = proc.communicate(timeout=60)
    return _finished(proc.returncode, stdout, stderr, result_file, env)


def test_pg_dump_killed_midway_leaves_nothing(shared_tenant_db: Database, tmp_path: Path) -> None:
    bin_dir = _wrapper_bin(
        tmp_path / "bin", REAL_VERSION + "head -c 3000000 /dev/urandom\nkill -KILL $$\n"
    )
    output = tmp_path / "out" / "acme.dump"
    output.parent.mkdir()
    run = _run(shared_tenant_db, output, "--pg-bin-dir", str(bin_dir))
    _assert_failed(run, "DumpInterrupted", retryable=True)
    assert "SIGKILL" in run.result["message"]
    _assert_nothing_left(output)
    assert list(output.parent.iterdir()) == [output.parent / "acme.dump.result.json"]


def test_sigterm_to_the_runner_mid_stream(shared_tenant_db: Database, tmp_path: Path) -> None:
    bin_dir = _wrapper_bin(
        tmp_path / "bin", REAL_VERSION + "head -c 2000000 /dev/urandom\nexec sleep 300\n"
    )
    output = tmp_path / "acme.dump"
    args = ("--pg-bin-dir", str(bin_dir), "--compression", "none")
    with _started(shared_tenant_db, output, *args) as (proc, result_file, env):
        wait_for(
            lambda: [p for p in tmp_path.glob(".acme.dump.partial-*") if p.stat().st_size > 0],
            timeout=30,
            message="no bytes reached the temp file",
            ignore=(FileNotFoundError,),
        )
        (pg_dump_pid,) = _child_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        run = _wait(proc, result_file, env)
    _assert_failed(run, "DumpInterrupted", retryable=True)
    assert run.returncode == 128 + signal.SIGTERM
    assert "SIGTERM" in run.result["message"]
    _assert_nothing_left(output)
    assert not Path(f"/proc/{pg_dump_pid}").exists()


def _backend(db: Database, where: str) -> list[tuple[Any, ...]]:
    return _rows(db, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db.dbname}' AND {where}")


def test_sigterm_while_pg_dump_waits_for_a_lock(tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "acme.dump"
    with psycopg.connect(tenant_db.dsn()) as locker:
        locker.execute("LOCK TABLE tenant_acme.orders IN ACCESS EXCLUSIVE MODE")
        args = ("--lock-wait-timeout-seconds", "120")
        with _started(tenant_db, output, *args) as (proc, result_file, env):
            wait_for(
                lambda: _backend(
                    tenant_db, "application_name = 'pg_dump' AND wait_event_type = 'Lock'"
                ),
                timeout=30,
                message="pg_dump never waited for the lock",
            )
            proc.send_signal(signal.SIGTERM)
            run = _wait(proc, result_file, env)
    _assert_failed(run, "DumpInterrupted", retryable=True)
    _assert_nothing_left(output)
    wait_for(
        lambda: not _backend(tenant_db, "application_name = 'pg_dump'"),
        timeout=10,
        message="pg_dump's session outlived the runner",
    )


def test_lock_wait_timeout(tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "acme.dump"
    with psycopg.connect(tenant_db.dsn()) as locker:
        locker.execute("LOCK TABLE tenant_acme.orders IN ACCESS EXCLUSIVE MODE")
        run = _run(tenant_db, output, "--lock-wait-timeout-seconds", "1")
    _assert_failed(run, "LockTimeout", retryable=True)
    assert "LOCK TABLE tenant_acme.orders" in run.result["message"]
    _assert_nothing_left(output)


def test_role_that_cannot_read_a_table_is_denied(
    shared_tenant_db: Database, tmp_path: Path
) -> None:
    output = tmp_path / "acme.dump"
    run = _run(shared_tenant_db, output, creds=shared_tenant_db.roles.limited)
    _assert_failed(run, "PermissionDenied", retryable=False)
    assert "tenant_acme" in run.result["message"]
    assert "secrets" in run.result["message"]
    _assert_nothing_left(output)


def test_forced_row_level_security_fails_instead_of_dumping_no_rows(
    tenant_db: Database, tmp_path: Path
) -> None:
    for statement in (
        "ALTER TABLE tenant_acme.customers ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenant_acme.customers FORCE ROW LEVEL SECURITY",
        "CREATE POLICY nobody ON tenant_acme.customers USING (false)",
    ):
        tenant_db.server.execute(statement, tenant_db.dbname)
    output = tmp_path / "acme.dump"
    run = _run(tenant_db, output)
    _assert_failed(run, "PermissionDenied", retryable=False)
    assert "row-level security" in run.result["message"]
    assert "pg_dump exited with status 1" in run.result["message"]
    _assert_nothing_left(output)


@pytest.mark.parametrize("tenant", ["nobody", "acm", "acme_e"])
def test_missing_tenant(shared_tenant_db: Database, tmp_path: Path, tenant: str) -> None:
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, tenant=tenant)
    _assert_failed(run, "TenantNotFound", retryable=False)
    assert f"tenant_{tenant}" in run.result["message"]
    _assert_nothing_left(output)


@pytest.mark.parametrize("user", ["backup_owner", "no_such_role"])
def test_wrong_password_or_role(shared_tenant_db: Database, tmp_path: Path, user: str) -> None:
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, creds=Credentials(user, "Wr0ng-S3cret-Passw0rd"))
    _assert_failed(run, "AuthFailed", retryable=False)
    _assert_nothing_left(output)


def test_stopped_server_is_unavailable(
    postgres: PostgresServer, shared_tenant_db: Database, tmp_path: Path
) -> None:
    output = tmp_path / "x.dump"
    postgres.stop()
    try:
        run = _run(shared_tenant_db, output)
    finally:
        postgres.start()
    _assert_failed(run, "DatabaseUnavailable", retryable=True)
    _assert_nothing_left(output)


def test_older_pg_dump_than_server_is_refused_before_dumping(
    shared_tenant_db: Database, tmp_path: Path
) -> None:
    marker = tmp_path / "dumped"
    bin_dir = _wrapper_bin(
        tmp_path / "bin",
        'if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 14.12"; exit 0; fi\n'
        f"touch {marker}\nexit 1\n",
    )
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, "--pg-bin-dir", str(bin_dir))
    _assert_failed(run, "VersionMismatch", retryable=False)
    assert run.result["pgDumpVersion"] == "14.12"
    assert run.result["serverVersion"].startswith("15.")
    assert not marker.exists()
    _assert_nothing_left(output)


def test_empty_output_is_rejected(shared_tenant_db: Database, tmp_path: Path) -> None:
    bin_dir = _wrapper_bin(tmp_path / "bin", REAL_VERSION + "exit 0\n")
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, "--pg-bin-dir", str(bin_dir))
    _assert_failed(run, "EmptyDump", retryable=False)
    _assert_nothing_left(output)


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_unreadable_output_fails_verification(
    shared_tenant_db: Database, tmp_path: Path, fmt: str
) -> None:
    bin_dir = _wrapper_bin(tmp_path / "bin", REAL_VERSION + "echo 'not a dump'\n")
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, "--pg-bin-dir", str(bin_dir), "--format", fmt)
    _assert_failed(run, "VerificationFailed", retryable=False)
    _assert_nothing_left(output)


def test_missing_output_directories_are_created(shared_tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "tenants" / "acme" / "x.dump"
    run = _run(shared_tenant_db, output, result_file=tmp_path / "result.json")
    assert run.returncode == 0, run.stderr
    assert output.is_file()


def test_unwritable_destination(shared_tenant_db: Database, tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where a directory should be")
    output = tmp_path / "blocked" / "x.dump"
    run = _run(shared_tenant_db, output, result_file=tmp_path / "result.json")
    _assert_failed(run, "DestinationUnavailable", retryable=True)
    assert not output.exists()


@pytest.mark.parametrize(
    "slug", ["", "Acme", "acme-eu", "_acme", "acme;drop", 'acme"', "acme eu", "acme*", "a" * 57]
)
def test_bad_slug_is_rejected_before_connecting(
    shared_tenant_db: Database, tmp_path: Path, slug: str
) -> None:
    db = Database(shared_tenant_db.server, "nowhere", shared_tenant_db.roles)
    unreachable = Credentials("backup_owner", "not-used-" + "x" * 8)
    output = tmp_path / "x.dump"
    env = {**_env(db, unreachable), "PGPORT": "1"}  # connecting would be DatabaseUnavailable
    result_file = tmp_path / "result.json"
    completed = subprocess.run(
        [str(TENANT_BACKUP), "dump", "--tenant", slug, "--output", str(output),
         "--result-file", str(result_file)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    run = _finished(completed.returncode, completed.stdout, completed.stderr, result_file, env)
    _assert_failed(run, "ValidationFailed", retryable=False)
    _assert_nothing_left(output)


def test_level_without_compression_is_invalid(shared_tenant_db: Database, tmp_path: Path) -> None:
    output = tmp_path / "x.dump"
    run = _run(shared_tenant_db, output, "--compression", "none", "--compression-level", "3")
    _assert_failed(run, "ValidationFailed", retryable=False)
