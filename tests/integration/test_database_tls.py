"""TLS to a real PostgreSQL 15 that requires it, with certificates from a private CA made by
the test: `verify-full` with the right CA and host name dumps (with pg_dump 15, and with the
image's pg_dump 18 on its re-linked libpq); a wrong CA or host name is TLSFailed before pg_dump
runs, in the runner and in the operator's own check (a TenantBackup fails with no Job); a role
with no password gets in by its client certificate."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.pg_tls import TlsFiles, make_tls_files, require_tls
from devenv.postgres import PostgresServer
from devenv.tenants import Database, clone_tenants, create_tenant_template
from tenant_backup.adapters import db
from tenant_backup.api.reasons import Reason
from tenant_backup.core.database_access import TlsMaterial
from tests.support import backups as tb
from tests.support.dump_runs import Run, assert_failed, run_dump
from tests.support.egress import LOOPBACK_ALLOWED
from tests.support.operator_fixtures import StartOperator

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
SERVER_NAME = "localhost"  # in the server's certificate; 127.0.0.1 is not
CERT_ROLE = "cert_backup"  # no password: its client certificate (CN) is its only way in


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("pki"), (SERVER_NAME,), CERT_ROLE)


@pytest.fixture(scope="module")
def tls_db(tls_files: TlsFiles) -> Iterator[Database]:
    """The test tenants on a server that takes TLS connections only."""
    server = PostgresServer()
    try:
        require_tls(server, tls_files, CERT_ROLE)
        server.start()
        roles = create_tenant_template(server)
        server.execute(f"CREATE ROLE {CERT_ROLE} LOGIN BYPASSRLS IN ROLE backup_owner")
        yield clone_tenants(server, roles, "tls")
    finally:
        server.destroy()


def _env(db_: Database, files: TlsFiles, *, host: str = SERVER_NAME, ca: Path | None = None,
         client_cert: bool = False) -> dict[str, str]:  # fmt: skip
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env = {**clean, **db_.env(), "PGHOST": host, "PGSSLMODE": "verify-full",
           "PGSSLROOTCERT": str(ca or files.ca)}  # fmt: skip
    if client_cert:
        env |= {"PGUSER": CERT_ROLE, "PGSSLCERT": str(files.client_cert),
                "PGSSLKEY": str(files.client_key)}  # fmt: skip
        del env["PGPASSWORD"]
    return env


def _dump(env: dict[str, str], tmp_path: Path, *args: str) -> Run:
    output, result_file = tmp_path / "acme.pgdump.zst", tmp_path / "dump.json"
    argv = [str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
            "--result-file", str(result_file), *args]  # fmt: skip
    return run_dump(argv, env, result_file, [env["PGPASSWORD"]] if env.get("PGPASSWORD") else [])


def test_verify_full_with_the_right_ca_and_host_name_dumps(
    tls_db: Database, tls_files: TlsFiles, tmp_path: Path
) -> None:
    run = _dump(_env(tls_db, tls_files), tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.result["pgDumpVersion"].startswith("15.")
    assert (tmp_path / "acme.pgdump.zst").stat().st_size > 0


def test_the_images_pg_dump_18_verifies_too(
    tls_db: Database, tls_files: TlsFiles, pg_root: Path, tmp_path: Path
) -> None:
    run = _dump(_env(tls_db, tls_files), tmp_path, "--pg-bin-dir", str(pg_root / "18" / "bin"))
    assert run.returncode == 0, run.stderr
    assert run.result["pgDumpVersion"].startswith("18.")


@pytest.mark.parametrize(
    ("wrong", "libpq_says"),
    [("ca", "certificate verify failed"), ("host", 'does not match host name "127.0.0.1"')],
)
def test_a_wrong_ca_or_host_name_fails_tls_before_pg_dump_runs(
    tls_db: Database, tls_files: TlsFiles, tmp_path: Path, wrong: str, libpq_says: str
) -> None:
    env = (
        _env(tls_db, tls_files, ca=tls_files.other_ca)
        if wrong == "ca"
        else _env(tls_db, tls_files, host="127.0.0.1")
    )
    run = _dump(env, tmp_path)
    assert_failed(run, "TLSFailed", retryable=False)
    assert libpq_says in run.result["message"]
    assert "running " not in run.stderr  # pg_dump never started
    assert list(tmp_path.glob("*acme.pgdump*")) == []


def test_a_role_without_password_is_let_in_by_its_client_certificate(
    tls_db: Database, tls_files: TlsFiles, tmp_path: Path
) -> None:
    without_cert = _env(tls_db, tls_files) | {"PGUSER": CERT_ROLE, "PGPASSWORD": ""}
    refused = _dump(without_cert, tmp_path)
    assert_failed(refused, "AuthFailed", retryable=False)

    run = _dump(_env(tls_db, tls_files, client_cert=True), tmp_path)
    assert run.returncode == 0, run.stderr


def _secret(tls_db: Database, host: str = SERVER_NAME, password: bool = True) -> dict[str, str]:
    secret = {"host": host, "port": str(tls_db.server.port), "dbname": tls_db.dbname,
              "username": tls_db.backup.user}  # fmt: skip
    return secret | {"password": tls_db.backup.password} if password else secret


def test_the_operators_check_verifies_the_server_and_says_tls_failed(
    tls_db: Database, tls_files: TlsFiles
) -> None:
    ca = tls_files.ca.read_text()

    def check(secret: dict[str, str], tls: TlsMaterial) -> db.TenantCheck:
        return db.check_tenant(secret, "tenant_acme", "verify-full", 5, LOOPBACK_ALLOWED, tls=tls)

    assert check(_secret(tls_db), TlsMaterial(ca=ca)) == db.TenantCheck()
    assert check(_secret(tls_db), TlsMaterial(ca=ca)).problem is None
    wrong_ca = check(_secret(tls_db), TlsMaterial(ca=tls_files.other_ca.read_text()))
    assert wrong_ca.problem is Reason.TLS_FAILED
    assert "certificate verify failed" in wrong_ca.message
    wrong_host = check(_secret(tls_db, host="127.0.0.1"), TlsMaterial(ca=ca))
    assert wrong_host.problem is Reason.TLS_FAILED
    assert "does not match host name" in wrong_host.message

    by_certificate = dict(_secret(tls_db, password=False), username=CERT_ROLE)
    material = TlsMaterial(ca, tls_files.client_cert.read_text(), tls_files.client_key.read_text())
    assert check(by_certificate, material) == db.TenantCheck()
    missing = check(by_certificate, TlsMaterial(ca=ca))  # no certificate: no way in
    assert missing.problem is Reason.AUTH_FAILED


@pytest.mark.parametrize("ca", ["right", "wrong"])
def test_the_operator_verifies_before_the_first_job(
    apply: Callable[..., Any],
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    claim_dir: Path,
    tls_db: Database,
    tls_files: TlsFiles,
    ca: str,
) -> None:
    tb.create_secret(kubectl, namespace, tb.SECRET_NAME, _secret(tls_db))
    pem = (tls_files.ca if ca == "right" else tls_files.other_ca).read_text()
    tb.create_secret(kubectl, namespace, "pg-ca", {"ca.crt": pem})
    database = {"secretRef": {"name": tb.SECRET_NAME}, "sslMode": "verify-full",
                "tls": {"caSecretRef": {"name": "pg-ca"}}}  # fmt: skip
    start_operator()
    apply(tb.manifest(database=database))
    if ca == "wrong":
        status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
        assert (status["reason"], status["attempts"]) == ("TLSFailed", 0)
        assert "certificate verify failed" in status["message"]
        assert tb.job_names(kubectl, namespace) == []
        return
    tb.wait_phase(kubectl, namespace, "nightly", "Running")
    job = tb.get(kubectl, namespace, "job", "nightly-1")
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "database-tls"]
    assert volume["projected"]["sources"][0]["secret"]["name"] == "pg-ca"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["PGSSLROOTCERT"] == "/etc/tenant-backup/database-tls/ca.crt"
    assert env["PGSSLMODE"] == "verify-full"
    assert "BEGIN CERTIFICATE" not in str(job)
