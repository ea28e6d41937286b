"""A TenantBackup as read from the API server."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tenant_backup.api import kinds
from tenant_backup.api.spec import TenantBackupSpec
from tenant_backup.api.status import TenantBackupStatus


class ObjectMeta(BaseModel):
    """The metadata fields the operator reads."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    name: str
    namespace: str
    uid: str
    generation: int = 1
    resource_version: str | None = None
    creation_timestamp: datetime
    deletion_timestamp: datetime | None = None


class TenantBackup(BaseModel):
    """A whole TenantBackup object."""

    model_config = ConfigDict(frozen=True)

    metadata: ObjectMeta
    spec: TenantBackupSpec
    status: TenantBackupStatus = Field(default_factory=TenantBackupStatus)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "TenantBackup":
        """Parse an object as the API server returns it."""
        return cls.model_validate(
            {
                "metadata": body["metadata"],
                "spec": body["spec"],
                "status": body.get("status") or {},
            }
        )

    def owner_reference(self) -> dict[str, Any]:
        """An owner reference making this backup the controller of a child object."""
        return {
            "apiVersion": f"{kinds.GROUP}/{kinds.VERSION}",
            "kind": kinds.TENANT_BACKUP.kind,
            "name": self.metadata.name,
            "uid": self.metadata.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
