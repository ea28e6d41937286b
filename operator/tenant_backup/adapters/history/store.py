"""psycopg at the edge: write a backup's rows (idempotent upserts) and read them back."""

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from tenant_backup.adapters.history.migrations import Names, current_version, migrate
from tenant_backup.adapters.history.upsert import connect, upsert
from tenant_backup.backup.history_metrics import TenantRecord
from tenant_backup.backup.history_rows import Rows
from tenant_backup.settings import Settings


def record(settings: Settings, rows: Rows) -> None:
    """Create or migrate the tables if needed, and upsert the rows in one transaction.

    Keyed by uid and (uid, attempt), so recording again never adds rows; a row already
    final is not overwritten by a non-final one (a stale write cannot turn it back)."""
    names = Names.from_settings(settings)
    with connect(settings) as connection:
        migrate(connection, names)
        with connection.transaction():
            connection.execute(
                upsert(names, names.backups, ("uid",), rows.backup.columns(), monotonic=True),
                rows.backup.columns(),
            )
            for attempt in rows.attempts:
                connection.execute(
                    upsert(names, names.attempts, ("uid", "attempt"), attempt.columns()),
                    attempt.columns(),
                )


def recent(
    settings: Settings, tenant: str, namespace: str | None, limit: int
) -> list[dict[str, Any]]:
    """A tenant's latest backups, newest first; empty when nothing was ever recorded."""
    names = Names.from_settings(settings)
    with connect(settings) as connection:
        if current_version(connection, names) == 0:
            return []
        query = sql.SQL(
            "SELECT namespace, name, uid::text AS uid, tenant, phase, reason, message, attempts, "
            "artifact_url, size_bytes, sha256, server_version, pg_dump_version, started_at, "
            "finished_at FROM {} WHERE tenant = %(tenant)s "
            "AND (%(namespace)s::text IS NULL OR namespace = %(namespace)s) "
            "ORDER BY started_at DESC NULLS LAST, recorded_at DESC LIMIT %(limit)s"
        ).format(names.table(names.backups))
        with connection.cursor(row_factory=dict_row) as cursor:
            found = cursor.execute(
                query, {"tenant": tenant, "namespace": namespace, "limit": limit}
            ).fetchall()
    return found


def tenant_records(settings: Settings) -> list[TenantRecord]:
    """Every tenant ever recorded, by namespace: when it was first recorded and when its
    newest success finished (None: never). Empty before the tables exist."""
    names = Names.from_settings(settings)
    with connect(settings) as connection:
        if current_version(connection, names) == 0:
            return []
        query = sql.SQL(
            "SELECT namespace, tenant, min(coalesce(started_at, recorded_at)), "
            "max(finished_at) FILTER (WHERE phase = 'Succeeded') "
            "FROM {} GROUP BY namespace, tenant ORDER BY namespace, tenant"
        ).format(names.table(names.backups))
        rows = connection.execute(query).fetchall()
    return [TenantRecord(*row) for row in rows]
