"""The runner's one JSON result: written to stdout and the pod's termination message.

This is the whole contract between the dump Job and the operator, so the Job needs no
Kubernetes API token. Kubernetes keeps at most 4096 bytes of a termination message.
"""

from datetime import datetime

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
    verification: str | None = None
    """How it was read back: `toc` or `full`."""
    download_url: str | None = None
    """Opt-in presigned GET URL: a bearer credential, only ever in the result file."""
    download_url_expires_at: datetime | None = None


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

    def without_download_link(self) -> "DumpResult":
        """This result minus the artifact's download link (for logs)."""
        if self.artifact is None or self.artifact.download_url is None:
            return self
        artifact = self.artifact.model_copy(
            update={"download_url": None, "download_url_expires_at": None}
        )
        return self.model_copy(update={"artifact": artifact})

    def to_message(self) -> str:
        """Serialise within the termination-message limit, shortening `message` if needed
        and, should that not do, leaving out the download link."""
        text = self.model_dump_json(by_alias=True, exclude_none=True)
        overflow = len(text.encode()) - TERMINATION_MESSAGE_LIMIT
        if overflow <= 0:
            return text
        if overflow > len(self.message.encode()) and self.without_download_link() is not self:
            return self.without_download_link().to_message()
        keep = max(0, len(self.message.encode()) - overflow - 3)
        short = self.message.encode()[:keep].decode(errors="ignore") + "..."
        return self.model_copy(update={"message": short}).model_dump_json(
            by_alias=True, exclude_none=True
        )
