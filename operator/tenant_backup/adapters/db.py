"""psycopg at the edge: the operator's look at a tenant database (does a tenant schema exist,
which tenant schemas are there), read-only, and its one write: dropping a Replace's expired
previous schema, the exact one its marker names. Only to addresses the outbound gate
checked, verifying the server with the database's CA when it has one."""

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tenant_backup.adapters import outbound
from tenant_backup.api.contract import (
    DEFAULT_DATABASE_PORT,
    KEEP_UNTIL,
    PREVIOUS_OF,
    REPLACED_BY,
    SCHEMA_PREFIX,
    TLS_FAILURES,
)
from tenant_backup.api.reasons import Reason
from tenant_backup.core.database_access import CA_FILE, CERT_FILE, KEY_FILE, TlsMaterial
from tenant_backup.core.egress import EgressPolicy

log = logging.getLogger(__name__)
NO_TLS = TlsMaterial()


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
def _tls_files(tls: TlsMaterial) -> Iterator[dict[str, str]]:
    """libpq's TLS parameters, the PEMs written to files only this process can read, deleted
    afterwards. Without a client certificate, none is sent (not even one from $HOME)."""
    with tempfile.TemporaryDirectory(prefix="database-tls-") as directory:
        params: dict[str, str] = {}
        for param, name, pem in (
            ("sslrootcert", CA_FILE, tls.ca),
            ("sslcert", CERT_FILE, tls.cert),
            ("sslkey", KEY_FILE, tls.key),
        ):
            if pem is not None:
                path = Path(directory) / name
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as file:
                    file.write(pem)
                params[param] = str(path)
        if tls.cert is None:
            params["sslcertmode"] = "disable"
        yield params


@contextmanager
def _connected(
    secret: Mapping[str, str],
    sslmode: str,
    tls: TlsMaterial,
    timeout_seconds: int,
    policy: EgressPolicy,
    resolve: outbound.Resolver,
    read_only: bool = True,
) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A session (read-only unless asked) with the Secret's credentials, to an address the
    outbound gate checked. Unreachable when the gate refuses it or the port is not a
    number."""
    port = secret.get("port") or str(DEFAULT_DATABASE_PORT)
    if not port.isdigit():
        raise UnreachableError("the Secret's port is not a number")
    try:
        destination = outbound.check(secret["host"], int(port), policy, resolve)
    except (outbound.DestinationNotAllowedError, outbound.NameNotResolvedError) as error:
        text, _ = outbound.failure_text(error)
        raise UnreachableError(text, f"{secret['host']}:{port}") from None
    with (
        _tls_files(tls) as tls_params,
        psycopg.connect(
            make_conninfo(**tls_params),
            host=",".join([destination.host] * len(destination.addresses)),  # for TLS
            hostaddr=",".join(destination.addresses),  # libpq resolves nothing itself
            port=port,
            dbname=secret["dbname"],
            user=secret["username"],
            password=secret.get("password") or None,
            sslmode=sslmode,
            connect_timeout=timeout_seconds,
            application_name="tenant-backup-operator",
            options="-c default_transaction_read_only=on" if read_only else "",
        ) as connection,
    ):
        yield connection


def check_tenant(
    secret: Mapping[str, str],
    schema: str,
    sslmode: str,
    timeout_seconds: int,
    policy: EgressPolicy,
    resolve: outbound.Resolver = outbound.system_resolver,
    *,
    tls: TlsMaterial = NO_TLS,
) -> TenantCheck:
    """Whether `schema` exists, connecting with the Secret's credentials.

    An unreachable database is not a verdict: the dump Job's attempts (with retries) decide;
    a TLS failure is (TLSFailed: only a changed Secret or server can fix it).
    Nor is one the egress policy refuses: the Job connects from the backup's own namespace,
    which is where that decision belongs; the operator only skips its check.
    """
    try:
        with _connected(secret, sslmode, tls, timeout_seconds, policy, resolve) as connection:
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
    *,
    tls: TlsMaterial = NO_TLS,
) -> list[str]:
    """The names of the database's schemas that start with the tenant prefix. Unreachable,
    with a reason for people, when they cannot be listed."""
    try:
        with _connected(secret, sslmode, tls, timeout_seconds, policy, resolve) as connection:
            rows = connection.execute(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, %s)",
                (SCHEMA_PREFIX,),
            ).fetchall()
    except psycopg.OperationalError as error:
        check = _classify_connect_error(error, secret["dbname"])
        raise UnreachableError(check.message or "the database could not be reached") from None
    return sorted(str(row[0]) for row in rows)


class DropOutcome(StrEnum):
    """What became of a previous schema the operator was to drop."""

    DROPPED = "Dropped"
    GONE = "Gone"
    """No schema of that name exists (dropped by someone, or by a later Replace)."""
    NOT_OURS = "NotOurs"
    """A schema of that name exists but its marker does not name this restore's previous
    schema kept until now: left alone."""


def drop_previous_schema(
    secret: Mapping[str, str],
    sslmode: str,
    tls: TlsMaterial,
    timeout_seconds: int,
    policy: EgressPolicy,
    previous: str,
    target: str,
    restore_id: str,
    now: datetime,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> DropOutcome:
    """Drop schema `previous` if its marker (its comment, written by the runner's swap) says
    it is what `restore_id` swapped out of `target` and kept until no later than `now`; in
    one transaction, with `lock_timeout` so a reader holding it makes this fail, not wait.
    UnreachableError, with a fixed text per class of failure, when it could not be done
    (try again later)."""
    try:
        with (
            _connected(
                secret, sslmode, tls, timeout_seconds, policy, resolve, read_only=False
            ) as conn,
            conn.transaction(),
        ):
            conn.execute("SET LOCAL lock_timeout = '10s'")
            row = conn.execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace "
                "WHERE nspname = %s",
                (previous,),
            ).fetchone()
            if row is None:
                return DropOutcome.GONE
            if not _marks(row[0], target, restore_id, now):
                return DropOutcome.NOT_OURS
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(previous)))
    except psycopg.Error as error:
        raise UnreachableError(_drop_failure(error, secret["dbname"])) from None
    log.info("dropped %s, the schema %s was before restore %s", previous, target, restore_id)
    return DropOutcome.DROPPED


def _marks(comment: str | None, target: str, restore_id: str, now: datetime) -> bool:
    """Whether a schema comment marks the previous `target` of `restore_id`, expired."""
    try:
        facts = json.loads(comment or "")
    except ValueError:
        return False
    if not isinstance(facts, dict) or not isinstance(facts.get(KEEP_UNTIL), str):
        return False
    try:
        until = datetime.fromisoformat(facts[KEEP_UNTIL])
    except ValueError:
        return False
    return (
        facts.get(PREVIOUS_OF) == target and facts.get(REPLACED_BY) == restore_id and until <= now
    )


def _drop_failure(error: psycopg.Error, dbname: str) -> str:
    """A fixed text for a failed drop (never the server's own words)."""
    if error.sqlstate == "55P03":
        return "a lock on the schema is held (lock_timeout)"
    if error.sqlstate == "42501":
        return "permission denied: the Secret's role may not drop the schema"
    if isinstance(error, psycopg.OperationalError):
        check = _classify_connect_error(error, dbname)
        return check.message or "the database could not be reached"
    return f"the database answered SQLSTATE {error.sqlstate or 'unknown'}"


def _classify_connect_error(error: psycopg.OperationalError, dbname: str) -> TenantCheck:
    text = str(error)
    if any(words.lower() in text.lower() for words in TLS_FAILURES):
        return TenantCheck(Reason.TLS_FAILED, f"TLS to the database failed: {_first_line(text)}")
    if (error.sqlstate or "").startswith("28") or any(
        words in text for words in ("authentication failed", "requires a valid client certificate")
    ):
        return TenantCheck(Reason.AUTH_FAILED, "the database rejected the Secret's credentials")
    if error.sqlstate == "3D000" or f'database "{dbname}" does not exist' in text:
        return TenantCheck(Reason.TENANT_NOT_FOUND, f"database {dbname} does not exist")
    return TenantCheck()


def _first_line(text: str) -> str:
    """libpq's message without its hints (the address it tried is in the first line)."""
    return text.strip().splitlines()[0] if text.strip() else text
