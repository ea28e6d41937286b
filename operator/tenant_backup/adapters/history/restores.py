"""psycopg at the edge: write a restore's row (an idempotent upsert)."""

from tenant_backup.adapters.history.migrations import Names, migrate
from tenant_backup.adapters.history.upsert import connect, upsert
from tenant_backup.restore.history_rows import RestoreRow
from tenant_backup.settings import Settings


def record(settings: Settings, row: RestoreRow) -> None:
    """Create or migrate the tables if needed, and upsert a restore's row (keyed by uid; a
    final row is not overwritten by a non-final one)."""
    names = Names.from_settings(settings)
    with connect(settings) as connection:
        migrate(connection, names)
        columns = row.columns()
        connection.execute(
            upsert(names, names.restores, ("uid",), columns, monotonic=True), columns
        )
