"""Pre-flight: what the server is, and whether the tenant's schema exists and is readable.

The connection comes only from libpq's environment (PGHOST, PGUSER, PGPASSWORD, ...).
"""

from dataclasses import dataclass

import psycopg

from tenant_backup.runner.classify import classify_db_error
from tenant_backup.runner.errors import DumpError

CONNECT_TIMEOUT_SECONDS = 10

# Relations pg_dump must lock and read: tables, partitioned tables, sequences.
_UNREADABLE = """
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'S')
  AND NOT has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname
"""


@dataclass(frozen=True)
class ServerFacts:
    """What pre-flight learned about the server and the schema."""

    version_num: int
    version: str
    schema_exists: bool
    schema_usable: bool
    unreadable: tuple[str, ...]

    @property
    def major(self) -> int:
        """Major version, e.g. 15 for 150018."""
        return self.version_num // 10000


def inspect(schema: str) -> ServerFacts:
    """Connect once and gather ServerFacts; connection and query errors become DumpError."""
    connecting = True
    try:
        with psycopg.connect(
            "",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            fallback_application_name="tenant-backup",
            autocommit=True,
        ) as conn:
            connecting = False
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
            )
    except psycopg.Error as exc:
        reason = classify_db_error(exc.sqlstate, str(exc), connecting=connecting)
        step = "connection" if connecting else "query"
        raise DumpError(reason, f"pre-flight {step} failed: {exc}") from exc
