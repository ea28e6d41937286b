"""A tenant's history rows from the operator's PostgreSQL history table: the UI's only
credential of its own (`TENANT_BACKUP_HISTORY_DSN`, from the environment, never argv), used
read-only. The API server does not guard these rows, so the caller asks it first: rows are
read only for a namespace where the user's token may list TenantBackups."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tenant_backup.core.notice import human_duration
from tenant_backup.core.units import human_size

DSN_VARIABLE = "TENANT_BACKUP_HISTORY_DSN"
SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
LIMIT = 50


class HistoryUnavailableError(Exception):
    """The history database could not be read; the message is fit to show (no DSN)."""


@dataclass(frozen=True)
class HistoryConfig:
    """Where the history table is (the operator's `TENANT_BACKUP_HISTORY_*` settings)."""

    dsn: str
    schema: str = "tenant_backup_history"
    table: str = "backups"
    timeout_seconds: int = 5

    def __post_init__(self) -> None:
        for name in (self.schema, self.table):
            if not SQL_NAME.match(name):
                raise ValueError(f"not an SQL name: {name!r}")

    def __repr__(self) -> str:
        return f"HistoryConfig(schema={self.schema!r}, table={self.table!r}, dsn=...)"


@dataclass(frozen=True)
class HistoryRow:
    """One recorded backup, as the tenant page lists it."""

    started: str
    name: str
    phase: str
    reason: str
    attempts: int
    size: str
    duration: str
    artifact_url: str


async def recent(config: HistoryConfig, namespace: str, tenant: str) -> list[HistoryRow]:
    """The tenant's latest LIMIT recorded backups in `namespace`, newest first; empty when
    the operator has not created the table."""
    query = sql.SQL(
        "SELECT name, phase, reason, attempts, artifact_url, size_bytes, started_at, "
        "finished_at FROM {}.{} WHERE namespace = %(namespace)s AND tenant = %(tenant)s "
        "ORDER BY started_at DESC NULLS LAST, recorded_at DESC LIMIT %(limit)s"
    ).format(sql.Identifier(config.schema), sql.Identifier(config.table))
    try:
        async with await psycopg.AsyncConnection.connect(
            config.dsn, connect_timeout=config.timeout_seconds, application_name="tenant-backup-ui"
        ) as connection:
            await connection.set_read_only(True)
            async with connection.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(
                    query, {"namespace": namespace, "tenant": tenant, "limit": LIMIT}
                )
                found = await cursor.fetchall()
    except psycopg.errors.UndefinedTable:
        return []
    except psycopg.Error as error:
        raise HistoryUnavailableError(
            f"the history database could not be read ({type(error).__name__})"
        ) from None
    return [history_row(row) for row in found]


def history_row(row: dict[str, Any]) -> HistoryRow:
    """A table row as text."""
    started, finished = row.get("started_at"), row.get("finished_at")
    duration = ""
    if isinstance(started, datetime) and isinstance(finished, datetime):
        duration = human_duration(int((finished - started).total_seconds()))
    size = row.get("size_bytes")
    return HistoryRow(
        started=started.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(started, datetime) else "",
        name=str(row.get("name") or ""),
        phase=str(row.get("phase") or ""),
        reason=str(row.get("reason") or ""),
        attempts=int(row.get("attempts") or 0),
        size=human_size(size) if isinstance(size, int) else "",
        duration=duration,
        artifact_url=str(row.get("artifact_url") or ""),
    )
