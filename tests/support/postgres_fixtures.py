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
from collections.abc import Iterator

import pytest

from devenv.postgres import PostgresServer
from devenv.tenants import Database, Roles, clone_tenants, create_tenant_template

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server in a temp dir, stopped and deleted after the session."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def _tenant_template(postgres: PostgresServer) -> Roles:
    return create_tenant_template(postgres)


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
