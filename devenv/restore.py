"""Restoring an artifact the way the README says, and counting rows to compare with its source.

Shared by the runner tests, the end-to-end tests and `make demo`.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path
from typing import IO

import psycopg
import zstandard
from psycopg import sql

from devenv.postgres import DEFAULT_BIN_DIR


def decompressed(path: Path, fmt: str, compression: str) -> IO[bytes]:
    """The archive's bytes as pg_restore or psql read them (gzip in custom format is internal)."""
    raw = path.open("rb")
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    if compression == "gzip" and fmt == "plain":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def pipe_into(argv: list[str], source: IO[bytes]) -> subprocess.CompletedProcess[bytes]:
    """Stream `source` into `argv`'s stdin chunk by chunk (no whole-file copy)."""
    with (
        source,
        subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as proc,
    ):
        assert proc.stdin is not None
        assert proc.stdout is not None
        while chunk := source.read(1 << 20):
            proc.stdin.write(chunk)
        proc.stdin.close()
        out = proc.stdout.read()
        return subprocess.CompletedProcess(argv, proc.wait(), out)


def restore(
    archive: Path, fmt: str, compression: str, dsn: str, bin_dir: Path = DEFAULT_BIN_DIR
) -> None:
    """Restore `archive` into the database at `dsn` in one transaction, with `bin_dir`'s
    pg_restore or psql; raise on any error."""
    if fmt == "custom":
        argv = [str(bin_dir / "pg_restore"), "--exit-on-error", "--single-transaction",
                "--dbname", dsn]  # fmt: skip
    else:
        argv = [str(bin_dir / "psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1",
                "--single-transaction", "--dbname", dsn, "-f", "-"]  # fmt: skip
    done = pipe_into(argv, decompressed(archive, fmt, compression))
    if done.returncode != 0:
        raise RuntimeError(f"restoring {archive.name} failed: {done.stdout.decode()[-2000:]}")


def row_counts(dsn: str, schema: str) -> dict[str, int]:
    """Rows per table of `schema`."""
    with psycopg.connect(dsn) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [schema]
            )
        ]
        counts = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            row = conn.execute(query).fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts
