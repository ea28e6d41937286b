"""Our age files are plain age files: `tenant-backup dump` encrypts to two recipients made by
the reference `age-keygen`, and either identity decrypts the artifact with the reference
`age` (built from its Go module), which bare `zstd` and `pg_restore` then restore; a dump
the reference `age` encrypted is restored by `tenant-backup restore`. And the runner's own
refusals: no identity, a wrong one, a malformed recipient."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv import age
from devenv.postgres import DEFAULT_BIN_DIR
from devenv.tenants import Database
from tenant_backup.api.contract import AGE_HEADER, age_fingerprint
from tests.support.dump_runs import Run, assert_failed, run_dump

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
MARKER = b"@tenant_acme.example"
CUSTOMERS = "SELECT id, name, email, profile FROM {}.customers ORDER BY id"


def _env(db: Database, creds: Any = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "TELEGRAM_"))}
    return {**clean, **db.env(creds)}


def _dump(db: Database, output: Path, *args: str) -> Run:
    result_file = output.with_suffix(".json")
    argv = [str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
            "--result-file", str(result_file), *args]  # fmt: skip
    return run_dump(argv, _env(db), result_file, [])


def _restore(db: Database, path: Path, tmp_path: Path, *args: str) -> Run:
    result_file = tmp_path / "restore.json"
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    argv = [str(TENANT_BACKUP), "restore", "--artifact-url", path.as_uri(),
            "--expected-sha256", sha256, "--source-tenant", "acme", "--target-tenant",
            "acme_copy", "--restore-id", "interop-1", "--work-dir", str(tmp_path),
            "--result-file", str(result_file), *args]  # fmt: skip
    env = _env(db, db.server.superuser)
    return run_dump(argv, env, result_file, [env["PGPASSWORD"]])


def _rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn()) as conn:
        return conn.execute(query).fetchall()


def _schemas(db: Database) -> set[str]:
    return {row[0] for row in _rows(db, "SELECT nspname FROM pg_namespace")}


@pytest.fixture(scope="module")
def keys() -> list[tuple[str, str]]:
    """Two (identity file text, recipient) pairs from the reference `age-keygen`."""
    return [age.keygen(), age.keygen()]


def test_either_identity_decrypts_with_the_reference_age_and_bare_pg_restore_restores(
    tenant_db: Database, empty_db: Database, keys: list[tuple[str, str]], tmp_path: Path
) -> None:
    (first, first_recipient), (second, second_recipient) = keys
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"# escrow\n\n{second_recipient}\n")
    output = tmp_path / "acme.pgdump.zst.age"
    run = _dump(
        tenant_db, output, "--age-recipient", first_recipient,
        "--age-recipients-file", str(recipients), "--verify", "full",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    artifact = run.result["artifact"]
    stored = output.read_bytes()
    assert stored.startswith(AGE_HEADER)
    assert (artifact["sizeBytes"], artifact["sha256"]) == (
        len(stored),
        hashlib.sha256(stored).hexdigest(),
    )
    assert artifact["verification"] == "full"
    assert artifact["encryption"] == {
        "scheme": "age",
        "recipients": [age_fingerprint(first_recipient), age_fingerprint(second_recipient)],
    }
    for identity in (first, second):
        identity_file = tmp_path / "identity.txt"
        identity_file.write_text(identity)
        decrypted = age.run("age", "--decrypt", "--identity", str(identity_file), str(output))
        assert decrypted[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame: the compressed archive
    archive = subprocess.run(
        ["zstd", "-d", "-c"], input=decrypted, capture_output=True, check=True
    ).stdout
    restored = subprocess.run(
        [str(DEFAULT_BIN_DIR / "pg_restore"), "--no-owner", "--dbname", empty_db.dsn()],
        input=archive,
        capture_output=True,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr.decode()
    assert _rows(empty_db, CUSTOMERS.format("tenant_acme")) == _rows(
        tenant_db, CUSTOMERS.format("tenant_acme")
    )


def test_our_restore_decrypts_what_the_reference_age_encrypted(
    tenant_db: Database, keys: list[tuple[str, str]], tmp_path: Path
) -> None:
    (identity, recipient), _ = keys
    plain = tmp_path / "acme.pgdump"
    assert _dump(tenant_db, plain, "--compression", "none").returncode == 0
    assert MARKER in plain.read_bytes()
    encrypted = tmp_path / "acme.pgdump.age"
    age.run("age", "--encrypt", "--recipient", recipient, "--output", str(encrypted), str(plain))
    assert MARKER not in encrypted.read_bytes()
    identity_file = tmp_path / "identity.txt"
    identity_file.write_text(identity)
    run = _restore(
        tenant_db, encrypted, tmp_path, "--compression", "none",
        "--age-identity-file", str(identity_file),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert _rows(tenant_db, CUSTOMERS.format("tenant_acme_copy")) == _rows(
        tenant_db, CUSTOMERS.format("tenant_acme")
    )
    assert identity.split("\n")[-2] not in run.stdout + run.stderr + run.result_text
    assert not list(tmp_path.glob("restore-*"))  # the work directory, plaintext and all, is gone


def test_without_the_right_identity_nothing_of_the_target_changes(
    tenant_db: Database, keys: list[tuple[str, str]], tmp_path: Path
) -> None:
    (identity, _), (_, other_recipient) = keys
    output = tmp_path / "acme.pgdump.zst.age"
    assert _dump(tenant_db, output, "--age-recipient", other_recipient).returncode == 0
    before = _schemas(tenant_db)
    run = _restore(tenant_db, output, tmp_path)
    assert_failed(run, "DecryptionFailed", retryable=False)
    assert "no identity" in run.result["message"]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(identity)
    run = _restore(tenant_db, output, tmp_path, "--age-identity-file", str(wrong))
    assert_failed(run, "DecryptionFailed", retryable=False)
    assert run.result["step"] == "Downloading"
    assert identity.split("\n")[-2] not in run.stdout + run.stderr + run.result_text
    assert _schemas(tenant_db) == before


def test_a_malformed_recipient_is_refused_before_anything_is_written(
    tenant_db: Database, keys: list[tuple[str, str]], tmp_path: Path
) -> None:
    _, recipient = keys[0]
    typo = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")  # Bech32's checksum fails
    output = tmp_path / "acme.pgdump.zst.age"
    run = _dump(tenant_db, output, "--age-recipient", typo)
    assert_failed(run, "ValidationFailed", retryable=False)
    assert "not an age X25519 recipient" in run.result["message"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["acme.pgdump.zst.json"]
