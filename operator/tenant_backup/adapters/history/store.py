"""psycopg at the edge: write a backup's rows (idempotent upserts) and read them back."""

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow, dict_row

from tenant_backup.adapters.history.migrations import Names, current_version, migrate
from tenant_backup.backup.history_rows import Rows
from tenant_backup.settings import Settings

STATEMENT_TIMEOUT_MS = 30_000
FINAL_GUARD = (
    "({old}.phase NOT IN ('Succeeded', 'Failed') OR EXCLUDED.phase IN ('Succeeded', 'Failed'))"
)


class HistoryDisabledError(RuntimeError):
    """No history database is configured."""


def connect(settings: Settings) -> psycopg.Connection[TupleRow]:
    """An autocommit connection to the history database."""
    if settings.history_dsn is None:
        raise HistoryDisabledError("no history database: set TENANT_BACKUP_HISTORY_DSN")
    return psycopg.connect(
        settings.history_dsn.get_secret_value(),
        autocommit=True,
        connect_timeout=settings.history_timeout_seconds,
        application_name="tenant-backup-operator",
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


def record(settings: Settings, rows: Rows) -> None:
    """Create or migrate the tables if needed, and upsert the rows in one transaction.

    Keyed by uid and (uid, attempt), so recording again never adds rows; a row already
    final is not overwritten by a non-final one (a stale write cannot turn it back)."""
    names = Names.from_settings(settings)
    with connect(settings) as connection:
        migrate(connection, names)
        with connection.transaction():
            connection.execute(
                _upsert(names, names.backups, ("uid",), rows.backup.columns(), monotonic=True),
                rows.backup.columns(),
            )
            for attempt in rows.attempts:
                connection.execute(
                    _upsert(names, names.attempts, ("uid", "attempt"), attempt.columns()),
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


def _upsert(
    names: Names,
    table: str,
    keys: tuple[str, ...],
    columns: dict[str, object],
    *,
    monotonic: bool = False,
) -> sql.Composed:
    """INSERT ... ON CONFLICT DO UPDATE, unless the stored row is final and the new one is
    not (or, `monotonic`, counts fewer attempts)."""
    guard = FINAL_GUARD + (" AND EXCLUDED.attempts >= {old}.attempts" if monotonic else "")
    target = sql.Identifier(table)
    return sql.SQL(
        "INSERT INTO {table} AS {old} ({columns}) VALUES ({values}) "
        "ON CONFLICT ({keys}) DO UPDATE SET {updates}, recorded_at = now() WHERE {guard}"
    ).format(
        table=names.table(table),
        old=target,
        columns=_identifiers(columns),
        values=sql.SQL(", ").join(sql.Placeholder(name) for name in columns),
        keys=_identifiers(keys),
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
            for name in columns
            if name not in keys
        ),
        guard=sql.SQL(guard).format(old=target),
    )


def _identifiers(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)
