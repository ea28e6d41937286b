"""Database sessions, and the dump's pre-flight: what the server is, and whether the tenant's
schema exists and is readable.

The connection comes only from libpq's environment (PGHOST, PGUSER, PGPASSWORD, ...).
"""

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from tenant_backup.runner.classify import classify_db_error
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10

# Relations pg_dump must lock and read: tables, partitioned tables, sequences.
_UNREADABLE = """
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'S')
  AND NOT has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname
"""
# Tables with their TOAST and indexes: an upper bound of the data a dump carries, used to size
# upload parts (a dump holds no index data, and compression shrinks it further). Sizing takes
# each table's ACCESS SHARE lock: behind a DDL lock it gives up soon (pg_dump then waits, within
# --lock-wait-timeout) and the estimate is 0, i.e. the smallest parts, which grow as needed.
SIZE_LOCK_TIMEOUT = "1s"
_SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r'
"""


@dataclass(frozen=True)
class ServerFacts:
    """What pre-flight learned about the server and the schema."""

    version_num: int
    version: str
    schema_exists: bool
    schema_usable: bool
    unreadable: tuple[str, ...]
    schema_bytes: int
    """On-disk size of the schema's tables (0 if it does not exist)."""

    @property
    def major(self) -> int:
        """Major version, e.g. 15 for 150018."""
        return self.version_num // 10000


@contextlib.contextmanager
def session(step: str, dbname: str | None = None) -> Iterator[psycopg.Connection[TupleRow]]:
    """One autocommit connection, from libpq's environment only (to `dbname` rather than
    PGDATABASE if given); a database error in the block, or connecting, becomes a RunError
    of its reason, its message naming `step`."""
    connecting = True
    try:
        with psycopg.connect(
            "",
            dbname=dbname,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            fallback_application_name="tenant-backup",
            autocommit=True,
        ) as conn:
            connecting = False
            yield conn
    except psycopg.Error as exc:
        reason = classify_db_error(exc.sqlstate, str(exc), connecting=connecting)
        failed = "connection" if connecting else "query"
        raise RunError(reason, f"{step} {failed} failed: {exc}") from exc


def inspect(schema: str) -> ServerFacts:
    """Connect once and gather ServerFacts; connection and query errors become RunError."""
    with session("pre-flight") as conn:
        row = conn.execute(
            "SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = %s",
            (schema,),
        ).fetchone()
        exists, usable = row is not None, row is not None and bool(row[0])
        unreadable = (
            tuple(name for (name,) in conn.execute(_UNREADABLE, (schema,))) if exists else ()
        )
        return ServerFacts(
            version_num=conn.info.server_version,
            version=(conn.info.parameter_status("server_version") or "?").split()[0],
            schema_exists=exists,
            schema_usable=usable,
            unreadable=unreadable,
            schema_bytes=_schema_bytes(conn, schema) if exists else 0,
        )


def _schema_bytes(conn: psycopg.Connection[TupleRow], schema: str) -> int:
    conn.execute(f"SET lock_timeout = '{SIZE_LOCK_TIMEOUT}'")
    try:
        row = conn.execute(_SIZE, (schema,)).fetchone()
    except psycopg.errors.LockNotAvailable:
        log.warning("a table of %s is locked: no size estimate", schema)
        return 0
    finally:
        conn.execute("RESET lock_timeout")
    return int(row[0]) if row else 0
