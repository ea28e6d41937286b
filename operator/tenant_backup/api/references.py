"""References to other objects of the namespace, and the database source every kind reads."""

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from tenant_backup.api.base import ApiModel, cel, validations

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


HTTP_URL = r"^https?://\S+$"


ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


class SecretReference(ApiModel):
    """A Secret in the TenantBackup's own namespace."""

    name: ResourceName
    """Name of the Secret."""


class KeyReference(ApiModel):
    """One key of a Secret or ConfigMap in the TenantBackup's namespace."""

    name: ResourceName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] = (
        "ca.crt"
    )
    """The key holding the PEM bundle."""


class SslMode(StrEnum):
    """libpq sslmode."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


VERIFYING_MODES = (SslMode.VERIFY_CA, SslMode.VERIFY_FULL)


class DatabaseTls(ApiModel):
    """Certificates for TLS to PostgreSQL, from Secrets, mounted as files into the Jobs and
    read by the operator's own checks (CloudNativePG's Secrets fit as they are)."""

    ca_secret_ref: KeyReference | None = None
    """Secret key holding the PEM CA bundle that signed the server's certificate (default key
    `ca.crt`: CloudNativePG's `<cluster>-ca`). Required by `verify-ca` and `verify-full`."""
    cert_secret_ref: SecretReference | None = None
    """A `kubernetes.io/tls` Secret (keys `tls.crt`, `tls.key`): a client certificate whose
    CN is the role, for `cert` authentication; the database Secret's `password` is then
    optional."""


class DatabaseSource(ApiModel):
    """Where the tenant's schema lives. Credentials only ever come from the Secrets."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(self.sslMode in ['verify-ca', 'verify-full'])"
                " || (has(self.tls) && has(self.tls.caSecretRef))",
                "sslMode verify-ca and verify-full need tls.caSecretRef: the CA to verify with",
                ".sslMode",
            )
        )
    )

    secret_ref: SecretReference
    """Secret with keys `host`, `dbname`, `username`, `password` and optionally `port`
    (the layout of CloudNativePG application Secrets). The role needs read access to the
    tenant schema and must own its tables or have BYPASSRLS."""
    ssl_mode: SslMode = SslMode.PREFER
    """libpq sslmode for the Jobs and for the operator's checks: `verify-full` (the server's
    certificate is signed by `tls.caSecretRef` and names the Secret's `host`) is the one that
    stops a man in the middle; `require` encrypts but accepts any server."""
    tls: DatabaseTls | None = None
    """The CA to verify the server with, and an optional client certificate."""
