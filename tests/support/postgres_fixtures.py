"""Pytest plugin: a real PostgreSQL 15 for the session, and tenant databases cloned from it.

Fixtures:
- `postgres` (session): the running `PostgresServer`.
- `tenant_db` (function): a fresh database loaded from tenants.sql, free to modify.
- `shared_tenant_db` (module): the same, shared by a module's tests; do not modify it.
- `empty_db` (function): a fresh empty database to restore into.

tenants.sql is loaded once into a template database; each tenant database is a copy of it
(CREATE DATABASE ... TEMPLATE), which takes milliseconds.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql

from tests.support.postgres import Credentials, PostgresServer

TENANTS_SQL = Path(__file__).with_name("tenants.sql")
TEMPLATE_DB = "tenants_template"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Roles:
    """The login roles tenants.sql creates, with the passwords the fixtures gave them."""

    owner: Credentials
    limited: Credentials


@dataclass(frozen=True)
class Database:
    """A database on the test server, with the tenant roles' credentials."""

    server: PostgresServer
    dbname: str
    roles: Roles

    @property
    def backup(self) -> Credentials:
        """The role that owns the tenant schemas: what a backup Secret should hold."""
        return self.roles.owner

    def dsn(self, creds: Credentials | None = None) -> str:
        """Connection string for `creds` (default: the superuser)."""
        if creds is None:
            return self.server.dsn(self.dbname)
        return self.server.dsn(self.dbname, creds.user, creds.password)

    def env(self, creds: Credentials | None = None) -> dict[str, str]:
        """libpq environment for `creds` (default: the backup owner)."""
        return self.server.libpq_env(self.dbname, creds or self.backup)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server in a temp dir, stopped and deleted after the session."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def create_tenant_template(postgres: PostgresServer) -> Roles:
    """Load tenants.sql into TEMPLATE_DB and give its roles fresh passwords."""
    postgres.create_database(TEMPLATE_DB)
    postgres.run_sql_file(TENANTS_SQL, TEMPLATE_DB)
    roles = Roles(
        owner=Credentials("backup_owner", secrets.token_urlsafe(18)),
        limited=Credentials("backup_limited", secrets.token_urlsafe(18)),
    )
    for creds in (roles.owner, roles.limited):
        postgres.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(creds.user), sql.Literal(creds.password)
            )
        )
    return roles


@pytest.fixture(scope="session")
def _tenant_template(postgres: PostgresServer) -> Roles:
    return create_tenant_template(postgres)


def clone_tenants(server: PostgresServer, roles: Roles, prefix: str) -> Database:
    """A new database copied from TEMPLATE_DB, named `<prefix>_<n>`."""
    name = f"{prefix}_{next(_counter)}"
    server.create_database(name, template=TEMPLATE_DB)
    return Database(server, name, roles)


@pytest.fixture
def tenant_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A fresh database holding the test tenants; dropped afterwards."""
    db = clone_tenants(postgres, _tenant_template, "tenants")
    yield db
    postgres.drop_database(db.dbname)


@pytest.fixture(scope="module")
def shared_tenant_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A tenant database shared by one module's tests, which must leave it unchanged."""
    db = clone_tenants(postgres, _tenant_template, "shared_tenants")
    yield db
    postgres.drop_database(db.dbname)


@pytest.fixture
def empty_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A fresh empty database (from template0) to restore into; the tenant roles exist."""
    name = f"restore_{next(_counter)}"
    postgres.create_database(name)
    db = Database(postgres, name, _tenant_template)
    yield db
    postgres.drop_database(name)
