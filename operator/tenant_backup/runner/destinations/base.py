"""The destination interfaces: one artifact written, invisible until committed, and leaving
nothing behind when aborted (`Upload`); a committed one read back, its digests checked on the
way (`ArtifactReader`), and deleted, saying what could not be (`ArtifactDeleter`)."""

import contextlib
import hashlib
import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError

CHUNK_SIZE = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArtifactFacts:
    """What is known about an artifact before its first byte (object metadata where the
    destination stores metadata)."""

    tenant: str
    format: str
    compression: str
    server_version: str
    pg_dump_version: str
    encryption: str | None = None
    """`age` when encrypted."""
    recipients: tuple[str, ...] = ()
    """The age recipients' fingerprints."""


@dataclass(frozen=True)
class Digest:
    """The artifact's bytes, as the runner wrote them."""

    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Throttled:
    """Time an upload spent waiting for the destination's rate limits."""

    paced_seconds: float
    """Spacing its own calls to stay within them."""
    rate_limited_seconds: float
    """Waiting out refusals (HTTP 429) all the same."""


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

    def throttled(self) -> Throttled | None:
        """How long it waited for rate limits, where the destination has them."""


@contextlib.contextmanager
def aborted_unless_committed(upload: Upload) -> Iterator[Upload]:
    """`upload`, aborted if the block exits before committing it (errors, signals)."""
    try:
        yield upload
    finally:
        upload.abort()  # a no-op once committed


@dataclass(frozen=True)
class Deleted:
    """Everything the artifact was made of is gone now."""


@dataclass(frozen=True)
class AlreadyGone:
    """Nothing of the artifact was there to delete."""


class Leftover(NamedTuple):
    """A piece of an artifact that a delete could not remove (`what`, e.g. `message 42
    (part 1)`), and why."""

    what: str
    why: str


@dataclass(frozen=True)
class PartlyLeft:
    """What could be deleted is gone; `left` remains."""

    left: tuple[Leftover, ...]


DeleteOutcome = Deleted | AlreadyGone | PartlyLeft


def delete_outcome(removed: bool, left: Iterable[Leftover] = ()) -> DeleteOutcome:
    """PartlyLeft if anything is `left`; else Deleted if anything was `removed`; else
    AlreadyGone."""
    if left := tuple(left):
        return PartlyLeft(left)
    return Deleted() if removed else AlreadyGone()


class ArtifactReader(Protocol):
    """A committed artifact to read back."""

    url: str

    def open_reader(
        self, expected_sha256: str, chunk_size: int
    ) -> AbstractContextManager[Iterator[bytes]]:
        """Its bytes in chunks of at most `chunk_size`, checked while read against the digests
        the destination keeps and, at the end, `expected_sha256` (as `sha256_hex` gives it):
        ArtifactCorrupt where a check fails (trust the bytes only once the chunks end without
        error), ArtifactNotFound if there is no such artifact."""


class ArtifactDeleter(Protocol):
    """A committed artifact to delete."""

    url: str

    def delete(self) -> DeleteOutcome:
        """Delete every piece of the artifact (idempotent): what was done, and what is left."""


def sha256_hex(text: str) -> str:
    """`text` as a SHA-256 hex digest (lower case); ValidationFailed if it is none."""
    digest = text.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise RunError(Reason.VALIDATION_FAILED, "the expected sha256 must be 64 hex digits")
    return digest


def checked(
    chunks: Iterable[bytes], sha256: str, what: str, size_bytes: int | None = None
) -> Generator[bytes, None, None]:
    """`chunks` passed on while hashed; ArtifactCorrupt after the last one if their sha256 (or
    their total size, if given) is not the expected one."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size_bytes is not None and size != size_bytes:
        raise RunError(Reason.ARTIFACT_CORRUPT, f"{what}: {size} bytes, expected {size_bytes}")
    if digest.hexdigest() != sha256:
        raise RunError(
            Reason.ARTIFACT_CORRUPT, f"{what}: sha256 {digest.hexdigest()}, expected {sha256}"
        )
