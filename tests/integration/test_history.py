"""The history database on a real PostgreSQL: migrations, idempotent rows, the CLI."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from devenv.postgres import PostgresServer
from tenant_backup.adapters.history import store
from tenant_backup.adapters.history.migrations import Names, migrate
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.history_metrics import TenantRecord
from tenant_backup.backup.history_rows import rows_for
from tenant_backup.settings import Settings
from tests.support.factories import T0, UID
from tests.support.history import catalog, rows, settings_for
from tests.support.lifecycles import lifecycle

CLI = Path(sys.executable).parent / "tenant-backup"
SHA = "a" * 64
_writers = itertools.count(1)


def record_all(settings: Settings, states: list[TenantBackup]) -> None:
    for state in states:
        store.record(settings, rows_for(state))


def identity(**row: Any) -> dict[str, Any]:
    return {"uid": UID, "namespace": "team-a", "name": "nightly", "tenant": "acme", **row}


NOTHING = {
    "artifact_url": None,
    "size_bytes": None,
    "sha256": None,
    "server_version": None,
    "pg_dump_version": None,
}
PRODUCED = {
    "artifact_url": "pvc://backups/x.pgdump.zst",
    "size_bytes": 4096,
    "sha256": SHA,
    "server_version": "15.18",
    "pg_dump_version": "15.18",
}


def test_migrations_run_twice_change_nothing(history: Settings) -> None:
    names = Names.from_settings(history)
    assert history.history_dsn is not None
    with psycopg.connect(history.history_dsn.get_secret_value(), autocommit=True) as connection:
        assert migrate(connection, names) == [1, 2]
        before = catalog(history)
        assert migrate(connection, names) == []
    assert catalog(history) == before
    tables = {row[0] for row in before if isinstance(row[0], str)}
    assert {"schema_migrations", "backups", "backup_attempts", "restores"} <= tables


def test_up_to_date_history_needs_no_create_privilege(
    history: Settings, postgres: PostgresServer
) -> None:
    """The operator's role may lose CREATE once the tables exist: writes need only DML."""
    assert history.history_dsn is not None
    record_all(history, lifecycle([])[:1])
    dbname = psycopg.conninfo.conninfo_to_dict(history.history_dsn.get_secret_value())["dbname"]
    role, password = f"writer_{next(_writers)}", "writer-password"
    schema = history.history_schema
    for statement in (
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {role}",
    ):
        postgres.execute(statement, dbname=str(dbname))
    writer = Settings(history_dsn=postgres.dsn(str(dbname), role, password))
    record_all(writer, lifecycle([]))
    assert [row["phase"] for row in rows(history, "backups")] == ["Succeeded"]


def test_success_rows(history: Settings) -> None:
    states = lifecycle([])
    record_all(history, states)
    assert rows(history, "backups") == [
        identity(
            phase="Succeeded",
            reason="Succeeded",
            message="pvc://backups/x.pgdump.zst (4.0KiB) verified",
            attempts=1,
            started_at=T0,
            finished_at=T0 + timedelta(seconds=31),
            **PRODUCED,
        )
    ]
    assert rows(history, "backup_attempts") == [
        identity(
            attempt=1,
            job_name="nightly-1",
            phase="Succeeded",
            reason="Succeeded",
            message="pvc://backups/x.pgdump.zst (4.0KiB) verified",
            retryable=False,
            started_at=T0 + timedelta(seconds=1),
            finished_at=T0 + timedelta(seconds=31),
            **PRODUCED,
        )
    ]


def test_retried_success_rows(history: Settings) -> None:
    record_all(history, lifecycle([Reason.LOCK_TIMEOUT, Reason.DATABASE_UNAVAILABLE]))
    backups = rows(history, "backups")
    assert [(r["phase"], r["attempts"], r["artifact_url"]) for r in backups] == [
        ("Succeeded", 3, PRODUCED["artifact_url"])
    ]
    attempts = rows(history, "backup_attempts")
    assert [
        (r["attempt"], r["job_name"], r["phase"], r["reason"], r["retryable"], r["artifact_url"])
        for r in attempts
    ] == [
        (1, "nightly-1", "Failed", "LockTimeout", True, None),
        (2, "nightly-2", "Failed", "DatabaseUnavailable", True, None),
        (3, "nightly-3", "Succeeded", "Succeeded", False, PRODUCED["artifact_url"]),
    ]
    assert attempts[0] == identity(
        attempt=1,
        job_name="nightly-1",
        phase="Failed",
        reason="LockTimeout",
        message="simulated LockTimeout",
        retryable=True,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(seconds=31),
        **NOTHING,
    )


def test_permanent_failure_rows(history: Settings) -> None:
    record_all(history, lifecycle([], Reason.PERMISSION_DENIED))
    assert rows(history, "backups") == [
        identity(
            phase="Failed",
            reason="PermissionDenied",
            message="simulated PermissionDenied",
            attempts=1,
            started_at=T0,
            finished_at=T0 + timedelta(seconds=31),
            **NOTHING,
        )
    ]
    assert [
        (r["attempt"], r["phase"], r["retryable"]) for r in rows(history, "backup_attempts")
    ] == [(1, "Failed", False)]


def test_running_attempt_is_recorded_then_completed_in_place(history: Settings) -> None:
    states = lifecycle([Reason.LOCK_TIMEOUT])
    record_all(history, states[:1])
    assert [(r["attempt"], r["phase"]) for r in rows(history, "backup_attempts")] == [
        (1, "Running")
    ]
    assert [r["phase"] for r in rows(history, "backups")] == ["Running"]
    record_all(history, states[1:3])
    assert [(r["attempt"], r["phase"]) for r in rows(history, "backup_attempts")] == [
        (1, "Failed"),
        (2, "Running"),
    ]


def test_recording_again_adds_nothing_and_stale_states_do_not_regress(history: Settings) -> None:
    states = lifecycle([Reason.LOCK_TIMEOUT])
    record_all(history, states)
    final = (rows(history, "backups"), rows(history, "backup_attempts"))
    record_all(history, states)  # an operator restarted at every step, replaying all of it
    record_all(history, [states[-1]])
    assert (rows(history, "backups"), rows(history, "backup_attempts")) == final


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TENANT_")}
    if settings.history_dsn is not None:
        env["TENANT_BACKUP_HISTORY_DSN"] = settings.history_dsn.get_secret_value()
    return subprocess.run(
        [str(CLI), "history", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_lists_a_tenants_backups_as_table_and_json(history: Settings) -> None:
    record_all(history, lifecycle([Reason.LOCK_TIMEOUT]))
    other = lifecycle([], Reason.PERMISSION_DENIED, tenant="globex")[-1]
    other_uid = other.metadata.model_copy(update={"uid": "0a1b2c3d-0000-4000-8000-000000000002"})
    record_all(history, [other.model_copy(update={"metadata": other_uid})])
    listed = run_cli(history, "acme", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert [(r["namespace"], r["name"], r["tenant"], r["phase"], r["attempts"]) for r in found] == [
        ("team-a", "nightly", "acme", "Succeeded", 2)
    ]
    assert found[0]["sha256"] == SHA
    assert found[0]["started_at"] == T0.isoformat()
    table = run_cli(history, "acme")
    assert table.returncode == 0, table.stderr
    header, line = table.stdout.splitlines()
    assert header.split() == [
        "STARTED", "BACKUP", "PHASE", "REASON", "ATTEMPTS", "SIZE", "DURATION", "ARTIFACT"
    ]  # fmt: skip
    assert line.split() == [
        "2026-11-25", "12:00:00Z", "team-a/nightly", "Succeeded", "Succeeded", "2", "4.0KiB",
        "11m2s", "pvc://backups/x.pgdump.zst",
    ]  # fmt: skip
    assert run_cli(history, "nobody").stdout.split() == header.split()


def test_cli_without_dsn_or_database_fails_clearly(
    history: Settings, postgres: PostgresServer
) -> None:
    missing = run_cli(Settings(), "acme")
    assert missing.returncode == 2
    assert "TENANT_BACKUP_HISTORY_DSN" in missing.stderr
    wrong = run_cli(settings_for(postgres, "history_db_that_does_not_exist"), "acme")
    assert wrong.returncode == 1
    assert "does not exist" in wrong.stderr
    assert postgres.superuser.password not in wrong.stderr


def as_backup_of(states: list[TenantBackup], uid: str, namespace: str) -> list[TenantBackup]:
    """`states` as those of another TenantBackup (uid) in `namespace`."""
    return [
        state.model_copy(
            update={
                "metadata": state.metadata.model_copy(update={"uid": uid, "namespace": namespace})
            }
        )
        for state in states
    ]


def test_tenant_records_outlive_objects_and_show_tenants_that_never_succeeded(
    history: Settings,
) -> None:
    assert store.tenant_records(history) == []  # no tables yet: nothing, no error
    record_all(history, as_backup_of(lifecycle([], tenant="acme"), UID, "team-a"))
    failed = lifecycle([], Reason.PERMISSION_DENIED, tenant="initech")
    record_all(history, as_backup_of(failed, "0a1b2c3d-0000-4000-8000-000000000002", "team-b"))
    # acme's second backup in team-a failed after the success: the success stays the newest one
    retried = lifecycle([], Reason.PERMISSION_DENIED, tenant="acme")
    record_all(history, as_backup_of(retried, "0a1b2c3d-0000-4000-8000-000000000003", "team-a"))

    assert store.tenant_records(history) == [
        TenantRecord("team-a", "acme", T0, T0 + timedelta(seconds=31)),
        TenantRecord("team-b", "initech", T0, None),
    ]
