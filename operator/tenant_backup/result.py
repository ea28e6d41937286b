"""The runner's one JSON result: written to stdout and the pod's termination message.

This is the whole contract between the dump Job and the operator, so the Job needs no
Kubernetes API token. Kubernetes keeps at most 4096 bytes of a termination message.
"""

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tenant_backup.api.reasons import Reason

TERMINATION_MESSAGE_LIMIT = 4096


class ResultArtifact(BaseModel):
    """What the runner wrote, as it read it back."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    url: str
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format: str
    compression: str


class DumpResult(BaseModel):
    """Outcome of one dump attempt; `ok` with an artifact, or a reason and retryability."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    ok: bool
    reason: Reason | None = None
    retryable: bool = False
    message: str = ""
    artifact: ResultArtifact | None = None
    server_version: str | None = None
    pg_dump_version: str | None = None

    def to_message(self) -> str:
        """Serialise within the termination-message limit, shortening `message` if needed."""
        text = self.model_dump_json(by_alias=True, exclude_none=True)
        overflow = len(text.encode()) - TERMINATION_MESSAGE_LIMIT
        if overflow <= 0:
            return text
        keep = max(0, len(self.message.encode()) - overflow - 3)
        short = self.message.encode()[:keep].decode(errors="ignore") + "..."
        return self.model_copy(update={"message": short}).model_dump_json(
            by_alias=True, exclude_none=True
        )
