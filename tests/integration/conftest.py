"""Fixtures shared by the operator's integration tests: a bound claim, the database Secret,
a fresh history database, a stand-in Bot API server, and kubeconform's schemas."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.postgres import PostgresServer
from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from tenant_backup.settings import Settings
from tests.support import backups as tb
from tests.support.history import settings_for
from tests.support.openapi_schemas import write_schemas

_history_databases = itertools.count(1)


@pytest.fixture
def claim_dir(kubectl: KubectlRunner, namespace: str, tmp_path: Path) -> Path:
    """The host directory behind the namespace's bound claim `backups`."""
    return tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")


@pytest.fixture
def secret(kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database) -> dict[str, str]:
    """The data of Secret `pg-app`, the backup role's credentials for the shared tenant database."""
    return tb.create_db_secret(kubectl, namespace, shared_tenant_db)


@pytest.fixture
def run_attempt(
    kubectl: KubectlRunner,
    namespace: str,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> Callable[[str], None]:
    """`run_attempt(job)`: Job `job`'s dump with the real runner, into the bound claim."""
    return lambda job: tb.run_real_attempt(kubectl, namespace, job, secret, claim_dir, tmp_path)


@pytest.fixture
def history(postgres: PostgresServer) -> Iterator[Settings]:
    """Settings pointing at a fresh, empty history database on the session's server."""
    dbname = f"history_{next(_history_databases)}"
    postgres.create_database(dbname)
    yield settings_for(postgres, dbname)
    postgres.drop_database(dbname)


@pytest.fixture
def bot_api() -> Iterator[BotApiStandIn]:
    """A fresh local stand-in for the cloud Bot API, for one bot with a random token."""
    token = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)}"
    server = BotApiStandIn(token).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def schemas(cluster: Cluster, crd: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubeconform's schemas, made from this API server's own OpenAPI document."""
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2", timeout=120).stdout)
    out = tmp_path_factory.mktemp("schemas")
    assert write_schemas(openapi, out) > 100
    return out
