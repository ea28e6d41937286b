"""Servers of two majors (PostgreSQL 15 and 18), each dumped and restored by `tenant-backup`
with the tools of its own major, picked from a root laid out as the image's
(`<major>/bin`); a 15 archive restored into an 18 server; an 18 server that only a pg_dump 15
could dump refused before anything is dumped; the runner's memory on 18 bounded whatever the
tenant's size."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv.tenants import Database
from tests.support.dump_runs import Run, add_blobs, assert_failed, run_dump

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
TABLES = ("customers", "orders", "order_items", "secrets")
GNU_TIME = "/usr/bin/time"
MIB = 1 << 20
PEAK_RSS_GOAL_MIB = 100  # the runner's, GNU time's maximum: the largest process of its tree
BLOB_ROWS = 60_000  # a dump of ~118 MiB, more than the goal: holding it would show


def _env(db: Database) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return {**clean, **db.env()}


def _dump(db: Database, pg_root: Path, tmp_path: Path, wrapper: tuple[str, ...] = ()) -> Run:
    output, result_file = tmp_path / "acme.pgdump.zst", tmp_path / "dump.json"
    argv = [*wrapper, str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
            "--result-file", str(result_file), "--pg-root", str(pg_root)]  # fmt: skip
    return run_dump(argv, _env(db), result_file, [db.backup.password])


def _restore(into: Database, artifact: dict[str, Any], pg_root: Path, tmp_path: Path) -> Run:
    result_file = tmp_path / "restore.json"
    argv = [
        str(TENANT_BACKUP), "restore", "--artifact-url", artifact["url"],
        "--expected-sha256", artifact["sha256"], "--format", artifact["format"],
        "--compression", artifact["compression"], "--source-tenant", "acme",
        "--mode", "create-new", "--restore-id", "team-a.majors-1",
        "--result-file", str(result_file), "--pg-root", str(pg_root),
    ]  # fmt: skip
    env = {**_env(into), **into.env(into.server.superuser)}
    return run_dump(argv, env, result_file, [into.server.superuser.password])


def _data(db: Database) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows, in a stable order."""
    with psycopg.connect(db.dsn()) as conn:
        found = {}
        for table in (*TABLES, "paid_orders"):
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f" FROM tenant_acme.{table} t"
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
        sequence = conn.execute("SELECT last_value FROM tenant_acme.invoice_number_seq").fetchone()
        assert sequence is not None
        found["invoice_number_seq"] = (int(sequence[0]), "")
        return found


def _definitions(db: Database, pg_root: Path, major: int) -> str:
    """The schema's definitions as pg_dump `major` prints them, without what a restore or a
    dump adds by design: the restore's marker comment, the random \\restrict key; and
    without pg_dump's own comments."""
    completed = subprocess.run(
        [str(pg_root / str(major) / "bin" / "pg_dump"), "--schema-only", "--schema",
         "tenant_acme", db.dsn()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return "\n".join(
        line
        for line in completed.stdout.splitlines()
        if line
        and not line.startswith(
            ("--", "\\restrict", "\\unrestrict", "COMMENT ON SCHEMA tenant_acme")
        )
    )


def _assert_same_tenant(source: Database, restored: Database, pg_root: Path, major: int) -> None:
    assert _data(restored) == _data(source)
    assert _data(source)["customers"][0] == 30
    assert _definitions(restored, pg_root, major) == _definitions(source, pg_root, major)


@pytest.mark.parametrize("major", [15, 18])
def test_each_major_is_dumped_and_restored_identically_by_its_own_tools(
    major: int, request: pytest.FixtureRequest, pg_root: Path, tmp_path: Path
) -> None:
    source: Database = request.getfixturevalue("tenant_db" if major == 15 else "tenant_db18")
    target: Database = request.getfixturevalue("empty_db" if major == 15 else "empty_db18")
    dumped = _dump(source, pg_root, tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    assert dumped.result["serverVersion"].startswith(f"{major}.")
    assert dumped.result["pgDumpVersion"].startswith(f"{major}.")
    assert f"{pg_root}/{major}/bin/pg_dump" in dumped.stderr

    restored = _restore(target, dumped.result["artifact"], pg_root, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert restored.result["serverVersion"].startswith(f"{major}.")
    assert restored.result["pgRestoreVersion"].startswith(f"{major}.")
    _assert_same_tenant(source, target, pg_root, major)


def test_a_15_archive_restores_into_an_18_server_with_the_18_tools(
    tenant_db: Database, empty_db18: Database, pg_root: Path, tmp_path: Path
) -> None:
    dumped = _dump(tenant_db, pg_root, tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    assert dumped.result["pgDumpVersion"].startswith("15.")

    restored = _restore(empty_db18, dumped.result["artifact"], pg_root, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert restored.result["serverVersion"].startswith("18.")
    assert restored.result["pgRestoreVersion"].startswith("18.")
    _assert_same_tenant(tenant_db, empty_db18, pg_root, 18)


def test_an_18_server_with_only_pg_dump_15_fails_before_dumping(
    tenant_db18: Database, pg_root: Path, tmp_path: Path
) -> None:
    only_15 = tmp_path / "only-15"
    only_15.mkdir()
    (only_15 / "15").symlink_to((pg_root / "15").resolve())
    run = _dump(tenant_db18, only_15, tmp_path)
    assert_failed(run, "VersionMismatch", retryable=False)
    assert run.result["serverVersion"].startswith("18.")
    assert run.result["pgDumpVersion"].startswith("15.")
    assert "a pg_dump of major 18 or newer is needed" in run.result["message"]
    assert "running " not in run.stderr  # pg_dump itself never started
    assert list(tmp_path.glob("acme.pgdump*")) == []
    assert list(tmp_path.glob(".acme.pgdump*")) == []


def test_the_runners_peak_rss_on_18_stays_bounded_on_a_dump_larger_than_it(
    tenant_db18: Database, pg_root: Path, tmp_path: Path
) -> None:
    add_blobs(tenant_db18, BLOB_ROWS)
    report = tmp_path / "rss.txt"
    run = _dump(tenant_db18, pg_root, tmp_path, (GNU_TIME, "-f", "%M", "-o", str(report)))
    assert run.returncode == 0, run.stderr
    assert run.result["pgDumpVersion"].startswith("18.")
    dumped = re.search(r"pg_dump finished: (\d+) bytes dumped", run.stderr)
    assert dumped is not None, run.stderr
    assert int(dumped[1]) > PEAK_RSS_GOAL_MIB * MIB
    peak_kib = int(report.read_text().split()[-1])
    assert peak_kib < PEAK_RSS_GOAL_MIB * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
