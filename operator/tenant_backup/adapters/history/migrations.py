"""Versioned migrations of the history schema: each applied once, recorded in a table.

Running them again changes nothing: the applied versions are read first (no DDL, no lock,
no CREATE privilege needed when up to date), and missing ones are applied in one
transaction under an advisory lock, so concurrent operators do not race.
"""

from dataclasses import dataclass
from typing import LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from tenant_backup.settings import Settings

MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True)
class Names:
    """Where the history lives."""

    schema: str
    backups: str
    attempts: str
    restores: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "Names":
        """The names the operator settings give."""
        return cls(
            settings.history_schema,
            settings.history_table,
            settings.history_attempts_table,
            settings.history_restores_table,
        )

    def table(self, name: str) -> sql.Composed:
        """A schema-qualified table."""
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))


@dataclass(frozen=True)
class Migration:
    """One step; `{backups}`, `{attempts}`, `{restores}`, `{backups_by_tenant}` and
    `{restores_by_tenant}` are table and index names (qualified where a table is meant)."""

    version: int
    description: str
    statements: tuple[LiteralString, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "backups and attempts",
        (
            """CREATE TABLE {backups} (
                uid uuid PRIMARY KEY,
                namespace text NOT NULL,
                name text NOT NULL,
                tenant text NOT NULL,
                phase text NOT NULL,
                reason text,
                message text,
                attempts integer NOT NULL,
                artifact_url text,
                size_bytes bigint,
                sha256 text,
                server_version text,
                pg_dump_version text,
                started_at timestamptz,
                finished_at timestamptz,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )""",
            "CREATE INDEX {backups_by_tenant} ON {backups} (tenant, started_at DESC)",
            """CREATE TABLE {attempts} (
                uid uuid NOT NULL REFERENCES {backups} (uid) ON DELETE CASCADE,
                attempt integer NOT NULL CHECK (attempt >= 1),
                namespace text NOT NULL,
                name text NOT NULL,
                tenant text NOT NULL,
                job_name text NOT NULL,
                phase text NOT NULL,
                reason text,
                message text,
                retryable boolean,
                artifact_url text,
                size_bytes bigint,
                sha256 text,
                server_version text,
                pg_dump_version text,
                started_at timestamptz,
                finished_at timestamptz,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (uid, attempt)
            )""",
        ),
    ),
    Migration(
        2,
        "restores",
        (
            """CREATE TABLE {restores} (
                uid uuid PRIMARY KEY,
                namespace text NOT NULL,
                name text NOT NULL,
                mode text NOT NULL,
                source_backup text,
                source_tenant text,
                artifact_url text,
                sha256 text,
                target_tenant text,
                target_schema text,
                database text,
                phase text NOT NULL,
                reason text,
                message text,
                attempts integer NOT NULL,
                step text,
                tables integer,
                rows bigint,
                previous_schema text,
                started_at timestamptz,
                finished_at timestamptz,
                duration_seconds integer,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )""",
            "CREATE INDEX {restores_by_tenant} ON {restores} (target_tenant, started_at DESC)",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version


def current_version(connection: psycopg.Connection[TupleRow], names: Names) -> int:
    """The highest version applied; 0 when the history was never created."""
    qualified = f"{names.schema}.{MIGRATIONS_TABLE}"
    exists = connection.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    if not exists or not exists[0]:
        return 0
    row = connection.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(names.table(MIGRATIONS_TABLE))
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(connection: psycopg.Connection[TupleRow], names: Names) -> list[int]:
    """Bring the history schema up to date; the versions this call applied."""
    if current_version(connection, names) >= LATEST:
        return []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (names.schema,))
        connection.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(names.schema))
        )
        connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(names.table(MIGRATIONS_TABLE))
        )
        done = current_version(connection, names)
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= done:
                continue
            for statement in migration.statements:
                connection.execute(
                    sql.SQL(statement).format(
                        backups=names.table(names.backups),
                        attempts=names.table(names.attempts),
                        restores=names.table(names.restores),
                        backups_by_tenant=sql.Identifier(f"{names.backups}_by_tenant"),
                        restores_by_tenant=sql.Identifier(f"{names.restores}_by_tenant"),
                    )
                )
            connection.execute(
                sql.SQL("INSERT INTO {} (version, description) VALUES (%s, %s)").format(
                    names.table(MIGRATIONS_TABLE)
                ),
                (migration.version, migration.description),
            )
            applied.append(migration.version)
    return applied
