"""Object metadata as the operator reads it."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tenant_backup.api.kinds import API_VERSION, Kind


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
    finalizers: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


def owner_reference(kind: Kind, metadata: ObjectMeta) -> dict[str, Any]:
    """An owner reference making the object the controller of a child object."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind.kind,
        "name": metadata.name,
        "uid": metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
