"""A committed S3 artifact read back and deleted.

- Read: the sidecar `<key>.sha256` first (its digest must be the expected one; a missing
  sidecar is only warned about: the caller's digest decides), then the object as a streaming
  body in chunks, its size checked against the sidecar's before the first byte and its sha256
  after the last.
- Delete: incomplete uploads of the key are aborted, then the object and its sidecar deleted,
  the object first so that no object is ever without its sidecar. On a versioned bucket a
  delete only adds a delete marker: the bytes stay as a noncurrent version, reported as left.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

from tenant_backup.api.contract import S3Location
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.access import S3Connection
from tenant_backup.runner.destinations.base import DeleteOutcome, Leftover, checked, delete_outcome
from tenant_backup.runner.destinations.s3 import SIDECAR_SUFFIX
from tenant_backup.runner.destinations.s3_client import (
    abort_stale_uploads,
    open_client,
    s3_error,
)
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
VERSIONED = (
    "the bucket is versioned: the delete added a delete marker, and the bytes stay as a "
    "noncurrent version until the bucket's lifecycle rules expire it"
)


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES


def access_error(action: str, exc: BotoCoreError | ClientError) -> RunError:
    """A failed read or delete: not found, the service's verdict, or unavailable."""
    if isinstance(exc, ClientError) and _not_found(exc):
        return RunError(Reason.ARTIFACT_NOT_FOUND, f"cannot {action}: no such object")
    return s3_error(action, exc, otherwise=Reason.DESTINATION_UNAVAILABLE)


class S3Artifact:
    """A committed artifact object and its sidecar."""

    @classmethod
    def connect(cls, location: S3Location, connection: S3Connection) -> S3Artifact:
        """The artifact, reached with the credentials the connection names."""
        return cls(open_client(connection), location)

    def __init__(self, client: S3Client, location: S3Location) -> None:
        self.url = location.url
        self._client = client
        self._bucket = location.bucket
        self._key = location.key

    @contextlib.contextmanager
    def open_reader(self, expected_sha256: str, chunk_size: int) -> Iterator[Iterator[bytes]]:
        """The object's bytes in chunks, checked against its sidecar and `expected_sha256`."""
        size = self._sidecar_size(expected_sha256)
        try:
            reply = self._client.get_object(Bucket=self._bucket, Key=self._key)
        except (BotoCoreError, ClientError) as exc:
            raise access_error(f"read {self.url}", exc) from exc
        with contextlib.closing(reply["Body"]):
            if size is not None and reply.get("ContentLength") != size:
                raise RunError(
                    Reason.ARTIFACT_CORRUPT,
                    f"{self.url}: {reply.get('ContentLength')} bytes, the sidecar says {size}",
                )
            yield checked(self._chunks(reply, chunk_size), expected_sha256, self.url, size)

    def _sidecar_size(self, sha256: str) -> int | None:
        """The size the sidecar records (None if it records none, or is missing);
        ArtifactCorrupt if its digest is not `sha256`."""
        try:
            reply = self._client.get_object(Bucket=self._bucket, Key=self._key + SIDECAR_SUFFIX)
            with contextlib.closing(reply["Body"]):
                text = reply["Body"].read(4096).decode(errors="replace")
        except ClientError as exc:
            if not _not_found(exc):
                raise access_error(f"read {self.url}{SIDECAR_SUFFIX}", exc) from exc
            log.warning("%s has no sidecar: only the expected sha256 is checked", self.url)
            return None
        except BotoCoreError as exc:
            raise access_error(f"read {self.url}{SIDECAR_SUFFIX}", exc) from exc
        recorded = text.split(maxsplit=1)[0] if text.strip() else ""
        if recorded != sha256:
            raise RunError(
                Reason.ARTIFACT_CORRUPT,
                f"{self.url}{SIDECAR_SUFFIX} says sha256 {recorded[:64] or 'nothing'}, "
                f"expected {sha256}",
            )
        size = reply.get("Metadata", {}).get("size-bytes", "")
        return int(size) if size.isdigit() else None

    def _chunks(self, reply: GetObjectOutputTypeDef, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from reply["Body"].iter_chunks(chunk_size)
        except (BotoCoreError, ClientError) as exc:
            raise access_error(f"read {self.url}", exc) from exc

    def delete(self) -> DeleteOutcome:
        """Abort the key's incomplete uploads; delete the object, then its sidecar."""
        aborted = abort_stale_uploads(self._client, self._bucket, self._key, self.url)
        keys = [key for key in (self._key, self._key + SIDECAR_SUFFIX) if self._exists(key)]
        left: list[Leftover] = []
        for key in keys:
            try:
                reply = self._client.delete_object(Bucket=self._bucket, Key=key)
            except (BotoCoreError, ClientError) as exc:
                raise access_error(f"delete s3://{self._bucket}/{key}", exc) from exc
            if reply.get("DeleteMarker"):
                left.append(Leftover(f"s3://{self._bucket}/{key} (noncurrent version)", VERSIONED))
        log.info("deleted %s: %d objects, %d stale uploads", self.url, len(keys), aborted)
        return delete_outcome(bool(keys or aborted), left)

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise access_error(f"look up s3://{self._bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise access_error(f"look up s3://{self._bucket}/{key}", exc) from exc
        return True
