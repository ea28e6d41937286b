"""psycopg at the edge: the history database's connection and idempotent upserts, whatever
the kind whose rows they write."""

from collections.abc import Iterable

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from tenant_backup.adapters.history.migrations import Names
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


def upsert(
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
