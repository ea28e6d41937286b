"""Where an artifact's bytes go, and how they come back: one module per destination, behind
the interfaces of `base`. `open_upload` picks the module for a dump's target; `open_reader`
and `delete` pick it for a committed artifact's location. S3's client is imported only for
S3."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tenant_backup.api.contract import (
    ArtifactLocation,
    FileLocation,
    PvcLocation,
    TelegramLocation,
)
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import (
    CHUNK_SIZE,
    ArtifactDeleter,
    ArtifactFacts,
    ArtifactReader,
    DeleteOutcome,
    Upload,
    sha256_hex,
)
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts

if TYPE_CHECKING:
    from tenant_backup.runner.options import Target


def open_upload(
    target: Target, url: str, facts: ArtifactFacts, size_estimate: int, interrupts: Interrupts
) -> Upload:
    """Start writing one artifact to `target`; nothing is visible until `commit`. Waits the
    destination asks for end early on a termination signal."""
    # Imported here: options imports this package (for S3Connection).
    from tenant_backup.runner.options import LocalTarget, TelegramTarget

    if isinstance(target, LocalTarget):
        from tenant_backup.runner.destinations.local import LocalUpload

        return LocalUpload(target.path, url)
    if isinstance(target, TelegramTarget):
        from tenant_backup.runner.destinations.telegram import TelegramUpload

        return TelegramUpload.start(target, url, facts, interrupts.sleep)
    from tenant_backup.runner.destinations.s3 import S3Upload

    return S3Upload.start(target, url, facts, size_estimate)


def open_reader(
    location: ArtifactLocation,
    access: Access,
    expected_sha256: str,
    chunk_size: int = CHUNK_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> AbstractContextManager[Iterator[bytes]]:
    """Read the committed artifact at `location` in chunks, checked while read (see
    `ArtifactReader`); `sleep` waits out rate limits."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    digest = sha256_hex(expected_sha256)
    return _stored(location, access, sleep).open_reader(digest, chunk_size)


def delete(
    location: ArtifactLocation, access: Access, sleep: Callable[[float], None] = time.sleep
) -> DeleteOutcome:
    """Delete the committed artifact at `location` (see `ArtifactDeleter`)."""
    return _stored(location, access, sleep).delete()


class _Stored(ArtifactReader, ArtifactDeleter, Protocol):
    """What every destination's stored artifact is."""


def _stored(location: ArtifactLocation, access: Access, sleep: Callable[[float], None]) -> _Stored:
    if isinstance(location, FileLocation | PvcLocation):
        from tenant_backup.runner.destinations.local import LocalArtifact

        return LocalArtifact(_local_path(location, access.pvc_root), location.url)
    if isinstance(location, TelegramLocation):
        from tenant_backup.runner.destinations.telegram_artifact import TelegramArtifact

        return TelegramArtifact.connect(location, access.telegram_api_url, sleep)
    if access.s3 is None:
        raise RunError(Reason.VALIDATION_FAILED, f"{location.url}: no S3 connection settings")
    from tenant_backup.runner.destinations.s3_artifact import S3Artifact

    return S3Artifact.connect(location, access.s3)


def _local_path(location: FileLocation | PvcLocation, pvc_root: Path | None) -> Path:
    if isinstance(location, FileLocation):
        return Path(location.path)
    if pvc_root is None:
        raise RunError(Reason.VALIDATION_FAILED, f"{location.url}: the claim's mount is unknown")
    return pvc_root / location.path
