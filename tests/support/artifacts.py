"""Stored artifacts in tests: one written through a destination's own `Upload`, read back
through `open_reader` in bounded chunks, deleted, and the reasons of failures."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import pytest

from tenant_backup.api.contract import ArtifactLocation
from tenant_backup.runner.destinations import delete, open_reader
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import (
    AlreadyGone,
    ArtifactFacts,
    Deleted,
    Digest,
    Upload,
    aborted_unless_committed,
)
from tenant_backup.runner.errors import RunError

FACTS = ArtifactFacts("acme", "custom", "zstd", "15.8", "15.8")


def payload(size: int, seed: int = 1) -> bytes:
    """`size` incompressible bytes."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    """The hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def write(upload: Upload, data: bytes, piece: int = 100_000) -> str:
    """Write `data` through `upload` in pieces and commit it, as the runner does: its URL."""
    with aborted_unless_committed(upload):
        for start in range(0, len(data), piece):
            upload.write(data[start : start + piece])
        upload.finish()
        upload.commit(Digest(sha256(data), len(data)))
    return upload.url


def read_back(location: ArtifactLocation, access: Access, digest: str, chunk_size: int) -> bytes:
    """Every byte of the artifact, each chunk checked to hold at most `chunk_size`."""
    data = bytearray()
    with open_reader(location, access, digest, chunk_size) as chunks:
        for chunk in chunks:
            assert 0 < len(chunk) <= chunk_size
            data += chunk
    return bytes(data)


def failure(action: Callable[[], object]) -> RunError:
    """The RunError `action` raises."""
    with pytest.raises(RunError) as caught:
        action()
    return caught.value


def read_failure(location: ArtifactLocation, access: Access, digest: str) -> RunError:
    """The RunError reading the artifact whole raises."""
    return failure(lambda: read_back(location, access, digest, 1 << 16))


def assert_round_trip(
    location: ArtifactLocation, access: Access, data: bytes, chunk_size: int
) -> None:
    """The artifact reads back as `data` in bounded chunks; deleted, it is gone, and a second
    delete finds nothing."""
    assert read_back(location, access, sha256(data), chunk_size) == data
    assert delete(location, access) == Deleted()
    assert read_failure(location, access, sha256(data)).reason == "ArtifactNotFound"
    assert delete(location, access) == AlreadyGone()
