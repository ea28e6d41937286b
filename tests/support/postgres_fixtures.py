"""Pytest plugin: a real PostgreSQL 15 for the session, and tenant databases cloned from it;
a PostgreSQL 18 too, started only for the tests that ask for it.

Fixtures:
- `postgres` (session): the running `PostgresServer` (15).
- `tenant_db` (function): a fresh database loaded from tenants.sql, free to modify.
- `shared_tenant_db` (module): the same, shared by a module's tests; do not modify it.
- `empty_db` (function): a fresh empty database to restore into.
- `postgres18`, `tenant_db18`, `empty_db18`: the same on a PostgreSQL 18 server.
- `pg_root` (session): a directory of majors' client tools as the image has them
  (`<major>/bin/pg_dump`: Debian's 15, and those devenv/pgclients.py builds).

tenants.sql is loaded once into a template database; each tenant database is a copy of it
(CREATE DATABASE ... TEMPLATE), which takes milliseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devenv import pgclients
from devenv.postgres import DEFAULT_BIN_DIR, PostgresServer, server_bin_dir
from devenv.tenants import Database, Roles, clone_tenants, create_tenant_template

_counter = itertools.count(1)


@contextmanager
def _running(server: PostgresServer) -> Iterator[PostgresServer]:
    """`server` started, then stopped and deleted."""
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@contextmanager
def _tenants(server: PostgresServer, roles: Roles, prefix: str) -> Iterator[Database]:
    """A fresh database holding the test tenants, dropped afterwards."""
    db = clone_tenants(server, roles, prefix)
    yield db
    server.drop_database(db.dbname)


@contextmanager
def _empty(server: PostgresServer, roles: Roles) -> Iterator[Database]:
    """A fresh empty database (from template0) to restore into, dropped afterwards."""
    name = f"restore_{next(_counter)}"
    server.create_database(name)
    yield Database(server, name, roles)
    server.drop_database(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server in a temp dir, stopped and deleted after the session."""
    with _running(PostgresServer()) as server:
        yield server


@pytest.fixture(scope="session")
def _tenant_template(postgres: PostgresServer) -> Roles:
    return create_tenant_template(postgres)


@pytest.fixture
def tenant_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A fresh database holding the test tenants; dropped afterwards."""
    with _tenants(postgres, _tenant_template, "tenants") as db:
        yield db


@pytest.fixture(scope="module")
def shared_tenant_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A tenant database shared by one module's tests, which must leave it unchanged."""
    with _tenants(postgres, _tenant_template, "shared_tenants") as db:
        yield db


@pytest.fixture
def empty_db(postgres: PostgresServer, _tenant_template: Roles) -> Iterator[Database]:
    """A fresh empty database to restore into; the tenant roles exist."""
    with _empty(postgres, _tenant_template) as db:
        yield db


@pytest.fixture(scope="session")
def postgres18() -> Iterator[PostgresServer]:
    """A PostgreSQL 18 server in a temp dir, stopped and deleted after the session."""
    with _running(PostgresServer(server_bin_dir(18))) as server:
        yield server


@pytest.fixture(scope="session")
def _tenant_template18(postgres18: PostgresServer) -> Roles:
    return create_tenant_template(postgres18)


@pytest.fixture
def tenant_db18(postgres18: PostgresServer, _tenant_template18: Roles) -> Iterator[Database]:
    """A fresh database holding the test tenants on PostgreSQL 18; dropped afterwards."""
    with _tenants(postgres18, _tenant_template18, "tenants") as db:
        yield db


@pytest.fixture
def empty_db18(postgres18: PostgresServer, _tenant_template18: Roles) -> Iterator[Database]:
    """A fresh empty database on PostgreSQL 18; the tenant roles exist."""
    with _empty(postgres18, _tenant_template18) as db:
        yield db


@pytest.fixture(scope="session")
def pg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`<major>/bin` of every major's client tools here, laid out as in the image."""
    root = tmp_path_factory.mktemp("pg-root")
    (root / "15").symlink_to(DEFAULT_BIN_DIR.parent)
    for major in pgclients.pg_root().iterdir():
        (root / major.name).symlink_to(major)
    return root
