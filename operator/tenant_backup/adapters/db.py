"""psycopg at the edge: the operator's read-only check that a tenant schema exists."""

from collections.abc import Mapping

import psycopg

from tenant_backup.api.contract import DEFAULT_DATABASE_PORT
from tenant_backup.backup.plan import Preflight, PreflightFailure


def check_tenant(
    secret: Mapping[str, str], schema: str, sslmode: str, timeout_seconds: int
) -> Preflight:
    """Whether `schema` exists, connecting with the Secret's credentials.

    An unreachable database is not a verdict: the dump Job's attempts (with retries) decide.
    """
    try:
        with psycopg.connect(
            host=secret["host"],
            port=secret.get("port") or str(DEFAULT_DATABASE_PORT),
            dbname=secret["dbname"],
            user=secret["username"],
            password=secret["password"],
            sslmode=sslmode,
            connect_timeout=timeout_seconds,
            application_name="tenant-backup-operator",
            options="-c default_transaction_read_only=on",
        ) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
    except psycopg.OperationalError as error:
        return _classify_connect_error(error, secret["dbname"])
    if row is None:
        return Preflight(
            PreflightFailure.TENANT_NOT_FOUND,
            f"schema {schema} does not exist in database {secret['dbname']}",
        )
    return Preflight()


def _classify_connect_error(error: psycopg.OperationalError, dbname: str) -> Preflight:
    text = str(error)
    if (error.sqlstate or "").startswith("28") or "authentication failed" in text:
        return Preflight(
            PreflightFailure.AUTH_FAILED,
            "the database rejected the Secret's credentials",
        )
    if error.sqlstate == "3D000" or f'database "{dbname}" does not exist' in text:
        return Preflight(PreflightFailure.TENANT_NOT_FOUND, f"database {dbname} does not exist")
    return Preflight()
