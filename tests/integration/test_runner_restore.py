"""`tenant-backup restore` against a real PostgreSQL 15, of artifacts the real `dump` made (a
file, MinIO, the Bot API stand-in), run as a subprocess the way a Job runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv.minio import S3Account
from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support.dump_runs import Run, add_blobs, run_dump
from tests.support.s3_fixtures import Bucket
from tests.support.telegram_runs import run_to_telegram

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
RESTORE_ID = "team-a.acme-restore-1"

# Functions that name their own schema where a rename does not follow: in string bodies and
# in a SET search_path; and one that reads a look-alike neighbour on purpose.
OWN_SCHEMA_FUNCTIONS = """
SET ROLE backup_owner;
CREATE FUNCTION tenant_acme.customer_count() RETURNS bigint LANGUAGE plpgsql
AS $$ BEGIN RETURN (SELECT count(*) FROM tenant_acme.customers); END $$;
CREATE FUNCTION tenant_acme.first_customer() RETURNS text LANGUAGE sql
AS $$ SELECT name FROM "tenant_acme".customers ORDER BY id LIMIT 1 $$;
CREATE FUNCTION tenant_acme.unqualified_count() RETURNS bigint LANGUAGE sql
SET search_path = tenant_acme, pg_catalog AS $$ SELECT count(*) FROM customers $$;
CREATE FUNCTION tenant_acme.neighbour_count() RETURNS bigint LANGUAGE plpgsql
AS $$ BEGIN RETURN (SELECT count(*) FROM tenant_acme_eu.customers); END $$;
CREATE TABLE tenant_acme.events (id int PRIMARY KEY, note text);
INSERT INTO tenant_acme.events VALUES (1, 'moved from tenant_acme.customers; tenant_acme2');
RESET ROLE;
"""
DYNAMIC_SQL_FUNCTION = """
SET ROLE backup_owner;
CREATE FUNCTION tenant_acme.dynamic_count() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I.customers', 'tenant_acme') INTO n;
    RETURN n;
END $$;
RESET ROLE;
"""


def _env(db: Database, extra: dict[str, str] | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "TELEGRAM_"))}
    return {**clean, **db.env(db.server.superuser), **(extra or {})}


def _dump(db: Database, tmp_path: Path, *args: str) -> dict[str, Any]:
    """The artifact of a dump of tenant acme to a file."""
    output = tmp_path / "acme.pgdump"
    result_file = tmp_path / "dump.json"
    argv = [str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
            "--result-file", str(result_file), *args]  # fmt: skip
    run = run_dump(argv, {**_env(db), **db.env()}, result_file, [])
    assert run.returncode == 0, run.stderr
    artifact: dict[str, Any] = run.result["artifact"]
    return artifact


def _restore_argv(artifact: dict[str, Any], result_file: Path, *args: str) -> list[str]:
    return [
        str(TENANT_BACKUP), "restore", "--artifact-url", artifact["url"],
        "--expected-sha256", artifact["sha256"], "--format", artifact["format"],
        "--compression", artifact["compression"], "--source-tenant", "acme",
        "--restore-id", RESTORE_ID, "--result-file", str(result_file), *args,
    ]  # fmt: skip


def _restore(
    db: Database,
    artifact: dict[str, Any],
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> Run:
    result_file = tmp_path / "restore.json"
    environment = env or _env(db)
    run = run_dump(
        _restore_argv(artifact, result_file, *args),
        environment,
        result_file,
        [environment["PGPASSWORD"]],
    )
    assert len(run.stdout.splitlines()) == 1, run.stdout
    return run


def _rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn()) as conn:
        return conn.execute(query).fetchall()


def _one(db: Database, query: str) -> Any:
    return _rows(db, query)[0][0]


def _schemas(db: Database) -> list[str]:
    return [
        row[0]
        for row in _rows(
            db,
            "SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)'"
            " ORDER BY 1",
        )
    ]


def _snapshot(db: Database, schema: str) -> list[tuple[Any, ...]]:
    return _rows(db, f"SELECT id, name, email FROM {schema}.customers ORDER BY id")


def _assert_failed(run: Run, reason: str, step: str) -> None:
    assert run.returncode == 1, run.stderr
    assert (run.result["ok"], run.result["reason"]) == (False, reason), run.result
    assert run.result["retryable"] is False
    assert run.result["step"] == step


@pytest.fixture
def acme_db(tenant_db: Database) -> Database:
    """tenant_db whose tenant_acme has functions naming their own schema."""
    tenant_db.server.execute(OWN_SCHEMA_FUNCTIONS, tenant_db.dbname)
    return tenant_db


# --- create-new under another name, and the rename proof ---------------------------------


@pytest.mark.parametrize(("fmt", "compression"), [("custom", "zstd"), ("plain", "gzip")])
def test_a_restore_as_another_tenant_reads_only_its_own_data(
    acme_db: Database, tmp_path: Path, fmt: str, compression: str
) -> None:
    artifact = _dump(acme_db, tmp_path, "--format", fmt, "--compression", compression)
    run = _restore(acme_db, artifact, tmp_path, "--target-tenant", "acme2", "--mode", "create-new")
    assert run.returncode == 0, run.stderr
    result = run.result
    assert (result["ok"], result["reason"], result["mode"]) == (True, "Succeeded", "create-new")
    assert (result["sourceSchema"], result["targetSchema"]) == ("tenant_acme", "tenant_acme2")
    assert result["tables"] == 5
    assert result["rows"] == 30 + 120 + 360 + 1 + 1
    assert [step["step"] for step in result["steps"]] == [
        "Downloading", "Verifying", "Restoring", "Checking", "Swapping",
    ]  # fmt: skip
    assert result["step"] == "Swapping"
    assert result["alreadyRestored"] is False
    assert _snapshot(acme_db, "tenant_acme2") == _snapshot(acme_db, "tenant_acme")
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_")]

    # Change the source; the clone's functions must not see it.
    acme_db.server.execute(
        "DELETE FROM tenant_acme.order_items; DELETE FROM tenant_acme.orders;"
        " DELETE FROM tenant_acme.customers WHERE id > 1;"
        " UPDATE tenant_acme.customers SET name = 'changed in the source';"
        " SELECT setval('tenant_acme.invoice_number_seq', 5000);",
        acme_db.dbname,
    )
    assert _one(acme_db, "SELECT tenant_acme.customer_count()") == 1
    assert _one(acme_db, "SELECT tenant_acme2.customer_count()") == 30
    assert _one(acme_db, "SELECT tenant_acme2.unqualified_count()") == 30
    assert _one(acme_db, "SELECT tenant_acme2.first_customer()") == "tenant_acme customer 1"
    assert _one(acme_db, "SELECT tenant_acme2.next_invoice_number()") == "INV-1043"
    assert _one(acme_db, "SELECT tenant_acme2.order_total(5)") > 0
    assert _one(acme_db, "SELECT count(*) FROM tenant_acme2.paid_orders") == 30
    # The look-alike neighbour is read as before, not renamed to tenant_acme2_eu.
    assert _one(acme_db, "SELECT tenant_acme2.neighbour_count()") == 20
    # Data rows are never rewritten, even where they name the schema.
    assert _one(acme_db, "SELECT note FROM tenant_acme2.events") == (
        "moved from tenant_acme.customers; tenant_acme2"
    )
    definitions = _rows(
        acme_db,
        "SELECT p.proname, p.prosrc, coalesce(array_to_string(p.proconfig, ','), '')"
        " FROM pg_proc p WHERE p.pronamespace = 'tenant_acme2'::regnamespace",
    )
    for name, body, config in definitions:
        assert "tenant_acme." not in body.replace("tenant_acme_eu.", ""), name
        assert config in ("", "search_path=tenant_acme2, pg_catalog", "search_path=tenant_acme2")
    default = (
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d"
        " WHERE d.adrelid = 'tenant_acme2.customers'::regclass"
    )
    assert "tenant_acme." not in " ".join(str(row[0]) for row in _rows(acme_db, default))


def test_a_function_building_sql_with_the_schema_name_is_refused_by_name(
    acme_db: Database, tmp_path: Path
) -> None:
    acme_db.server.execute(DYNAMIC_SQL_FUNCTION, acme_db.dbname)
    artifact = _dump(acme_db, tmp_path)
    run = _restore(acme_db, artifact, tmp_path, "--target-tenant", "acme2")
    _assert_failed(run, "CrossTenantReference", "Checking")
    assert run.result["referencesTotal"] == 1
    assert run.result["references"] == [
        "function tenant_acme2.dynamic_count(): its body holds its name in a string (tenant_acme)"
    ]
    assert "dynamic_count" in run.result["message"]
    assert "tenant_acme2" not in _schemas(acme_db)
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_")]


def test_create_new_is_refused_when_the_schema_exists(acme_db: Database, tmp_path: Path) -> None:
    artifact = _dump(acme_db, tmp_path)
    run = _restore(acme_db, artifact, tmp_path, "--target-tenant", "acme_eu")
    _assert_failed(run, "TargetExists", "Downloading")
    assert run.result["steps"][0]["step"] == "Downloading"


def test_the_same_restore_id_never_restores_twice(acme_db: Database, tmp_path: Path) -> None:
    artifact = _dump(acme_db, tmp_path)
    first = _restore(acme_db, artifact, tmp_path, "--target-tenant", "acme2")
    assert first.returncode == 0, first.stderr
    acme_db.server.execute("INSERT INTO tenant_acme2.events VALUES (2, 'kept')", acme_db.dbname)
    again = _restore(acme_db, artifact, tmp_path, "--target-tenant", "acme2")
    assert again.returncode == 0, again.stderr
    assert (again.result["alreadyRestored"], again.result["tables"]) == (True, 5)
    assert _one(acme_db, "SELECT count(*) FROM tenant_acme2.events") == 2


# --- replace ----------------------------------------------------------------------------


def _reader(db: Database, stop: threading.Event, errors: list[str], counts: list[int]) -> None:
    with psycopg.connect(db.dsn(), autocommit=True) as conn:
        while not stop.is_set():
            try:
                row = conn.execute("SELECT count(*) FROM tenant_acme.customers").fetchone()
                counts.append(row[0] if row else -1)
            except psycopg.Error as exc:
                errors.append(str(exc))


def test_replace_swaps_in_one_transaction_and_keeps_the_previous(
    acme_db: Database, tmp_path: Path
) -> None:
    artifact = _dump(acme_db, tmp_path)
    acme_db.server.execute(
        "INSERT INTO tenant_acme.customers (name, email, created_at)"
        " VALUES ('after the dump', 'late@x', now())",
        acme_db.dbname,
    )
    checks = tmp_path / "checks.json"
    checks.write_text(json.dumps([
        {"name": "customers", "sql": "SELECT count(*) FROM customers", "expect": "30"},
        {"name": "first", "sql": "SELECT first_customer()", "expect": "tenant_acme customer 1"},
    ]))  # fmt: skip
    stop, errors, counts = threading.Event(), list[str](), list[int]()
    reader = threading.Thread(target=_reader, args=(acme_db, stop, errors, counts))
    reader.start()
    try:
        run = _restore(
            acme_db, artifact, tmp_path, "--mode", "replace", "--checks-file", str(checks)
        )
    finally:
        stop.set()
        reader.join()
    assert run.returncode == 0, run.stderr
    assert errors == []
    assert {31, 30} <= set(counts)
    result = run.result
    previous = result["previousSchema"]
    assert previous.startswith("tbr_prev_")
    assert result["previousKeptUntil"]
    assert [(c["name"], c["passed"], c["value"]) for c in result["checks"]] == [
        ("customers", True, "30"), ("first", True, "tenant_acme customer 1"),
    ]  # fmt: skip
    assert _one(acme_db, "SELECT count(*) FROM tenant_acme.customers") == 30
    assert _one(acme_db, f"SELECT count(*) FROM {previous}.customers") == 31
    assert _one(acme_db, "SELECT tenant_acme.customer_count()") == 30
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_new_")]


def test_failed_checks_leave_the_target_as_it_was(acme_db: Database, tmp_path: Path) -> None:
    artifact = _dump(acme_db, tmp_path)
    before = _snapshot(acme_db, "tenant_acme")
    checks = tmp_path / "checks.json"
    checks.write_text(json.dumps([
        {"name": "too many", "sql": "SELECT count(*) FROM customers", "expect": "31"},
        {"name": "broken", "sql": "SELECT nope FROM customers", "expect": "1"},
    ]))  # fmt: skip
    run = _restore(acme_db, artifact, tmp_path, "--mode", "replace", "--checks-file", str(checks))
    _assert_failed(run, "ChecksFailed", "Checking")
    listed = {c["name"]: c for c in run.result["checks"]}
    assert (listed["too many"]["passed"], listed["too many"]["value"]) == (False, "30")
    assert "nope" in listed["broken"]["error"]
    assert _snapshot(acme_db, "tenant_acme") == before
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_")]


def test_a_corrupted_artifact_touches_nothing(acme_db: Database, tmp_path: Path) -> None:
    artifact = _dump(acme_db, tmp_path)
    path = Path(artifact["url"].removeprefix("file://"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    before = _snapshot(acme_db, "tenant_acme")
    run = _restore(acme_db, artifact, tmp_path, "--mode", "replace")
    _assert_failed(run, "ChecksumMismatch", "Downloading")
    assert _snapshot(acme_db, "tenant_acme") == before
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_")]


BLOBS = 60_000
"""Enough rows that the COPY of them lasts long enough to be seen and killed."""


def test_killed_mid_restore_leaves_the_target_and_the_next_attempt_succeeds(
    acme_db: Database, tmp_path: Path
) -> None:
    add_blobs(acme_db, BLOBS)
    artifact = _dump(acme_db, tmp_path)
    acme_db.server.execute("UPDATE tenant_acme.customers SET name = 'live'", acme_db.dbname)
    before = _snapshot(acme_db, "tenant_acme")
    result_file = tmp_path / "killed.json"
    argv = _restore_argv(artifact, result_file, "--mode", "replace")
    proc = subprocess.Popen(argv, env=_env(acme_db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copying = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'tenant-backup-restore' AND query LIKE 'COPY%blobs%'"
    )
    try:
        # Generous: a loaded machine reaches the COPY late (60 s was once too short); polled
        # often: on a quiet machine a short COPY ended between two looks.
        wait_for(
            lambda: _one(acme_db, copying) > 0 or proc.poll() is not None,
            240,
            "the restore never copied blobs",
            interval=0.02,
        )
        assert proc.poll() is None, "the restore ended before it could be killed mid-COPY"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    wait_for(
        lambda: _one(acme_db, copying.replace(" AND query LIKE 'COPY%blobs%'", "")) == 0,
        30,
        "psql outlived the runner",
    )
    assert _snapshot(acme_db, "tenant_acme") == before
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_prev_")]

    run = _restore(acme_db, artifact, tmp_path, "--mode", "replace")
    assert run.returncode == 0, run.stderr
    assert _one(acme_db, "SELECT count(*) FROM tenant_acme.blobs") == BLOBS
    assert _one(acme_db, "SELECT name FROM tenant_acme.customers WHERE id = 1") == (
        "tenant_acme customer 1"
    )


# --- verify, prerequisites ----------------------------------------------------------------


def test_verify_restores_into_a_scratch_database_and_drops_it(
    acme_db: Database, tmp_path: Path
) -> None:
    artifact = _dump(acme_db, tmp_path)
    before = _snapshot(acme_db, "tenant_acme")
    checks = tmp_path / "checks.json"
    checks.write_text(json.dumps([{"name": "n", "sql": "SELECT customer_count()", "expect": "30"}]))
    run = _restore(acme_db, artifact, tmp_path, "--mode", "verify", "--checks-file", str(checks))
    assert run.returncode == 0, run.stderr
    scratch = run.result["database"]
    assert scratch.startswith("tbr_verify_")
    assert run.result["checks"][0]["passed"] is True
    assert run.result["step"] == "Checking"
    databases = [r[0] for r in _rows(acme_db, "SELECT datname FROM pg_database")]
    assert scratch not in databases
    assert _snapshot(acme_db, "tenant_acme") == before
    assert not [s for s in _schemas(acme_db) if s.startswith("tbr_")]


def test_a_missing_extension_is_named_before_anything_is_written(
    acme_db: Database, empty_db: Database, tmp_path: Path
) -> None:
    acme_db.server.execute(
        "CREATE EXTENSION citext; CREATE ROLE tenant_reader;"
        " ALTER TABLE tenant_acme.customers ADD COLUMN nick public.citext;"
        " GRANT SELECT ON tenant_acme.customers TO tenant_reader;",
        acme_db.dbname,
    )
    artifact = _dump(acme_db, tmp_path)
    acme_db.server.execute("DROP OWNED BY tenant_reader", acme_db.dbname)
    acme_db.server.execute("DROP ROLE tenant_reader")
    run = _restore(empty_db, artifact, tmp_path)
    _assert_failed(run, "MissingPrerequisite", "Verifying")
    assert run.result["missing"] == [
        "role tenant_reader",
        "type public.citext (extension citext, available but not installed)",
    ]
    assert "citext" in run.result["message"]
    assert _schemas(empty_db) == ["public"]

    dropped = _restore(empty_db, artifact, tmp_path, "--privileges", "drop")
    assert dropped.result["missing"] == [
        "type public.citext (extension citext, available but not installed)"
    ]
    empty_db.server.execute("CREATE EXTENSION citext", empty_db.dbname)
    owned = _restore(
        empty_db, artifact, tmp_path, "--privileges", "drop", "--owner", "backup_owner"
    )
    _assert_failed(owned, "PermissionDenied", "Restoring")  # the owner creates the schema
    assert _schemas(empty_db) == ["public"]
    empty_db.server.execute(f"GRANT CREATE ON DATABASE {empty_db.dbname} TO backup_owner")
    run = _restore(empty_db, artifact, tmp_path, "--privileges", "drop", "--owner", "backup_owner")
    assert run.returncode == 0, run.stderr
    owners = _rows(
        empty_db,
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
        " WHERE relnamespace = 'tenant_acme'::regnamespace",
    )
    assert owners == [("backup_owner",)]


# --- other destinations -------------------------------------------------------------------


def test_restore_from_s3(acme_db: Database, bucket: Bucket, tmp_path: Path) -> None:
    account: S3Account = bucket.server.account
    credentials = {
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
    }
    result_file = tmp_path / "dump.json"
    key = "nightly/acme/acme.pgdump.zst"
    argv = [str(TENANT_BACKUP), "dump", "--tenant", "acme", "--s3-bucket", bucket.name,
            "--s3-key", key, "--s3-endpoint", bucket.server.endpoint, "--s3-force-path-style",
            "--result-file", str(result_file)]  # fmt: skip
    dumped = run_dump(argv, {**_env(acme_db, credentials), **acme_db.env()}, result_file, [])
    assert dumped.returncode == 0, dumped.stderr
    env = _env(acme_db, credentials)
    run = _restore(
        acme_db, dumped.result["artifact"], tmp_path, "--target-tenant", "acme_s3",
        "--s3-endpoint", bucket.server.endpoint, "--s3-force-path-style", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert account.secret_access_key not in run.stdout + run.stderr + run.result_text
    assert _snapshot(acme_db, "tenant_acme_s3") == _snapshot(acme_db, "tenant_acme")
    assert _one(acme_db, "SELECT tenant_acme_s3.customer_count()") == 30


def test_restore_from_telegram(acme_db: Database, bot_api: BotApiStandIn, tmp_path: Path) -> None:
    dumped = run_to_telegram(acme_db, bot_api, tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    env = _env(acme_db, {"TELEGRAM_BOT_TOKEN": bot_api.token})
    run = _restore(
        acme_db, dumped.result["artifact"], tmp_path, "--target-tenant", "acme_tg",
        "--telegram-api-url", bot_api.url, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert bot_api.token not in run.stdout + run.stderr + run.result_text
    assert _snapshot(acme_db, "tenant_acme_tg") == _snapshot(acme_db, "tenant_acme")
