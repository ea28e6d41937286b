"""psycopg at the edge: the operator's read-only look at a tenant database (does a tenant
schema exist, which tenant schemas are there), connecting only to addresses the outbound gate
checked."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from tenant_backup.adapters import outbound
from tenant_backup.api.contract import DEFAULT_DATABASE_PORT, SCHEMA_PREFIX
from tenant_backup.api.reasons import Reason
from tenant_backup.core.egress import EgressPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantCheck:
    """What the check found: no `problem` when the schema exists or the database could not
    be reached or not be checked (then the Job's own attempts decide, with retries)."""

    problem: Reason | None = None
    message: str = ""


class UnreachableError(Exception):
    """The operator may not or could not connect: a reason for people, never a verdict;
    `where` is the server it meant (for the operator's log, not for status)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


@contextmanager
def _connected(
    secret: Mapping[str, str],
    sslmode: str,
    timeout_seconds: int,
    policy: EgressPolicy,
    resolve: outbound.Resolver,
) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A read-only session with the Secret's credentials, to an address the outbound gate
    checked. Unreachable when the gate refuses it or the port is not a number."""
    port = secret.get("port") or str(DEFAULT_DATABASE_PORT)
    if not port.isdigit():
        raise UnreachableError("the Secret's port is not a number")
    try:
        destination = outbound.check(secret["host"], int(port), policy, resolve)
    except (outbound.DestinationNotAllowedError, outbound.NameNotResolvedError) as error:
        text, _ = outbound.failure_text(error)
        raise UnreachableError(text, f"{secret['host']}:{port}") from None
    with psycopg.connect(
        host=",".join([destination.host] * len(destination.addresses)),  # for TLS
        hostaddr=",".join(destination.addresses),  # libpq resolves nothing itself
        port=port,
        dbname=secret["dbname"],
        user=secret["username"],
        password=secret["password"],
        sslmode=sslmode,
        connect_timeout=timeout_seconds,
        application_name="tenant-backup-operator",
        options="-c default_transaction_read_only=on",
    ) as connection:
        yield connection


def check_tenant(
    secret: Mapping[str, str],
    schema: str,
    sslmode: str,
    timeout_seconds: int,
    policy: EgressPolicy,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> TenantCheck:
    """Whether `schema` exists, connecting with the Secret's credentials.

    An unreachable database is not a verdict: the dump Job's attempts (with retries) decide.
    Nor is one the egress policy refuses: the Job connects from the backup's own namespace,
    which is where that decision belongs; the operator only skips its check.
    """
    try:
        with _connected(secret, sslmode, timeout_seconds, policy, resolve) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
    except UnreachableError as error:
        if error.where:
            log.warning("preflight not run against %s: %s", error.where, error)
        else:
            log.warning("preflight not run: %s", error)
        return TenantCheck()
    except psycopg.OperationalError as error:
        return _classify_connect_error(error, secret["dbname"])
    if row is None:
        return TenantCheck(
            Reason.TENANT_NOT_FOUND,
            f"schema {schema} does not exist in database {secret['dbname']}",
        )
    return TenantCheck()


def tenant_schemas(
    secret: Mapping[str, str],
    sslmode: str,
    timeout_seconds: int,
    policy: EgressPolicy,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> list[str]:
    """The names of the database's schemas that start with the tenant prefix. Unreachable,
    with a reason for people, when they cannot be listed."""
    try:
        with _connected(secret, sslmode, timeout_seconds, policy, resolve) as connection:
            rows = connection.execute(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, %s)",
                (SCHEMA_PREFIX,),
            ).fetchall()
    except psycopg.OperationalError as error:
        check = _classify_connect_error(error, secret["dbname"])
        raise UnreachableError(check.message or "the database could not be reached") from None
    return sorted(str(row[0]) for row in rows)


def _classify_connect_error(error: psycopg.OperationalError, dbname: str) -> TenantCheck:
    text = str(error)
    if (error.sqlstate or "").startswith("28") or "authentication failed" in text:
        return TenantCheck(Reason.AUTH_FAILED, "the database rejected the Secret's credentials")
    if error.sqlstate == "3D000" or f'database "{dbname}" does not exist' in text:
        return TenantCheck(Reason.TENANT_NOT_FOUND, f"database {dbname} does not exist")
    return TenantCheck()
