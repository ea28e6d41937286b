"""The destination interface: one artifact written, invisible until committed, and leaving
nothing behind when aborted."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ArtifactFacts:
    """What is known about an artifact before its first byte (object metadata where the
    destination stores metadata)."""

    tenant: str
    format: str
    compression: str
    server_version: str
    pg_dump_version: str


@dataclass(frozen=True)
class Digest:
    """The artifact's bytes, as the runner wrote them."""

    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class DownloadLink:
    """A presigned URL: a bearer credential until `expires_at`. Never log it."""

    url: str
    expires_at: datetime


class Upload(Protocol):
    """One artifact on its way to a destination."""

    url: str
    """The stable artifact URL (e.g. `pvc://...`, `s3://bucket/key`); never a credential.
    Final only after `commit` where the destination names the artifact then (Telegram)."""

    def write(self, data: bytes) -> None:
        """Append artifact bytes."""

    def finish(self) -> None:
        """Store every byte written so far, durably; the artifact stays invisible."""

    def local_copy(self) -> Path | None:
        """After `finish`, a local file holding the bytes to read back for verification;
        None: the destination keeps no local copy, so the stream itself is verified."""

    def commit(self, digest: Digest) -> None:
        """Make the finished artifact visible, atomically."""

    def abort(self) -> None:
        """Remove everything written (no-op after commit); must not raise."""

    def download_link(self, seconds: int) -> DownloadLink | None:
        """A presigned GET URL of the committed artifact, if the destination has them."""


@contextlib.contextmanager
def aborted_unless_committed(upload: Upload) -> Iterator[Upload]:
    """`upload`, aborted if the block exits before committing it (errors, signals)."""
    try:
        yield upload
    finally:
        upload.abort()  # a no-op once committed
