"""`tenant-backup history`: a tenant's recent backups, from the history database.

The connection comes from TENANT_BACKUP_HISTORY_DSN (and the schema and table names from
the other TENANT_BACKUP_HISTORY_* variables), as for the operator: never from argv.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from tenant_backup.adapters.history import store
from tenant_backup.core.notice import human_duration
from tenant_backup.core.units import human_size
from tenant_backup.settings import Settings

COLUMNS = ("STARTED", "BACKUP", "PHASE", "REASON", "ATTEMPTS", "SIZE", "DURATION", "ARTIFACT")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which tenant, how many, and how to print them."""
    parser.add_argument("tenant", help="tenant slug")
    parser.add_argument("--namespace", help="only backups in this namespace")
    parser.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    parser.add_argument("--output", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    """Print the tenant's latest backups, newest first; 2 without a DSN, 1 if unreachable."""
    settings = Settings.from_env()
    if not settings.history_enabled:
        print("tenant-backup history: set TENANT_BACKUP_HISTORY_DSN", file=sys.stderr)
        return 2
    try:
        rows = store.recent(settings, args.tenant, args.namespace, args.limit)
    except psycopg.Error as error:
        print(f"tenant-backup history: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(render_json(rows) if args.output == "json" else render_table(rows))
    return 0


def render_json(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a JSON array, timestamps in ISO 8601."""
    return json.dumps(list(rows), default=_iso, indent=2)


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as aligned columns for people."""
    cells = [COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    started, finished = row["started_at"], row["finished_at"]
    duration = int((finished - started).total_seconds()) if started and finished else None
    return (
        started.strftime("%Y-%m-%d %H:%M:%SZ") if started else "-",
        f"{row['namespace']}/{row['name']}",
        row["phase"],
        row["reason"] or "-",
        str(row["attempts"]),
        human_size(row["size_bytes"]) if row["size_bytes"] is not None else "-",
        human_duration(duration) if duration is not None else "-",
        row["artifact_url"] or "-",
    )


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
