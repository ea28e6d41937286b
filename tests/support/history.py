"""Reading the history database back, for tests: rows without their write times."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from devenv.postgres import PostgresServer
from tenant_backup.adapters.history.migrations import Names
from tenant_backup.settings import Settings


def settings_for(server: PostgresServer, dbname: str, **more: Any) -> Settings:
    """Operator settings writing history to `dbname` on `server`."""
    return Settings(history_dsn=server.dsn(dbname), **more)


def rows(settings: Settings, table: str) -> list[dict[str, Any]]:
    """A history table's rows (by uid, attempt), without `recorded_at`."""
    assert settings.history_dsn is not None
    names = Names.from_settings(settings)
    order = "uid, attempt" if table == names.attempts else "uid"
    query = sql.SQL("SELECT * FROM {} ORDER BY " + order).format(names.table(table))
    with (
        psycopg.connect(settings.history_dsn.get_secret_value()) as connection,
        connection.cursor(row_factory=dict_row) as cursor,
    ):
        found = cursor.execute(query).fetchall()
    for row in found:
        del row["recorded_at"]
        row["uid"] = str(row["uid"])
    return found


def catalog(settings: Settings) -> list[tuple[Any, ...]]:
    """Everything the migrations define: columns, constraints, indexes, applied versions."""
    assert settings.history_dsn is not None
    schema = settings.history_schema
    with psycopg.connect(settings.history_dsn.get_secret_value()) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        constraints = connection.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        versions = connection.execute(
            sql.SQL("SELECT version, description, applied_at FROM {}.schema_migrations").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    return [*columns, *constraints, *indexes, *versions]
