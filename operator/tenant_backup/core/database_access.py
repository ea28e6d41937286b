"""Pure: how a Job and the operator's checks reach the tenant database: libpq's environment
from the database Secret, and TLS certificates from their Secrets as files (only their paths
are in the environment), readable by the Job's user and in the mode libpq accepts for a key."""

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.contract import (
    DATABASE_SECRET,
    DATABASE_SECRET_CLIENT_CERT,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    SecretLayout,
)
from tenant_backup.api.references import DatabaseSource
from tenant_backup.core.access import secret_env

TLS_MOUNT_PATH = "/etc/tenant-backup/database-tls"
TLS_VOLUME_NAME = "database-tls"
CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
TLS_FILE_MODE = 0o440
"""The kubelet keeps the files root's and gives them the pod's fsGroup (the Job's user's
group): root-owned, group-readable only, which libpq accepts for a private key."""

Body = dict[str, Any]


def secret_layout(database: DatabaseSource) -> SecretLayout:
    """The database Secret's keys; the password is optional with a client certificate."""
    if database.tls is not None and database.tls.cert_secret_ref is not None:
        return DATABASE_SECRET_CLIENT_CERT
    return DATABASE_SECRET


@dataclass(frozen=True)
class DatabaseAccess:
    """What a Job's container needs for the database: environment and TLS volume."""

    env: list[Body]
    volumes: list[Body] = field(default_factory=list)
    volume_mounts: list[Body] = field(default_factory=list)


def plan_database(database: DatabaseSource) -> DatabaseAccess:
    """libpq's environment from the Secret, sslmode, and the TLS files, if any."""
    env = [
        *secret_env(database.secret_ref.name, secret_layout(database)),
        {"name": "PGSSLMODE", "value": database.ssl_mode.value},
    ]
    tls = database.tls
    sources: list[Body] = []
    if tls is not None and tls.ca_secret_ref is not None:
        items = [{"key": tls.ca_secret_ref.key, "path": CA_FILE}]
        sources.append({"secret": {"name": tls.ca_secret_ref.name, "items": items}})
        env.append({"name": "PGSSLROOTCERT", "value": posixpath.join(TLS_MOUNT_PATH, CA_FILE)})
    if tls is not None and tls.cert_secret_ref is not None:
        items = [{"key": TLS_CERT_KEY, "path": CERT_FILE}, {"key": TLS_KEY_KEY, "path": KEY_FILE}]
        sources.append({"secret": {"name": tls.cert_secret_ref.name, "items": items}})
        env.append({"name": "PGSSLCERT", "value": posixpath.join(TLS_MOUNT_PATH, CERT_FILE)})
        env.append({"name": "PGSSLKEY", "value": posixpath.join(TLS_MOUNT_PATH, KEY_FILE)})
    if not sources:
        return DatabaseAccess(env)
    volume = {
        "name": TLS_VOLUME_NAME,
        "projected": {"defaultMode": TLS_FILE_MODE, "sources": sources},
    }
    mount = {"name": TLS_VOLUME_NAME, "mountPath": TLS_MOUNT_PATH, "readOnly": True}
    return DatabaseAccess(env, [volume], [mount])


def qualified_host(host: str, namespace: str) -> str:
    """`host` as the operator reaches it from its own namespace: a bare name (no dot, such as
    the `<cluster>-rw` Service a CloudNativePG Secret names) is a Service in `namespace`, so it
    becomes `<host>.<namespace>.svc`; names with a dot, addresses, socket paths, lists and
    `localhost` are left as they are."""
    if not host or host == "localhost" or any(mark in host for mark in "./:,"):
        return host
    return f"{host}.{namespace}.svc"


def as_seen_from_operator(secret: Mapping[str, str], namespace: str) -> dict[str, str]:
    """The database Secret of `namespace` for the operator's own connections, its host
    qualified; the Job, which runs in `namespace`, gets the Secret as it is."""
    seen = dict(secret)
    if "host" in seen:
        seen["host"] = qualified_host(seen["host"], namespace)
    return seen


@dataclass(frozen=True)
class TlsMaterial:
    """The PEM texts the operator's own connections use (written to private files)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


def tls_material(
    database: DatabaseSource, read_secret: Callable[[str], Mapping[str, str] | None]
) -> TlsMaterial | str:
    """The database's TLS certificates from their Secrets, or why they cannot be had."""
    tls = database.tls
    if tls is None:
        return TlsMaterial()
    ca = cert = key = None
    if tls.ca_secret_ref is not None:
        found = read_secret(tls.ca_secret_ref.name)
        ca = (found or {}).get(tls.ca_secret_ref.key)
        if not ca:
            return f"Secret {tls.ca_secret_ref.name} or its key {tls.ca_secret_ref.key} is missing"
    if tls.cert_secret_ref is not None:
        found = read_secret(tls.cert_secret_ref.name) or {}
        cert, key = found.get(TLS_CERT_KEY), found.get(TLS_KEY_KEY)
        if not cert or not key:
            return (
                f"Secret {tls.cert_secret_ref.name} or its keys {TLS_CERT_KEY} and "
                f"{TLS_KEY_KEY} are missing"
            )
    return TlsMaterial(ca, cert, key)
