"""References to other objects of the namespace, and the database source every kind reads."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from tenant_backup.api.base import ApiModel

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


class DatabaseSource(ApiModel):
    """Where the tenant's schema lives. Credentials only ever come from the Secret."""

    secret_ref: SecretReference
    """Secret with keys `host`, `dbname`, `username`, `password` and optionally `port`
    (the layout of CloudNativePG application Secrets). The role needs read access to the
    tenant schema and must own its tables or have BYPASSRLS."""
    ssl_mode: SslMode = SslMode.PREFER
    """libpq sslmode for the dump and for the operator's checks."""
