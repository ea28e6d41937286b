"""The test tenants (tenants.sql) on a `PostgresServer`: loaded once into a template
database, then copied (CREATE DATABASE ... TEMPLATE, milliseconds) into databases to back up.

By hand (as root: the server runs as the `postgres` user): ``python -m devenv.tenants``
starts a PostgreSQL with the tenants and prints how to connect, until Ctrl-C.
"""

from __future__ import annotations

import itertools
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from devenv.foreground import serve
from devenv.postgres import Credentials, PostgresServer

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


def clone_tenants(server: PostgresServer, roles: Roles, prefix: str) -> Database:
    """A new database copied from TEMPLATE_DB, named `<prefix>_<n>`."""
    name = f"{prefix}_{next(_counter)}"
    server.create_database(name, template=TEMPLATE_DB)
    return Database(server, name, roles)


def main() -> int:
    """Start a PostgreSQL holding the tenants in a database `app_<n>`; print its libpq
    settings (as the backup role) and, on stderr, the superuser's DSN; stop it at Ctrl-C."""
    server = PostgresServer()
    try:
        server.start()
        db = clone_tenants(server, create_tenant_template(server), "app")
    except BaseException:
        server.destroy()
        raise
    print(f"superuser: {server.superuser_dsn}", file=sys.stderr)
    return serve(server.destroy, db.env(), "--tenant acme --output /tmp/acme.pgdump.zst")


if __name__ == "__main__":
    sys.exit(main())
