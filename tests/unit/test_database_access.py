"""How Jobs and the operator's checks reach the database: TLS files, never their contents in
the environment; a client certificate makes the password optional; libpq's TLS failures are
TLSFailed, permanent."""

from __future__ import annotations

from typing import Any

import pytest

from tenant_backup.api.contract import DATABASE_SECRET, DATABASE_SECRET_CLIENT_CERT
from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.api.references import DatabaseSource
from tenant_backup.backup.job import build_job
from tenant_backup.core.database_access import (
    TLS_FILE_MODE,
    TlsMaterial,
    as_seen_from_operator,
    plan_database,
    qualified_host,
    secret_layout,
    tls_material,
)
from tenant_backup.runner.classify import classify_db_error, classify_exit
from tenant_backup.settings import Settings
from tests.support.factories import backup


def _source(**fields: Any) -> DatabaseSource:
    return DatabaseSource.model_validate({"secretRef": {"name": "pg-app"}, **fields})


def _env(access_env: list[dict[str, Any]]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in access_env}


def test_without_tls_only_the_secret_and_sslmode() -> None:
    access = plan_database(_source(sslMode="require"))
    env = _env(access.env)
    assert env["PGSSLMODE"] == "require"
    assert not {"PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"} & env.keys()
    assert (access.volumes, access.volume_mounts) == ([], [])
    assert env["PGPASSWORD"]["secretKeyRef"]["optional"] is False


def test_the_ca_and_client_certificate_are_files_of_one_read_only_volume() -> None:
    tls = {"caSecretRef": {"name": "main-ca"}, "certSecretRef": {"name": "main-client"}}
    access = plan_database(_source(sslMode="verify-full", tls=tls))
    env = _env(access.env)
    assert env["PGSSLROOTCERT"] == "/etc/tenant-backup/database-tls/ca.crt"
    assert env["PGSSLCERT"] == "/etc/tenant-backup/database-tls/tls.crt"
    assert env["PGSSLKEY"] == "/etc/tenant-backup/database-tls/tls.key"
    assert env["PGPASSWORD"]["secretKeyRef"]["optional"] is True
    (volume,) = access.volumes
    assert volume["projected"]["defaultMode"] == TLS_FILE_MODE == 0o440
    assert volume["projected"]["sources"] == [
        {"secret": {"name": "main-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "secret": {
                "name": "main-client",
                "items": [
                    {"key": "tls.crt", "path": "tls.crt"},
                    {"key": "tls.key", "path": "tls.key"},
                ],
            }
        },
    ]
    assert access.volume_mounts == [
        {"name": "database-tls", "mountPath": "/etc/tenant-backup/database-tls", "readOnly": True}
    ]


def test_the_dump_job_mounts_the_tls_volume_and_names_no_pem() -> None:
    database = {
        "secretRef": {"name": "pg-app"},
        "sslMode": "verify-ca",
        "tls": {"caSecretRef": {"name": "main-ca", "key": "bundle.pem"}},
    }
    job = build_job(backup(database=database), 1, Settings(image="tbo:1", run_as_user=65532))
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "database-tls", "mountPath": "/etc/tenant-backup/database-tls",
            "readOnly": True} in container["volumeMounts"]  # fmt: skip
    (tls_volume,) = [v for v in pod["volumes"] if v["name"] == "database-tls"]
    assert tls_volume["projected"]["sources"][0]["secret"]["items"][0]["key"] == "bundle.pem"
    assert pod["securityContext"]["fsGroup"] == container["securityContext"]["runAsUser"]
    assert "BEGIN CERTIFICATE" not in str(job)


def test_a_client_certificate_makes_the_password_optional() -> None:
    assert secret_layout(_source()) is DATABASE_SECRET
    cert = _source(tls={"certSecretRef": {"name": "c"}})
    assert secret_layout(cert) is DATABASE_SECRET_CLIENT_CERT
    optional = {entry.key for entry in DATABASE_SECRET_CLIENT_CERT if entry.optional}
    assert optional == {"port", "password"}


def test_tls_material_comes_from_the_secrets_or_says_what_is_missing() -> None:
    secrets = {
        "main-ca": {"ca.crt": "CA PEM"},
        "main-client": {"tls.crt": "CERT PEM", "tls.key": "KEY PEM"},
    }
    tls = {"caSecretRef": {"name": "main-ca"}, "certSecretRef": {"name": "main-client"}}
    found = tls_material(_source(tls=tls), secrets.get)
    assert found == TlsMaterial("CA PEM", "CERT PEM", "KEY PEM")
    assert tls_material(_source(), secrets.get) == TlsMaterial()
    missing_key = _source(tls={"caSecretRef": {"name": "main-ca", "key": "other.crt"}})
    assert tls_material(missing_key, secrets.get) == (
        "Secret main-ca or its key other.crt is missing"
    )
    no_key = _source(tls={"certSecretRef": {"name": "main-ca"}})
    assert "tls.crt and tls.key are missing" in str(tls_material(no_key, secrets.get))


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "10.0.0.5", port 5432 failed: SSL error: certificate verify '
        "failed",
        'connection to server at "127.0.0.1", port 5432 failed: server certificate for '
        '"db.example" does not match host name "127.0.0.1"',
        'connection to server failed: root certificate file "/x/ca.crt" does not exist',
        'private key file "/x/tls.key" has group or world access',
        "server does not support SSL, but SSL was required",
        "SSL error: tlsv1 alert unknown ca",
    ],
)
def test_libpq_tls_failures_are_tls_failed_and_permanent(message: str) -> None:
    assert classify_db_error(None, message, connecting=True) is Reason.TLS_FAILED
    assert classify_exit(1, f"pg_dump: error: {message}") is Reason.TLS_FAILED
    assert not is_retryable(Reason.TLS_FAILED)


def test_a_refused_connection_is_still_unavailable() -> None:
    message = 'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    assert classify_db_error(None, message, connecting=True) is Reason.DATABASE_UNAVAILABLE


def test_a_server_that_wants_a_client_certificate_is_an_auth_failure() -> None:
    message = "FATAL:  connection requires a valid client certificate"
    assert classify_db_error(None, message, connecting=True) is Reason.AUTH_FAILED


@pytest.mark.parametrize(
    ("host", "seen"),
    [
        ("acme-db-rw", "acme-db-rw.team-a.svc"),
        ("acme-db-rw.team-b", "acme-db-rw.team-b"),
        ("pg.example.com", "pg.example.com"),
        ("10.0.0.7", "10.0.0.7"),
        ("fd00::7", "fd00::7"),
        ("localhost", "localhost"),
        ("/var/run/postgresql", "/var/run/postgresql"),
        ("a,b", "a,b"),
        ("", ""),
    ],
)
def test_a_bare_service_name_is_qualified_with_the_secrets_namespace(host: str, seen: str) -> None:
    assert qualified_host(host, "team-a") == seen


def test_the_operator_sees_the_secret_with_its_host_qualified_and_nothing_else_changed() -> None:
    secret = {"host": "acme-db-rw", "port": "5432", "dbname": "app", "username": "u"}
    assert as_seen_from_operator(secret, "team-a") == {**secret, "host": "acme-db-rw.team-a.svc"}
    assert secret["host"] == "acme-db-rw"
    assert as_seen_from_operator({"dbname": "app"}, "team-a") == {"dbname": "app"}
